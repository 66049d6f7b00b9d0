package org.spindle.format.sparse;

import java.nio.ByteBuffer;
import java.util.Arrays;
import java.util.Locale;
import java.util.Map;
import java.util.Set;

import org.osgi.service.component.annotations.Component;
import org.spindle.storage.api.ByteSize;
import org.spindle.storage.api.CheckReport;
import org.spindle.storage.api.CreateOptions;
import org.spindle.storage.api.DiskFormat;
import org.spindle.storage.api.OpenOptions;
import org.spindle.storage.api.ProbeInput;
import org.spindle.storage.api.StorageBackend;
import org.spindle.storage.api.StorageException;
import org.spindle.storage.api.StorageException.Kind;
import org.spindle.storage.api.StorageException.Operation;
import org.spindle.storage.api.VirtualDisk;

/**
 * The Spindle sparse format: the AEROSPAR v1 layout (a 64-byte header, a table of one 64-bit file
 * offset per block, data blocks allocated on first write), byte-compatible with the emulator that
 * defined it, with Spindle's crash-safe write ordering, discard and repair. See {@link SparseDisk}.
 *
 * <p>Create parameters: {@code block_size} (a power of two from 512 bytes to 16 MiB; default 1 MiB).
 */
@Component(property = DiskFormat.NAME + "=" + SparseFormat.NAME)
public final class SparseFormat implements DiskFormat {
    public static final String NAME = "sparse";
    /** Create parameter: the block size, e.g. {@code 64K}. */
    public static final String BLOCK_SIZE = "block_size";

    @Override
    public String name() {
        return NAME;
    }

    @Override
    public int probe(ProbeInput input) {
        ByteBuffer head = input.head();
        if (head.remaining() < SparseHeader.MAGIC.length) {
            return PROBE_NO;
        }
        byte[] magic = new byte[SparseHeader.MAGIC.length];
        head.get(0, magic);
        // a damaged or truncated image still scores, so that opening it says why it cannot be read
        return Arrays.equals(magic, SparseHeader.MAGIC) || Arrays.equals(magic, SparseHeader.LEGACY_MAGIC)
                ? PROBE_MAGIC : PROBE_NO;
    }

    @Override
    public VirtualDisk open(StorageBackend backend, OpenOptions options) throws StorageException {
        if (!options.parameters().isEmpty()) {
            throw new StorageException(Kind.INVALID_CONFIG, "the sparse format takes no open parameters, got "
                    + options.parameters().keySet()).withOperation(Operation.OPEN).withLocation(backend.location());
        }
        int sectorSize = options.logicalSectorSize() == 0 ? 512 : options.logicalSectorSize();
        try {
            return SparseDisk.open(backend, options.readOnly(), sectorSize);
        } catch (StorageException e) {
            throw e.withOperation(Operation.OPEN).withLocation(backend.location());
        }
    }

    @Override
    public VirtualDisk create(StorageBackend backend, CreateOptions options) throws StorageException {
        Map<String, String> parameters = options.parameters();
        for (String key : parameters.keySet()) {
            if (!Set.of(BLOCK_SIZE).contains(key)) {
                throw new StorageException(Kind.INVALID_CONFIG, "unknown sparse option '" + key + "' (known: "
                        + BLOCK_SIZE + ")").withOperation(Operation.CREATE).withLocation(backend.location());
            }
        }
        int blockSize = SparseHeader.DEFAULT_BLOCK_SIZE;
        String text = parameters.get(BLOCK_SIZE);
        if (text != null) {
            long value;
            try {
                value = ByteSize.parse(text.toUpperCase(Locale.ROOT));
            } catch (IllegalArgumentException e) {
                throw new StorageException(Kind.INVALID_CONFIG, BLOCK_SIZE + ": " + e.getMessage())
                        .withOperation(Operation.CREATE);
            }
            blockSize = value > Integer.MAX_VALUE ? -1 : (int) value;
        }
        long capacity = options.capacity();
        if (capacity % options.logicalSectorSize() != 0) {
            throw new StorageException(Kind.INVALID_CONFIG, "a capacity of " + capacity
                    + " bytes is not a whole number of " + options.logicalSectorSize() + "-byte sectors")
                    .withOperation(Operation.CREATE).withLocation(backend.location());
        }
        try {
            SparseHeader header = SparseHeader.forNewImage(capacity, blockSize);
            return SparseDisk.create(backend, header, options.backing(), options.logicalSectorSize());
        } catch (StorageException e) {
            throw e.withOperation(Operation.CREATE).withLocation(backend.location());
        }
    }

    @Override
    public CheckReport check(StorageBackend backend, boolean repair) throws StorageException {
        try {
            return SparseCheck.check(backend, repair);
        } catch (StorageException e) {
            throw e.withOperation(Operation.CHECK).withLocation(backend.location());
        }
    }
}
