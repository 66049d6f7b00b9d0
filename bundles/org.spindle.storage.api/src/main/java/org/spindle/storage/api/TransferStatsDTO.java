package org.spindle.storage.api;

import org.osgi.dto.DTO;

/**
 * What reading one remote image has cost below the disk, counted since it was opened: the requests
 * sent, the bytes they brought, and how many of the reads were answered from a cache. The ratio that
 * matters is {@link #amplification}: bytes fetched per byte read (1.0 is ideal for a sequential
 * reader; read-ahead and chunk rounding raise it, cache hits lower it).
 *
 * @since 1.5
 */
public class TransferStatsDTO extends DTO {
    /** The image these counters belong to, without query or credentials. */
    public String location;
    /**
     * How the image is read: {@code range} for HTTP Range requests on one object, {@code whole-object}
     * for a chunked image whose chunks are loaded whole.
     */
    public String transport;
    /** Requests sent, every attempt counted (retries included). */
    public long requests;
    /** Bytes received from below (network bodies, or for {@code whole-object}, chunks loaded). */
    public long bytesFetched;
    /** Bytes the readers above asked for. */
    public long bytesRead;
    /** Chunk lookups answered from a cache (memory or persistent). */
    public long hits;
    /** Chunk lookups that found the chunk in no cache: fetched for the reader, or joined a fetch in flight. */
    public long misses;
    /** Chunks fetched ahead of a sequential reader. */
    public long readAheads;
    /** Attempts that failed and were tried again. */
    public long retries;
    /** Fetches that failed for good (the read reported an error). */
    public long failures;
    /** {@code bytesFetched / bytesRead}, or 0 before the first read. */
    public double amplification;
    /** The capacity of the persistent cache the image uses, in bytes, or 0 when it uses none. */
    public long persistentCapacityBytes;
    /** Bytes the persistent cache holds now, for all the images that share it. */
    public long persistentUsedBytes;
    /** Chunks the persistent cache has dropped to stay within its capacity. */
    public long persistentEvictions;

    /** Sets {@link #amplification} from the byte counters. */
    public TransferStatsDTO withAmplification() {
        amplification = bytesRead == 0 ? 0 : (double) bytesFetched / bytesRead;
        return this;
    }
}
