package org.spindle.backend.file;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.ClosedByInterruptException;
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
 * A backend over a local file: positional {@link FileChannel} writes (pwrite), so concurrent requests
 * never share a file position, and reads copied from a memory mapping of the file where it covers
 * them ({@link FileMapping}), else positional reads (pread). {@code mappedReads = false} reads
 * everything with pread.
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
    private final boolean readOnly;
    private final boolean mappedReads;
    private volatile boolean closed;

    private FileBackend(Path path, OpenFiles.Entry file, boolean readOnly, boolean mappedReads) {
        this.path = path;
        this.location = path.toUri().toString();
        this.file = file;
        this.readOnly = readOnly;
        this.mappedReads = mappedReads;
    }

    /** Opens (or, for {@link AccessMode#CREATE_NEW}, creates) the file at {@code path}, with mapped reads. */
    public static FileBackend open(Path path, AccessMode mode) throws StorageException {
        return open(path, mode, true);
    }

    /**
     * Opens (or, for {@link AccessMode#CREATE_NEW}, creates) the file at {@code path}; with
     * {@code mappedReads} reads are copied from a memory mapping of the file where it covers them.
     */
    public static FileBackend open(Path path, AccessMode mode, boolean mappedReads) throws StorageException {
        OpenFiles.Entry file = OpenFiles.acquire(path, mode);
        if (mappedReads) {
            file.mapping.map(file.channel);
        }
        return new FileBackend(path, file, mode == AccessMode.READ_ONLY, mappedReads);
    }

    /** Whether this backend reads through a mapping (false if the file could not be mapped). */
    public boolean readsMapped() {
        return mappedReads && file.mapping.disabledBecause() == null;
    }

    OpenFiles.Entry entry() {
        return file;
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
        return io(Operation.READ, -1, -1, FileChannel::size);
    }

    @Override
    public boolean isReadOnly() {
        return readOnly;
    }

    @Override
    public void read(long offset, ByteBuffer dst) throws StorageException {
        int length = dst.remaining();
        checkRange(Operation.READ, offset, length);
        if (mappedReads) {
            checkOpen(Operation.READ);
            if (file.mapping.read(offset, dst)) {
                return;
            }
        }
        // No size check up front: that would cost an fstat per request. End of file is noticed by
        // the read itself, and then the buffer's position is put back so nothing counts as transferred.
        int start = dst.position();
        try {
            io(Operation.READ, offset, length, channel -> {
                dst.position(start);
                long position = offset;
                while (dst.hasRemaining()) {
                    int n = channel.read(dst, position);
                    if (n < 0) {
                        throw new StorageException(Kind.OUT_OF_BOUNDS,
                                "the range ends beyond the size of " + channel.size() + " bytes");
                    }
                    position += n;
                }
                if (mappedReads) {
                    file.mapping.missed(channel, position);
                }
                return null;
            });
        } catch (StorageException e) {
            dst.position(start);
            throw e;
        }
    }

    @Override
    public void write(long offset, ByteBuffer src) throws StorageException {
        int length = src.remaining();
        checkWritable(Operation.WRITE, offset, length);
        checkRange(Operation.WRITE, offset, length);
        int start = src.position();
        io(Operation.WRITE, offset, length, channel -> {
            src.position(start);
            long position = offset;
            try {
                while (src.hasRemaining()) {
                    position += channel.write(src, position);
                }
            } finally {
                file.mapping.wrote(position);
            }
            return null;
        });
    }

    @Override
    public void flush() throws StorageException {
        checkOpen(Operation.FLUSH);
        if (readOnly) {
            return;
        }
        // fdatasync: data plus the metadata needed to read it back (the size), not timestamps
        io(Operation.FLUSH, -1, -1, channel -> {
            channel.force(false);
            return null;
        });
    }

    @Override
    public void resize(long newSize) throws StorageException {
        checkWritable(Operation.RESIZE, newSize, 0);
        if (newSize < 0) {
            throw new StorageException(Kind.INVALID_CONFIG, "a size cannot be negative: " + newSize)
                    .withOperation(Operation.RESIZE).withLocation(location);
        }
        io(Operation.RESIZE, newSize, 0, channel -> {
            long current = channel.size();
            if (newSize < current) {
                file.mapping.truncate(channel, newSize);
            } else if (newSize > current) {
                // writing the last byte grows the file sparsely where the file system allows it
                channel.write(ByteBuffer.allocate(1), newSize - 1);
                file.mapping.wrote(newSize);
            }
            if (mappedReads) {
                file.mapping.map(channel);
            }
            return null;
        });
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
            throw new StorageException(Kind.IO, "cannot close: " + e.getMessage(), e).withLocation(location)
                    .withOperation(Operation.CLOSE);
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

    private interface ChannelIo<T> {
        T run(FileChannel channel) throws IOException;
    }

    /**
     * Runs one request on the file's shared channel. If another thread's interrupt closed the channel
     * under it, the file is reopened ({@link OpenFiles#recover}) and the request tried once more; the
     * interrupted thread's own request fails with {@code IO}, and its interrupt status stays set.
     */
    private <T> T io(Operation op, long offset, long length, ChannelIo<T> call) throws StorageException {
        for (int attempt = 0; ; attempt++) {
            checkOpen(op);
            FileChannel channel = file.channel;
            try {
                return call.run(channel);
            } catch (StorageException e) {
                throw context(e, op, offset, length);
            } catch (ClosedByInterruptException e) {
                OpenFiles.recover(file, channel);
                throw context(new StorageException(Kind.IO, "the request was interrupted", e), op, offset, length);
            } catch (ClosedChannelException e) {
                // closed by an interrupt in another thread (AsynchronousCloseException), or before we began
                OpenFiles.recover(file, channel);
                if (attempt > 0) {
                    throw context(new StorageException(Kind.IO, "the file was closed under the request twice", e),
                            op, offset, length);
                }
            } catch (IOException e) {
                throw context(new StorageException(Kind.IO, String.valueOf(e.getMessage()), e), op, offset, length);
            }
        }
    }

    private StorageException context(StorageException e, Operation op, long offset, long length) {
        e.withOperation(op).withLocation(location);
        return offset >= 0 ? e.withRange(offset, length) : e;
    }

    /** A file has no fixed end to check against here; only a negative or overflowing range is refused. */
    private void checkRange(Operation op, long offset, int length) throws StorageException {
        if (offset < 0 || length > Long.MAX_VALUE - offset) {
            throw new StorageException(Kind.OUT_OF_BOUNDS, "the range overflows").at(op, offset, length)
                    .withLocation(location);
        }
    }

    private void checkOpen(Operation op) throws StorageException {
        if (closed) {
            throw new StorageException(Kind.BACKEND_UNAVAILABLE, "the backend is closed").withOperation(op)
                    .withLocation(location);
        }
        String broken = file.broken;
        if (broken != null) {
            throw new StorageException(Kind.BACKEND_UNAVAILABLE, broken).withOperation(op).withLocation(location);
        }
    }

    private void checkWritable(Operation op, long offset, long length) throws StorageException {
        checkOpen(op);
        if (readOnly) {
            throw new StorageException(Kind.READ_ONLY, "the image is open read-only").at(op, offset, length)
                    .withLocation(location);
        }
    }

    @Override
    public String toString() {
        return "FileBackend[" + location + (readOnly ? ", read-only" : "") + "]";
    }
}
