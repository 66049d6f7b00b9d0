package org.spindle.machine.api;

/**
 * A guest memory access that cannot be done: the range is not RAM (beyond the end of RAM, in the
 * MMIO hole) where RAM is required. A controller turns it into the guest-visible error its
 * specification names for a bad DMA address (a host bus abort, a data transfer error).
 */
public class GuestMemoryException extends Exception {
    private static final long serialVersionUID = 1L;
    private final long address;
    private final long length;

    public GuestMemoryException(long address, long length, String reason) {
        super(reason + " (" + length + " bytes at 0x" + Long.toHexString(address) + ")");
        this.address = address;
        this.length = length;
    }

    /** The first address of the access that failed. */
    public long address() {
        return address;
    }

    /** The length of the access that failed. */
    public long length() {
        return length;
    }
}
