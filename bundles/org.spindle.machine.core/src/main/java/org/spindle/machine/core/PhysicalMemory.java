package org.spindle.machine.core;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

import org.spindle.machine.api.DmaMapping;
import org.spindle.machine.api.GuestMemory;
import org.spindle.machine.api.GuestMemoryException;
import org.spindle.machine.api.SgEntry;
import org.spindle.machine.api.SgList;

/**
 * The guest physical address space: {@link GuestRam} below the PCI hole and above 4 GiB, and MMIO
 * regions anywhere (an MMIO region over RAM hides that RAM, as the VGA window does). Accesses reach
 * RAM or the MMIO handler that holds them; a range that is neither, even in part, fails before
 * anything is read or written. DMA maps reach RAM only.
 */
public final class PhysicalMemory implements GuestMemory {
    /** MMIO spans the 52-bit physical address space of x86-64. */
    public static final long ADDRESS_LIMIT = 1L << 52;
    private final GuestRam ram;
    private final MappedSpace mmio;

    public PhysicalMemory(GuestRam ram, MappedSpace mmio) {
        this.ram = ram;
        this.mmio = mmio;
    }

    public GuestRam ram() {
        return ram;
    }

    public MappedSpace mmio() {
        return mmio;
    }

    @Override
    public long ramSize() {
        return ram.size();
    }

    @Override
    public boolean isRam(long address, long length) {
        return ramOnly(address, length) >= 0;
    }

    /** Walks {@code [address, address + length)} as pieces of RAM or MMIO; throws at the first byte that is neither. */
    private interface Piece {
        void accept(long address, long length, long ramOffset, MappedSpace.RegionImpl region);
    }

    private void walk(long address, long length, Piece piece) throws GuestMemoryException {
        // check the whole range first: nothing happens unless all of it is reachable
        for (int pass = 0; pass < 2; pass++) {
            long pos = address;
            long end = address + length;
            if (address < 0 || end < address || end > ADDRESS_LIMIT) {
                throw new GuestMemoryException(address, length, "the range lies outside the physical address space");
            }
            while (pos < end) {
                MappedSpace.RegionImpl region = mmio.find(pos);
                if (region != null) {
                    long n = Math.min(end - pos, region.base() + region.length() - pos);
                    if (pass == 1) {
                        piece.accept(pos, n, -1, region);
                    }
                    pos += n;
                    continue;
                }
                long run = ram.runAt(pos);
                if (run == 0) {
                    throw new GuestMemoryException(address, length, "address 0x" + Long.toHexString(pos)
                            + " is neither RAM nor a device's MMIO");
                }
                long n = Math.min(end - pos, run);
                // stop the RAM piece where an MMIO region begins inside it
                var next = nextRegion(pos, n);
                if (next >= 0) {
                    n = next - pos;
                }
                if (pass == 1) {
                    piece.accept(pos, n, ram.offsetOf(pos, n), null);
                }
                pos += n;
            }
        }
    }

    /** The base of the first MMIO region starting inside {@code (pos, pos + n)}, or -1. */
    private long nextRegion(long pos, long n) {
        return mmio.firstBaseIn(pos + 1, pos + n);
    }

    /** The RAM offset of {@code [address, address + length)} when all of it is RAM in one piece with no MMIO over it, else -1. */
    private long ramOnly(long address, long length) {
        long offset = ram.offsetOf(address, length);
        return offset >= 0 && length > 0 && !mmio.overlaps(address, length) ? offset : -1;
    }

    @Override
    public void read(long address, ByteBuffer dst) throws GuestMemoryException {
        long offset = ramOnly(address, dst.remaining());
        if (offset >= 0) {
            ram.read(offset, dst);
            return;
        }
        int start = dst.position();
        walk(address, dst.remaining(), (pos, n, ramOffset, region) -> {
            ByteBuffer part = dst.duplicate().position(start + (int) (pos - address)).limit(start + (int) (pos - address + n));
            if (region == null) {
                ram.read(ramOffset, part);
            } else {
                mmioRead(region, pos, part);
            }
        });
        dst.position(dst.limit());
    }

    @Override
    public void write(long address, ByteBuffer src) throws GuestMemoryException {
        long offset = ramOnly(address, src.remaining());
        if (offset >= 0) {
            ram.write(offset, src);
            return;
        }
        int start = src.position();
        walk(address, src.remaining(), (pos, n, ramOffset, region) -> {
            ByteBuffer part = src.duplicate().position(start + (int) (pos - address)).limit(start + (int) (pos - address + n));
            if (region == null) {
                ram.write(ramOffset, part);
            } else {
                mmioWrite(region, pos, part);
            }
        });
        src.position(src.limit());
    }

    /** Bulk MMIO: the widest naturally aligned accesses that fit. */
    private static void mmioRead(MappedSpace.RegionImpl region, long pos, ByteBuffer part) {
        ByteBuffer out = part.order(ByteOrder.LITTLE_ENDIAN);
        while (out.hasRemaining()) {
            int size = width(pos, out.remaining());
            long v = region.handlerRead(pos - region.base(), size);
            for (int i = 0; i < size; i++) {
                out.put((byte) (v >>> (8 * i)));
            }
            pos += size;
        }
    }

    private static void mmioWrite(MappedSpace.RegionImpl region, long pos, ByteBuffer part) {
        while (part.hasRemaining()) {
            int size = width(pos, part.remaining());
            long v = 0;
            for (int i = 0; i < size; i++) {
                v |= Byte.toUnsignedLong(part.get()) << (8 * i);
            }
            region.handlerWrite(pos - region.base(), size, v);
            pos += size;
        }
    }

    private static int width(long pos, int remaining) {
        for (int size = 8; size > 1; size >>= 1) {
            if (remaining >= size && pos % size == 0) {
                return size;
            }
        }
        return 1;
    }

    @Override
    public long read(long address, int size) throws GuestMemoryException {
        MappedSpace.checkSize(size);
        MappedSpace.RegionImpl region = mmio.find(address);
        if (region != null && address + size <= region.base() + region.length()) {
            return region.handlerRead(address - region.base(), size) & MappedSpace.mask(size);
        }
        long offset = ram.offsetOf(address, size);
        if (region == null && offset >= 0 && !mmio.overlaps(address, size)) {
            return ram.get(offset, size);
        }
        ByteBuffer b = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN);
        read(address, b.limit(size));
        return b.getLong(0);
    }

    @Override
    public void write(long address, int size, long value) throws GuestMemoryException {
        MappedSpace.checkSize(size);
        MappedSpace.RegionImpl region = mmio.find(address);
        if (region != null && address + size <= region.base() + region.length()) {
            region.handlerWrite(address - region.base(), size, value & MappedSpace.mask(size));
            return;
        }
        long offset = ram.offsetOf(address, size);
        if (region == null && offset >= 0 && !mmio.overlaps(address, size)) {
            ram.put(offset, size, value);
            return;
        }
        ByteBuffer b = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(0, value);
        write(address, b.limit(size));
    }

    @Override
    public DmaMapping map(SgList list) {
        List<ByteBuffer> buffers = new ArrayList<>();
        long mapped = 0;
        List<SgEntry> entries = list.entries();
        for (int i = 0; i < entries.size(); i++) {
            long pos = entries.get(i).address();
            long end = entries.get(i).end();
            // Entries that continue one another (a guest's PRD or PRP list over contiguous pages) are
            // one region: one buffer, so one disk request, where RAM allows.
            while (i + 1 < entries.size() && entries.get(i + 1).address() == end) {
                end = entries.get(++i).end();
            }
            while (pos < end) {
                long run = ram.runAt(pos);
                long n = Math.min(end - pos, run);
                long next = n > 0 ? nextRegionOrAt(pos, n) : -1;
                if (next >= 0) {
                    n = next - pos;
                }
                if (n <= 0) {
                    return new DmaMapping(buffers, mapped, Optional.of(new GuestMemoryException(pos, end - pos,
                            "DMA to or from address 0x" + Long.toHexString(pos) + ", which is not RAM")));
                }
                ram.views(ram.offsetOf(pos, n), n, buffers);
                mapped += n;
                pos += n;
            }
        }
        return new DmaMapping(buffers, mapped, Optional.empty());
    }

    /** The first address in {@code [pos, pos + n)} an MMIO region holds, or -1. */
    private long nextRegionOrAt(long pos, long n) {
        if (mmio.find(pos) != null) {
            return pos;
        }
        return nextRegion(pos, n);
    }
}
