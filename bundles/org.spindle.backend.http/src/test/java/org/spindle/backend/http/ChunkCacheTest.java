package org.spindle.backend.http;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.spindle.backend.http.HttpBackendTest.pattern;
import static org.spindle.backend.http.HttpBackendTest.read;

import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.spindle.testing.http.FaultProxy;
import org.spindle.testing.http.FaultProxy.Fault;
import org.spindle.testing.http.RangeOrigin;
import org.spindle.storage.api.StorageException;
import org.spindle.storage.api.TransferStatistics;
import org.spindle.storage.api.TransferStatsDTO;
import org.spindle.storage.api.StorageException.Kind;

class ChunkCacheTest {
    private static final int CHUNK = ChunkCache.BLOCK;

    @TempDir
    Path dir;

    private RangeOrigin origin;
    private byte[] image;
    private final List<AutoCloseable> closing = new ArrayList<>();

    @BeforeEach
    void start() throws Exception {
        image = pattern(24 * CHUNK + 1000, 3);
        origin = new RangeOrigin().serve("/disk.img", image);
    }

    @AfterEach
    void stop() throws Exception {
        for (AutoCloseable c : closing.reversed()) {
            c.close();
        }
        origin.close();
    }

    private HttpSettings settings(String pieceSize) throws StorageException {
        // the memory cache is as small as it goes, so reads come from the persistent cache
        return HttpSettings.defaults().with(Map.of(HttpSettings.CHUNK_SIZE, Integer.toString(CHUNK),
                HttpSettings.PIECE_SIZE, pieceSize, HttpSettings.READ_AHEAD, "0", HttpSettings.MAX_FETCHES, "1",
                HttpSettings.MEMORY_CACHE, "0", HttpSettings.RETRY_BACKOFF, "5ms"));
    }

    private ChunkCache cache(long max) throws StorageException {
        ChunkCache cache = ChunkCache.open(dir, max);
        closing.add(cache);
        return cache;
    }

    /** Misses fetch whole chunks (the tests of pieces say so). */
    private HttpBackend open(java.net.URI uri, ChunkCache cache) throws StorageException {
        return open(uri, cache, "0");
    }

    private HttpBackend open(java.net.URI uri, ChunkCache cache, String pieceSize) throws StorageException {
        HttpBackend backend = HttpBackend.open(uri, settings(pieceSize), Credentials.NONE, cache);
        closing.add(backend);
        return backend;
    }

    private void readAll(HttpBackend backend) throws StorageException {
        for (long at = 0; at < image.length; at += CHUNK) {
            int n = (int) Math.min(CHUNK, image.length - at);
            assertThat(read(backend, at, n)).isEqualTo(Arrays.copyOfRange(image, (int) at, (int) at + n));
        }
    }

    @Test
    void chunksOutliveARestartAndAreReadWithoutARequest() throws Exception {
        ChunkCache cache = cache(64L * CHUNK);
        HttpBackend backend = open(origin.uri("/disk.img"), cache);
        readAll(backend);
        assertThat(cache.counters().chunks()).isEqualTo(25);
        backend.close();
        cache.close();

        origin.clearLog();
        ChunkCache again = cache(64L * CHUNK);
        HttpBackend second = open(origin.uri("/disk.img"), again);
        readAll(second);
        // 4 KiB from the middle of a chunk: served from the block file
        assertThat(read(second, 7L * CHUNK + 1234, 4096)).isEqualTo(Arrays.copyOfRange(image, 7 * CHUNK + 1234,
                7 * CHUNK + 1234 + 4096));
        assertThat(origin.rangeRequests()).isZero();
        assertThat(again.counters().hits()).isGreaterThanOrEqualTo(26);
        assertThat(second.traffic().hits.sum()).isGreaterThanOrEqualTo(26);
    }

    @Test
    void piecesOutliveARestartCountTowardsTheBoundAndGiveWayToTheirChunk() throws Exception {
        ChunkCache cache = cache(4L * CHUNK);
        HttpBackend backend = open(origin.uri("/disk.img"), cache, "4K");
        assertThat(read(backend, 3L * CHUNK + 5000, 100)).isEqualTo(Arrays.copyOfRange(image, 3 * CHUNK + 5000,
                3 * CHUNK + 5100));
        assertThat(read(backend, 9L * CHUNK + 100, 5000)).isEqualTo(Arrays.copyOfRange(image, 9 * CHUNK + 100,
                9 * CHUNK + 5100));
        // three pieces, kept in the index store: the block file stays empty
        assertThat(cache.counters().chunks()).isEqualTo(3);
        assertThat(cache.counters().used()).isEqualTo(3 * 4096);
        assertThat(Files.size(dir.resolve("blocks.bin"))).isZero();
        backend.close();
        cache.close();

        origin.clearLog();
        ChunkCache again = cache(4L * CHUNK);
        HttpBackend second = open(origin.uri("/disk.img"), again, "4K");
        assertThat(again.counters().chunks()).isEqualTo(3);
        assertThat(read(second, 3L * CHUNK + 4096, 4096)).isEqualTo(Arrays.copyOfRange(image, 3 * CHUNK + 4096,
                3 * CHUNK + 8192));
        assertThat(read(second, 9L * CHUNK, 8192)).isEqualTo(Arrays.copyOfRange(image, 9 * CHUNK, 9 * CHUNK + 8192));
        assertThat(origin.rangeRequests()).isZero();
        // chunk 9 fetched whole: its pieces are dropped
        assertThat(read(second, 9L * CHUNK, CHUNK)).isEqualTo(Arrays.copyOfRange(image, 9 * CHUNK, 10 * CHUNK));
        assertThat(again.counters().chunks()).isEqualTo(2);
        assertThat(again.counters().used()).isEqualTo(CHUNK + 4096);
        // pieces and chunks share the bound and the LRU order
        for (long chunk = 10; chunk < 16; chunk++) {
            read(second, chunk * CHUNK, CHUNK);
            assertThat(again.counters().used()).isLessThanOrEqualTo(4L * CHUNK);
        }
        assertThat(again.counters().evictions()).isPositive();
        origin.clearLog();
        read(second, 3L * CHUNK + 5000, 100);
        assertThat(origin.rangeRequests()).as("the oldest piece was evicted").isEqualTo(1);
    }

    @Test
    void statisticsCountRequestsBytesAndHitsThroughTheApi() throws Exception {
        ChunkCache cache = cache(64L * CHUNK);
        HttpBackend backend = open(origin.uri("/disk.img"), cache);
        TransferStatistics stats = backend.capability(TransferStatistics.class).orElseThrow();
        TransferStatsDTO before = stats.transferStats();
        assertThat(before.bytesRead).isZero();
        assertThat(before.amplification).isZero();
        readAll(backend);
        TransferStatsDTO cold = stats.transferStats();
        assertThat(cold.location).isEqualTo(origin.uri("/disk.img").toString());
        assertThat(cold.transport).isEqualTo("range");
        // the discovery HEAD and one range per chunk, every byte once
        assertThat(cold.requests).isEqualTo(1 + 25);
        assertThat(cold.misses).isEqualTo(25);
        assertThat(cold.hits).isZero();
        assertThat(cold.bytesRead).isEqualTo(image.length);
        assertThat(cold.bytesFetched).isEqualTo(origin.bodyBytes()).isEqualTo(image.length);
        assertThat(cold.amplification).isEqualTo(1.0);
        assertThat(cold.persistentCapacityBytes).isEqualTo(64L * CHUNK);
        assertThat(cold.persistentUsedBytes).isEqualTo(cache.counters().used()).isPositive();
        backend.close();

        HttpBackend warm = open(origin.uri("/disk.img"), cache);
        readAll(warm);
        TransferStatsDTO second = warm.capability(TransferStatistics.class).orElseThrow().transferStats();
        assertThat(second.requests).isEqualTo(1);
        assertThat(second.hits).isEqualTo(25);
        assertThat(second.misses).isZero();
        assertThat(second.bytesFetched).isZero();
        assertThat(second.amplification).isZero();
        // a new object each time: what a caller kept does not move
        assertThat(cold.requests).isEqualTo(1 + 25);
    }

    @Test
    void theCacheStaysWithinItsBoundAndEvictsTheLeastRecentlyUsed() throws Exception {
        ChunkCache cache = cache(8L * CHUNK);
        HttpBackend backend = open(origin.uri("/disk.img"), cache);
        for (long chunk = 1; chunk < 24; chunk++) {
            assertThat(read(backend, chunk * CHUNK, 10)).isEqualTo(Arrays.copyOfRange(image, (int) (chunk * CHUNK),
                    (int) (chunk * CHUNK) + 10));
            // chunk 0 is used all the time: it must survive
            assertThat(read(backend, 0, 10)).isEqualTo(Arrays.copyOf(image, 10));
            assertThat(cache.counters().used()).isLessThanOrEqualTo(8L * CHUNK);
            assertThat(Files.size(dir.resolve("blocks.bin"))).isLessThanOrEqualTo(8L * CHUNK);
        }
        assertThat(cache.counters().evictions()).isGreaterThan(10);
        origin.clearLog();
        read(backend, 0, 10);
        read(backend, 23L * CHUNK, 10);
        assertThat(origin.rangeRequests()).isZero();
        read(backend, CHUNK, 10);
        assertThat(origin.rangeRequests()).isEqualTo(1);
    }

    @Test
    void aChangedOriginImageDropsTheOldVersionsChunks() throws Exception {
        ChunkCache cache = cache(64L * CHUNK);
        HttpBackend backend = open(origin.uri("/disk.img"), cache);
        readAll(backend);
        backend.close();
        byte[] replaced = pattern(image.length, 11);
        origin.serve("/disk.img", replaced);
        HttpBackend fresh = open(origin.uri("/disk.img"), cache);
        assertThat(cache.counters().chunks()).isZero();
        assertThat(read(fresh, 3L * CHUNK, 100)).isEqualTo(Arrays.copyOfRange(replaced, 3 * CHUNK, 3 * CHUNK + 100));
    }

    @Test
    void aChangeSeenMidRunDropsTheChunksAndNothingOfAFailedResponseIsKept() throws Exception {
        ChunkCache cache = cache(64L * CHUNK);
        FaultProxy proxy = new FaultProxy(origin.port());
        closing.add(proxy);
        HttpBackend backend = open(proxy.uri("/disk.img"), cache);
        proxy.always(Fault.GZIP);
        assertThatThrownBy(() -> read(backend, 0, 10)).hasMessageContaining("protocol error");
        proxy.always(Fault.WRONG_RANGE);
        assertThatThrownBy(() -> read(backend, 0, 10)).hasMessageContaining("protocol error");
        assertThat(cache.counters().stored()).isZero();
        proxy.always(Fault.PASS);
        read(backend, 0, 10);
        read(backend, CHUNK, 10);
        assertThat(cache.counters().chunks()).isEqualTo(2);
        proxy.next(Fault.NEW_ETAG);
        assertThatThrownBy(() -> read(backend, 2L * CHUNK, 10)).hasMessageContaining("changed on the server");
        assertThat(cache.counters().chunks()).isZero();
    }

    @Test
    void damagedBlocksAreFoundBySha256AndFetchedAgain() throws Exception {
        ChunkCache cache = cache(64L * CHUNK);
        HttpBackend backend = open(origin.uri("/disk.img"), cache);
        readAll(backend);
        backend.close();
        cache.close();
        try (FileChannel ch = FileChannel.open(dir.resolve("blocks.bin"), StandardOpenOption.WRITE)) {
            ch.write(ByteBuffer.wrap(new byte[] {1, 2, 3, 4}), 5L * CHUNK + 77);
        }
        origin.clearLog();
        ChunkCache again = cache(64L * CHUNK);
        HttpBackend second = open(origin.uri("/disk.img"), again);
        readAll(second);
        assertThat(again.counters().dropped()).isEqualTo(1);
        assertThat(origin.rangeRequests()).isEqualTo(1);
    }

    @Test
    void aBlockFileCutShortByACrashLosesOnlyTheChunksItCut() throws Exception {
        ChunkCache cache = cache(64L * CHUNK);
        HttpBackend backend = open(origin.uri("/disk.img"), cache);
        readAll(backend);
        backend.close();
        cache.close();
        try (FileChannel ch = FileChannel.open(dir.resolve("blocks.bin"), StandardOpenOption.WRITE)) {
            ch.truncate(ch.size() - 3000);
        }
        origin.clearLog();
        ChunkCache again = cache(64L * CHUNK);
        HttpBackend second = open(origin.uri("/disk.img"), again);
        readAll(second);
        readAll(second);
        // the cut takes the last chunk's 1000 bytes and the end of the chunk before it: those two are
        // fetched again, once each; the cache keeps working
        assertThat(origin.rangeRequests()).isEqualTo(2);
        assertThat(again.counters().chunks()).isEqualTo(25);
    }

    @Test
    void anUnreadableIndexIsSetAsideAndAnotherUserIsRefused() throws Exception {
        Files.write(dir.resolve("index.mv.db"), pattern(8192, 5));
        ChunkCache cache = cache(64L * CHUNK);
        assertThat(dir.resolve("index.mv.db.unreadable")).exists();
        HttpBackend backend = open(origin.uri("/disk.img"), cache);
        readAll(backend);
        assertThatThrownBy(() -> ChunkCache.open(dir, 64L * CHUNK)).isInstanceOfSatisfying(StorageException.class,
                e -> assertThat(e.kind()).isEqualTo(Kind.IN_USE));
    }

    @Test
    void concurrentReadersAgainstAnEvictingCacheReadTheRightBytes() throws Exception {
        ChunkCache cache = cache(6L * CHUNK);
        HttpBackend backend = open(origin.uri("/disk.img"), cache);
        ExecutorService pool = Executors.newFixedThreadPool(6);
        List<Future<?>> done = new ArrayList<>();
        for (int t = 0; t < 6; t++) {
            int seed = t;
            done.add(pool.submit(() -> {
                Random random = new Random(seed);
                for (int i = 0; i < 200; i++) {
                    int length = 1 + random.nextInt(2 * CHUNK);
                    int at = random.nextInt(image.length - length + 1);
                    assertThat(read(backend, at, length)).isEqualTo(Arrays.copyOfRange(image, at, at + length));
                }
                return null;
            }));
        }
        for (Future<?> f : done) {
            f.get();
        }
        pool.shutdown();
        assertThat(cache.counters().used()).isLessThanOrEqualTo(6L * CHUNK);
        assertThat(cache.counters().evictions()).isPositive();
    }
}
