package org.spindle.backend.http;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.FileTime;
import java.time.Duration;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.SplittableRandom;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.spindle.storage.api.StorageException;
import org.spindle.storage.api.StorageException.Kind;
import org.spindle.storage.api.TransferStatsDTO;
import org.spindle.testing.http.NginxOrigin;
import org.spindle.testing.http.NginxOrigin.Logged;

/**
 * The HTTP backend against a real nginx (Debian's package, started here on 127.0.0.1 with a generated
 * configuration) serving a 1 GiB image: every byte read is compared with the local file, and what
 * crossed the network is measured from nginx's own access log.
 */
class NginxOriginTest {
    private static final long SIZE = 1L << 30;
    private static final int CHUNK = 1 << 20;
    private static final Pattern RANGE = Pattern.compile("bytes=(\\d+)-(\\d+)");

    @TempDir
    static Path root;

    @TempDir
    static Path work;

    private static NginxOrigin nginx;
    private static FileChannel local;

    @BeforeAll
    static void serve() throws IOException {
        assumeTrue(NginxOrigin.binary().isPresent(), "nginx is not installed (./spindle test installs nginx-light)");
        writeImage(root.resolve("disk.img"), SIZE, 42);
        local = FileChannel.open(root.resolve("disk.img"), StandardOpenOption.READ);
        nginx = NginxOrigin.start(root, work);
    }

    @AfterAll
    static void stop() throws IOException {
        if (nginx != null) {
            nginx.close();
        }
        if (local != null) {
            local.close();
        }
    }

    /** {@code size} bytes of a seeded pseudo-random stream: nothing in it repeats, so a misplaced chunk shows. */
    static void writeImage(Path file, long size, long seed) throws IOException {
        SplittableRandom random = new SplittableRandom(seed);
        ByteBuffer block = ByteBuffer.allocateDirect(8 << 20);
        try (FileChannel out = FileChannel.open(file, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)) {
            for (long at = 0; at < size; at += block.capacity()) {
                block.clear();
                while (block.hasRemaining()) {
                    block.putLong(random.nextLong());
                }
                block.flip().limit((int) Math.min(block.capacity(), size - at));
                while (block.hasRemaining()) {
                    out.write(block);
                }
            }
        }
    }

    private static HttpBackend open(String name, ChunkCache cache, String... pairs) throws StorageException {
        Map<String, String> values = new java.util.LinkedHashMap<>();
        for (int i = 0; i < pairs.length; i += 2) {
            values.put(pairs[i], pairs[i + 1]);
        }
        return HttpBackend.open(nginx.uri(name), HttpSettings.defaults().with(values), Credentials.NONE, cache);
    }

    private static void assertSameAsLocal(ByteBuffer got, long offset) throws IOException {
        ByteBuffer expected = ByteBuffer.allocate(got.remaining());
        local.read(expected, offset);
        expected.flip();
        int mismatch = got.mismatch(expected);
        assertThat(mismatch).as("first differing byte of the read at %d", offset).isEqualTo(-1);
    }

    /**
     * The GETs nginx logged after {@code before} requests of the backend's, once all are written (nginx
     * writes a line after its response is sent, so the discovery's HEAD may even land after the log
     * was cleared: it is left out).
     */
    private static List<Logged> logged(HttpBackend backend, long before) throws IOException {
        long deadline = System.nanoTime() + Duration.ofSeconds(5).toNanos();
        while (true) {
            List<Logged> gets = nginx.log().stream().filter(l -> l.method().equals("GET")).toList();
            if (gets.size() >= backend.traffic().requests.sum() - before || System.nanoTime() > deadline) {
                return gets;
            }
            try {
                Thread.sleep(10);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return gets;
            }
        }
    }

    /**
     * Every request is a GET of one closed range of whole chunks (exactly one when {@code single}),
     * pinned by the ETag, answered 206.
     */
    private static void assertWholeChunkRanges(List<Logged> log, String etag, boolean single) {
        assertThat(log).isNotEmpty().allSatisfy(l -> {
            assertThat(l.method()).isEqualTo("GET");
            assertThat(l.status()).isEqualTo(206);
            assertThat(l.ifRange()).isEqualTo(etag);
            Matcher m = RANGE.matcher(l.range());
            assertThat(m.matches()).as(l.range()).isTrue();
            long first = Long.parseLong(m.group(1));
            long last = Long.parseLong(m.group(2));
            assertThat(first % CHUNK).isZero();
            assertThat(last - first + 1).isEqualTo(l.bodyBytes());
            assertThat((last + 1) % CHUNK == 0 || last + 1 == SIZE).as(l.range()).isTrue();
            if (single) {
                assertThat(last - first + 1).isEqualTo(Math.min(CHUNK, SIZE - first));
            }
        });
    }

    @Test
    void aFullSequentialReadIsByteIdenticalAndFetchesEachByteOnce() throws Exception {
        try (HttpBackend backend = open("/disk.img", null)) {
            assertThat(backend.size()).isEqualTo(SIZE);
            String etag = backend.image().etag();
            assertThat(etag).as("nginx sends a strong ETag").isNotNull();
            long before = backend.traffic().requests.sum();
            nginx.clearLog();
            ByteBuffer piece = ByteBuffer.allocate(256 * 1024);
            for (long at = 0; at < SIZE; at += piece.capacity()) {
                piece.clear();
                backend.read(at, piece);
                assertSameAsLocal(piece.flip(), at);
            }
            List<Logged> log = logged(backend, before);
            // the first read, not yet known to be sequential, fetched only its pieces (its chunk is
            // fetched whole once the next read shows the reader sequential)
            assertThat(log.get(0).range()).isEqualTo("bytes=0-" + (piece.capacity() - 1));
            long served = log.stream().mapToLong(Logged::bodyBytes).sum();
            log = log.subList(1, log.size());
            assertWholeChunkRanges(log, etag, false);
            // measured on nginx's side: each chunk once (the ranges do not overlap and cover the image)
            java.util.BitSet seen = new java.util.BitSet();
            for (Logged l : log) {
                Matcher m = RANGE.matcher(l.range());
                assertThat(m.matches()).isTrue();
                for (long c = Long.parseLong(m.group(1)) / CHUNK; c <= Long.parseLong(m.group(2)) / CHUNK; c++) {
                    assertThat(seen.get((int) c)).as("chunk %d fetched twice (%s; retries %d)", c, l.range(),
                            backend.traffic().retries.sum()).isFalse();
                    seen.set((int) c);
                }
            }
            assertThat(seen.cardinality()).isEqualTo((int) (SIZE / CHUNK));
            // read-ahead asks for several chunks at once
            assertThat(log.size()).isLessThan((int) (SIZE / CHUNK) / 2);
            double amplification = (double) served / SIZE;
            System.out.printf("nginx sequential: %d requests, %d bytes served for %d read, amplification %.4f%n",
                    log.size(), served, SIZE, amplification);
            assertThat(amplification).isLessThanOrEqualTo(1.1);
            TransferStatsDTO stats = backend.transferStats();
            assertThat(stats.bytesFetched).isEqualTo(served);
            assertThat(stats.readAheads).isPositive();
        }
    }

    /**
     * 600 reads of 512 bytes to 256 KiB at seeded random offsets, each compared with the local file and
     * told to {@code each} (offset, length); returns the bytes read.
     */
    private static long readAtRandom(HttpBackend backend, java.util.function.ObjLongConsumer<Integer> each)
            throws Exception {
        SplittableRandom random = new SplittableRandom(7);
        long read = 0;
        for (int i = 0; i < 600; i++) {
            int length = 512 * (1 + random.nextInt(512));
            long offset = 512L * random.nextLong((SIZE - length) / 512);
            ByteBuffer b = ByteBuffer.allocate(length);
            backend.read(offset, b);
            assertSameAsLocal(b.flip(), offset);
            each.accept(length, offset);
            read += length;
        }
        return read;
    }

    @Test
    void randomReadsFetchOnlyTheirPiecesUntilAChunkMissesAgainAndAgain() throws Exception {
        try (HttpBackend backend = open("/disk.img", null, HttpSettings.MEMORY_CACHE, "1G")) {
            long before = backend.traffic().requests.sum();
            nginx.clearLog();
            long read = readAtRandom(backend, (length, offset) -> { });
            java.util.Map<Long, Integer> misses = new java.util.HashMap<>();
            List<Logged> log = logged(backend, before);
            long served = 0;
            java.util.Set<String> ranges = new HashSet<>();
            for (Logged l : log) {
                assertThat(l.status()).isEqualTo(206);
                assertThat(l.ifRange()).isEqualTo(backend.image().etag());
                assertThat(ranges.add(l.range())).as("%s asked for twice", l.range()).isTrue();
                Matcher m = RANGE.matcher(l.range());
                assertThat(m.matches()).as(l.range()).isTrue();
                long first = Long.parseLong(m.group(1));
                long last = Long.parseLong(m.group(2));
                assertThat(last - first + 1).isEqualTo(l.bodyBytes());
                boolean wholeChunk = first % CHUNK == 0 && last - first + 1 == Math.min(CHUNK, SIZE - first);
                if (!wholeChunk) {
                    // pieces: 4 KiB-aligned, at most half of a chunk on each side of a boundary (the
                    // pieces of a read across one go in one request)
                    assertThat(first % HttpSettings.DEFAULT_PIECE).isZero();
                    assertThat((last + 1) % HttpSettings.DEFAULT_PIECE).isZero();
                    assertThat(last / CHUNK - first / CHUNK).isLessThanOrEqualTo(1);
                    assertThat(last - first + 1).isLessThanOrEqualTo(CHUNK);
                    for (long c = first / CHUNK; c <= last / CHUNK; c++) {
                        misses.merge(c, 1, Integer::sum);
                    }
                }
                served += l.bodyBytes();
            }
            // most reads touch a chunk no other read touched, and fetch pieces; the policy itself, miss by
            // miss, is HttpBackendTest's
            long pieceRequests = misses.values().stream().mapToLong(Integer::longValue).sum();
            assertThat(pieceRequests).isGreaterThan(4L * (log.size() - pieceRequests));
            assertThat(served).isEqualTo(backend.transferStats().bytesFetched);
            double amplification = (double) served / read;
            System.out.printf("nginx random by pieces: %d reads, %d bytes read, %d requests, %d bytes served,"
                    + " amplification %.3f%n", 600, read, log.size(), served, amplification);
            // whole chunks would be about 8 (1 MiB for reads of 128 KiB on average)
            assertThat(amplification).isLessThan(1.5);
        }
    }

    @Test
    void randomReadsAreByteIdenticalAndEachFetchIsOneChunk() throws Exception {
        // a memory cache big enough for every chunk touched, so none is fetched twice; no pieces
        try (HttpBackend backend = open("/disk.img", null, HttpSettings.MEMORY_CACHE, "1G", HttpSettings.PIECE_SIZE,
                "0")) {
            long before = backend.traffic().requests.sum();
            nginx.clearLog();
            Set<Long> chunks = new HashSet<>();
            long read = readAtRandom(backend, (length, offset) -> {
                for (long c = offset / CHUNK; c <= (offset + length - 1) / CHUNK; c++) {
                    chunks.add(c);
                }
            });
            List<Logged> log = logged(backend, before);
            assertWholeChunkRanges(log, backend.image().etag(), true);
            long served = log.stream().mapToLong(Logged::bodyBytes).sum();
            assertThat(log).hasSize(chunks.size());
            assertThat(served).isEqualTo((long) chunks.size() * CHUNK).isEqualTo(backend.transferStats().bytesFetched);
            System.out.printf("nginx random: %d reads, %d bytes read, %d requests, %d bytes served, amplification %.2f%n",
                    600, read, log.size(), served, (double) served / read);
        }
    }

    @Test
    void aWarmPersistentCacheAnswersRandomReadsWithoutAsingleRequest() throws Exception {
        Path cacheDir = Files.createDirectories(work.resolve("cache"));
        long[] offsets = new long[200];
        int[] lengths = new int[200];
        SplittableRandom random = new SplittableRandom(11);
        for (int i = 0; i < offsets.length; i++) {
            lengths[i] = 4096;
            offsets[i] = 4096L * random.nextLong(SIZE / 4096);
        }
        try (ChunkCache cache = ChunkCache.open(cacheDir, 512L << 20)) {
            try (HttpBackend cold = open("/disk.img", cache, HttpSettings.MEMORY_CACHE, "0")) {
                for (int i = 0; i < offsets.length; i++) {
                    ByteBuffer b = ByteBuffer.allocate(lengths[i]);
                    cold.read(offsets[i], b);
                    assertSameAsLocal(b.flip(), offsets[i]);
                }
            }
        }
        // a restart: a new cache object over the same directory, a new backend
        try (ChunkCache cache = ChunkCache.open(cacheDir, 512L << 20);
                HttpBackend warm = open("/disk.img", cache, HttpSettings.MEMORY_CACHE, "0")) {
            long before = warm.traffic().requests.sum();
            nginx.clearLog();
            for (int i = 0; i < offsets.length; i++) {
                ByteBuffer b = ByteBuffer.allocate(lengths[i]);
                warm.read(offsets[i], b);
                assertSameAsLocal(b.flip(), offsets[i]);
            }
            // no request since the open (whose HEAD nginx may log only after the log was cleared)
            assertThat(warm.traffic().requests.sum()).isEqualTo(before);
            Thread.sleep(50);
            assertThat(nginx.log()).noneMatch(l -> l.method().equals("GET"));
            assertThat(warm.transferStats().hits).isEqualTo(offsets.length);
        }
    }

    @Test
    void anImageReplacedOnTheServerIsAnErrorNeverAMixOfVersions() throws Exception {
        Path small = root.resolve("small.img");
        writeImage(small, 8L * CHUNK, 1);
        try (HttpBackend backend = open("/small.img", null, HttpSettings.READ_AHEAD, "0")) {
            ByteBuffer first = ByteBuffer.allocate(4096);
            backend.read(0, first);
            byte[] before = new byte[4096];
            first.flip().get(before);

            // replaced atomically, as a publisher would, with another modification time (so another ETag)
            Path next = root.resolve("small.img.new");
            writeImage(next, 8L * CHUNK, 2);
            Files.setLastModifiedTime(next, FileTime.fromMillis(Files.getLastModifiedTime(small).toMillis() + 60_000));
            Files.move(next, small, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);

            ByteBuffer later = ByteBuffer.allocate(4096);
            assertThatThrownBy(() -> backend.read(5L * CHUNK, later)).isInstanceOfSatisfying(StorageException.class,
                    e -> {
                        assertThat(e.kind()).isEqualTo(Kind.IO);
                        assertThat(e.getMessage()).contains("changed");
                    });
            assertThat(later.position()).isZero();
            // what was read before the change still reads the same: the old version stays in memory
            ByteBuffer again = ByteBuffer.allocate(4096);
            backend.read(0, again);
            assertThat(again.flip()).isEqualTo(ByteBuffer.wrap(before));
        }
    }
}
