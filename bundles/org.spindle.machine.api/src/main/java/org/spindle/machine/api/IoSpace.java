package org.spindle.machine.api;

import org.osgi.annotation.versioning.ProviderType;

/**
 * An address space devices map their registers into: the 64 KiB port I/O space, or MMIO. An access
 * lands on the handler whose region holds its first byte, as one access of its width; an access no
 * region holds reads all ones and is dropped on write.
 */
@ProviderType
public interface IoSpace {
    /** A mapped region: where it is and whose; closing unmaps it. */
    @ProviderType
    interface Region extends AutoCloseable {
        long base();

        long length();

        String owner();

        /** Moves the region (a BAR the guest reprogrammed). */
        void move(long newBase);

        @Override
        void close();
    }

    /**
     * Maps {@code handler} at {@code [base, base + length)}.
     *
     * @throws IllegalArgumentException when the range is outside the space or overlaps a region mapped
     *         already (naming its owner)
     */
    Region map(long base, long length, IoHandler handler, String owner);

    /** A read of {@code size} bytes (1, 2, 4 or 8) at {@code address}, as a CPU's would be. */
    long read(long address, int size);

    /** A write of {@code size} bytes (1, 2, 4 or 8) at {@code address}, as a CPU's would be. */
    void write(long address, int size, long value);
}
