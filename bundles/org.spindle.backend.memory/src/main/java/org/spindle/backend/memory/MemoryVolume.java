package org.spindle.backend.memory;

import java.nio.ByteBuffer;
import java.util.Arrays;

/**
 * Bytes held in memory in 64 KiB pages that are allocated on first write, so a large, mostly empty
 * volume costs little. An absent page reads as zeros. All methods are synchronised on the volume.
 */
final class MemoryVolume {
    static final int PAGE_SHIFT = 16;
    static final int PAGE_SIZE = 1 << PAGE_SHIFT;
    /** 2^31 pages of 64 KiB: far beyond the heap of any JVM that would use it. */
    static final long MAX_SIZE = (long) Integer.MAX_VALUE << PAGE_SHIFT;

    private final String name;
    private byte[][] pages;
    private long size;
    private boolean openForWriting;
    private int openCount;

    MemoryVolume(String name, long size) {
        this.name = name;
        this.size = size;
        this.pages = new byte[pageCount(size)][];
    }

    String name() {
        return name;
    }

    synchronized long size() {
        return size;
    }

    synchronized boolean isOpenForWriting() {
        return openForWriting;
    }

    synchronized int openCount() {
        return openCount;
    }

    synchronized void opened(boolean writable) {
        openCount++;
        openForWriting |= writable;
    }

    synchronized void closed(boolean writable) {
        openCount--;
        if (writable) {
            openForWriting = false;
        }
    }

    /** Copies {@code dst.remaining()} bytes; the caller has checked the range. */
    synchronized void read(long offset, ByteBuffer dst) {
        while (dst.hasRemaining()) {
            int index = (int) (offset >>> PAGE_SHIFT);
            int within = (int) (offset & (PAGE_SIZE - 1));
            int n = Math.min(dst.remaining(), PAGE_SIZE - within);
            byte[] page = pages[index];
            if (page == null) {
                fillZero(dst, n);
            } else {
                dst.put(page, within, n);
            }
            offset += n;
        }
    }

    /** Copies {@code src.remaining()} bytes, growing the volume if the range ends beyond it. */
    synchronized void write(long offset, ByteBuffer src) {
        long end = offset + src.remaining();
        if (end > size) {
            resize(end);
        }
        while (src.hasRemaining()) {
            int index = (int) (offset >>> PAGE_SHIFT);
            int within = (int) (offset & (PAGE_SIZE - 1));
            int n = Math.min(src.remaining(), PAGE_SIZE - within);
            byte[] page = pages[index];
            if (page == null) {
                page = pages[index] = new byte[PAGE_SIZE];
            }
            src.get(page, within, n);
            offset += n;
        }
    }

    /** Makes the range read as zeros, freeing the pages it covers wholly. */
    synchronized void zero(long offset, long length) {
        long end = offset + length;
        while (offset < end) {
            int index = (int) (offset >>> PAGE_SHIFT);
            int within = (int) (offset & (PAGE_SIZE - 1));
            int n = (int) Math.min(end - offset, PAGE_SIZE - within);
            if (n == PAGE_SIZE) {
                pages[index] = null;
            } else if (pages[index] != null) {
                Arrays.fill(pages[index], within, within + n, (byte) 0);
            }
            offset += n;
        }
    }

    synchronized void resize(long newSize) {
        if (newSize < size) {
            // clear the tail of the last kept page so that growing again reads zeros there
            zero(newSize, Math.min(size, ((newSize + PAGE_SIZE - 1) & -PAGE_SIZE)) - newSize);
        }
        pages = Arrays.copyOf(pages, pageCount(newSize));
        size = newSize;
    }

    /** The number of bytes of pages actually allocated. */
    synchronized long allocatedBytes() {
        long count = 0;
        for (byte[] page : pages) {
            if (page != null) {
                count++;
            }
        }
        return count << PAGE_SHIFT;
    }

    private static int pageCount(long size) {
        return (int) ((size + PAGE_SIZE - 1) >>> PAGE_SHIFT);
    }

    private static final byte[] ZEROS = new byte[PAGE_SIZE];

    private static void fillZero(ByteBuffer dst, int n) {
        dst.put(ZEROS, 0, n);
    }
}
