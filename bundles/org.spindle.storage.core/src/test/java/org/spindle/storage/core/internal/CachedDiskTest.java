package org.spindle.storage.core.internal;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatExceptionOfType;

import java.net.URI;
import java.nio.ByteBuffer;

import org.junit.jupiter.api.Test;
import org.spindle.backend.memory.MemoryBackendProvider;
import org.spindle.format.raw.RawFormat;
import org.spindle.storage.api.AccessMode;
import org.spindle.storage.api.CacheMode;
import org.spindle.storage.core.CachedDisk;
import org.spindle.storage.api.CacheStatsDTO;
import org.spindle.storage.api.CreateOptions;
import org.spindle.storage.api.Discardable;
import org.spindle.storage.api.StorageException;
import org.spindle.storage.api.VirtualDisk;

class CachedDiskTest {
    private static final int BLOCK = 4096;
    private final MemoryBackendProvider memory = new MemoryBackendProvider();
    private int names;

    private FaultyDisk raw(int size) throws StorageException {
        return new FaultyDisk(new RawFormat().create(memory.open(URI.create("memory:r" + names++ + "?size=0"),
                AccessMode.CREATE_NEW), CreateOptions.ofCapacity(size)));
    }

    private static byte[] read(VirtualDisk disk, long offset, int n) throws StorageException {
        ByteBuffer dst = ByteBuffer.allocate(n);
        disk.read(offset, dst);
        return dst.array();
    }

    private static ByteBuffer filled(int n, int value) {
        byte[] b = new byte[n];
        java.util.Arrays.fill(b, (byte) value);
        return ByteBuffer.wrap(b);
    }

    @Test
    void hitsMissesAndDirtyBytesAreCounted() throws Exception {
        FaultyDisk below = raw(16 * BLOCK);
        CachedDisk cache = new CachedDisk(below, CacheMode.WRITEBACK, 4 * BLOCK, BLOCK);
        read(cache, 0, 100);                 // miss
        read(cache, 200, 100);               // hit
        cache.write(BLOCK, filled(BLOCK, 1)); // a whole block: a miss that reads nothing
        CacheStatsDTO stats = cache.stats();
        assertThat(stats.misses).isEqualTo(2);
        assertThat(stats.hits).isEqualTo(1);
        assertThat(stats.dirtyBytes).isEqualTo(BLOCK);
        assertThat(stats.mode).isEqualTo("writeback");
        assertThat(stats.capacityBytes).isEqualTo(4 * BLOCK);
        assertThat(below.writes).as("nothing written before a flush").isZero();
        cache.flush();
        assertThat(below.writes).isEqualTo(1);
        assertThat(cache.stats().dirtyBytes).isZero();
        assertThat(cache.stats().writeBacks).isEqualTo(1);
    }

    /** Makes other blocks hotter than block 0 until the cache's policy picks it as the victim. */
    private static void evictBlockZero(CachedDisk cache) throws StorageException {
        for (int round = 0; round < 50 && cache.stats().writeBacks + cache.stats().failedWriteBacks == 0; round++) {
            for (int i = 1; i < 4; i++) {
                read(cache, (long) i * BLOCK, 1);
            }
        }
    }

    @Test
    void anEvictedDirtyBlockIsWrittenBackAtOnce() throws Exception {
        FaultyDisk below = raw(16 * BLOCK);
        CachedDisk cache = new CachedDisk(below, CacheMode.WRITEBACK, 2 * BLOCK, BLOCK);
        cache.write(0, filled(10, 7));
        evictBlockZero(cache);
        assertThat(cache.stats().evictions).isGreaterThan(0);
        assertThat(read(below, 0, 10)).as("written back on eviction, before any flush").containsOnly(7);
        assertThat(cache.stats().writeBacks).isEqualTo(1);
    }

    @Test
    void aFailedWriteBackStaysDirtyAndTheNextFlushFails() throws Exception {
        FaultyDisk below = raw(16 * BLOCK);
        CachedDisk cache = new CachedDisk(below, CacheMode.WRITEBACK, 2 * BLOCK, BLOCK);
        cache.write(0, filled(BLOCK, 9));
        below.failing = true;
        evictBlockZero(cache);                  // its write-back fails
        assertThat(cache.stats().failedWriteBacks).isGreaterThan(0);
        assertThat(read(cache, 0, BLOCK)).as("the data stays readable").containsOnly(9);
        assertThat(read(below, 0, 1)).containsOnly(0);
        assertThatExceptionOfType(StorageException.class).isThrownBy(cache::flush)
                .withMessageContaining("injected");
        // while the failure lasts, new writes are refused rather than cached
        assertThatExceptionOfType(StorageException.class).isThrownBy(() -> cache.write(5 * BLOCK, filled(1, 1)));
        below.failing = false;
        cache.flush();
        assertThat(read(below, 0, BLOCK)).containsOnly(9);
        assertThat(cache.stats().dirtyBytes).isZero();
        cache.write(5 * BLOCK, filled(1, 1));
        assertThat(below.writes).as("caching again after a good flush").isEqualTo(1);
    }

    @Test
    void aFailedFlushAlsoStopsCachingNewWrites() throws Exception {
        FaultyDisk below = raw(8 * BLOCK);
        CachedDisk cache = new CachedDisk(below, CacheMode.WRITEBACK, 8 * BLOCK, BLOCK);
        cache.write(0, filled(10, 1));
        below.failing = true;
        assertThatExceptionOfType(StorageException.class).isThrownBy(cache::flush);
        assertThatExceptionOfType(StorageException.class).as("no longer cached while writes fail")
                .isThrownBy(() -> cache.write(BLOCK, filled(10, 2)));
        below.failing = false;
        cache.flush();
        assertThat(read(below, 0, 10)).containsOnly(1);
    }

    @Test
    void writeThroughNeverHoldsDirtyData() throws Exception {
        FaultyDisk below = raw(8 * BLOCK);
        CachedDisk cache = new CachedDisk(below, CacheMode.WRITETHROUGH, 4 * BLOCK, BLOCK);
        read(cache, 0, 1);
        cache.write(10, filled(5, 3));
        assertThat(read(below, 10, 5)).containsOnly(3);
        assertThat(read(cache, 10, 5)).containsOnly(3);
        assertThat(cache.stats().dirtyBytes).isZero();
        assertThat(cache.stats().mode).isEqualTo("writethrough");
        below.failing = true;
        assertThatExceptionOfType(StorageException.class).isThrownBy(() -> cache.write(0, filled(1, 1)));
        assertThat(read(cache, 0, 1)).as("a failed write changes nothing").containsOnly(0);
    }

    @Test
    void discardWritesBackAndDropsOverlappingBlocks() throws Exception {
        FaultyDisk below = raw(8 * BLOCK);
        CachedDisk cache = new CachedDisk(below, CacheMode.WRITEBACK, 8 * BLOCK, BLOCK);
        cache.write(BLOCK + 100, filled(10, 4));
        Discardable discard = cache.capability(Discardable.class).orElse(null);
        // raw over memory discards only if the backend can; either way the data must be consistent
        if (discard != null) {
            discard.discard(0, BLOCK);
            assertThat(read(cache, BLOCK + 100, 10)).containsOnly(4);
        }
        cache.flush();
        assertThat(read(below, BLOCK + 100, 10)).as("written back").containsOnly(4);
        cache.close();
    }
}
