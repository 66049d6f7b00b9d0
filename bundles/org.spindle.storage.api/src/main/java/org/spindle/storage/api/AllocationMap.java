package org.spindle.storage.api;

import org.osgi.annotation.versioning.ConsumerType;

/**
 * The ability of a disk to tell which of its ranges hold data, which read as zeros without storing
 * anything, and which are absent from this image (and come from a base image, if there is one).
 * Sparse-aware copying, {@code img map} and copy-on-write overlays are built on it.
 */
@ConsumerType
public interface AllocationMap {
    /**
     * The unit in which this image allocates, in bytes (a power of two): a block or a cluster. Extents
     * start and end on multiples of it, except at the end of the disk.
     */
    int allocationUnit();

    /**
     * Describes the range starting at {@code offset}: the returned extent starts at {@code offset},
     * is at most {@code maxLength} bytes long and has one status throughout. Callers walk a range by
     * asking again where the last extent ended.
     *
     * @throws StorageException {@code OUT_OF_BOUNDS} if {@code offset} is not inside the disk
     */
    Extent extent(long offset, long maxLength) throws StorageException;
}
