package org.spindle.machine.api;

/**
 * A function's MSI capability (PCI Local Bus 3.0, 6.8.1), kept in its configuration space: the guest
 * enables it, chooses how many of the offered vectors it takes (Multiple Message Enable), and writes the
 * address and data; with per-vector masking it masks vectors, and a masked vector's interrupt waits in
 * its pending bit until the guest unmasks it. {@link #signal} is what the device calls.
 */
public final class MsiCapability {
    private final PciConfigSpace space;
    private final int offset;
    private final boolean address64;
    private final boolean perVectorMask;
    private final int dataOffset;

    MsiCapability(PciConfigSpace space, int offset) {
        this.space = space;
        this.offset = offset;
        int control = (int) space.get(offset + 2, 2);
        this.address64 = (control & 0x80) != 0;
        this.perVectorMask = (control & 0x100) != 0;
        this.dataOffset = offset + (address64 ? 0xC : 0x8);
    }

    static int length(boolean address64, boolean perVectorMask) {
        return (address64 ? 14 : 10) + (perVectorMask ? 10 : 0);
    }

    /** Where the capability starts in configuration space. */
    public int offset() {
        return offset;
    }

    boolean covers(int configOffset) {
        return configOffset >= offset && configOffset < offset + length(address64, perVectorMask);
    }

    private int control() {
        return (int) space.get(offset + 2, 2);
    }

    public boolean enabled() {
        return (control() & 1) != 0;
    }

    /** The vectors the function offers (Multiple Message Capable). */
    public int vectorsOffered() {
        return 1 << ((control() >>> 1) & 7);
    }

    /** The vectors the guest gave the function: Multiple Message Enable, at most what is offered. */
    public int vectorsEnabled() {
        return Math.min(1 << ((control() >>> 4) & 7), vectorsOffered());
    }

    public boolean perVectorMask() {
        return perVectorMask;
    }

    public boolean isMasked(int vector) {
        return perVectorMask && (space.get(dataOffset + 4, 4) >>> vector & 1) != 0;
    }

    public boolean isPending(int vector) {
        return perVectorMask && (space.get(dataOffset + 8, 4) >>> vector & 1) != 0;
    }

    /** The message for {@code vector} as programmed now: the data's low bits carry the vector number. */
    public MsiMessage message(int vector) {
        long address = space.get(offset + 4, 4);
        if (address64) {
            address |= space.get(offset + 8, 4) << 32;
        }
        int data = (int) space.get(dataOffset, 2);
        int n = vectorsEnabled();
        return new MsiMessage(address, data & ~(n - 1) | vector & (n - 1));
    }

    /**
     * Signals {@code vector}: nothing while MSI is disabled or the vector is not among those enabled;
     * the pending bit while it is masked; otherwise the memory write, if the function is a bus master.
     */
    public void signal(int vector) {
        if (!enabled() || vector < 0 || vector >= vectorsEnabled()) {
            return;
        }
        if (isMasked(vector)) {
            setPending(vector, true);
            return;
        }
        space.send(message(vector));
    }

    private void setPending(int vector, boolean pending) {
        long bits = space.get(dataOffset + 8, 4);
        space.set(dataOffset + 8, 4, pending ? bits | 1L << vector : bits & ~(1L << vector));
    }

    /** After a guest write: a vector unmasked with its pending bit set sends now. */
    void afterWrite() {
        if (!perVectorMask || !enabled()) {
            return;
        }
        for (int v = 0; v < vectorsEnabled(); v++) {
            if (isPending(v) && !isMasked(v)) {
                setPending(v, false);
                space.send(message(v));
            }
        }
    }
}
