package org.spindle.storage.core;

import java.nio.ByteBuffer;

import org.spindle.storage.api.Bounds;
import org.spindle.storage.api.StorageBackend;
import org.spindle.storage.api.StorageException;
import org.spindle.storage.api.StorageException.Kind;
import org.spindle.storage.api.StorageException.Operation;

/**
 * A read-only backend over a byte array, for fuzzing: its size is the array's, reads outside it fail
 * with {@code OUT_OF_BOUNDS}, writes with {@code READ_ONLY}, and everything after {@link #close()}
 * with {@code BACKEND_UNAVAILABLE}, as the {@link StorageBackend} contract says.
 */
final class BytesBackend implements StorageBackend {
    private final byte[] data;
    private boolean closed;

    BytesBackend(byte[] data) {
        this.data = data.clone();
    }

    boolean isClosed() {
        return closed;
    }

    @Override
    public String location() {
        return "bytes:fuzz";
    }

    @Override
    public long size() throws StorageException {
        checkOpen(Operation.READ);
        return data.length;
    }

    @Override
    public boolean isReadOnly() {
        return true;
    }

    @Override
    public void read(long offset, ByteBuffer dst) throws StorageException {
        checkOpen(Operation.READ);
        int n = dst.remaining();
        try {
            Bounds.check(offset, n, data.length, Operation.READ);
        } catch (StorageException e) {
            throw e.withLocation(location());
        }
        dst.put(data, (int) offset, n);
    }

    @Override
    public void write(long offset, ByteBuffer src) throws StorageException {
        checkOpen(Operation.WRITE);
        throw new StorageException(Kind.READ_ONLY, "the backend is read-only").at(Operation.WRITE, offset,
                src.remaining()).withLocation(location());
    }

    @Override
    public void flush() throws StorageException {
        checkOpen(Operation.FLUSH);
    }

    @Override
    public void close() {
        closed = true;
    }

    private void checkOpen(Operation op) throws StorageException {
        if (closed) {
            throw new StorageException(Kind.BACKEND_UNAVAILABLE, "the backend is closed").withOperation(op)
                    .withLocation(location());
        }
    }
}
