package org.spindle.storage.api;

/**
 * A run of bytes of a disk with one allocation status, as {@link AllocationMap} reports it and
 * {@code img map --json} prints it.
 *
 * @param offset the first byte, as the guest addresses it
 * @param length the number of bytes
 * @param present whether some image of the chain holds the range; an absent range reads as zeros
 * @param data whether the range reads from stored data (it may still happen to be zeros)
 * @param zero whether the range is known to read as zeros without reading data
 * @param depth which image of a chain holds the range: 0 for the top image, 1 for its base, …
 * @param hostOffset where the data lies in the image's backend, or -1 when there is none or it is not
 *        contiguous
 */
public record Extent(long offset, long length, boolean present, boolean data, boolean zero, int depth,
        long hostOffset) {

    /** Stored data at {@code hostOffset} (or -1) in the top image. */
    public static Extent data(long offset, long length, long hostOffset) {
        return new Extent(offset, length, true, true, false, 0, hostOffset);
    }

    /** A range this image does not hold: it reads as zeros, or from a base image under an overlay. */
    public static Extent absent(long offset, long length) {
        return new Extent(offset, length, false, false, true, 0, -1);
    }

    /** A range this image records as zeros without storing data. */
    public static Extent zero(long offset, long length) {
        return new Extent(offset, length, true, false, true, 0, -1);
    }

    /** The first byte after the extent. */
    public long end() {
        return offset + length;
    }

    /** The same status for a shorter or longer run starting at the same offset. */
    public Extent withLength(long newLength) {
        return new Extent(offset, newLength, present, data, zero, depth, hostOffset);
    }

    /** The same extent as seen {@code levels} images further up a chain. */
    public Extent deeper(int levels) {
        return new Extent(offset, length, present, data, zero, depth + levels, hostOffset);
    }
}
