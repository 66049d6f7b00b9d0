package org.spindle.format.raw;

import org.osgi.service.component.annotations.Component;
import org.spindle.storage.api.CreateOptions;
import org.spindle.storage.api.DiskFormat;
import org.spindle.storage.api.OpenOptions;
import org.spindle.storage.api.ProbeInput;
import org.spindle.storage.api.Resizable;
import org.spindle.storage.api.StorageBackend;
import org.spindle.storage.api.StorageException;
import org.spindle.storage.api.StorageException.Kind;
import org.spindle.storage.api.StorageException.Operation;
import org.spindle.storage.api.VirtualDisk;

/**
 * The raw format: no header, no metadata; byte {@code n} of the disk is byte {@code n} of the backend.
 * It accepts any input with the lowest probe score, so it is chosen only when no other format
 * recognises an image.
 */
@Component(property = DiskFormat.NAME + "=" + RawFormat.NAME)
public final class RawFormat implements DiskFormat {
    public static final String NAME = "raw";

    @Override
    public String name() {
        return NAME;
    }

    @Override
    public int probe(ProbeInput input) {
        return PROBE_FALLBACK;
    }

    @Override
    public VirtualDisk open(StorageBackend backend, OpenOptions options) throws StorageException {
        if (!options.parameters().isEmpty()) {
            throw new StorageException(Kind.INVALID_CONFIG, "the raw format takes no parameters, got "
                    + options.parameters().keySet()).withOperation(Operation.OPEN).withLocation(backend.location());
        }
        int sectorSize = options.logicalSectorSize() == 0 ? 512 : options.logicalSectorSize();
        return new RawDisk(backend, sectorSize, options.readOnly() || backend.isReadOnly());
    }

    @Override
    public VirtualDisk create(StorageBackend backend, CreateOptions options) throws StorageException {
        if (options.backing() != null) {
            throw new StorageException(Kind.UNSUPPORTED_FEATURE, "a raw image cannot record a base image;"
                    + " create the overlay in a format that can (sparse)").withOperation(Operation.CREATE)
                    .withLocation(backend.location());
        }
        if (!options.parameters().isEmpty()) {
            throw new StorageException(Kind.INVALID_CONFIG, "the raw format takes no options, got "
                    + options.parameters().keySet()).withOperation(Operation.CREATE).withLocation(backend.location());
        }
        long capacity = options.capacity();
        if (capacity % options.logicalSectorSize() != 0) {
            throw new StorageException(Kind.INVALID_CONFIG, "a capacity of " + capacity
                    + " bytes is not a whole number of " + options.logicalSectorSize() + "-byte sectors")
                    .withOperation(Operation.CREATE).withLocation(backend.location());
        }
        Resizable resizable = backend.capability(Resizable.class).orElseThrow(() -> new StorageException(
                Kind.UNSUPPORTED_FEATURE, "the backend cannot be resized, so no raw image can be created in it")
                .withOperation(Operation.CREATE).withLocation(backend.location()));
        resizable.resize(capacity);
        return new RawDisk(backend, options.logicalSectorSize(), false);
    }
}
