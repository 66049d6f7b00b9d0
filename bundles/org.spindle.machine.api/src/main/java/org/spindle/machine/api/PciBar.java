package org.spindle.machine.api;

import java.util.Objects;

/**
 * A base address register as a function declares it: what kind of space it decodes, how large it is,
 * and the registers behind it. The bus maps {@link #handler} wherever the guest places the BAR, while
 * decoding of its space is enabled in the command register.
 */
public final class PciBar {
    /** The kind of address space a BAR decodes. */
    public enum Kind {
        /** Port I/O; takes one BAR register. */
        IO,
        /** Memory below 4 GiB; one BAR register. */
        MEMORY32,
        /** Memory anywhere in 64 bits; takes this BAR register and the next. */
        MEMORY64
    }

    private final Kind kind;
    private final long size;
    private final boolean prefetchable;
    private final IoHandler handler;

    private PciBar(Kind kind, long size, boolean prefetchable, IoHandler handler) {
        long min = kind == Kind.IO ? 4 : 16;
        if (size < min || Long.bitCount(size) != 1 || (kind == Kind.IO && size > 256)
                || (kind == Kind.MEMORY32 && size > 1L << 31)) {
            throw new IllegalArgumentException(kind + " BAR of " + size + " bytes: the size must be a power of two from "
                    + min + (kind == Kind.IO ? " to 256" : kind == Kind.MEMORY32 ? " to 2 GiB" : ""));
        }
        this.kind = kind;
        this.size = size;
        this.prefetchable = prefetchable;
        this.handler = Objects.requireNonNull(handler, "handler");
    }

    /** A port I/O BAR of {@code size} bytes (a power of two, 4 to 256). */
    public static PciBar io(int size, IoHandler handler) {
        return new PciBar(Kind.IO, size, false, handler);
    }

    /** A 32-bit memory BAR of {@code size} bytes (a power of two, at least 16). */
    public static PciBar memory32(long size, IoHandler handler) {
        return new PciBar(Kind.MEMORY32, size, false, handler);
    }

    /** A 64-bit memory BAR of {@code size} bytes (a power of two, at least 16). */
    public static PciBar memory64(long size, boolean prefetchable, IoHandler handler) {
        return new PciBar(Kind.MEMORY64, size, prefetchable, handler);
    }

    public Kind kind() {
        return kind;
    }

    public long size() {
        return size;
    }

    public boolean prefetchable() {
        return prefetchable;
    }

    public IoHandler handler() {
        return handler;
    }

    /** The read-only low bits of the BAR register: space, type and prefetchable. */
    int typeBits() {
        return switch (kind) {
            case IO -> 0x1;
            case MEMORY32 -> prefetchable ? 0x8 : 0x0;
            case MEMORY64 -> 0x4 | (prefetchable ? 0x8 : 0);
        };
    }

    /** A BAR of the same kind and size with other registers behind it (the MSI-X helper wraps a device's). */
    PciBar withHandler(IoHandler other) {
        return new PciBar(kind, size, prefetchable, other);
    }

    @Override
    public String toString() {
        return kind + " " + size + (prefetchable ? " prefetchable" : "");
    }
}
