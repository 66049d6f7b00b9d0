package org.spindle.backend.file;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.ClosedChannelException;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.channels.OverlappingFileLockException;
import java.nio.file.AccessDeniedException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.OpenOption;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.EnumSet;
import java.util.Set;

import org.spindle.storage.api.AccessMode;
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
 * an image under a reader. A conflict fails with {@code IN_USE}.
 */
public final class FileBackend implements StorageBackend, Resizable {
    private final Path path;
    private final String location;
    private final FileChannel channel;
    private final FileLock lock;
    private final boolean readOnly;

    private FileBackend(Path path, FileChannel channel, FileLock lock, boolean readOnly) {
        this.path = path;
        this.location = path.toUri().toString();
        this.channel = channel;
        this.lock = lock;
        this.readOnly = readOnly;
    }

    /** Opens (or, for {@link AccessMode#CREATE_NEW}, creates) the file at {@code path}. */
    public static FileBackend open(Path path, AccessMode mode) throws StorageException {
        String location = path.toUri().toString();
        if (mode != AccessMode.CREATE_NEW) {
            if (Files.isDirectory(path)) {
                throw new StorageException(Kind.INVALID_CONFIG, "is a directory, not an image file")
                        .withLocation(location).withOperation(Operation.OPEN);
            }
            if (Files.exists(path, LinkOption.NOFOLLOW_LINKS) && !Files.isRegularFile(path)
                    && !Files.exists(path)) {
                throw new StorageException(Kind.NOT_FOUND, "is a symbolic link to nothing")
                        .withLocation(location).withOperation(Operation.OPEN);
            }
        }
        Set<? extends OpenOption> options = switch (mode) {
            case READ_ONLY -> EnumSet.of(StandardOpenOption.READ);
            case READ_WRITE -> EnumSet.of(StandardOpenOption.READ, StandardOpenOption.WRITE);
            case CREATE_NEW -> EnumSet.of(StandardOpenOption.READ, StandardOpenOption.WRITE,
                    StandardOpenOption.CREATE_NEW);
        };
        FileChannel channel;
        try {
            channel = FileChannel.open(path, options);
        } catch (NoSuchFileException e) {
            throw new StorageException(Kind.NOT_FOUND, "no such file" + parentHint(path), e)
                    .withLocation(location).withOperation(Operation.OPEN);
        } catch (AccessDeniedException e) {
            throw new StorageException(Kind.ACCESS_DENIED,
                    "permission denied for " + (mode.writable() ? "reading and writing" : "reading")
                            + (mode.writable() ? " (open it read-only, or fix the permissions)" : ""), e)
                    .withLocation(location).withOperation(Operation.OPEN);
        } catch (FileAlreadyExistsException e) {
            throw new StorageException(Kind.ALREADY_EXISTS, "the file exists already", e)
                    .withLocation(location).withOperation(Operation.CREATE);
        } catch (IOException | UnsupportedOperationException e) {
            throw new StorageException(Kind.IO, "cannot open: " + e.getMessage(), e)
                    .withLocation(location).withOperation(Operation.OPEN);
        }
        try {
            FileLock lock = lockOrFail(channel, mode, location);
            return new FileBackend(path, channel, lock, mode == AccessMode.READ_ONLY);
        } catch (StorageException | RuntimeException e) {
            closeQuietly(channel);
            if (mode == AccessMode.CREATE_NEW) {
                deleteQuietly(path);
            }
            throw e;
        }
    }

    private static String parentHint(Path path) {
        Path parent = path.toAbsolutePath().getParent();
        return parent != null && !Files.isDirectory(parent) ? " (its folder " + parent + " does not exist either)" : "";
    }

    private static FileLock lockOrFail(FileChannel channel, AccessMode mode, String location) throws StorageException {
        boolean shared = mode == AccessMode.READ_ONLY;
        FileLock lock;
        try {
            lock = channel.tryLock(0, Long.MAX_VALUE, shared);
        } catch (OverlappingFileLockException e) {
            throw inUse(location, shared, "this process");
        } catch (IOException e) {
            throw new StorageException(Kind.IO, "cannot lock: " + e.getMessage(), e)
                    .withLocation(location).withOperation(Operation.OPEN);
        }
        if (lock == null) {
            throw inUse(location, shared, "another process");
        }
        return lock;
    }

    private static StorageException inUse(String location, boolean shared, String who) {
        return new StorageException(Kind.IN_USE, shared
                ? "the image is open for writing by " + who
                : "the image is open by " + who + " (an image has at most one writer, and none while it has readers)")
                .withLocation(location).withOperation(Operation.OPEN);
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
        if (!channel.isOpen()) {
            return;
        }
        try {
            if (lock.isValid()) {
                lock.release();
            }
            channel.close();
        } catch (IOException e) {
            throw failure(e, Operation.CLOSE, -1, -1);
        }
    }

    private void checkWritable(Operation op, long offset, long length) throws StorageException {
        if (readOnly) {
            throw new StorageException(Kind.READ_ONLY, "the image is open read-only").at(op, offset, length)
                    .withLocation(location);
        }
    }

    private StorageException failure(IOException e, Operation op, long offset, long length) {
        Kind kind = e instanceof ClosedChannelException ? Kind.BACKEND_UNAVAILABLE : Kind.IO;
        String detail = e instanceof ClosedChannelException ? "the backend is closed" : String.valueOf(e.getMessage());
        StorageException se = new StorageException(kind, detail, e).withOperation(op).withLocation(location);
        return offset >= 0 ? se.withRange(offset, length) : se;
    }

    private static void closeQuietly(FileChannel channel) {
        try {
            channel.close();
        } catch (IOException ignored) {
            // the open already failed; that failure is the one to report
        }
    }

    private static void deleteQuietly(Path path) {
        try {
            Files.deleteIfExists(path);
        } catch (IOException ignored) {
            // the create already failed; that failure is the one to report
        }
    }

    @Override
    public String toString() {
        return "FileBackend[" + location + (readOnly ? ", read-only" : "") + "]";
    }
}
