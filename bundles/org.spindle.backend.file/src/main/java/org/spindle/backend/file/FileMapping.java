package org.spindle.backend.file;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Reads of one open file through a read-only memory mapping of it, so a read of cached data is a
 * memory copy rather than a system call (on these VMs a 4 KiB pread costs about 3 µs, the copy from a
 * mapping under 1 µs).
 *
 * <p>Writes still go through the channel: the page cache is the one copy of the file's data on Linux,
 * macOS and Windows, so a mapped read sees a positional write that returned before it began. The
 * mapping covers the file as it was when mapped; a read that reaches past it is left to the caller's
 * pread. As the file grows through this process (writes past its end, a resize) the mapping is
 * replaced by a longer one, lazily and in steps (at least {@value #MIN_GROWTH} bytes or an eighth of the
 * mapped length), so a format that appends clusters does not remap at every write. Before this process
 * shortens the file the mapping is replaced by a shorter one (a mapped page wholly past the end of the
 * file would fault).
 *
 * <p>A replaced mapping is unmapped at once. A reader still copying from it then fails with
 * {@link IllegalStateException} and falls back to pread; so does a reader that faults because another
 * process cut the file short under the lock (the JVM turns that SIGBUS into an {@link InternalError}),
 * and the pread reports what is wrong with the range.
 *
 * <p>Reads on virtual threads are left to pread: a page fault that waits for the disk would hold the
 * carrier thread, while a pread lets the scheduler add one.
 */
final class FileMapping {
    /** The least growth (bytes) worth a new mapping. */
    static final long MIN_GROWTH = 16L << 20;

    /** One mapping: {@code segment} maps bytes {@code [0, segment.byteSize())} of the file. */
    private record View(Arena arena, MemorySegment segment) {
    }

    private volatile View view;
    /** The largest end of file this process wrote or resized to (only rises, except by a shrink). */
    private final AtomicLong grownTo = new AtomicLong();
    /** Why mapping was given up, or null. Guarded by this. */
    private String off;
    private boolean closed;

    /** Maps {@code channel}'s file as it is now. */
    synchronized void map(FileChannel channel) {
        if (closed || off != null) {
            return;
        }
        try {
            long size = channel.size();
            grownTo.accumulateAndGet(size, Math::max);
            View old = view;
            if (old != null && old.segment.byteSize() == size) {
                return;
            }
            View fresh = null;
            if (size > 0) {
                Arena arena = Arena.ofShared();
                try {
                    fresh = new View(arena, channel.map(FileChannel.MapMode.READ_ONLY, 0, size, arena));
                } catch (IOException | RuntimeException e) {
                    arena.close();
                    throw e;
                }
            }
            view = fresh;
            retire(old);
        } catch (IOException | RuntimeException | OutOfMemoryError e) {
            // a file system without mmap support, or no address space left: pread serves every read
            giveUp("the file could not be mapped: " + e);
        }
    }

    /**
     * Copies {@code [offset, offset + dst.remaining())} into {@code dst} and moves its position, if the
     * range lies in the mapping and this thread may fault on it. Otherwise, or if the copy fails,
     * returns false with {@code dst} untouched: the caller reads with pread.
     */
    boolean read(long offset, ByteBuffer dst) {
        View v = view;
        int length = dst.remaining();
        Thread me = Thread.currentThread();
        if (v == null || offset > v.segment.byteSize() - length || me.isVirtual()) {
            return false;
        }
        boolean interrupted = me.isInterrupted();
        try {
            MemorySegment.copy(v.segment, offset, MemorySegment.ofBuffer(dst), 0, length);
        } catch (IllegalStateException unmapped) {
            // Replaced under the copy. The JDK stops the copy with an asynchronous exception, and
            // installing one sets the thread's interrupt status too (JDK 25): that is not an interrupt
            // anyone sent, and left set it would close the channel under the pread that follows.
            if (!interrupted) {
                Thread.interrupted();
            }
            return false;
        } catch (InternalError cut) {
            // a page past the end of the file: another process cut it short; the pread says how
            return false;
        }
        dst.position(dst.position() + length);
        return true;
    }

    /** A pread of {@code [.., end)} was needed: maps the file again if it has grown enough since. */
    void missed(FileChannel channel, long end) {
        View v = view;
        long mapped = v == null ? 0 : v.segment.byteSize();
        if (end > mapped && grownTo.get() - mapped >= Math.max(MIN_GROWTH, mapped >>> 3)) {
            map(channel);
        }
    }

    /** This process wrote up to {@code end}. */
    void wrote(long end) {
        if (end > grownTo.get()) {
            grownTo.accumulateAndGet(end, Math::max);
        }
    }

    /**
     * Cuts the file to {@code size} bytes, shortening the mapping first (no mapped page may lie wholly
     * past the end of the file). Under this object's lock, so no {@link #map} runs in between: mapping a
     * writable channel past its end would grow the file again.
     */
    synchronized void truncate(FileChannel channel, long size) throws IOException {
        grownTo.set(size);
        View old = view;
        if (old != null && old.segment.byteSize() > size) {
            unmap();
        }
        channel.truncate(size);
    }

    /** How many bytes of the file reads can be served from now (for tests and diagnostics). */
    long mappedLength() {
        View v = view;
        return v == null ? 0 : v.segment.byteSize();
    }

    synchronized String disabledBecause() {
        return off;
    }

    synchronized void close() {
        closed = true;
        unmap();
    }

    private void giveUp(String why) {
        off = why;
        unmap();
    }

    private void unmap() {
        View old = view;
        view = null;
        retire(old);
    }

    /** Unmaps {@code old}: never refused, since no reader holds the arena (a racing copy fails instead). */
    private static void retire(View old) {
        if (old != null) {
            old.arena.close();
        }
    }
}
