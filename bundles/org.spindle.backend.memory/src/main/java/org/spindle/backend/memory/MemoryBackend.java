package org.spindle.backend.memory;

import java.nio.ByteBuffer;
import org.spindle.storage.api.Bounds;
import org.spindle.storage.api.Deletable;
import org.spindle.storage.api.Discardable;
import org.spindle.storage.api.Resizable;
import org.spindle.storage.api.StorageBackend;
import org.spindle.storage.api.StorageException;
import org.spindle.storage.api.StorageException.Kind;
import org.spindle.storage.api.StorageException.Operation;
import org.spindle.storage.api.WriteZeroes;

/** One open handle on a {@link MemoryVolume}. */
final class MemoryBackend implements StorageBackend, Resizable, Discardable, WriteZeroes, Deletable {
    private final MemoryVolume volume;
    private final String location;
    private final boolean readOnly;
    private final Runnable forget;
    private volatile boolean closed;

    /** @param forget removes the volume from its provider, for {@link #closeAndDelete()} */
    MemoryBackend(MemoryVolume volume, String location, boolean readOnly, Runnable forget) {
        this.forget = forget;
        this.volume = volume;
        this.location = location;
        this.readOnly = readOnly;
    }

    @Override
    public String location() {
        return location;
    }

    @Override
    public long size() throws StorageException {
        checkOpen(Operation.READ);
        return volume.size();
    }

    @Override
    public boolean isReadOnly() {
        return readOnly;
    }

    @Override
    public void read(long offset, ByteBuffer dst) throws StorageException {
        checkOpen(Operation.READ);
        synchronized (volume) {
            check(offset, dst.remaining(), volume.size(), Operation.READ);
            volume.read(offset, dst);
        }
    }

    @Override
    public void write(long offset, ByteBuffer src) throws StorageException {
        checkWritable(Operation.WRITE, offset, src.remaining());
        check(offset, src.remaining(), MemoryVolume.MAX_SIZE, Operation.WRITE);
        int start = src.position();
        try {
            volume.write(offset, src);
        } catch (OutOfMemoryError e) {
            src.position(start);
            throw new StorageException(Kind.IO, "the Java heap cannot hold more of this memory volume"
                    + " (give the JVM more -Xmx, or use a file)", e).at(Operation.WRITE, offset, src.remaining())
                    .withLocation(location);
        }
    }

    @Override
    public void flush() throws StorageException {
        checkOpen(Operation.FLUSH);
    }

    @Override
    public void resize(long newSize) throws StorageException {
        checkWritable(Operation.RESIZE, newSize, 0);
        if (newSize < 0 || newSize > MemoryVolume.MAX_SIZE) {
            throw new StorageException(Kind.INVALID_CONFIG, "size must be between 0 and " + MemoryVolume.MAX_SIZE)
                    .withOperation(Operation.RESIZE).withLocation(location);
        }
        volume.resize(newSize);
    }

    @Override
    public void discard(long offset, long length) throws StorageException {
        zero(Operation.DISCARD, offset, length);
    }

    @Override
    public void writeZeroes(long offset, long length) throws StorageException {
        zero(Operation.WRITE_ZEROES, offset, length);
    }

    private void zero(Operation op, long offset, long length) throws StorageException {
        checkWritable(op, offset, length);
        synchronized (volume) {
            check(offset, length, volume.size(), op);
            volume.zero(offset, length);
        }
    }

    @Override
    public synchronized void close() {
        if (!closed) {
            closed = true;
            volume.closed(!readOnly);
        }
    }

    @Override
    public void closeAndDelete() throws StorageException {
        checkWritable(Operation.CLOSE, -1, 0);
        close();
        forget.run();
    }

    private void check(long offset, long length, long limit, Operation op) throws StorageException {
        try {
            Bounds.check(offset, length, limit, op);
        } catch (StorageException e) {
            throw e.withLocation(location);
        }
    }

    private void checkOpen(Operation op) throws StorageException {
        if (closed) {
            throw new StorageException(Kind.BACKEND_UNAVAILABLE, "the backend is closed").withOperation(op)
                    .withLocation(location);
        }
    }

    private void checkWritable(Operation op, long offset, long length) throws StorageException {
        checkOpen(op);
        if (readOnly) {
            throw new StorageException(Kind.READ_ONLY, "the volume is open read-only").at(op, offset, length)
                    .withLocation(location);
        }
    }

    @Override
    public String toString() {
        return "MemoryBackend[" + location + (readOnly ? ", read-only" : "") + "]";
    }
}
