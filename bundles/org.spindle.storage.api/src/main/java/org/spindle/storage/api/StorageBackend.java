package org.spindle.storage.api;

import java.nio.ByteBuffer;

import org.osgi.annotation.versioning.ConsumerType;

/**
 * A byte-addressed store that holds an image: a file, a region of memory, a remote resource.
 *
 * <p>Reads and writes are positional and complete: {@link #read} fills all of {@code dst.remaining()}
 * or throws, it never returns short. A read that reaches past {@link #size()} fails with
 * {@link StorageException.Kind#OUT_OF_BOUNDS} and transfers nothing. A write past the end grows the
 * backend (image formats append clusters this way) unless the backend has a fixed size, in which case
 * it fails with {@code OUT_OF_BOUNDS}.
 *
 * <p>Buffers: the position of the buffer advances by the bytes transferred; the limit is not changed.
 * Direct buffers avoid a copy in file backends.
 *
 * <p>Threading: a backend may be used from several threads; each call is atomic with respect to
 * {@link #close()}. Callers serialise overlapping writes themselves.
 */
@ConsumerType
public interface StorageBackend extends Capable, AutoCloseable {

    /** Where the data lives, for messages and introspection (a URI, without credentials). */
    String location();

    /** The current size in bytes. */
    long size() throws StorageException;

    /** Whether this backend was opened read-only; writes then fail with {@code READ_ONLY}. */
    boolean isReadOnly();

    /**
     * Whether a call may block for long (network, a cold cache). Fast backends (local files in the page
     * cache, memory) answer {@code false} and are called inline on the machine thread; slow ones are
     * called from an executor.
     */
    default boolean mayBlock() {
        return false;
    }

    /** Reads {@code dst.remaining()} bytes starting at {@code offset}. */
    void read(long offset, ByteBuffer dst) throws StorageException;

    /** Writes {@code src.remaining()} bytes starting at {@code offset}, growing the backend if needed. */
    void write(long offset, ByteBuffer src) throws StorageException;

    /** Makes every completed write durable (fsync for files). A no-op on read-only backends. */
    void flush() throws StorageException;

    /** Releases the backend and its lock. Further calls fail; a second close does nothing. */
    @Override
    void close() throws StorageException;
}
