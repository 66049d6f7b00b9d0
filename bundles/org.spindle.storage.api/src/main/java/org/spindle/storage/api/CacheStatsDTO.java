package org.spindle.storage.api;

import org.osgi.dto.DTO;

/** The counters of a drive's block cache, since the drive was attached. */
public class CacheStatsDTO extends DTO {
    /** The cache mode the block cache follows: {@code writeback} or {@code writethrough}. */
    public String mode;
    /** The most bytes of blocks the cache holds. */
    public long capacityBytes;
    /** The size of one cached block. */
    public int blockSize;
    /** Bytes of blocks held now. */
    public long usedBytes;
    /** Requests for a block that was cached. */
    public long hits;
    /** Requests for a block that had to be read (or was fully overwritten) first. */
    public long misses;
    /** Blocks dropped to make room. */
    public long evictions;
    /** Dirty blocks written to the disk below (on eviction or flush). */
    public long writeBacks;
    /** Write-backs that failed; those blocks stayed dirty and the failure was reported at the next flush. */
    public long failedWriteBacks;
    /** Bytes written by the guest and not yet written to the disk below. */
    public long dirtyBytes;
}
