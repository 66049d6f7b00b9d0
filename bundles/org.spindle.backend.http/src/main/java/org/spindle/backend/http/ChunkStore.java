package org.spindle.backend.http;

import java.nio.ByteBuffer;

/** The chunks of one image version kept beyond memory (the persistent cache's view of one image). */
interface ChunkStore {
    /** Whether chunk {@code index} is held (it may still turn out damaged when read). */
    boolean contains(long index);

    /**
     * Copies {@code length} bytes from offset {@code from} of chunk {@code index} into {@code dst} at
     * absolute position {@code at}. Returns {@code false}, having copied nothing the caller may use,
     * when the chunk is not held or failed its check.
     */
    boolean read(long index, int from, ByteBuffer dst, int at, int length);

    /** Keeps chunk {@code index}, whose bytes passed every check. Never fails: the cache is optional. */
    void put(long index, byte[] data);

    /** Drops every chunk of this image version (it changed on the server). */
    void invalidate();

    /** Drops chunk {@code index} (it turned out not to be what its owner expected). */
    void drop(long index);

    /** The counters of the whole cache this store is part of. */
    ChunkCache.CacheCounters counters();
}
