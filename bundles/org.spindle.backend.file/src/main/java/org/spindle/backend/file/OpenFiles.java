package org.spindle.backend.file;

import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.channels.OverlappingFileLockException;
import java.nio.file.AccessDeniedException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.FileSystemException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.BasicFileAttributes;
import java.util.HashMap;
import java.util.Map;

import org.spindle.storage.api.AccessMode;
import org.spindle.storage.api.StorageException;
import org.spindle.storage.api.StorageException.Kind;
import org.spindle.storage.api.StorageException.Operation;

/**
 * The image files this JVM has open, one channel and one OS lock per file.
 *
 * <p>OS file locks belong to the process, and closing any channel on a file may release every lock the
 * process holds on it. So a file is opened once: readers share its channel (positional I/O needs no
 * per-user state) and its shared lock; a writer has it alone. A second open is decided here, without
 * opening the file again, and the channel is closed only when its last user releases it.
 */
final class OpenFiles {
    /**
     * One open file. {@code users} is guarded by the class lock. The channel is replaced if an
     * interrupted thread closed it (see {@link #recover}); {@code broken} says why it could not be.
     */
    static final class Entry {
        final Object key;
        final Path path;
        final boolean writable;
        volatile FileChannel channel;
        volatile FileLock lock;
        volatile String broken;
        /** Reads through a memory mapping, for the users that want them; outlives a replaced channel. */
        final FileMapping mapping = new FileMapping();
        int users = 1;

        Entry(Object key, Path path, FileChannel channel, FileLock lock, boolean writable) {
            this.key = key;
            this.path = path;
            this.channel = channel;
            this.lock = lock;
            this.writable = writable;
        }
    }

    private static final Map<Object, Entry> OPEN = new HashMap<>();

    private OpenFiles() {
    }

    static synchronized Entry acquire(Path path, AccessMode mode) throws StorageException {
        String location = path.toUri().toString();
        if (mode == AccessMode.CREATE_NEW) {
            return create(path, location);
        }
        BasicFileAttributes attributes = attributes(path, location, mode);
        if (attributes.isDirectory()) {
            throw new StorageException(Kind.INVALID_CONFIG, "is a directory, not an image file")
                    .withLocation(location).withOperation(Operation.OPEN);
        }
        Object key;
        try {
            key = key(path, attributes);
        } catch (IOException e) {
            throw translate(e, path, location, mode);
        }
        Entry entry = OPEN.get(key);
        if (entry != null) {
            if (entry.writable || mode.writable()) {
                throw inUse(location, entry.writable, "this process");
            }
            entry.users++;
            return entry;
        }
        FileChannel channel = open(path, location, mode);
        return register(key, path, channel, mode.writable(), location, null);
    }

    private static Entry create(Path path, String location) throws StorageException {
        FileChannel channel;
        try {
            channel = FileChannel.open(path, StandardOpenOption.READ, StandardOpenOption.WRITE,
                    StandardOpenOption.CREATE_NEW);
        } catch (FileAlreadyExistsException e) {
            throw new StorageException(Kind.ALREADY_EXISTS, "the file exists already", e)
                    .withLocation(location).withOperation(Operation.CREATE);
        } catch (IOException e) {
            throw translate(e, path, location, AccessMode.CREATE_NEW);
        }
        try {
            return register(key(path, Files.readAttributes(path, BasicFileAttributes.class)), path, channel, true,
                    location, path);
        } catch (IOException e) {
            close(channel);
            deleteQuietly(path);
            throw translate(e, path, location, AccessMode.CREATE_NEW);
        }
    }

    private static Entry register(Object key, Path path, FileChannel channel, boolean writable, String location,
            Path created) throws StorageException {
        FileLock lock;
        try {
            lock = channel.tryLock(0, Long.MAX_VALUE, !writable);
        } catch (OverlappingFileLockException e) {
            // locked by code in this JVM that does not go through this class
            lock = null;
        } catch (IOException e) {
            close(channel);
            if (created != null) {
                deleteQuietly(created);
            }
            throw new StorageException(Kind.IO, "cannot lock: " + e.getMessage(), e)
                    .withLocation(location).withOperation(Operation.OPEN);
        }
        if (lock == null) {
            // no other channel of ours is open on this file, so closing this one releases nothing of ours
            close(channel);
            if (created != null) {
                deleteQuietly(created);
            }
            throw inUse(location, !writable, "another process");
        }
        Entry entry = new Entry(key, path, channel, lock, writable);
        OPEN.put(key, entry);
        return entry;
    }

    /**
     * A thread interrupted during channel I/O makes the JDK close the channel, for every user of this
     * shared file and with the process's lock on it. Opens the file again and takes the lock back, so
     * that one cancelled request does not break every drive on the image. If the lock cannot be had
     * (another process took it in the gap) the entry is marked broken and its users fail cleanly.
     */
    static synchronized void recover(Entry entry, FileChannel failed) {
        if (entry.channel != failed || entry.users == 0 || entry.broken != null) {
            return; // recovered already, or released
        }
        try {
            FileChannel channel = entry.writable
                    ? FileChannel.open(entry.path, StandardOpenOption.READ, StandardOpenOption.WRITE)
                    : FileChannel.open(entry.path, StandardOpenOption.READ);
            FileLock lock;
            try {
                lock = channel.tryLock(0, Long.MAX_VALUE, !entry.writable);
            } catch (IOException | OverlappingFileLockException e) {
                lock = null;
            }
            if (lock == null) {
                close(channel);
                entry.broken = "the image's lock was lost when an interrupted request closed its file, and another"
                        + " process holds it now";
                return;
            }
            entry.lock = lock;
            entry.channel = channel;
        } catch (IOException e) {
            entry.broken = "the image could not be reopened after an interrupted request closed it: " + e.getMessage();
        }
    }

    static synchronized void release(Entry entry) throws IOException {
        if (--entry.users > 0) {
            return;
        }
        OPEN.remove(entry.key);
        entry.mapping.close();
        try {
            if (entry.lock.isValid() && entry.channel.isOpen()) {
                entry.lock.release();
            }
        } finally {
            entry.channel.close();
        }
    }

    private static BasicFileAttributes attributes(Path path, String location, AccessMode mode) throws StorageException {
        try {
            return Files.readAttributes(path, BasicFileAttributes.class);
        } catch (IOException e) {
            throw translate(e, path, location, mode);
        }
    }

    private static Object key(Path path, BasicFileAttributes attributes) throws IOException {
        // (device, inode) where the platform has it, so two paths to one file are one file
        Object key = attributes.fileKey();
        return key != null ? key : path.toRealPath();
    }

    private static FileChannel open(Path path, String location, AccessMode mode) throws StorageException {
        try {
            return mode.writable() ? FileChannel.open(path, StandardOpenOption.READ, StandardOpenOption.WRITE)
                    : FileChannel.open(path, StandardOpenOption.READ);
        } catch (IOException e) {
            throw translate(e, path, location, mode);
        }
    }

    private static StorageException translate(IOException e, Path path, String location, AccessMode mode) {
        Operation op = mode == AccessMode.CREATE_NEW ? Operation.CREATE : Operation.OPEN;
        if (e instanceof NoSuchFileException) {
            Path parent = path.toAbsolutePath().getParent();
            String hint = parent != null && !Files.isDirectory(parent)
                    ? " (its folder " + parent + " does not exist either)" : "";
            return new StorageException(Kind.NOT_FOUND, "no such file" + hint, e).withLocation(location)
                    .withOperation(op);
        }
        if (e instanceof AccessDeniedException || deniedByTheSystem(e)) {
            String wanted = mode.writable() ? "reading and writing (open it read-only, or fix the permissions)"
                    : "reading";
            return new StorageException(Kind.ACCESS_DENIED, "permission denied for " + wanted, e)
                    .withLocation(location).withOperation(op);
        }
        return new StorageException(Kind.IO, "cannot open: " + e.getMessage(), e).withLocation(location)
                .withOperation(op);
    }

    /** EPERM (an immutable file, a security module) and EROFS come as plain FileSystemExceptions. */
    private static boolean deniedByTheSystem(IOException e) {
        return e instanceof FileSystemException fse && fse.getReason() != null
                && (fse.getReason().contains("not permitted") || fse.getReason().contains("Read-only file system"));
    }

    private static StorageException inUse(String location, boolean heldByWriter, String who) {
        return new StorageException(Kind.IN_USE, heldByWriter
                ? "the image is open for writing by " + who
                : "the image is open by " + who + " (an image has at most one writer, and none while it has readers)")
                .withLocation(location).withOperation(Operation.OPEN);
    }

    private static void close(FileChannel channel) {
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
}
