package org.spindle.testing.qtest;

import java.util.ArrayList;
import java.util.List;

/**
 * PCI bus 0 as firmware and libqos see it, through a {@link QtestClient}: configuration reads and
 * writes by config mechanism #1 or ECAM, a scan for functions, BAR sizing and assignment, decoding
 * enables, and the capability list.
 *
 * <p>Mechanism #1 comes in two styles: {@link Style#LIBQOS} writes the whole register offset to 0xCF8
 * and always uses 0xCFC (what QEMU's tests do, relying on QEMU keeping the low two bits), and
 * {@link Style#HARDWARE} writes the dword-aligned offset and uses 0xCFC-0xCFF for the low bits.
 */
public final class QPci {
    /** How configuration space is reached. */
    public enum Style {
        LIBQOS, HARDWARE, ECAM
    }

    /** A function the scan found. */
    public record Function(int devfn, int vendorId, int deviceId, int classCode, int revision, int headerType) {
        public int device() {
            return devfn >>> 3;
        }

        public int function() {
            return devfn & 7;
        }

        @Override
        public String toString() {
            return String.format("00:%02x.%x %04x:%04x class %06x", device(), function(), vendorId, deviceId, classCode);
        }
    }

    /** A BAR as sizing found it. */
    public record Bar(int index, boolean io, boolean is64, boolean prefetchable, long size) {
    }

    private final QtestClient qt;
    private final Style style;
    private final long ecamBase;
    private long nextIo = 0xC000;
    private long nextMemory;

    private QPci(QtestClient qt, Style style, long ecamBase, long memoryBase) {
        this.qt = qt;
        this.style = style;
        this.ecamBase = ecamBase;
        this.nextMemory = memoryBase;
    }

    /** Mechanism #1 in {@code style} (LIBQOS or HARDWARE); memory BARs are assigned from {@code memoryBase}. */
    public static QPci mechanism1(QtestClient qt, Style style, long memoryBase) {
        if (style == Style.ECAM) {
            throw new IllegalArgumentException("use QPci.ecam for ECAM");
        }
        return new QPci(qt, style, 0, memoryBase);
    }

    /** ECAM at {@code ecamBase}; memory BARs are assigned from {@code memoryBase}. */
    public static QPci ecam(QtestClient qt, long ecamBase, long memoryBase) {
        return new QPci(qt, Style.ECAM, ecamBase, memoryBase);
    }

    public QtestClient client() {
        return qt;
    }

    // ---------------------------------------------------------------------------------------------
    // configuration access

    public int configRead(int devfn, int offset, int size) {
        switch (style) {
            case ECAM -> {
                long a = ecamBase + ((long) devfn << 12) + offset;
                return switch (size) {
                    case 1 -> qt.readb(a);
                    case 2 -> qt.readw(a);
                    default -> qt.readl(a);
                };
            }
            case LIBQOS -> {
                qt.outl(0xCF8, 1 << 31 | devfn << 8 | offset);
                return in(0xCFC, size);
            }
            default -> {
                qt.outl(0xCF8, 1 << 31 | devfn << 8 | offset & 0xFC);
                return in(0xCFC + (offset & 3), size);
            }
        }
    }

    public void configWrite(int devfn, int offset, int size, int value) {
        switch (style) {
            case ECAM -> {
                long a = ecamBase + ((long) devfn << 12) + offset;
                switch (size) {
                    case 1 -> qt.writeb(a, value);
                    case 2 -> qt.writew(a, value);
                    default -> qt.writel(a, value);
                }
            }
            case LIBQOS -> {
                qt.outl(0xCF8, 1 << 31 | devfn << 8 | offset);
                out(0xCFC, size, value);
            }
            default -> {
                qt.outl(0xCF8, 1 << 31 | devfn << 8 | offset & 0xFC);
                out(0xCFC + (offset & 3), size, value);
            }
        }
    }

    private int in(int port, int size) {
        return switch (size) {
            case 1 -> qt.inb(port);
            case 2 -> qt.inw(port);
            default -> qt.inl(port);
        };
    }

    private void out(int port, int size, int value) {
        switch (size) {
            case 1 -> qt.outb(port, value);
            case 2 -> qt.outw(port, value);
            default -> qt.outl(port, value);
        }
    }

    // ---------------------------------------------------------------------------------------------
    // enumeration

    /**
     * Scans bus 0 as firmware does: function 0 of each device, and functions 1 to 7 where function 0
     * says multi-function; vendor 0xFFFF is no function.
     */
    public List<Function> scan() {
        List<Function> found = new ArrayList<>();
        for (int dev = 0; dev < 32; dev++) {
            int functions = 1;
            for (int fn = 0; fn < functions; fn++) {
                int devfn = dev << 3 | fn;
                int vendor = configRead(devfn, 0x00, 2);
                if (vendor == 0xFFFF) {
                    continue;
                }
                int header = configRead(devfn, 0x0E, 1);
                if (fn == 0 && (header & 0x80) != 0) {
                    functions = 8;
                }
                int classRev = configRead(devfn, 0x08, 4);
                found.add(new Function(devfn, vendor, configRead(devfn, 0x02, 2), classRev >>> 8, classRev & 0xFF, header));
            }
        }
        return found;
    }

    /** Sizes BAR {@code index} by writing all ones and reading back (the register is restored); null when unused. */
    public Bar sizeBar(int devfn, int index) {
        int offset = 0x10 + 4 * index;
        int old = configRead(devfn, offset, 4);
        configWrite(devfn, offset, 4, 0xFFFF_FFFF);
        int mask = configRead(devfn, offset, 4);
        configWrite(devfn, offset, 4, old);
        if (mask == 0) {
            return null;
        }
        boolean io = (mask & 1) != 0;
        if (io) {
            return new Bar(index, true, false, false, (~(mask & ~0x3) + 1) & 0xFFFF_FFFFL);
        }
        boolean is64 = (mask & 0x6) == 0x4;
        long full = mask & ~0xFL & 0xFFFF_FFFFL;
        if (is64) {
            int oldHigh = configRead(devfn, offset + 4, 4);
            configWrite(devfn, offset + 4, 4, 0xFFFF_FFFF);
            full |= (long) configRead(devfn, offset + 4, 4) << 32;
            configWrite(devfn, offset + 4, 4, oldHigh);
        } else {
            full |= 0xFFFF_FFFF_0000_0000L;
        }
        return new Bar(index, false, is64, (mask & 0x8) != 0, ~full + 1);
    }

    /**
     * Sizes BAR {@code index}, gives it the next naturally aligned address (I/O from 0xC000, memory
     * from the base given), writes it, and returns it (as libqos's {@code qpci_iomap}); decoding is
     * enabled separately by {@link #enable}.
     */
    public long assignBar(int devfn, int index) {
        Bar bar = sizeBar(devfn, index);
        if (bar == null) {
            throw new IllegalStateException(String.format("00:%02x.%x BAR%d is not implemented", devfn >>> 3, devfn & 7, index));
        }
        long address;
        if (bar.io()) {
            address = (nextIo + bar.size() - 1) & -bar.size();
            nextIo = address + bar.size();
        } else {
            address = (nextMemory + bar.size() - 1) & -bar.size();
            nextMemory = address + bar.size();
        }
        int offset = 0x10 + 4 * index;
        configWrite(devfn, offset, 4, (int) address);
        if (bar.is64()) {
            configWrite(devfn, offset + 4, 4, (int) (address >>> 32));
        }
        return address;
    }

    /** Turns on I/O and memory decoding and bus mastering (libqos's {@code qpci_device_enable}). */
    public void enable(int devfn) {
        int command = configRead(devfn, 0x04, 2);
        configWrite(devfn, 0x04, 2, command | 0x7);
    }

    /** The offset of the first capability with {@code id} after {@code start} (0 to begin), or 0. */
    public int findCapability(int devfn, int id, int start) {
        if ((configRead(devfn, 0x06, 2) & 0x10) == 0) {
            return 0;
        }
        int at = start == 0 ? configRead(devfn, 0x34, 1) & 0xFC : configRead(devfn, start + 1, 1) & 0xFC;
        for (int hops = 0; at != 0 && hops < 48; hops++) {
            if (configRead(devfn, at, 1) == id) {
                return at;
            }
            at = configRead(devfn, at + 1, 1) & 0xFC;
        }
        return 0;
    }
}
