package org.spindle.machine.api;

import java.nio.ByteBuffer;
import java.util.List;
import java.util.Optional;

/**
 * A scatter-gather list mapped onto guest RAM: direct buffers that are views of the guest's memory,
 * in list order, for a controller to hand to {@code VirtualDisk.read} and {@code write}. When part of
 * the list is not RAM, the mapping stops there: {@link #buffers()} cover the valid prefix only
 * ({@link #mappedBytes()}), and {@link #failure()} says where and why, so a transfer moves exactly
 * the valid part and nothing beyond it.
 *
 * @param buffers views of guest RAM, each positioned at 0 with its limit at its length
 * @param mappedBytes the bytes the buffers cover
 * @param failure why the rest of the list could not be mapped, if it could not
 */
public record DmaMapping(List<ByteBuffer> buffers, long mappedBytes, Optional<GuestMemoryException> failure) {
    public DmaMapping {
        buffers = List.copyOf(buffers);
    }

    /** Whether the whole list was mapped. */
    public boolean complete() {
        return failure.isEmpty();
    }
}
