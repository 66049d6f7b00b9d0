package org.spindle.it.magic;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;

import org.spindle.storage.api.CreateOptions;
import org.spindle.storage.api.DiskFormat;
import org.spindle.storage.api.OpenOptions;
import org.spindle.storage.api.ProbeInput;
import org.spindle.storage.api.StorageBackend;
import org.spindle.storage.api.StorageException;
import org.spindle.storage.api.VirtualDisk;

/**
 * A third party's format, as a test builds it into a bundle of its own: a 512-byte header (magic,
 * then the capacity as a big-endian long) followed by the disk's bytes.
 */
public final class MagicFormat implements DiskFormat {
    public static final byte[] MAGIC = "SPNDLMAG".getBytes(StandardCharsets.US_ASCII);
    public static final int HEADER = 512;

    @Override
    public String name() {
        return "magic";
    }

    @Override
    public int probe(ProbeInput input) {
        ByteBuffer head = input.head();
        byte[] got = new byte[MAGIC.length];
        if (head.remaining() < got.length) {
            return PROBE_NO;
        }
        head.get(got);
        return Arrays.equals(got, MAGIC) ? PROBE_MAGIC : PROBE_NO;
    }

    @Override
    public VirtualDisk open(StorageBackend backend, OpenOptions options) throws StorageException {
        ByteBuffer header = ByteBuffer.allocate(16);
        backend.read(0, header);
        long capacity = header.getLong(8);
        if (capacity < 0 || capacity > backend.size() - HEADER) {
            throw new StorageException(StorageException.Kind.CORRUPT_IMAGE, "capacity " + capacity
                    + " does not fit the image");
        }
        return new MagicDisk(backend, capacity, options.readOnly() || backend.isReadOnly());
    }

    @Override
    public VirtualDisk create(StorageBackend backend, CreateOptions options) throws StorageException {
        throw new StorageException(StorageException.Kind.UNSUPPORTED_FEATURE, "magic images are made by hand");
    }
}
