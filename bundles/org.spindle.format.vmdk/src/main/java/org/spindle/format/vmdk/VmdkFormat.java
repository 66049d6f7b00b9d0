package org.spindle.format.vmdk;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;

import org.osgi.service.component.annotations.Component;
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
 * VMware's VMDK, read for import: hosted sparse extents in one file ({@code monolithicSparse},
 * {@code streamOptimized}). See {@link VmdkDisk}. Writing VMDKs is not offered: convert them
 * ({@code img convert -O qcow2 disk.vmdk disk.qcow2}).
 */
@Component(property = DiskFormat.NAME + "=" + VmdkFormat.NAME)
public final class VmdkFormat implements DiskFormat {
    public static final String NAME = "vmdk";

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
        return head.getInt(head.position()) == VmdkDisk.MAGIC ? PROBE_MAGIC : PROBE_NO;
    }

    @Override
    public VirtualDisk open(StorageBackend backend, OpenOptions options) throws StorageException {
        if (!options.parameters().isEmpty()) {
            throw new StorageException(Kind.INVALID_CONFIG, "the vmdk format takes no open parameters, got "
                    + options.parameters().keySet()).withOperation(Operation.OPEN).withLocation(backend.location());
        }
        int sectorSize = options.logicalSectorSize() == 0 ? 512 : options.logicalSectorSize();
        try {
            return VmdkDisk.open(backend, sectorSize);
        } catch (StorageException e) {
            throw e.withOperation(Operation.OPEN).withLocation(backend.location());
        }
    }

    @Override
    public VirtualDisk create(StorageBackend backend, CreateOptions options) throws StorageException {
        throw new StorageException(Kind.UNSUPPORTED_FEATURE, "Spindle reads VMDK images for import but does not write"
                + " them; create a qcow2, vhd or raw image instead").withOperation(Operation.CREATE)
                .withLocation(backend.location());
    }
}
