package org.spindle.machine.core;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/**
 * The guest's RAM, off the Java heap: the first {@code lowSize} bytes at guest physical address 0 up
 * to the PCI hole, the rest from 4 GiB up, as a PC lays it out. Memory is taken from the host in
 * 2 MiB chunks on first write (a chunk never written reads as zeros), so a machine of 8 GiB that
 * touches little costs little.
 *
 * <p>Offsets here are RAM offsets (0 to {@link #size()}), not guest addresses; {@link #offsetOf}
 * translates.
 */
public final class GuestRam implements AutoCloseable {
    static final int CHUNK_BITS = 21;
    static final long CHUNK = 1L << CHUNK_BITS;
    static final long FOUR_GIB = 1L << 32;
    private static final ValueLayout.OfLong LONG = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfInt INT = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfShort SHORT = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    private final long size;
    private final long lowSize;
    private final Arena arena = Arena.ofShared();
    private static final java.lang.invoke.VarHandle BUFFERS =
            java.lang.invoke.MethodHandles.arrayElementVarHandle(ByteBuffer[].class);

    private final MemorySegment[] chunks;
    /** Each allocated chunk as one direct buffer, sliced for DMA views (cheaper than a segment slice per view). */
    private final ByteBuffer[] chunkBuffers;

    /**
     * @param size the RAM in bytes (a multiple of 4 KiB, at least 1 MiB)
     * @param holeStart where the PCI hole begins below 4 GiB: RAM above it moves above 4 GiB
     */
    public GuestRam(long size, long holeStart) {
        if (size < (1 << 20) || size % 4096 != 0) {
            throw new IllegalArgumentException("guest RAM of " + size + " bytes: it must be whole 4 KiB pages, at least 1 MiB");
        }
        if (holeStart <= 0 || holeStart > FOUR_GIB || holeStart % CHUNK != 0) {
            throw new IllegalArgumentException("a PCI hole from 0x" + Long.toHexString(holeStart)
                    + ": it must start on a 2 MiB boundary below 4 GiB");
        }
        long chunkCount = (size + CHUNK - 1) / CHUNK;
        if (chunkCount > Integer.MAX_VALUE) {
            throw new IllegalArgumentException("guest RAM of " + size + " bytes is too large");
        }
        this.size = size;
        this.lowSize = Math.min(size, holeStart);
        this.chunks = new MemorySegment[(int) chunkCount];
        this.chunkBuffers = new ByteBuffer[(int) chunkCount];
    }

    public long size() {
        return size;
    }

    /** The RAM below the PCI hole (guest addresses 0 to this). */
    public long lowSize() {
        return lowSize;
    }

    /** The RAM from 4 GiB up. */
    public long highSize() {
        return size - lowSize;
    }

    /**
     * The RAM offset of guest address {@code address} when all of {@code [address, address + length)}
     * is RAM in one piece (below the hole, or above 4 GiB), else -1.
     */
    public long offsetOf(long address, long length) {
        if (address < 0 || length < 0 || address + length < address) {
            return -1;
        }
        if (address + length <= lowSize) {
            return address;
        }
        if (address >= FOUR_GIB && address - FOUR_GIB + length <= size - lowSize) {
            return lowSize + (address - FOUR_GIB);
        }
        return -1;
    }

    /** How many bytes from {@code address} on are RAM without a break (0 when {@code address} is not RAM). */
    public long runAt(long address) {
        if (address >= 0 && address < lowSize) {
            return lowSize - address;
        }
        if (address >= FOUR_GIB && address - FOUR_GIB < size - lowSize) {
            return size - lowSize - (address - FOUR_GIB);
        }
        return 0;
    }

    private MemorySegment chunk(int index) {
        MemorySegment c = chunks[index];
        if (c == null) {
            synchronized (this) {
                c = chunks[index];
                if (c == null) {
                    long length = Math.min(CHUNK, size - ((long) index << CHUNK_BITS));
                    c = arena.allocate(length, 4096);
                    BUFFERS.setRelease(chunkBuffers, index, c.asByteBuffer());
                    chunks[index] = c;
                }
            }
        }
        return c;
    }

    /** Chunk {@code index} as a direct buffer (allocating the chunk), published safely to any thread. */
    private ByteBuffer chunkBuffer(int index) {
        ByteBuffer b = (ByteBuffer) BUFFERS.getAcquire(chunkBuffers, index);
        if (b == null) {
            synchronized (this) {
                chunk(index);
                b = chunkBuffers[index];
            }
        }
        return b;
    }

    /** Whether the chunk holding RAM offset {@code offset} was ever written (for tests of lazy allocation). */
    boolean touched(long offset) {
        return chunks[(int) (offset >>> CHUNK_BITS)] != null;
    }

    /** Copies RAM at {@code offset} into {@code dst}. */
    public void read(long offset, ByteBuffer dst) {
        while (dst.hasRemaining()) {
            int index = (int) (offset >>> CHUNK_BITS);
            long inChunk = offset & (CHUNK - 1);
            int n = (int) Math.min(dst.remaining(), CHUNK - inChunk);
            MemorySegment c = chunks[index];
            if (c == null) {
                int end = dst.position() + n;
                while (dst.position() < end) {
                    dst.put((byte) 0);
                }
            } else if (dst.hasArray()) {
                MemorySegment.copy(c, ValueLayout.JAVA_BYTE, inChunk, dst.array(), dst.arrayOffset() + dst.position(), n);
                dst.position(dst.position() + n);
            } else {
                MemorySegment.copy(c, inChunk, MemorySegment.ofBuffer(dst), 0, n);
                dst.position(dst.position() + n);
            }
            offset += n;
        }
    }

    /** Copies {@code src} into RAM at {@code offset}. */
    public void write(long offset, ByteBuffer src) {
        while (src.hasRemaining()) {
            int index = (int) (offset >>> CHUNK_BITS);
            long inChunk = offset & (CHUNK - 1);
            int n = (int) Math.min(src.remaining(), CHUNK - inChunk);
            if (src.hasArray()) {
                MemorySegment.copy(src.array(), src.arrayOffset() + src.position(), chunk(index), ValueLayout.JAVA_BYTE,
                        inChunk, n);
            } else {
                MemorySegment.copy(MemorySegment.ofBuffer(src), 0, chunk(index), inChunk, n);
            }
            src.position(src.position() + n);
            offset += n;
        }
    }

    /** A value of {@code size} bytes (1, 2, 4, 8) at RAM offset {@code offset}, zero-extended. */
    public long get(long offset, int size) {
        long inChunk = offset & (CHUNK - 1);
        if (inChunk + size > CHUNK) {
            return getSplit(offset, size);
        }
        MemorySegment c = chunks[(int) (offset >>> CHUNK_BITS)];
        if (c == null) {
            return 0;
        }
        return switch (size) {
            case 1 -> Byte.toUnsignedLong(c.get(ValueLayout.JAVA_BYTE, inChunk));
            case 2 -> Short.toUnsignedLong(c.get(SHORT, inChunk));
            case 4 -> Integer.toUnsignedLong(c.get(INT, inChunk));
            case 8 -> c.get(LONG, inChunk);
            default -> throw new IllegalArgumentException("an access of " + size + " bytes");
        };
    }

    /** Writes the low {@code size} bytes (1, 2, 4, 8) of {@code value} at RAM offset {@code offset}. */
    public void put(long offset, int size, long value) {
        long inChunk = offset & (CHUNK - 1);
        if (inChunk + size > CHUNK) {
            putSplit(offset, size, value);
            return;
        }
        MemorySegment c = chunk((int) (offset >>> CHUNK_BITS));
        switch (size) {
            case 1 -> c.set(ValueLayout.JAVA_BYTE, inChunk, (byte) value);
            case 2 -> c.set(SHORT, inChunk, (short) value);
            case 4 -> c.set(INT, inChunk, (int) value);
            case 8 -> c.set(LONG, inChunk, value);
            default -> throw new IllegalArgumentException("an access of " + size + " bytes");
        }
    }

    private long getSplit(long offset, int size) {
        ByteBuffer b = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN);
        read(offset, b.limit(size));
        return b.getLong(0);
    }

    private void putSplit(long offset, int size, long value) {
        ByteBuffer b = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(0, value);
        write(offset, b.limit(size));
    }

    /**
     * A view of {@code length} bytes of RAM at {@code offset} for DMA, as direct buffers (more than one
     * when the range crosses a chunk boundary). Maps allocate: a device writes through them.
     */
    public void views(long offset, long length, java.util.List<ByteBuffer> out) {
        while (length > 0) {
            int index = (int) (offset >>> CHUNK_BITS);
            long inChunk = offset & (CHUNK - 1);
            long n = Math.min(length, CHUNK - inChunk);
            out.add(chunkBuffer(index).slice((int) inChunk, (int) n).order(ByteOrder.LITTLE_ENDIAN));
            offset += n;
            length -= n;
        }
    }

    @Override
    public void close() {
        arena.close();
    }
}
