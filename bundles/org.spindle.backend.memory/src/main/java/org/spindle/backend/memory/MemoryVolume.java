package org.spindle.backend.memory;

import java.nio.ByteBuffer;
import java.util.Arrays;

/**
 * Bytes held in memory in 64 KiB pages that are allocated on first write, so a large, mostly empty
 * volume costs little: the page table itself is two-level and grows with what is written, not with
 * the size. An absent page reads as zeros. All methods are synchronised on the volume.
 */
final class MemoryVolume {
    static final int PAGE_SHIFT = 16;
    static final int PAGE_SIZE = 1 << PAGE_SHIFT;
    /** Pages per second-level table: 4096 pages, 256 MiB of volume. */
    private static final int TABLE_SHIFT = 12;
    private static final int TABLE_SIZE = 1 << TABLE_SHIFT;
    /** 2^31 pages of 64 KiB, 128 TiB: a limit of the addressing, far beyond any heap. */
    static final long MAX_SIZE = (long) Integer.MAX_VALUE << PAGE_SHIFT;
    private static final byte[] ZEROS = new byte[PAGE_SIZE];

    private byte[][][] tables;
    private long size;
    private boolean openForWriting;
    private int openCount;

    MemoryVolume(long size) {
        this.size = size;
        this.tables = new byte[tableCount(size)][][];
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

    private byte[] page(long index) {
        byte[][] table = tables[(int) (index >>> TABLE_SHIFT)];
        return table == null ? null : table[(int) (index & (TABLE_SIZE - 1))];
    }

    private byte[] pageForWriting(long index) {
        int t = (int) (index >>> TABLE_SHIFT);
        byte[][] table = tables[t];
        if (table == null) {
            table = tables[t] = new byte[TABLE_SIZE][];
        }
        int p = (int) (index & (TABLE_SIZE - 1));
        byte[] page = table[p];
        if (page == null) {
            page = table[p] = new byte[PAGE_SIZE];
        }
        return page;
    }

    private void dropPage(long index) {
        byte[][] table = tables[(int) (index >>> TABLE_SHIFT)];
        if (table != null) {
            table[(int) (index & (TABLE_SIZE - 1))] = null;
        }
    }

    /** Copies {@code dst.remaining()} bytes; the caller has checked the range. */
    synchronized void read(long offset, ByteBuffer dst) {
        while (dst.hasRemaining()) {
            long index = offset >>> PAGE_SHIFT;
            int within = (int) (offset & (PAGE_SIZE - 1));
            int n = Math.min(dst.remaining(), PAGE_SIZE - within);
            byte[] page = page(index);
            dst.put(page == null ? ZEROS : page, page == null ? 0 : within, n);
            offset += n;
        }
    }

    /**
     * Copies {@code src.remaining()} bytes, growing the volume if the range ends beyond it.
     *
     * @throws OutOfMemoryError when the heap cannot hold the new pages; the volume is unchanged in size
     */
    synchronized void write(long offset, ByteBuffer src) {
        long end = offset + src.remaining();
        long oldSize = size;
        if (end > size) {
            resize(end);
        }
        try {
            while (src.hasRemaining()) {
                long index = offset >>> PAGE_SHIFT;
                int within = (int) (offset & (PAGE_SIZE - 1));
                int n = Math.min(src.remaining(), PAGE_SIZE - within);
                src.get(pageForWriting(index), within, n);
                offset += n;
            }
        } catch (OutOfMemoryError e) {
            if (size != oldSize) {
                resize(oldSize);
            }
            throw e;
        }
    }

    /** Makes the range read as zeros, freeing the pages it covers wholly. */
    synchronized void zero(long offset, long length) {
        long end = offset + length;
        while (offset < end) {
            long index = offset >>> PAGE_SHIFT;
            int within = (int) (offset & (PAGE_SIZE - 1));
            int n = (int) Math.min(end - offset, PAGE_SIZE - within);
            if (n == PAGE_SIZE) {
                dropPage(index);
            } else {
                byte[] page = page(index);
                if (page != null) {
                    Arrays.fill(page, within, within + n, (byte) 0);
                }
            }
            offset += n;
        }
    }

    synchronized void resize(long newSize) {
        if (newSize < size) {
            // zero what is cut off, so that growing again reads zeros there
            zero(newSize, size - newSize);
        }
        tables = Arrays.copyOf(tables, tableCount(newSize));
        size = newSize;
    }

    /** The number of bytes of pages actually allocated. */
    synchronized long allocatedBytes() {
        long count = 0;
        for (byte[][] table : tables) {
            if (table != null) {
                for (byte[] page : table) {
                    if (page != null) {
                        count++;
                    }
                }
            }
        }
        return count << PAGE_SHIFT;
    }

    private static int tableCount(long size) {
        long pages = (size + PAGE_SIZE - 1) >>> PAGE_SHIFT;
        return (int) ((pages + TABLE_SIZE - 1) >>> TABLE_SHIFT);
    }
}
