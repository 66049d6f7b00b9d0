package org.spindle.format.vmdk;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;

import org.osgi.service.component.annotations.Component;
import org.spindle.storage.api.AccessMode;
import org.spindle.storage.api.CreateOptions;
import org.spindle.storage.api.RelatedFiles;
import org.spindle.storage.api.DiskFormat;
import org.spindle.storage.api.OpenOptions;
import org.spindle.storage.api.ProbeInput;
import org.spindle.storage.api.StorageBackend;
import org.spindle.storage.api.StorageException;
import org.spindle.storage.api.StorageException.Kind;
import org.spindle.storage.api.StorageException.Operation;
import org.spindle.storage.api.VirtualDisk;

/**
 * VMware's VMDK, read for import: hosted sparse extents in one file ({@code monolithicSparse},
 * {@code streamOptimized}, see {@link VmdkDisk}); read and write: a descriptor with flat extents
 * ({@code monolithicFlat}, see {@link VmdkFlatDisk}), which is also what {@code create} makes.
 */
@Component(property = DiskFormat.NAME + "=" + VmdkFormat.NAME)
public final class VmdkFormat implements DiskFormat {
    public static final String NAME = "vmdk";
    public static final String SUBFORMAT = "subformat";

    @Override
    public String name() {
        return NAME;
    }

    @Override
    public int probe(ProbeInput input) {
        ByteBuffer head = input.head().duplicate().order(ByteOrder.LITTLE_ENDIAN);
        if (head.remaining() < 4) {
            return PROBE_NO;
        }
        if (head.getInt(head.position()) == VmdkDisk.MAGIC) {
            return PROBE_MAGIC;
        }
        byte[] sig = VmdkFlatDisk.SIGNATURE.getBytes(java.nio.charset.StandardCharsets.US_ASCII);
        if (head.remaining() >= sig.length) {
            byte[] start = new byte[sig.length];
            head.get(head.position(), start);
            if (java.util.Arrays.equals(start, sig)) {
                return PROBE_MAGIC;
            }
        }
        return PROBE_NO;
    }

    @Override
    public VirtualDisk open(StorageBackend backend, OpenOptions options) throws StorageException {
        if (!options.parameters().isEmpty()) {
            throw new StorageException(Kind.INVALID_CONFIG, "the vmdk format takes no open parameters, got "
                    + options.parameters().keySet()).withOperation(Operation.OPEN).withLocation(backend.location());
        }
        int sectorSize = options.logicalSectorSize() == 0 ? 512 : options.logicalSectorSize();
        try {
            ByteBuffer magic = ByteBuffer.allocate(4).order(ByteOrder.LITTLE_ENDIAN);
            if (backend.size() >= 4) {
                backend.read(0, magic);
            }
            if (magic.getInt(0) == VmdkDisk.MAGIC) {
                return VmdkDisk.open(backend, sectorSize);
            }
            return VmdkFlatDisk.open(backend, options.readOnly() || backend.isReadOnly(), sectorSize,
                    options.relatedFiles().orElse(null));
        } catch (StorageException e) {
            throw e.withOperation(Operation.OPEN).withLocation(backend.location());
        }
    }

    /**
     * Checks a sparse extent's grain directory, tables and grain markers (read-only: there is nothing
     * Spindle repairs in a VMDK). A descriptor with flat extents has no metadata to check.
     */
    @Override
    public org.spindle.storage.api.CheckReport check(StorageBackend backend, boolean repair) throws StorageException {
        try {
            ByteBuffer magic = ByteBuffer.allocate(4).order(ByteOrder.LITTLE_ENDIAN);
            if (backend.size() >= 4) {
                backend.read(0, magic);
            }
            if (magic.getInt(0) != VmdkDisk.MAGIC) {
                throw new StorageException(Kind.UNSUPPORTED_FEATURE, "a VMDK descriptor with flat extents has no metadata to check");
            }
            return VmdkDisk.open(backend, 512).check(); // not closed: the backend is the caller's
        } catch (StorageException e) {
            throw e.withOperation(Operation.CHECK).withLocation(backend.location());
        }
    }

    /**
     * Creates a {@code monolithicFlat} VMDK (the only subformat Spindle writes): the descriptor here,
     * the data in {@code NAME-flat.vmdk} beside it. Parameter: {@code subformat=monolithicFlat}.
     */
    @Override
    public VirtualDisk create(StorageBackend backend, CreateOptions options) throws StorageException {
        try {
            for (String key : options.parameters().keySet()) {
                if (!key.equals(SUBFORMAT)) {
                    throw new StorageException(Kind.INVALID_CONFIG, "unknown vmdk option '" + key + "' (known: " + SUBFORMAT + ")");
                }
            }
            String subformat = options.parameters().getOrDefault(SUBFORMAT, "monolithicFlat");
            if (!subformat.equals("monolithicFlat")) {
                throw new StorageException(Kind.UNSUPPORTED_FEATURE, "Spindle writes VMDKs as monolithicFlat only"
                        + " (it reads monolithicSparse and streamOptimized); subformat=" + subformat + " asked");
            }
            if (options.backing() != null) {
                throw new StorageException(Kind.UNSUPPORTED_FEATURE, "Spindle does not write VMDK delta disks");
            }
            RelatedFiles files = options.relatedFiles().orElseThrow(() -> new StorageException(Kind.UNSUPPORTED_FEATURE,
                    "a monolithicFlat VMDK is two files; creating it needs an opener that can create related files"));
            long capacity = options.capacity();
            if (capacity % 512 != 0) {
                throw new StorageException(Kind.INVALID_CONFIG, "a capacity of " + capacity + " bytes is not a whole number of sectors");
            }
            String location = backend.location();
            String name = location.substring(location.lastIndexOf('/') + 1);
            name = java.net.URLDecoder.decode(name, java.nio.charset.StandardCharsets.UTF_8);
            String base = name.toLowerCase(java.util.Locale.ROOT).endsWith(".vmdk") ? name.substring(0, name.length() - 5) : name;
            String flatName = base + "-flat.vmdk";
            StorageBackend flat = files.open(flatName, AccessMode.CREATE_NEW);
            try {
                if (capacity > 0) {
                    flat.write(capacity - 1, ByteBuffer.allocate(1));
                }
                flat.flush();
                flat.close();
                byte[] text = VmdkFlatDisk.descriptor(capacity / 512, flatName, new java.util.Random().nextInt())
                        .getBytes(java.nio.charset.StandardCharsets.UTF_8);
                backend.write(0, ByteBuffer.wrap(text));
                backend.flush();
                return VmdkFlatDisk.open(backend, false, options.logicalSectorSize(), files);
            } catch (StorageException | RuntimeException e) {
                // the opener deletes the descriptor of a failed create; the data file is this format's to remove
                try {
                    flat.close();
                    files.open(flatName, AccessMode.READ_WRITE).capability(org.spindle.storage.api.Deletable.class)
                            .orElseThrow().closeAndDelete();
                } catch (StorageException | RuntimeException suppressed) {
                    e.addSuppressed(suppressed);
                }
                throw e;
            }
        } catch (StorageException e) {
            throw e.withOperation(Operation.CREATE).withLocation(backend.location());
        }
    }
}
