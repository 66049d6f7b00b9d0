package org.spindle.format.chunked;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.net.URI;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Random;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.stream.Stream;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.spindle.storage.api.OpenOptions;
import org.spindle.storage.api.StorageException;
import org.spindle.storage.api.TransferStatistics;
import org.spindle.storage.api.TransferStatsDTO;
import org.spindle.storage.api.StorageException.Kind;
import org.spindle.storage.api.VirtualDisk;
import org.spindle.storage.core.DiskOpener;
import org.spindle.storage.core.ServiceLoaderRegistry;
import org.spindle.testing.http.RangeOrigin;

/**
 * Chunked images end to end: published by {@link ChunkedPublisher}, opened through the opener as the
 * {@code chunked} format from a directory and from an HTTP server, read byte for byte, and refused
 * (never misread) when a chunk is missing, short or damaged.
 */
class ChunkedImageTest {
    private static final int CHUNK = 64 * 1024;

    @TempDir
    static Path httpCache;

    @TempDir
    Path dir;

    private static DiskOpener opener;

    @BeforeAll
    static void setUp() {
        // the HTTP backend outside OSGi reads its settings from system properties
        System.setProperty("spindle.http.cache.dir", httpCache.toString());
        opener = new DiskOpener(ServiceLoaderRegistry.load(ChunkedImageTest.class.getClassLoader()));
    }

    @AfterAll
    static void tearDown() {
        System.clearProperty("spindle.http.cache.dir");
    }

    /** A raw image of {@code size} random bytes, published as a chunked image into {@code out}. */
    private byte[] publish(long seed, int size, Path out) throws Exception {
        byte[] data = new byte[size];
        new Random(seed).nextBytes(data);
        Path raw = dir.resolve("source-" + seed + ".img");
        Files.write(raw, data);
        try (VirtualDisk source = opener.open(raw.toUri(), "raw", OpenOptions.defaults().withReadOnly(true)).disk()) {
            new ChunkedPublisher(CHUNK, 0, "disk-" + seed).publish(source, out, n -> { });
        }
        return data;
    }

    private VirtualDisk open(URI manifest) throws StorageException {
        return opener.open(manifest, DiskOpener.AUTO, OpenOptions.defaults().withReadOnly(true)).disk();
    }

    private static byte[] readAll(VirtualDisk disk, int piece) throws StorageException {
        byte[] all = new byte[(int) disk.capacity()];
        for (int at = 0; at < all.length; at += piece) {
            ByteBuffer b = ByteBuffer.wrap(all, at, Math.min(piece, all.length - at)).slice();
            disk.read(at, b);
        }
        return all;
    }

    @Test
    void publishedImageHasChunksAndAManifestThatDescribesThem() throws Exception {
        Path out = dir.resolve("pub");
        byte[] data = publish(1, 5 * CHUNK + 3 * 512, out);
        ChunkedManifest m = ChunkedManifest.parse(Files.readAllBytes(out.resolve("manifest.json")));
        assertThat(m.chunkCount()).isEqualTo(6);
        assertThat(m.chunkLength(5)).isEqualTo(3 * 512);
        assertThat(m.version()).isEqualTo("sha256-" + sha256(data));
        assertThat(m.imageId()).isEqualTo("disk-1");
        try (Stream<Path> files = Files.list(out.resolve("chunks"))) {
            assertThat(files.map(p -> p.getFileName().toString()).sorted().toList()).containsExactly(
                    "00000000.bin", "00000001.bin", "00000002.bin", "00000003.bin", "00000004.bin", "00000005.bin");
        }
        byte[] last = Files.readAllBytes(out.resolve("chunks/00000005.bin"));
        assertThat(last).hasSize(3 * 512);
        assertThat(m.chunkSha256(5)).isEqualTo(sha256(last));
        String json = Files.readString(out.resolve("manifest.json"));
        assertThat(json).contains("\"schema\" : \"aero.chunked-disk-image.v1\"", "\"chunkIndexWidth\" : 8");
    }

    @Test
    void aDirectoryImageReadsByteForByteAcrossChunkBoundaries() throws Exception {
        Path out = dir.resolve("pub");
        byte[] data = publish(2, 7 * CHUNK + 512, out);
        try (VirtualDisk disk = open(out.resolve("manifest.json").toUri())) {
            assertThat(disk.formatName()).isEqualTo("chunked");
            assertThat(disk.isReadOnly()).isTrue();
            assertThat(disk.capacity()).isEqualTo(data.length);
            assertThat(readAll(disk, 12_345)).isEqualTo(data);
            TransferStatsDTO stats = disk.capability(TransferStatistics.class).orElseThrow().transferStats();
            assertThat(stats.transport).isEqualTo("whole-object");
            assertThat(stats.location).endsWith("manifest.json");
            // eight chunks, each loaded once, whether by a reader or ahead of one
            assertThat(stats.requests).isEqualTo(8);
            assertThat(stats.bytesFetched).isEqualTo(data.length);
            assertThat(stats.bytesRead).isEqualTo(data.length);
            assertThat(stats.amplification).isEqualTo(1.0);
            assertThat(stats.readAheads).isPositive();
            assertThat(stats.failures).isZero();
            Random r = new Random(3);
            for (int i = 0; i < 200; i++) {
                int len = 1 + r.nextInt(3 * CHUNK);
                int off = r.nextInt(data.length - len);
                ByteBuffer b = ByteBuffer.allocate(len);
                disk.read(off, b);
                assertThat(b.array()).isEqualTo(java.util.Arrays.copyOfRange(data, off, off + len));
            }
            assertThatThrownBy(() -> disk.write(0, ByteBuffer.allocate(512)))
                    .isInstanceOfSatisfying(StorageException.class, e -> assertThat(e.kind()).isEqualTo(Kind.READ_ONLY));
            assertThatThrownBy(() -> disk.read(data.length - 10, ByteBuffer.allocate(11)))
                    .isInstanceOfSatisfying(StorageException.class,
                            e -> assertThat(e.kind()).isEqualTo(Kind.OUT_OF_BOUNDS));
        }
    }

    @Test
    void aSequentialReaderGetsEachChunkOnceWhateverTheMemoryCacheKeeps() throws Exception {
        Path out = dir.resolve("pub");
        byte[] data = publish(21, 48 * CHUNK, out);
        // room for four chunks: read-ahead must not be dropped before its reader comes
        OpenOptions small = OpenOptions.defaults().withReadOnly(true)
                .withParameters(java.util.Map.of("memory.cache", Integer.toString(4 * CHUNK), "read.ahead", "3"));
        try (VirtualDisk disk = opener.open(out.resolve("manifest.json").toUri(), DiskOpener.AUTO, small).disk()) {
            assertThat(readAll(disk, 8192)).isEqualTo(data);
            TransferStatsDTO stats = disk.capability(TransferStatistics.class).orElseThrow().transferStats();
            assertThat(stats.requests).isEqualTo(48);
            assertThat(stats.amplification).isEqualTo(1.0);
        }
    }

    @Test
    void aDamagedShortOrMissingChunkFailsItsReadsOnlyAndIsTriedAgainLater() throws Exception {
        Path out = dir.resolve("pub");
        byte[] data = publish(4, 4 * CHUNK, out);
        Path one = out.resolve("chunks/00000001.bin");
        byte[] good = Files.readAllBytes(one);
        byte[] bad = good.clone();
        bad[100] ^= 1;
        Files.write(one, bad);
        try (VirtualDisk disk = open(out.resolve("manifest.json").toUri())) {
            assertThatThrownBy(() -> disk.read(CHUNK + 50, ByteBuffer.allocate(100)))
                    .isInstanceOfSatisfying(StorageException.class, e -> {
                        assertThat(e.kind()).isEqualTo(Kind.CORRUPT_IMAGE);
                        assertThat(e.getMessage()).contains("chunk 1", "chunks/00000001.bin", "SHA-256");
                    });
            ByteBuffer first = ByteBuffer.allocate(CHUNK);
            disk.read(0, first);
            assertThat(first.array()).isEqualTo(java.util.Arrays.copyOf(data, CHUNK));

            Files.write(one, java.util.Arrays.copyOf(good, CHUNK - 512));
            assertThatThrownBy(() -> disk.read(CHUNK, ByteBuffer.allocate(512)))
                    .isInstanceOfSatisfying(StorageException.class,
                            e -> assertThat(e.kind()).isEqualTo(Kind.CORRUPT_IMAGE));
            Files.delete(one);
            assertThatThrownBy(() -> disk.read(CHUNK, ByteBuffer.allocate(512)))
                    .isInstanceOfSatisfying(StorageException.class, e -> assertThat(e.kind()).isEqualTo(Kind.NOT_FOUND));

            // the failures were not kept: once the chunk is back, it reads
            Files.write(one, good);
            ByteBuffer second = ByteBuffer.allocate(CHUNK);
            disk.read(CHUNK, second);
            assertThat(second.array()).isEqualTo(java.util.Arrays.copyOfRange(data, CHUNK, 2 * CHUNK));
        }
    }

    @Test
    void overHttpEveryChunkIsOnePlainGetFetchedOnceAndKeptInThePersistentCache() throws Exception {
        Path out = dir.resolve("pub");
        byte[] data = publish(5, 8 * CHUNK, out);
        try (RangeOrigin origin = new RangeOrigin()) {
            String base = "/images/disk/" + "v1/";
            serveDirectory(origin, out, base);
            URI manifest = origin.uri(base + "manifest.json");
            try (VirtualDisk disk = open(manifest)) {
                assertThat(disk.formatName()).isEqualTo("chunked");
                // eight readers at once over the same chunks: each chunk still crosses the network once
                ExecutorService pool = Executors.newFixedThreadPool(8);
                try {
                    List<Future<byte[]>> all = new ArrayList<>();
                    for (int i = 0; i < 8; i++) {
                        int piece = 4096 + i * 512;
                        all.add(pool.submit((Callable<byte[]>) () -> readAll(disk, piece)));
                    }
                    for (Future<byte[]> f : all) {
                        assertThat(f.get()).isEqualTo(data);
                    }
                } finally {
                    pool.shutdown();
                }
            }
            List<RangeOrigin.Seen> chunkRequests = origin.log().stream().filter(s -> s.path().contains("/chunks/"))
                    .toList();
            assertThat(chunkRequests).hasSize(8).allSatisfy(s -> {
                assertThat(s.method()).isEqualTo("GET");
                assertThat(s.range()).isNull();
            });
            assertThat(chunkRequests.stream().map(RangeOrigin.Seen::path).distinct()).hasSize(8);

            // opened again: the new disk has nothing in memory, and its chunks come from the persistent cache
            origin.clearLog();
            try (VirtualDisk disk = open(manifest)) {
                assertThat(readAll(disk, 65_536)).isEqualTo(data);
            }
            assertThat(origin.log().stream().filter(s -> s.path().contains("/chunks/"))).isEmpty();
        }
    }

    @Test
    void overHttpADamagedChunkIsRefusedAndNotCached() throws Exception {
        Path out = dir.resolve("pub");
        byte[] data = publish(6, 3 * CHUNK, out);
        try (RangeOrigin origin = new RangeOrigin()) {
            String base = "/other/";
            serveDirectory(origin, out, base);
            byte[] bad = Files.readAllBytes(out.resolve("chunks/00000002.bin"));
            bad[7] ^= 0x40;
            origin.serve(base + "chunks/00000002.bin", bad);
            URI manifest = origin.uri(base + "manifest.json");
            try (VirtualDisk disk = open(manifest)) {
                assertThatThrownBy(() -> disk.read(2 * CHUNK, ByteBuffer.allocate(512)))
                        .isInstanceOfSatisfying(StorageException.class, e -> {
                            assertThat(e.kind()).isEqualTo(Kind.CORRUPT_IMAGE);
                            assertThat(e.getMessage()).contains("SHA-256");
                        });
            }
            // the server is repaired: the chunk is fetched again (nothing of the bad one was kept) and reads
            origin.serve(base + "chunks/00000002.bin", Files.readAllBytes(out.resolve("chunks/00000002.bin")));
            origin.clearLog();
            try (VirtualDisk disk = open(manifest)) {
                ByteBuffer b = ByteBuffer.allocate(CHUNK);
                disk.read(2 * CHUNK, b);
                assertThat(b.array()).isEqualTo(java.util.Arrays.copyOfRange(data, 2 * CHUNK, 3 * CHUNK));
            }
            assertThat(origin.log().stream().filter(s -> s.path().endsWith("00000002.bin"))).hasSize(1);
        }
    }

    @Test
    void manifestsBreakingTheRulesAreRefusedNamingTheRule() throws Exception {
        String good = """
                {"schema":"aero.chunked-disk-image.v1","version":"v1","mimeType":"application/octet-stream",
                 "totalSize":1048576,"chunkSize":524288,"chunkCount":2,"chunkIndexWidth":8}""";
        assertThat(ChunkedManifest.parse(good.getBytes(StandardCharsets.UTF_8)).chunkCount()).isEqualTo(2);
        String[][] bad = {
            {good.replace("\"chunkCount\":2", "\"chunkCount\":3"), "chunkCount is 3"},
            {good.replace("1048576", "1048320"), "totalSize must be a positive multiple of 512"},
            {good.replace("524288", "134217728").replace("\"chunkCount\":2", "\"chunkCount\":1"), "chunkSize must be"},
            {good.replace("\"chunkIndexWidth\":8", "\"chunkIndexWidth\":33"), "chunkIndexWidth"},
            {good.replace("aero.chunked-disk-image.v1", "other.v2"), "schema"},
            {good.replace("\"version\":\"v1\",", ""), "no version"},
            {good.replace("\"totalSize\":1048576", "\"totalSize\":1048576.0"), "totalSize must be a whole number"},
            {good.replace("\"chunkSize\":524288", "\"chunkSize\":\"524288\""), "chunkSize must be a whole number"},
            {good.replace("\"version\":\"v1\"", "\"version\":\"v1\",\"version\":\"v2\""), "Duplicate field"},
            {good.replace("}", ",\"chunks\":[{}]}"), "lists 1 chunks"},
            {good.replace("}", ",\"chunks\":[{\"size\":524288},{\"size\":512}]}"), "chunks[1].size is 512"},
            {good.replace("}", ",\"chunks\":[{\"sha256\":\"ABC\"},{}]}"), "chunks[0].sha256"},
            {"[1,2]", "not a JSON object"},
            {"{\"totalSize\":", "not valid JSON"},
        };
        for (String[] c : bad) {
            assertThatThrownBy(() -> ChunkedManifest.parse(c[0].getBytes(StandardCharsets.UTF_8)))
                    .as(c[0]).isInstanceOf(IllegalArgumentException.class).hasMessageContaining(c[1]);
        }
        Path manifest = dir.resolve("manifest.json");
        Files.writeString(manifest, bad[0][0]);
        assertThatThrownBy(() -> opener.open(manifest.toUri(), "chunked", OpenOptions.defaults().withReadOnly(true)))
                .isInstanceOfSatisfying(StorageException.class, e -> {
                    assertThat(e.kind()).isEqualTo(Kind.CORRUPT_IMAGE);
                    assertThat(e.getMessage()).contains("chunkCount is 3");
                });
    }

    @Test
    void aManifestWithoutSchemaOrHashesStillReadsAndAnotherDiskIsNotTakenForOne() throws Exception {
        byte[] data = new byte[2 * CHUNK];
        new Random(9).nextBytes(data);
        Path out = dir.resolve("plain");
        Files.createDirectories(out.resolve("chunks"));
        Files.write(out.resolve("chunks/0.bin"), java.util.Arrays.copyOf(data, CHUNK));
        Files.write(out.resolve("chunks/1.bin"), java.util.Arrays.copyOfRange(data, CHUNK, 2 * CHUNK));
        Files.writeString(out.resolve("manifest.json"), "{\"version\":\"x\",\"mimeType\":\"application/octet-stream\","
                + "\"totalSize\":" + data.length + ",\"chunkSize\":" + CHUNK + ",\"chunkCount\":2,\"chunkIndexWidth\":1}");
        try (VirtualDisk disk = open(out.resolve("manifest.json").toUri())) {
            assertThat(disk.formatName()).isEqualTo("chunked");
            assertThat(readAll(disk, 8192)).isEqualTo(data);
        }
        Path notes = dir.resolve("notes.json");
        Files.writeString(notes, "{\"title\":\"not a disk\"}" + " ".repeat(490));
        try (VirtualDisk disk = open(notes.toUri())) {
            assertThat(disk.formatName()).isEqualTo("raw");
        }
    }

    @Test
    void publishingRefusesAnExistingManifestAndAFailedOneLeavesNoManifest() throws Exception {
        Path out = dir.resolve("pub");
        publish(7, 2 * CHUNK, out);
        assertThatThrownBy(() -> publish(8, 2 * CHUNK, out)).isInstanceOfSatisfying(StorageException.class,
                e -> assertThat(e.kind()).isEqualTo(Kind.ALREADY_EXISTS));

        Path busy = dir.resolve("busy");
        Files.createDirectories(busy);
        Files.createFile(busy.resolve(".publish.lock"));
        assertThatThrownBy(() -> publish(9, 2 * CHUNK, busy)).isInstanceOfSatisfying(StorageException.class,
                e -> assertThat(e.kind()).isEqualTo(Kind.IN_USE));
        assertThat(busy.resolve("manifest.json")).doesNotExist();

        Path failed = dir.resolve("failed");
        VirtualDisk failing = new FailingDisk(4L * CHUNK, 2L * CHUNK);
        assertThatThrownBy(() -> new ChunkedPublisher(CHUNK, 0, null).publish(failing, failed, n -> { }))
                .isInstanceOfSatisfying(StorageException.class, e -> assertThat(e.kind()).isEqualTo(Kind.IO));
        assertThat(failed.resolve("manifest.json")).doesNotExist();
        try (Stream<Path> left = Files.list(failed.resolve("chunks"))) {
            assertThat(left).isEmpty();
        }
    }

    private static void serveDirectory(RangeOrigin origin, Path out, String base) throws Exception {
        origin.serve(base + "manifest.json", Files.readAllBytes(out.resolve("manifest.json")));
        try (Stream<Path> chunks = Files.list(out.resolve("chunks"))) {
            for (Path c : chunks.toList()) {
                origin.serve(base + "chunks/" + c.getFileName(), Files.readAllBytes(c));
            }
        }
    }

    private static String sha256(byte[] data) throws Exception {
        return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(data));
    }

    /** A disk whose reads fail from byte {@code failAt} on. */
    private record FailingDisk(long capacity, long failAt) implements VirtualDisk {
        @Override
        public int logicalSectorSize() {
            return 512;
        }

        @Override
        public boolean isReadOnly() {
            return true;
        }

        @Override
        public String formatName() {
            return "test";
        }

        @Override
        public void read(long offset, ByteBuffer dst) throws StorageException {
            if (offset + dst.remaining() > failAt) {
                throw new StorageException(Kind.IO, "the source failed");
            }
            dst.position(dst.limit());
        }

        @Override
        public void write(long offset, ByteBuffer src) throws StorageException {
            throw new StorageException(Kind.READ_ONLY, "read-only");
        }

        @Override
        public void flush() {
        }

        @Override
        public void close() {
        }
    }
}
