package org.spindle.format.raw;

import java.nio.ByteBuffer;
import java.util.Optional;

import org.spindle.storage.api.Bounds;
import org.spindle.storage.api.Discardable;
import org.spindle.storage.api.Resizable;
import org.spindle.storage.api.StorageBackend;
import org.spindle.storage.api.StorageException;
import org.spindle.storage.api.StorageException.Kind;
import org.spindle.storage.api.StorageException.Operation;
import org.spindle.storage.api.VirtualDisk;
import org.spindle.storage.api.WriteZeroes;

/**
 * A raw image. The capacity is the backend's size when opened, and changes only through
 * {@link Resizable}. Zeroing uses the backend's own {@link WriteZeroes} when it has one, and writes
 * zeros otherwise; discard is offered only when the backend can discard.
 */
final class RawDisk implements VirtualDisk, Resizable, WriteZeroes {
    private static final int ZERO_CHUNK = 1 << 20;

    private final StorageBackend backend;
    private final int sectorSize;
    private final boolean readOnly;
    private volatile long capacity;

    RawDisk(StorageBackend backend, int sectorSize, boolean readOnly) throws StorageException {
        this.backend = backend;
        this.sectorSize = sectorSize;
        this.readOnly = readOnly;
        this.capacity = backend.size();
    }

    @Override
    public int logicalSectorSize() {
        return sectorSize;
    }

    @Override
    public long capacity() {
        return capacity;
    }

    @Override
    public boolean isReadOnly() {
        return readOnly;
    }

    @Override
    public String formatName() {
        return RawFormat.NAME;
    }

    @Override
    public void read(long offset, ByteBuffer dst) throws StorageException {
        Bounds.check(offset, dst.remaining(), capacity, Operation.READ);
        backend.read(offset, dst);
    }

    @Override
    public void write(long offset, ByteBuffer src) throws StorageException {
        checkWritable(Operation.WRITE, offset, src.remaining());
        Bounds.check(offset, src.remaining(), capacity, Operation.WRITE);
        backend.write(offset, src);
    }

    @Override
    public void flush() throws StorageException {
        backend.flush();
    }

    @Override
    public void writeZeroes(long offset, long length) throws StorageException {
        checkWritable(Operation.WRITE_ZEROES, offset, length);
        Bounds.check(offset, length, capacity, Operation.WRITE_ZEROES);
        Optional<WriteZeroes> zeroing = backend.capability(WriteZeroes.class);
        if (zeroing.isPresent()) {
            zeroing.get().writeZeroes(offset, length);
            return;
        }
        ByteBuffer zeros = ByteBuffer.allocateDirect((int) Math.min(length, ZERO_CHUNK));
        for (long done = 0; done < length; ) {
            int n = (int) Math.min(length - done, zeros.capacity());
            backend.write(offset + done, zeros.clear().limit(n));
            done += n;
        }
    }

    @Override
    public void resize(long newCapacity) throws StorageException {
        checkWritable(Operation.RESIZE, newCapacity, 0);
        if (newCapacity < 0 || newCapacity % sectorSize != 0) {
            throw new StorageException(Kind.INVALID_CONFIG, "a capacity must be a whole number of "
                    + sectorSize + "-byte sectors, not " + newCapacity).withOperation(Operation.RESIZE);
        }
        backend.capability(Resizable.class).orElseThrow(() -> new StorageException(Kind.UNSUPPORTED_FEATURE,
                "the backend cannot be resized").withOperation(Operation.RESIZE).withLocation(backend.location()))
                .resize(newCapacity);
        capacity = newCapacity;
    }

    @Override
    public <T> Optional<T> capability(Class<T> type) {
        if (type == Discardable.class) {
            // discard passes straight through; the backend checks its own bounds
            return readOnly ? Optional.empty() : backend.capability(Discardable.class)
                    .map(d -> type.cast((Discardable) (offset, length) -> {
                        Bounds.check(offset, length, capacity, Operation.DISCARD);
                        d.discard(offset, length);
                    }));
        }
        if (type == Resizable.class) {
            return readOnly || backend.capability(Resizable.class).isEmpty() ? Optional.empty()
                    : Optional.of(type.cast(this));
        }
        if (type == WriteZeroes.class && readOnly) {
            return Optional.empty();
        }
        return VirtualDisk.super.capability(type);
    }

    @Override
    public void close() throws StorageException {
        backend.close();
    }

    private void checkWritable(Operation op, long offset, long length) throws StorageException {
        if (readOnly) {
            throw new StorageException(Kind.READ_ONLY, "the disk is read-only").at(op, offset, length)
                    .withLocation(backend.location());
        }
    }

    @Override
    public String toString() {
        return "RawDisk[" + backend.location() + ", " + capacity + " bytes]";
    }
}
