package org.spindle.machine.api;

/**
 * One element of a scatter-gather list: {@code length} bytes of guest physical memory at
 * {@code address} (a PRDT entry, a PRP page, a descriptor's buffer).
 *
 * @param address the guest physical address
 * @param length the number of bytes, at least 1
 */
public record SgEntry(long address, long length) {
    public SgEntry {
        if (length <= 0) {
            throw new IllegalArgumentException("a scatter-gather entry of " + length + " bytes");
        }
        if (address < 0 || address + length < address) {
            throw new IllegalArgumentException("a scatter-gather entry at 0x" + Long.toHexString(address) + " of "
                    + length + " bytes wraps the address space");
        }
    }

    /** The first address after the entry. */
    public long end() {
        return address + length;
    }
}
