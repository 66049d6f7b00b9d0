package org.spindle.backend.file;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.ClosedChannelException;
import java.nio.channels.FileChannel;
import java.nio.file.Path;

import org.spindle.storage.api.AccessMode;
import org.spindle.storage.api.Deletable;
import org.spindle.storage.api.Resizable;
import org.spindle.storage.api.StorageBackend;
import org.spindle.storage.api.StorageException;
import org.spindle.storage.api.StorageException.Kind;
import org.spindle.storage.api.StorageException.Operation;

/**
 * A backend over a local file: positional {@link FileChannel} reads and writes (pread/pwrite), so
 * concurrent requests never share a file position.
 *
 * <p>Locking: a writable open takes an exclusive OS lock on the whole file and a read-only open a
 * shared one, so two writers (in this process or another) never share an image, and no writer changes
 * an image under a reader. A conflict fails with {@code IN_USE}. Readers in one JVM share one channel
 * (see {@link OpenFiles}).
 */
public final class FileBackend implements StorageBackend, Resizable, Deletable {
    private final Path path;
    private final String location;
    private final OpenFiles.Entry file;
    private final FileChannel channel;
    private final boolean readOnly;
    private volatile boolean closed;

    private FileBackend(Path path, OpenFiles.Entry file, boolean readOnly) {
        this.path = path;
        this.location = path.toUri().toString();
        this.file = file;
        this.channel = file.channel;
        this.readOnly = readOnly;
    }

    /** Opens (or, for {@link AccessMode#CREATE_NEW}, creates) the file at {@code path}. */
    public static FileBackend open(Path path, AccessMode mode) throws StorageException {
        return new FileBackend(path, OpenFiles.acquire(path, mode), mode == AccessMode.READ_ONLY);
    }

    public Path path() {
        return path;
    }

    @Override
    public String location() {
        return location;
    }

    @Override
    public long size() throws StorageException {
        checkOpen(Operation.READ);
        try {
            return channel.size();
        } catch (IOException e) {
            throw failure(e, Operation.READ, -1, -1);
        }
    }

    @Override
    public boolean isReadOnly() {
        return readOnly;
    }

    @Override
    public void read(long offset, ByteBuffer dst) throws StorageException {
        int length = dst.remaining();
        checkOpen(Operation.READ);
        if (offset < 0 || length > Long.MAX_VALUE - offset) {
            throw new StorageException(Kind.OUT_OF_BOUNDS, "the range overflows").at(Operation.READ, offset, length)
                    .withLocation(location);
        }
        // No size check up front: that would cost an fstat per request. End of file is noticed by
        // the read itself, and then the buffer's position is put back so nothing counts as transferred.
        int start = dst.position();
        long position = offset;
        try {
            while (dst.hasRemaining()) {
                int n = channel.read(dst, position);
                if (n < 0) {
                    dst.position(start);
                    throw new StorageException(Kind.OUT_OF_BOUNDS,
                            "the range ends beyond the size of " + channel.size() + " bytes")
                            .at(Operation.READ, offset, length).withLocation(location);
                }
                position += n;
            }
        } catch (StorageException e) {
            throw e;
        } catch (IOException e) {
            dst.position(start);
            throw failure(e, Operation.READ, offset, length);
        }
    }

    @Override
    public void write(long offset, ByteBuffer src) throws StorageException {
        int length = src.remaining();
        checkWritable(Operation.WRITE, offset, length);
        if (offset < 0 || length > Long.MAX_VALUE - offset) {
            throw new StorageException(Kind.OUT_OF_BOUNDS, "the range overflows").at(Operation.WRITE, offset, length)
                    .withLocation(location);
        }
        long position = offset;
        try {
            while (src.hasRemaining()) {
                position += channel.write(src, position);
            }
        } catch (IOException e) {
            throw failure(e, Operation.WRITE, offset, length);
        }
    }

    @Override
    public void flush() throws StorageException {
        checkOpen(Operation.FLUSH);
        if (readOnly) {
            return;
        }
        try {
            // fdatasync: data plus the metadata needed to read it back (the size), not timestamps
            channel.force(false);
        } catch (IOException e) {
            throw failure(e, Operation.FLUSH, -1, -1);
        }
    }

    @Override
    public void resize(long newSize) throws StorageException {
        checkWritable(Operation.RESIZE, newSize, 0);
        if (newSize < 0) {
            throw new StorageException(Kind.INVALID_CONFIG, "a size cannot be negative: " + newSize)
                    .withOperation(Operation.RESIZE).withLocation(location);
        }
        try {
            long current = channel.size();
            if (newSize < current) {
                channel.truncate(newSize);
            } else if (newSize > current) {
                // writing the last byte grows the file sparsely where the file system allows it
                channel.write(ByteBuffer.allocate(1), newSize - 1);
            }
        } catch (IOException e) {
            throw failure(e, Operation.RESIZE, newSize, 0);
        }
    }

    @Override
    public void close() throws StorageException {
        synchronized (this) {
            if (closed) {
                return;
            }
            closed = true;
        }
        try {
            OpenFiles.release(file);
        } catch (IOException e) {
            throw failure(e, Operation.CLOSE, -1, -1);
        }
    }

    @Override
    public void closeAndDelete() throws StorageException {
        checkWritable(Operation.CLOSE, -1, 0);
        close();
        try {
            java.nio.file.Files.deleteIfExists(path);
        } catch (IOException e) {
            throw new StorageException(Kind.IO, "cannot delete: " + e.getMessage(), e).withLocation(location)
                    .withOperation(Operation.CLOSE);
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
            throw new StorageException(Kind.READ_ONLY, "the image is open read-only").at(op, offset, length)
                    .withLocation(location);
        }
    }

    private StorageException failure(IOException e, Operation op, long offset, long length) {
        boolean gone = closed || e instanceof ClosedChannelException;
        Kind kind = gone ? Kind.BACKEND_UNAVAILABLE : Kind.IO;
        String detail = gone ? "the backend is closed" : String.valueOf(e.getMessage());
        StorageException se = new StorageException(kind, detail, e).withOperation(op).withLocation(location);
        return offset >= 0 ? se.withRange(offset, length) : se;
    }

    @Override
    public String toString() {
        return "FileBackend[" + location + (readOnly ? ", read-only" : "") + "]";
    }
}
