package org.spindle.backend.http;

import java.util.concurrent.atomic.LongAdder;

/** What one image's reads cost on the network, counted as it happens. */
final class Traffic {
    /** HTTP requests sent (each attempt counts, retries included). */
    final LongAdder requests = new LongAdder();
    /** Body bytes received, used or not. */
    final LongAdder bytesFetched = new LongAdder();
    /** Attempts that were retried. */
    final LongAdder retries = new LongAdder();
    /** Fetches that failed for good. */
    final LongAdder failures = new LongAdder();
    /** Bytes the readers asked for. */
    final LongAdder bytesRead = new LongAdder();
    /** Chunk lookups answered from memory or the persistent cache. */
    final LongAdder hits = new LongAdder();
    /** Chunk lookups that needed a fetch (or joined one in flight). */
    final LongAdder misses = new LongAdder();
    /** Chunks fetched ahead of a sequential reader. */
    final LongAdder readAheads = new LongAdder();
}
