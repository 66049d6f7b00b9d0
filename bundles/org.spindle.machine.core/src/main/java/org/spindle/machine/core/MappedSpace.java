package org.spindle.machine.core;

import java.util.Map;
import java.util.TreeMap;

import org.spindle.machine.api.IoHandler;
import org.spindle.machine.api.IoSpace;

/**
 * An {@link IoSpace}: non-overlapping regions in an address range (64 KiB for port I/O, 2^52 bytes for
 * MMIO). An access goes, whole, to the region holding its first byte; an access no region holds reads
 * all ones and is dropped on write.
 *
 * <p>Changes (map, move, close) take a lock and publish a new immutable table sorted by base; lookups
 * search the current table without a lock, from any thread (a device's DMA on a worker asks whether a
 * range is RAM or MMIO as often as the machine thread dispatches register accesses).
 */
public final class MappedSpace implements IoSpace {
    private final String name;
    private final long limit;
    private final TreeMap<Long, RegionImpl> regions = new TreeMap<>();
    /** The regions as of the last change, by base. */
    private volatile Table table = new Table(new Slot[0]);
    /** The last region hit: consecutive accesses to one device skip the search. Racy by design: a slot of a replaced table is never used. */
    private Slot last;

    /** One region where it was when its table was built. */
    private record Slot(Table table, long base, long end, RegionImpl region) {
        boolean holds(long address) {
            return address >= base && address < end;
        }
    }

    private static final class Table {
        final Slot[] slots;

        Table(Slot[] slots) {
            this.slots = slots;
        }

        /** The index of the last slot with a base at or below {@code address}, or -1. */
        int floor(long address) {
            int lo = 0;
            int hi = slots.length - 1;
            while (lo <= hi) {
                int mid = (lo + hi) >>> 1;
                if (slots[mid].base <= address) {
                    lo = mid + 1;
                } else {
                    hi = mid - 1;
                }
            }
            return hi;
        }
    }

    /** Publishes the regions as they are now (under the lock). */
    private void publish() {
        Table t = new Table(new Slot[regions.size()]);
        int i = 0;
        for (RegionImpl r : regions.values()) {
            t.slots[i++] = new Slot(t, r.base, r.base + r.length, r);
        }
        table = t;
        last = null;
    }

    /**
     * @param name what the space is called in messages ({@code port I/O}, {@code MMIO})
     * @param limit the first address beyond the space
     */
    public MappedSpace(String name, long limit) {
        this.name = name;
        this.limit = limit;
    }

    final class RegionImpl implements Region {
        private long base;
        private final long length;
        private final IoHandler handler;
        private final String owner;
        private boolean mapped = true;

        RegionImpl(long base, long length, IoHandler handler, String owner) {
            this.base = base;
            this.length = length;
            this.handler = handler;
            this.owner = owner;
        }

        @Override
        public long base() {
            return base;
        }

        @Override
        public long length() {
            return length;
        }

        @Override
        public String owner() {
            return owner;
        }

        @Override
        public void move(long newBase) {
            synchronized (MappedSpace.this) {
                if (!mapped) {
                    throw new IllegalStateException(owner + "'s " + name + " region is unmapped");
                }
                regions.remove(base);
                try {
                    check(newBase, length, owner);
                } catch (IllegalArgumentException e) {
                    regions.put(base, this);
                    throw e;
                }
                base = newBase;
                regions.put(base, this);
                publish();
            }
        }

        @Override
        public void close() {
            synchronized (MappedSpace.this) {
                if (mapped) {
                    regions.remove(base);
                    mapped = false;
                    publish();
                }
            }
        }

        long handlerRead(long offset, int size) {
            return handler.read(offset, size);
        }

        void handlerWrite(long offset, int size, long value) {
            handler.write(offset, size, value);
        }

        @Override
        public String toString() {
            return owner + " [0x" + Long.toHexString(base) + ", +0x" + Long.toHexString(length) + ")";
        }
    }

    @Override
    public synchronized Region map(long base, long length, IoHandler handler, String owner) {
        java.util.Objects.requireNonNull(handler, "handler");
        check(base, length, owner);
        RegionImpl r = new RegionImpl(base, length, handler, owner);
        regions.put(base, r);
        publish();
        return r;
    }

    private void check(long base, long length, String owner) {
        if (length <= 0 || base < 0 || base > limit - length) {
            throw new IllegalArgumentException(owner + " asked for " + name + " [0x" + Long.toHexString(base) + ", +0x"
                    + Long.toHexString(length) + "), outside the space (0 to 0x" + Long.toHexString(limit) + ")");
        }
        Map.Entry<Long, RegionImpl> below = regions.floorEntry(base + length - 1);
        if (below != null && below.getValue().base + below.getValue().length > base) {
            throw new IllegalArgumentException(owner + " asked for " + name + " [0x" + Long.toHexString(base) + ", +0x"
                    + Long.toHexString(length) + "), which overlaps " + below.getValue());
        }
    }

    /** The region holding {@code address}, or null. */
    RegionImpl find(long address) {
        Table t = table;
        Slot s = last;
        if (s != null && s.table == t && s.holds(address)) {
            return s.region;
        }
        int i = t.floor(address);
        if (i < 0 || !t.slots[i].holds(address)) {
            return null;
        }
        last = t.slots[i];
        return t.slots[i].region;
    }

    /** Whether any region overlaps {@code [address, address + length)}. */
    boolean overlaps(long address, long length) {
        Table t = table;
        int i = t.floor(address + length - 1);
        return i >= 0 && t.slots[i].end > address;
    }

    /** The lowest region base in {@code [from, to)}, or -1. */
    long firstBaseIn(long from, long to) {
        Table t = table;
        int i = t.floor(from - 1) + 1;
        return i < t.slots.length && t.slots[i].base < to ? t.slots[i].base : -1;
    }

    static void checkSize(int size) {
        if (size != 1 && size != 2 && size != 4 && size != 8) {
            throw new IllegalArgumentException("an access of " + size + " bytes (1, 2, 4 or 8)");
        }
    }

    static long mask(int size) {
        return size == 8 ? -1L : (1L << (size * 8)) - 1;
    }

    @Override
    public long read(long address, int size) {
        checkSize(size);
        RegionImpl r = find(address);
        if (r == null) {
            return mask(size);
        }
        return r.handler.read(address - r.base, size) & mask(size);
    }

    @Override
    public void write(long address, int size, long value) {
        checkSize(size);
        RegionImpl r = find(address);
        if (r != null) {
            r.handler.write(address - r.base, size, value & mask(size));
        }
    }
}
