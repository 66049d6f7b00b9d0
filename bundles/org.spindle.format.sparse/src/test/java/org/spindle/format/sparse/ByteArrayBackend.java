package org.spindle.format.sparse;

import java.nio.ByteBuffer;
import java.util.Arrays;
import java.util.Optional;

import org.spindle.storage.api.Bounds;
import org.spindle.storage.api.Resizable;
import org.spindle.storage.api.StorageBackend;
import org.spindle.storage.api.StorageException;
import org.spindle.storage.api.StorageException.Kind;
import org.spindle.storage.api.StorageException.Operation;

/**
 * A tiny in-memory backend for fuzzing: a byte array whose {@link #size()} is exactly the bytes it
 * holds (so a header that claims a huge table fails the format's size check before anything large is
 * allocated), with the bounds checks of the {@link StorageBackend} contract.
 *
 * <p>It may grow up to {@link #limit} bytes and then behaves as a backend with a fixed size: writes
 * and resizes beyond it fail with {@code OUT_OF_BOUNDS}, as the contract allows, and
 * {@link #limitHit()} says so. That keeps a repair or a write that legitimately needs far more space
 * than the fuzz input (a 64 MiB block, thousands of blocks sharing one slot) from exhausting the heap.
 */
final class ByteArrayBackend implements StorageBackend, Resizable {
    /** The default growth limit: far above any fuzz input, far below the heap. */
    static final long DEFAULT_LIMIT = 4L << 20;

    private final String location;
    private final boolean readOnly;
    private final long limit;
    private byte[] data;
    private long size;
    private boolean closed;
    private boolean limitHit;
    private int writes;

    ByteArrayBackend(String location, byte[] contents, boolean readOnly, long limit) {
        this.location = location;
        this.readOnly = readOnly;
        this.limit = limit;
        this.data = contents.clone();
        this.size = contents.length;
    }

    static ByteArrayBackend readOnly(byte[] contents) {
        return new ByteArrayBackend("bytes:ro", contents, true, DEFAULT_LIMIT);
    }

    static ByteArrayBackend writable(byte[] contents) {
        return new ByteArrayBackend("bytes:rw", contents, false, DEFAULT_LIMIT);
    }

    /** A copy of what the backend holds now (readable after close, too). */
    byte[] contents() {
        return Arrays.copyOf(data, (int) size);
    }

    /** Whether a write or resize failed because it would have grown the backend past its limit. */
    boolean limitHit() {
        return limitHit;
    }

    /** How many writes and resizes changed the backend. */
    int writes() {
        return writes;
    }

    boolean isClosed() {
        return closed;
    }

    @Override
    public String location() {
        return location;
    }

    @Override
    public long size() throws StorageException {
        checkOpen(Operation.READ);
        return size;
    }

    @Override
    public boolean isReadOnly() {
        return readOnly;
    }

    @Override
    public void read(long offset, ByteBuffer dst) throws StorageException {
        checkOpen(Operation.READ);
        int n = dst.remaining();
        check(offset, n, size, Operation.READ);
        dst.put(data, (int) offset, n);
    }

    @Override
    public void write(long offset, ByteBuffer src) throws StorageException {
        int n = src.remaining();
        checkWritable(Operation.WRITE, offset, n);
        check(offset, n, Long.MAX_VALUE, Operation.WRITE);
        checkLimit(offset + n, Operation.WRITE, offset, n);
        ensureCapacity(offset + n);
        src.get(data, (int) offset, n);
        size = Math.max(size, offset + n);
        writes++;
    }

    @Override
    public void resize(long newSize) throws StorageException {
        checkWritable(Operation.RESIZE, newSize, 0);
        if (newSize < 0) {
            throw new StorageException(Kind.INVALID_CONFIG, "a size cannot be negative: " + newSize)
                    .withOperation(Operation.RESIZE).withLocation(location);
        }
        checkLimit(newSize, Operation.RESIZE, newSize, 0);
        if (newSize < size) {
            // what is cut off must read as zeros if the backend grows again
            Arrays.fill(data, (int) newSize, (int) size, (byte) 0);
        } else {
            ensureCapacity(newSize);
        }
        size = newSize;
        writes++;
    }

    @Override
    public void flush() throws StorageException {
        checkOpen(Operation.FLUSH);
    }

    @Override
    public <T> Optional<T> capability(Class<T> type) {
        if (type == Resizable.class && readOnly) {
            return Optional.empty();
        }
        return StorageBackend.super.capability(type);
    }

    @Override
    public void close() {
        closed = true;
    }

    private void ensureCapacity(long needed) {
        if (needed > data.length) {
            data = Arrays.copyOf(data, (int) Math.min(limit, Math.max(needed, 2L * data.length + 4096)));
        }
    }

    private void checkLimit(long end, Operation op, long offset, long length) throws StorageException {
        if (end > limit) {
            limitHit = true;
            throw new StorageException(Kind.OUT_OF_BOUNDS, "this test backend has a fixed maximum size of "
                    + limit + " bytes").at(op, offset, length).withLocation(location);
        }
    }

    private void check(long offset, long length, long bound, Operation op) throws StorageException {
        try {
            Bounds.check(offset, length, bound, op);
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
            throw new StorageException(Kind.READ_ONLY, "the backend is read-only").at(op, offset, length)
                    .withLocation(location);
        }
    }
}
