package org.spindle.backend.http;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.net.URI;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.spindle.testing.http.FaultProxy;
import org.spindle.testing.http.FaultProxy.Fault;
import org.spindle.testing.http.RangeOrigin;
import org.spindle.storage.api.AccessMode;
import org.spindle.storage.api.StorageException;
import org.spindle.storage.api.StorageException.Kind;

class HttpBackendTest {
    private static final int CHUNK = 64 * 1024;
    private static final byte SENTINEL = (byte) 0xA5;

    private RangeOrigin origin;
    private final List<AutoCloseable> closing = new ArrayList<>();
    private byte[] image;

    @BeforeEach
    void start() throws Exception {
        image = pattern(20 * CHUNK + 4096, 1);
        origin = new RangeOrigin().serve("/disk.img", image);
        closing.add(origin);
    }

    @AfterEach
    void stop() throws Exception {
        for (AutoCloseable c : closing.reversed()) {
            c.close();
        }
    }

    private HttpSettings settings(String... pairs) throws StorageException {
        Map<String, String> values = new java.util.LinkedHashMap<>();
        values.put(HttpSettings.CHUNK_SIZE, Integer.toString(CHUNK));
        values.put(HttpSettings.RETRY_BACKOFF, "5ms");
        for (int i = 0; i < pairs.length; i += 2) {
            values.put(pairs[i], pairs[i + 1]);
        }
        return HttpSettings.defaults().with(values);
    }

    private HttpBackend open(URI uri, HttpSettings settings) throws StorageException {
        HttpBackend backend = HttpBackend.open(uri, settings, Credentials.NONE, null);
        closing.add(backend);
        return backend;
    }

    private FaultProxy proxy() throws Exception {
        FaultProxy proxy = new FaultProxy(origin.port());
        closing.add(proxy);
        return proxy;
    }

    @Test
    void discoversSizeAndStrongValidatorByHead() throws Exception {
        HttpBackend backend = open(origin.uri("/disk.img"), settings());
        assertThat(backend.size()).isEqualTo(image.length);
        assertThat(backend.image().etag()).isEqualTo(origin.image("/disk.img").etag());
        assertThat(backend.isReadOnly()).isTrue();
        assertThat(backend.mayBlock()).isTrue();
        assertThat(origin.log()).extracting(RangeOrigin.Seen::method).containsExactly("HEAD");
    }

    @Test
    void fallsBackToAOneByteRangeWhenHeadIsRefused() throws Exception {
        origin.refuseHead();
        HttpBackend backend = open(origin.uri("/disk.img"), settings());
        assertThat(backend.size()).isEqualTo(image.length);
        assertThat(origin.log()).extracting(RangeOrigin.Seen::range).containsExactly(null, "bytes=0-0");
    }

    @Test
    void randomReadsAreByteIdenticalAndEachChunkIsFetchedOnceByOneClosedAlignedRange() throws Exception {
        HttpBackend backend = open(origin.uri("/disk.img"), settings(HttpSettings.READ_AHEAD, "0",
                HttpSettings.PIECE_SIZE, "0"));
        Random random = new Random(7);
        for (int i = 0; i < 300; i++) {
            int length = 1 + random.nextInt(3 * CHUNK);
            long offset = (long) random.nextInt(image.length - length + 1);
            assertThat(read(backend, offset, length)).isEqualTo(Arrays.copyOfRange(image, (int) offset,
                    (int) offset + length));
        }
        List<String> ranges = origin.log().stream().map(RangeOrigin.Seen::range).filter(r -> r != null).toList();
        assertThat(ranges).doesNotHaveDuplicates().allSatisfy(r -> {
            String[] ab = r.substring("bytes=".length()).split("-");
            long a = Long.parseLong(ab[0]);
            long b = Long.parseLong(ab[1]);
            assertThat(a % CHUNK).isZero();
            assertThat(b + 1 == image.length || (b + 1) % CHUNK == 0).as(r).isTrue();
        });
        assertThat(ranges).hasSizeLessThanOrEqualTo(21);
        // the last chunk is short: the range ends at the image's last byte
        assertThat(read(backend, image.length - 10, 10)).isEqualTo(Arrays.copyOfRange(image, image.length - 10,
                image.length));
    }

    @Test
    void scatteredMissesFetchTheirPiecesAndAThirdMissInAChunkFetchesItWhole() throws Exception {
        HttpBackend backend = open(origin.uri("/disk.img"), settings(HttpSettings.READ_AHEAD, "0"));
        origin.clearLog();
        long c5 = 5L * CHUNK;
        assertThat(read(backend, c5 + 5000, 100)).isEqualTo(Arrays.copyOfRange(image, (int) c5 + 5000, (int) c5 + 5100));
        // again: from memory
        assertThat(read(backend, c5 + 4096, 4096)).isEqualTo(Arrays.copyOfRange(image, (int) c5 + 4096, (int) c5 + 8192));
        // a second miss there: the four pieces it touches, in one request
        assertThat(read(backend, c5 + 20_000, 10_000)).isEqualTo(Arrays.copyOfRange(image, (int) c5 + 20_000,
                (int) c5 + 30_000));
        // a third: the whole chunk
        assertThat(read(backend, c5 + 50_000, 10)).isEqualTo(Arrays.copyOfRange(image, (int) c5 + 50_000,
                (int) c5 + 50_010));
        assertThat(read(backend, c5 + 40_000, 10)).isEqualTo(Arrays.copyOfRange(image, (int) c5 + 40_000,
                (int) c5 + 40_010));
        assertThat(origin.log()).extracting(RangeOrigin.Seen::range).containsExactly(
                "bytes=" + (c5 + 4096) + "-" + (c5 + 8191),
                "bytes=" + (c5 + 16_384) + "-" + (c5 + 32_767),
                "bytes=" + c5 + "-" + (c5 + CHUNK - 1));
        // a read across a chunk boundary: the piece on each side, in one request
        origin.clearLog();
        long c9 = 9L * CHUNK;
        assertThat(read(backend, c9 - 100, 200)).isEqualTo(Arrays.copyOfRange(image, (int) c9 - 100, (int) c9 + 100));
        assertThat(origin.log()).extracting(RangeOrigin.Seen::range).containsExactly(
                "bytes=" + (c9 - 4096) + "-" + (c9 + 4095));
        // the image's last piece; more than half a chunk is fetched whole
        origin.clearLog();
        assertThat(read(backend, image.length - 10, 10)).isEqualTo(Arrays.copyOfRange(image, image.length - 10,
                image.length));
        assertThat(read(backend, 2L * CHUNK + 100, CHUNK / 2 + 1)).isEqualTo(Arrays.copyOfRange(image,
                2 * CHUNK + 100, 2 * CHUNK + 100 + CHUNK / 2 + 1));
        assertThat(origin.log()).extracting(RangeOrigin.Seen::range).containsExactly(
                "bytes=" + (image.length - 4096) + "-" + (image.length - 1),
                "bytes=" + 2L * CHUNK + "-" + (3L * CHUNK - 1));
        assertThat(backend.transferStats().bytesFetched).isEqualTo(4096 + 16_384 + CHUNK + 8192 + 4096 + CHUNK);
    }

    @Test
    void concurrentReadersOfOnePieceShareOneFetchAndAFailedPieceIsNotKept() throws Exception {
        FaultProxy proxy = proxy();
        HttpBackend backend = open(proxy.uri("/disk.img"), settings(HttpSettings.READ_AHEAD, "0",
                HttpSettings.RETRIES, "0"));
        proxy.next(Fault.WRONG_RANGE);
        assertThatThrownBy(() -> read(backend, 4L * CHUNK + 10, 10)).isInstanceOf(StorageException.class);
        ExecutorService pool = Executors.newFixedThreadPool(6);
        try {
            CountDownLatch go = new CountDownLatch(1);
            List<Future<byte[]>> results = new ArrayList<>();
            for (int i = 0; i < 6; i++) {
                int at = 3 * CHUNK + 10 + 100 * i;
                results.add(pool.submit(() -> {
                    go.await();
                    return read(backend, at, 50);
                }));
            }
            origin.clearLog();
            go.countDown();
            for (int i = 0; i < 6; i++) {
                int at = 3 * CHUNK + 10 + 100 * i;
                assertThat(results.get(i).get()).isEqualTo(Arrays.copyOfRange(image, at, at + 50));
            }
        } finally {
            pool.shutdownNow();
        }
        // one fetch for all six
        assertThat(origin.log()).extracting(RangeOrigin.Seen::range).containsExactly(
                "bytes=" + 3L * CHUNK + "-" + (3L * CHUNK + 4095));
        // the failed response left nothing behind: its piece is fetched again
        origin.clearLog();
        assertThat(read(backend, 4L * CHUNK + 10, 10)).isEqualTo(Arrays.copyOfRange(image, 4 * CHUNK + 10,
                4 * CHUNK + 20));
        assertThat(origin.log()).extracting(RangeOrigin.Seen::range).containsExactly(
                "bytes=" + 4L * CHUNK + "-" + (4L * CHUNK + 4095));
    }

    @Test
    void readsPastTheEndFailWithoutARequest() throws Exception {
        HttpBackend backend = open(origin.uri("/disk.img"), settings());
        origin.clearLog();
        assertThatThrownBy(() -> backend.read(image.length - 10, ByteBuffer.allocate(11)))
                .isInstanceOfSatisfying(StorageException.class, e -> assertThat(e.kind()).isEqualTo(Kind.OUT_OF_BOUNDS));
        assertThat(origin.log()).isEmpty();
        assertThatThrownBy(() -> backend.write(0, ByteBuffer.allocate(1)))
                .isInstanceOfSatisfying(StorageException.class, e -> assertThat(e.kind()).isEqualTo(Kind.READ_ONLY));
    }

    @Test
    void concurrentReadersOfOneChunkShareOneFetch() throws Exception {
        HttpBackend backend = open(origin.uri("/disk.img"), settings(HttpSettings.READ_AHEAD, "0"));
        origin.clearLog();
        ExecutorService pool = Executors.newFixedThreadPool(8);
        CountDownLatch go = new CountDownLatch(1);
        List<Future<byte[]>> results = new ArrayList<>();
        // 256 bytes every 512 in one piece: no read starts where another ended, which would make it look
        // sequential and fetch the whole chunk besides the piece
        for (int i = 0; i < 8; i++) {
            int at = 3 * CHUNK + i * 512;
            results.add(pool.submit(() -> {
                go.await();
                return read(backend, at, 256);
            }));
        }
        go.countDown();
        for (int i = 0; i < 8; i++) {
            int at = 3 * CHUNK + i * 512;
            assertThat(results.get(i).get()).isEqualTo(Arrays.copyOfRange(image, at, at + 256));
        }
        pool.shutdown();
        assertThat(origin.rangeRequests()).isEqualTo(1);
    }

    @Test
    void aSequentialReaderIsReadAheadAndFetchesEachByteOnce() throws Exception {
        HttpBackend backend = open(origin.uri("/disk.img"), settings(HttpSettings.READ_AHEAD, "8"));
        origin.clearLog();
        for (long at = 0; at < image.length; at += 16 * 1024) {
            int n = (int) Math.min(16 * 1024, image.length - at);
            assertThat(read(backend, at, n)).isEqualTo(Arrays.copyOfRange(image, (int) at, (int) at + n));
        }
        assertThat(backend.traffic().readAheads.sum()).isGreaterThan(10);
        // every byte once, in ranges of whole chunks, read-ahead asking for two (a quarter of its window) at
        // once; before them, the first read's pieces (it was not yet known to be sequential)
        assertThat(origin.bodyBytes()).isEqualTo(image.length + 16 * 1024);
        assertThat(origin.rangeRequests()).isLessThan(22);
        assertThat(origin.log().get(0).range()).isEqualTo("bytes=0-16383");
        assertThat(origin.log().subList(1, origin.log().size())).filteredOn(s -> s.range() != null).allSatisfy(s -> {
            java.util.regex.Matcher m = java.util.regex.Pattern.compile("bytes=(\\d+)-(\\d+)").matcher(s.range());
            assertThat(m.matches()).isTrue();
            long last = Long.parseLong(m.group(2));
            assertThat(Long.parseLong(m.group(1)) % CHUNK).isZero();
            assertThat((last + 1) % CHUNK == 0 || last + 1 == image.length).isTrue();
        });
    }

    @Test
    void readsLargerThanTheReadAheadWindowFetchEachByteOnce() throws Exception {
        // 12 MiB read 40 chunks at a time, with memory for little more than the read-ahead window: the
        // chunks read ahead of one read must still be there when the next arrives, however many of its
        // own chunks the read before took in meanwhile
        byte[] big = pattern(192 * CHUNK, 4);
        origin.serve("/big.img", big);
        HttpBackend backend = open(origin.uri("/big.img"), settings(HttpSettings.READ_AHEAD, "8",
                HttpSettings.MAX_FETCHES, "4", HttpSettings.MEMORY_CACHE, "0", HttpSettings.PIECE_SIZE, "0"));
        origin.clearLog();
        int step = 40 * CHUNK;
        for (int round = 0; round < 3; round++) {
            for (long at = 0; at < big.length; at += step) {
                int n = (int) Math.min(step, big.length - at);
                assertThat(read(backend, at, n)).isEqualTo(Arrays.copyOfRange(big, (int) at, (int) at + n));
            }
            assertThat(origin.bodyBytes()).as("round %d", round).isLessThanOrEqualTo((round + 1L) * big.length);
        }
    }

    @Test
    void readAheadNeverTakesTheLastFetchSlot() throws Exception {
        HttpBackend backend = open(origin.uri("/disk.img"), settings(HttpSettings.READ_AHEAD, "8",
                HttpSettings.MAX_FETCHES, "2"));
        for (long at = 0; at < 8L * CHUNK; at += 8 * 1024) {
            assertThat(read(backend, at, 8 * 1024)).isEqualTo(Arrays.copyOfRange(image, (int) at, (int) at + 8 * 1024));
            // whatever read-ahead is in flight, a slot stays free for the reader's next miss
            assertThat(backend.freeFetchSlots()).isGreaterThanOrEqualTo(1);
        }
        assertThat(backend.traffic().readAheads.sum()).isPositive();
    }

    @Test
    void aConnectionResetMidBodyIsRetriedTransparently() throws Exception {
        FaultProxy proxy = proxy();
        HttpBackend backend = open(proxy.uri("/disk.img"), settings(HttpSettings.READ_AHEAD, "0"));
        proxy.next(Fault.RESET_MID_BODY, Fault.RESET_MID_BODY);
        assertThat(read(backend, CHUNK + 100, 3000)).isEqualTo(Arrays.copyOfRange(image, CHUNK + 100, CHUNK + 3100));
        assertThat(proxy.applied()).isEqualTo(2);
        assertThat(backend.traffic().retries.sum()).isEqualTo(2);
    }

    @Test
    void aRunCutShortIsResumedFromItsFirstMissingChunkAndEachChunkIsToldOnce() throws Exception {
        FaultProxy proxy = proxy();
        URI uri = proxy.uri("/disk.img");
        try (RangeClient client = new RangeClient(uri, uri.toString(), settings(), Credentials.NONE, new Traffic())) {
            RemoteImage version = client.discover(System.nanoTime() + 5_000_000_000L);
            origin.clearLog();
            proxy.next(Fault.RESET_MID_BODY);
            List<Integer> told = new java.util.concurrent.CopyOnWriteArrayList<>();
            byte[][] parts = client.fetch(version, 2L * CHUNK, new int[] {CHUNK, CHUNK, CHUNK, CHUNK},
                    System.nanoTime() + 5_000_000_000L, (part, i) -> told.add(i));
            for (int i = 0; i < 4; i++) {
                assertThat(parts[i]).isEqualTo(Arrays.copyOfRange(image, (2 + i) * CHUNK, (3 + i) * CHUNK));
            }
            assertThat(told).containsExactly(0, 1, 2, 3);
            List<String> ranges = origin.log().stream().map(RangeOrigin.Seen::range).toList();
            assertThat(ranges).hasSize(2);
            assertThat(ranges.get(0)).isEqualTo("bytes=" + 2 * CHUNK + "-" + (6 * CHUNK - 1));
            // the second asks from a chunk boundary for what had not arrived whole, to the same end
            java.util.regex.Matcher m = java.util.regex.Pattern.compile("bytes=(\\d+)-(\\d+)").matcher(ranges.get(1));
            assertThat(m.matches()).isTrue();
            long from = Long.parseLong(m.group(1));
            assertThat(from % CHUNK).isZero();
            assertThat(from).isGreaterThan(2L * CHUNK);
            assertThat(Long.parseLong(m.group(2))).isEqualTo(6L * CHUNK - 1);
        }
    }

    @Test
    void aBurstOf503IsRetriedAndTooManyFailTheRead() throws Exception {
        FaultProxy proxy = proxy();
        HttpBackend backend = open(proxy.uri("/disk.img"), settings(HttpSettings.READ_AHEAD, "0",
                HttpSettings.RETRIES, "3"));
        proxy.next(Fault.STATUS_503, Fault.STATUS_503, Fault.STATUS_503);
        assertThat(read(backend, 0, 4096)).isEqualTo(Arrays.copyOf(image, 4096));
        proxy.always(Fault.STATUS_503);
        ByteBuffer dst = sentinel(4096);
        assertThatThrownBy(() -> backend.read(5L * CHUNK, dst)).isInstanceOfSatisfying(StorageException.class, e -> {
            assertThat(e.kind()).isEqualTo(Kind.IO);
            assertThat(e.getMessage()).contains("gave up after 4 attempts", "503");
        });
        assertUntouched(dst);
        proxy.always(Fault.PASS);
        assertThat(read(backend, 5L * CHUNK, 4096)).isEqualTo(Arrays.copyOfRange(image, 5 * CHUNK, 5 * CHUNK + 4096));
    }

    @Test
    void brokenResponsesAreProtocolErrorsAndNeverData() throws Exception {
        for (Fault fault : new Fault[] {Fault.FULL_200, Fault.WRONG_RANGE, Fault.GZIP}) {
            FaultProxy proxy = proxy();
            HttpBackend backend = open(proxy.uri("/disk.img"), settings(HttpSettings.READ_AHEAD, "0"));
            proxy.always(fault);
            ByteBuffer dst = sentinel(8192);
            assertThatThrownBy(() -> backend.read(2L * CHUNK, dst)).as(fault.name())
                    .isInstanceOfSatisfying(StorageException.class, e -> {
                        assertThat(e.kind()).isEqualTo(Kind.IO);
                        assertThat(e.getMessage()).contains("protocol error");
                    });
            assertUntouched(dst);
            // nothing of it was kept: once the server behaves, the chunk is fetched again and right
            proxy.always(Fault.PASS);
            long before = origin.rangeRequests();
            assertThat(read(backend, 2L * CHUNK, 8192)).isEqualTo(Arrays.copyOfRange(image, 2 * CHUNK, 2 * CHUNK + 8192));
            assertThat(origin.rangeRequests()).isEqualTo(before + 1);
        }
    }

    @Test
    void anImageThatChangesMidRunFailsEveryLaterReadInsteadOfMixingVersions() throws Exception {
        FaultProxy proxy = proxy();
        HttpBackend backend = open(proxy.uri("/disk.img"), settings(HttpSettings.READ_AHEAD, "0"));
        assertThat(read(backend, 0, 100)).isEqualTo(Arrays.copyOf(image, 100));
        proxy.next(Fault.NEW_ETAG);
        ByteBuffer dst = sentinel(100);
        assertThatThrownBy(() -> backend.read(4L * CHUNK, dst)).isInstanceOfSatisfying(StorageException.class,
                e -> assertThat(e.getMessage()).contains("changed on the server", "\"replaced\""));
        assertUntouched(dst);
        assertThatThrownBy(() -> backend.read(6L * CHUNK, ByteBuffer.allocate(100)))
                .hasMessageContaining("changed on the server");
        assertThat(proxy.applied()).isEqualTo(1);
    }

    @Test
    void theOriginReplacingTheImageIsSeenThroughIfRange() throws Exception {
        HttpBackend backend = open(origin.uri("/disk.img"), settings(HttpSettings.READ_AHEAD, "0"));
        assertThat(read(backend, 0, 100)).isEqualTo(Arrays.copyOf(image, 100));
        origin.serve("/disk.img", pattern(image.length, 9));
        // If-Range names the old ETag: the origin sends the whole new image (200), which is refused
        assertThatThrownBy(() -> backend.read(9L * CHUNK, sentinel(100))).hasMessageContaining("changed on the server");
        assertThat(origin.log()).filteredOn(s -> s.range() != null).hasSize(2);
    }

    @Test
    void aChunkHandedOutBeforeItsResponseEndedIsNotFetchedAgainWhileTheRestIsComing() throws Exception {
        HttpBackend backend = open(origin.uri("/disk.img"), settings(HttpSettings.READ_AHEAD, "8"));
        // chunks 4 to 19 in memory, each by one read of the whole chunk, none after the one before it
        for (int c = 19; c >= 4; c--) {
            assertThat(read(backend, (long) c * CHUNK, CHUNK)).isEqualTo(Arrays.copyOfRange(image, c * CHUNK,
                    (c + 1) * CHUNK));
        }
        // a sequential reader: chunk 0 is fetched and read-ahead asks for chunks 1 and 2 in one request,
        // whose answer stops after chunk 1 and a little of chunk 2
        RangeOrigin.Hold hold = origin.holdNextAnswerAfter(CHUNK + 1000);
        try {
            assertThat(read(backend, 0, 4096)).isEqualTo(Arrays.copyOfRange(image, 0, 4096));
            assertThat(read(backend, 4096, 4096)).isEqualTo(Arrays.copyOfRange(image, 4096, 8192));
            assertThat(hold.awaitReached(java.time.Duration.ofSeconds(10))).isTrue();
            origin.clearLog();
            // chunk 1 is here although its response is not over
            assertThat(read(backend, CHUNK + 100, 100)).isEqualTo(Arrays.copyOfRange(image, CHUNK + 100, CHUNK + 200));
            // reads of sixteen other chunks, enough to push chunk 1 out of the chunks read lately
            for (int c = 4; c < 20; c++) {
                assertThat(read(backend, (long) c * CHUNK + 7, 10)).isEqualTo(Arrays.copyOfRange(image, c * CHUNK + 7,
                        c * CHUNK + 17));
            }
            // chunk 1 again, elsewhere: still the bytes that came, not a fetch of its pieces
            assertThat(read(backend, CHUNK + 9000, 100)).isEqualTo(Arrays.copyOfRange(image, CHUNK + 9000,
                    CHUNK + 9100));
            assertThat(rangeStarts()).noneMatch(at -> at >= CHUNK && at < 3 * CHUNK);
        } finally {
            hold.release();
        }
        // the rest arrives: chunk 2 from the same response
        assertThat(read(backend, 2L * CHUNK + 5, 10)).isEqualTo(Arrays.copyOfRange(image, 2 * CHUNK + 5, 2 * CHUNK + 15));
        assertThat(rangeStarts()).noneMatch(at -> at >= CHUNK && at < 3 * CHUNK);
    }

    /** Where the ranges the origin was asked for since its log was cleared start. */
    private List<Long> rangeStarts() {
        return origin.log().stream().filter(s -> s.range() != null)
                .map(s -> Long.parseLong(s.range().substring("bytes=".length(), s.range().indexOf('-')))).toList();
    }

    @Test
    void aStalledServerFailsTheReadWithinTheReadTimeout() throws Exception {
        FaultProxy proxy = proxy();
        HttpBackend backend = open(proxy.uri("/disk.img"), settings(HttpSettings.READ_AHEAD, "0",
                HttpSettings.REQUEST_TIMEOUT, "200ms", HttpSettings.READ_TIMEOUT, "1s"));
        proxy.always(Fault.STALL);
        ByteBuffer dst = sentinel(4096);
        long start = System.nanoTime();
        assertThatThrownBy(() -> backend.read(CHUNK, dst)).isInstanceOfSatisfying(StorageException.class,
                e -> assertThat(e.kind()).isEqualTo(Kind.IO));
        long took = (System.nanoTime() - start) / 1_000_000;
        assertThat(took).isBetween(150L, 3000L);
        assertUntouched(dst);
    }

    @Test
    void aSingleStallIsRetriedTransparently() throws Exception {
        FaultProxy proxy = proxy();
        HttpBackend backend = open(proxy.uri("/disk.img"), settings(HttpSettings.READ_AHEAD, "0",
                HttpSettings.REQUEST_TIMEOUT, "200ms", HttpSettings.READ_TIMEOUT, "5s"));
        proxy.next(Fault.STALL);
        assertThat(read(backend, CHUNK, 4096)).isEqualTo(Arrays.copyOfRange(image, CHUNK, CHUNK + 4096));
        assertThat(backend.traffic().retries.sum()).isEqualTo(1);
    }

    @Test
    void aBearerTokenIsSentAndRenewedOnceAfter401() throws Exception {
        origin.requireToken("second");
        String[] current = {"first"};
        Credentials rotating = Credentials.bearerFromEnvironment("TOKEN", name -> current[0]);
        assertThatThrownBy(() -> HttpBackend.open(origin.uri("/disk.img"), settings(), rotating, null))
                .isInstanceOfSatisfying(StorageException.class, e -> {
                    assertThat(e.kind()).isEqualTo(Kind.ACCESS_DENIED);
                    assertThat(e.getMessage()).doesNotContain("first");
                });
        HttpBackend backend;
        current[0] = "second";
        backend = HttpBackend.open(origin.uri("/disk.img"), settings(), rotating, null);
        closing.add(backend);
        origin.requireToken("third");
        current[0] = "third";
        // the token in use is refused: it is read again, and the request tried once more
        assertThat(read(backend, 0, 10)).isEqualTo(Arrays.copyOf(image, 10));
        assertThat(origin.log()).extracting(RangeOrigin.Seen::authorization).contains("Bearer third");
    }

    @Test
    void redirectsAreFollowedWithoutTakingCredentialsToAnotherOrigin() throws Exception {
        RangeOrigin other = new RangeOrigin().serve("/real.img", image);
        closing.add(other);
        origin.requireToken("secret").redirect("/moved.img", other.uri("/real.img").toString());
        HttpBackend backend = HttpBackend.open(origin.uri("/moved.img"), settings(),
                Credentials.bearerFromEnvironment("T", n -> "secret"), null);
        closing.add(backend);
        assertThat(read(backend, 5, 100)).isEqualTo(Arrays.copyOfRange(image, 5, 105));
        assertThat(other.log()).isNotEmpty().allSatisfy(s -> assertThat(s.authorization()).isNull());
    }

    @Test
    void aMissingImageIsNotFound() {
        assertThatThrownBy(() -> open(origin.uri("/nothing.img"), settings()))
                .isInstanceOfSatisfying(StorageException.class, e -> assertThat(e.kind()).isEqualTo(Kind.NOT_FOUND));
    }

    @Test
    void theProviderRefusesWritesUserInformationAndUnknownSettingsAndHidesTheQuery() throws Exception {
        HttpBackendProvider provider = new HttpBackendProvider(settings());
        assertThatThrownBy(() -> provider.open(origin.uri("/disk.img"), AccessMode.READ_WRITE))
                .isInstanceOfSatisfying(StorageException.class, e -> assertThat(e.kind()).isEqualTo(Kind.READ_ONLY));
        assertThatThrownBy(() -> provider.open(URI.create("http://u:p@127.0.0.1/disk.img"), AccessMode.READ_ONLY))
                .isInstanceOfSatisfying(StorageException.class, e -> {
                    assertThat(e.kind()).isEqualTo(Kind.INVALID_CONFIG);
                    assertThat(e.getMessage()).doesNotContain("u:p");
                });
        URI withFragment = URI.create(origin.uri("/disk.img") + "?sig=abc#chunk.sizes=1M");
        assertThatThrownBy(() -> provider.open(withFragment, AccessMode.READ_ONLY))
                .isInstanceOfSatisfying(StorageException.class, e -> {
                    assertThat(e.kind()).isEqualTo(Kind.INVALID_CONFIG);
                    assertThat(e.getMessage()).contains("chunk.sizes").doesNotContain("sig=abc");
                });
        assertThatThrownBy(() -> provider.open(URI.create(origin.uri("/disk.img") + "#cache.size=1G"),
                AccessMode.READ_ONLY)).hasMessageContaining("shared by every image");
        try (var backend = provider.open(URI.create(origin.uri("/disk.img") + "?sig=abc#chunk.size=128K"),
                AccessMode.READ_ONLY)) {
            assertThat(backend.location()).doesNotContain("sig=abc").endsWith("/disk.img");
            assertThat(read(backend, 0, 10)).isEqualTo(Arrays.copyOf(image, 10));
        }
        assertThat(origin.log()).filteredOn(s -> s.range() != null).extracting(RangeOrigin.Seen::path)
                .allSatisfy(p -> assertThat(p).endsWith("?sig=abc"));
    }

    @Test
    void pieceSizesAreCheckedAndAChunkTheyDoNotFitIsFetchedWhole() throws Exception {
        HttpSettings defaults = HttpSettings.defaults();
        assertThat(defaults.piece()).isEqualTo(4096);
        assertThat(defaults.with(Map.of(HttpSettings.PIECE_SIZE, "64K")).piece()).isEqualTo(65536);
        assertThat(defaults.with(Map.of(HttpSettings.PIECE_SIZE, "0")).piece()).isZero();
        // a chunk the default piece does not fit: whole chunks, no error
        assertThat(defaults.with(Map.of(HttpSettings.CHUNK_SIZE, "4K")).piece()).isZero();
        assertThat(defaults.with(Map.of(HttpSettings.CHUNK_SIZE, "6K")).piece()).isZero();
        assertThat(defaults.with(Map.of(HttpSettings.PIECE_SIZE, "")).piece()).isEqualTo(4096);
        for (String bad : new String[] {"12K", "2K", "128K", "-4K", "big"}) {
            assertThatThrownBy(() -> defaults.with(Map.of(HttpSettings.PIECE_SIZE, bad)))
                    .isInstanceOfSatisfying(StorageException.class, e -> {
                        assertThat(e.kind()).isEqualTo(Kind.INVALID_CONFIG);
                        assertThat(e.getMessage()).contains("piece.size");
                    });
        }
        assertThatThrownBy(() -> defaults.with(Map.of(HttpSettings.CHUNK_SIZE, "64K", HttpSettings.PIECE_SIZE, "64K")))
                .hasMessageContaining("must divide chunk.size=65536");
    }

    @Test
    void aSignedQueryIsSentExactlyAsWritten() throws Exception {
        URI signed = URI.create(origin.uri("/disk.img") + "?sig=ab%2Bc%3D%26d&X-Token=%2F1#read.ahead=0");
        HttpBackend backend = open(signed, settings());
        read(backend, 0, 10);
        assertThat(origin.log()).isNotEmpty().allSatisfy(s -> assertThat(s.path())
                .isEqualTo("/disk.img?sig=ab%2Bc%3D%26d&X-Token=%2F1"));
        assertThat(backend.location()).doesNotContain("sig");
    }

    static byte[] read(org.spindle.storage.api.StorageBackend backend, long offset, int length) throws StorageException {
        ByteBuffer dst = ByteBuffer.allocate(length);
        backend.read(offset, dst);
        assertThat(dst.position()).isEqualTo(length);
        return dst.array();
    }

    static byte[] pattern(int length, int seed) {
        byte[] data = new byte[length];
        new Random(seed).nextBytes(data);
        return data;
    }

    private static ByteBuffer sentinel(int length) {
        byte[] b = new byte[length];
        Arrays.fill(b, SENTINEL);
        return ByteBuffer.wrap(b);
    }

    private static void assertUntouched(ByteBuffer dst) {
        assertThat(dst.position()).isZero();
        for (int i = 0; i < dst.capacity(); i++) {
            if (dst.get(i) != SENTINEL) {
                throw new AssertionError("byte " + i + " of the reader's buffer was written");
            }
        }
    }
}
