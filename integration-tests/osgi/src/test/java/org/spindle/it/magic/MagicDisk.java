package org.spindle.it.magic;

import java.nio.ByteBuffer;

import org.spindle.storage.api.Bounds;
import org.spindle.storage.api.StorageBackend;
import org.spindle.storage.api.StorageException;
import org.spindle.storage.api.StorageException.Operation;
import org.spindle.storage.api.VirtualDisk;

/** The disk of a {@link MagicFormat} image: the backend's bytes after the header. */
public final class MagicDisk implements VirtualDisk {
    private final StorageBackend backend;
    private final long capacity;
    private final boolean readOnly;

    MagicDisk(StorageBackend backend, long capacity, boolean readOnly) {
        this.backend = backend;
        this.capacity = capacity;
        this.readOnly = readOnly;
    }

    public int logicalSectorSize() {
        return 512;
    }

    public long capacity() {
        return capacity;
    }

    public boolean isReadOnly() {
        return readOnly;
    }

    public String formatName() {
        return "magic";
    }

    public void read(long offset, ByteBuffer dst) throws StorageException {
        Bounds.check(offset, dst.remaining(), capacity, Operation.READ);
        backend.read(MagicFormat.HEADER + offset, dst);
    }

    public void write(long offset, ByteBuffer src) throws StorageException {
        if (readOnly) {
            throw new StorageException(StorageException.Kind.READ_ONLY, "read-only");
        }
        Bounds.check(offset, src.remaining(), capacity, Operation.WRITE);
        backend.write(MagicFormat.HEADER + offset, src);
    }

    public void flush() throws StorageException {
        backend.flush();
    }

    public void close() throws StorageException {
        backend.close();
    }
}
