package org.spindle.format.qcow2;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.stream.Stream;

import org.spindle.storage.core.support.QemuTool;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;
import org.spindle.backend.file.FileBackend;
import org.spindle.storage.api.AccessMode;
import org.spindle.storage.api.AllocationMap;
import org.spindle.storage.api.BackingReference;
import org.spindle.storage.api.CreateOptions;
import org.spindle.storage.api.Discardable;
import org.spindle.storage.api.Extent;
import org.spindle.storage.api.OpenOptions;
import org.spindle.storage.api.SnapshotInfo;
import org.spindle.storage.api.Snapshots;
import org.spindle.storage.api.StorageException;
import org.spindle.storage.api.VirtualDisk;
import org.spindle.storage.api.WriteZeroes;
import org.spindle.storage.core.DiskOpener;
import org.spindle.storage.core.ServiceLoaderRegistry;

/**
 * Interoperability with QEMU's own tools, for every option set qcow2 has: images QEMU made and filled
 * read byte for byte as {@code qemu-img convert -O raw} reads them, and map the same; images Spindle made
 * or changed pass {@code qemu-img check} with no errors and no leaks, and {@code qemu-img compare} finds
 * them equal to what Spindle was told to write.
 */
class Qcow2InteropTest {
    private static final long SIZE = 64L << 20;
    private static final long MIB = 1 << 20;

    @TempDir
    Path dir;

    @BeforeAll
    static void tools() {
        QemuTool.assumeInstalled();
    }

    static Stream<String> optionSets() {
        return Stream.of(
                "cluster_size=512",
                "cluster_size=4096,refcount_bits=1",
                "cluster_size=65536",
                "cluster_size=2M",
                "compat=0.10",
                "compat=0.10,cluster_size=4096",
                "refcount_bits=64",
                "refcount_bits=2,cluster_size=1024",
                "refcount_bits=8,cluster_size=8192",
                "lazy_refcounts=on",
                "compression_type=zstd",
                "extended_l2=on",
                "extended_l2=on,cluster_size=16384",
                "extended_l2=on,cluster_size=2M,compression_type=zstd");
    }

    private static Map<String, String> parse(String options) {
        Map<String, String> map = new HashMap<>();
        for (String kv : options.split(",")) {
            String[] p = kv.split("=", 2);
            map.put(p[0], p[1]);
        }
        return map;
    }

    private static int clusterSize(String options) {
        String c = parse(options).getOrDefault("cluster_size", "65536");
        return c.endsWith("M") ? Integer.parseInt(c.substring(0, c.length() - 1)) << 20 : Integer.parseInt(c);
    }

    /** A fill that touches every kind of cluster: data, partial data, zeros, compressed, discarded. */
    private static List<String> qemuFill(int cluster) {
        return qemuFill(cluster, true);
    }

    /** QEMU writes compressed clusters only where nothing is allocated yet: {@code compressed} for fresh images. */
    private static List<String> qemuFill(int cluster, boolean compressed) {
        List<String> c = new ArrayList<>();
        c.add("write -P 0xa1 0 " + (3 * cluster + 512));
        c.add("write -P 0xb2 " + (5 * MIB + 1000) + " 70000");
        c.add("write -z " + (8 * MIB) + " " + 2 * cluster);
        c.add("write -z -u " + (12 * MIB) + " " + cluster);
        String c1 = compressed ? "write -c" : "write";
        c.add(c1 + " -P 0xc3 " + (16 * MIB) + " " + 2L * cluster);
        c.add(c1 + " -P 0x3c " + (20 * MIB) + " " + cluster);
        c.add("write -P 0xc4 " + (20 * MIB + 4096) + " 512");
        c.add("discard 0 " + cluster);
        c.add("write -P 0xd4 " + (32 * MIB + cluster / 2) + " " + cluster);
        c.add("write -P 0xe5 " + (40 * MIB + 2048) + " 1024");
        c.add("write -z " + (40 * MIB + 8192) + " 4096");
        c.add("write -P 0xf6 " + (SIZE - 4096) + " 4096");
        return c;
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("optionSets")
    void imagesQemuWroteReadTheSameAndTakeSpindleWrites(String options) throws Exception {
        Path image = dir.resolve("qemu.qcow2");
        QemuTool.ok(dir, "qemu-img", "create", "-q", "-f", "qcow2", "-o", options, image.toString(), Long.toString(SIZE));
        QemuTool.io(dir, "qcow2", image, qemuFill(clusterSize(options)));

        byte[] expected = qemuRaw(image);
        assertThat(spindleRead(image)).as("Spindle's reading of qemu's image").isEqualTo(expected);
        assertThat(spindleMap(image)).as("Spindle's map against qemu-img map").isEqualTo(QemuTool.map(dir, "qcow2", image));

        // Spindle changes it; qemu must find it consistent and holding exactly the changes
        randomWrites(image, expected, options.hashCode());
        assertQemuAccepts(image, expected);
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("optionSets")
    void imagesSpindleMadePassQemuCheckAndCompare(String options) throws Exception {
        Path image = dir.resolve("spindle.qcow2");
        try (VirtualDisk disk = new Qcow2Format().create(FileBackend.open(image, AccessMode.CREATE_NEW),
                CreateOptions.ofCapacity(SIZE).withParameters(parse(options)))) {
            assertThat(disk.capacity()).isEqualTo(SIZE);
        }
        String info = QemuTool.ok(dir, "qemu-img", "info", image.toString());
        assertThat(info).contains("cluster_size: " + clusterSize(options));
        assertThat(info).contains("compat: " + parse(options).getOrDefault("compat", "1.1"));
        byte[] expected = new byte[(int) SIZE];
        randomWrites(image, expected, ~options.hashCode());
        assertQemuAccepts(image, expected);
        assertThat(spindleMap(image)).isEqualTo(QemuTool.map(dir, "qcow2", image));
        // and qemu's later writes leave it readable to Spindle
        QemuTool.io(dir, "qcow2", image, qemuFill(clusterSize(options), false));
        assertThat(spindleRead(image)).isEqualTo(qemuRaw(image));
    }

    @Test
    void backingChainsOfQcow2AndRawReadAndWriteLikeQemu() throws Exception {
        Path raw = dir.resolve("base.raw");
        Path base = dir.resolve("base.qcow2");
        Path mid = dir.resolve("mid.qcow2");
        QemuTool.ok(dir, "qemu-img", "create", "-q", "-f", "raw", raw.toString(), "48M");
        QemuTool.io(dir, "raw", raw, List.of("write -P 0x11 0 48M"));
        QemuTool.ok(dir, "qemu-img", "create", "-q", "-f", "qcow2", "-b", "base.raw", "-F", "raw", base.toString(), "56M");
        QemuTool.io(dir, "qcow2", base, List.of("write -P 0x22 1M 3M", "write -z 6M 1M", "discard 10M 1M",
                "write -P 0x23 50M 1M"));
        QemuTool.ok(dir, "qemu-img", "create", "-q", "-f", "qcow2", "-o", "cluster_size=4096", "-b", base.toString(),
                "-F", "qcow2", mid.toString(), "64M");
        QemuTool.io(dir, "qcow2", mid, List.of("write -P 0x33 2M 5000", "write -z 3M 64k", "write -P 0x34 60M 4k"));

        // a Spindle overlay, named relative to its own directory, on top of qemu's chain
        Path top = dir.resolve("top.qcow2");
        try (VirtualDisk disk = new Qcow2Format().create(FileBackend.open(top, AccessMode.CREATE_NEW),
                CreateOptions.ofCapacity(SIZE).withParameters(Map.of("cluster_size", "16384", "extended_l2", "on"))
                        .withBacking(new BackingReference("mid.qcow2", "qcow2")))) {
            assertThat(disk.capability(org.spindle.storage.api.Overlay.class)).isPresent();
        }
        assertThat(spindleRead(mid)).as("a two-deep qemu chain").isEqualTo(qemuRaw(mid));
        byte[] expected = qemuRaw(top);
        assertThat(spindleRead(top)).as("Spindle's overlay over qemu's chain").isEqualTo(expected);
        randomWrites(top, expected, 42);
        assertQemuAccepts(top, expected);
        // the layers under the overlay are untouched
        QemuTool.ok(dir, "qemu-img", "check", mid.toString());
        QemuTool.ok(dir, "qemu-img", "check", base.toString());
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("snapshotOptionSets")
    void internalSnapshotsListReadAndRevertLikeQemu(String options) throws Exception {
        Path image = dir.resolve("snap.qcow2");
        QemuTool.ok(dir, "qemu-img", "create", "-q", "-f", "qcow2", "-o", options, image.toString(), "32M");
        QemuTool.io(dir, "qcow2", image, List.of("write -P 1 0 4M", "write -c -P 5 8M 1M", "write -z 12M 1M"));
        QemuTool.ok(dir, "qemu-img", "snapshot", "-c", "first", image.toString());
        QemuTool.io(dir, "qcow2", image, List.of("write -P 2 1M 4M", "discard 8M 512k", "write -P 6 12M 4k"));
        QemuTool.ok(dir, "qemu-img", "snapshot", "-c", "second", image.toString());
        QemuTool.io(dir, "qcow2", image, List.of("write -P 3 3M 4M", "write -z 0 64k"));
        byte[] first = qemuRaw(image, "first");
        byte[] second = qemuRaw(image, "second");

        try (VirtualDisk disk = new Qcow2Format().open(FileBackend.open(image, AccessMode.READ_ONLY),
                OpenOptions.defaults().withReadOnly(true))) {
            List<SnapshotInfo> list = disk.capability(Snapshots.class).orElseThrow().snapshots();
            assertThat(list).extracting(SnapshotInfo::id).containsExactly("1", "2");
            assertThat(list).extracting(SnapshotInfo::name).containsExactly("first", "second");
            assertThat(list).extracting(SnapshotInfo::diskSize).containsOnly(32L << 20);
        }
        assertThat(spindleRead(image, "first")).as("snapshot 'first' read by ID or name").isEqualTo(first);
        assertThat(spindleRead(image, "2")).isEqualTo(second);

        try (VirtualDisk disk = new Qcow2Format().open(FileBackend.open(image, AccessMode.READ_WRITE), OpenOptions.defaults())) {
            disk.capability(Snapshots.class).orElseThrow().revert("first");
        }
        assertQemuAccepts(image, first);
        // writes after the revert copy the tables and clusters the snapshots share
        byte[] expected = first.clone();
        randomWrites(image, expected, 7);
        assertQemuAccepts(image, expected);
        assertThat(qemuRaw(image, "first")).isEqualTo(first);
        assertThat(qemuRaw(image, "second")).isEqualTo(second);
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("compressedOptionSets")
    void compressedCopiesPassQemuCheckAndCompare(String options) throws Exception {
        byte[] source = new byte[(int) (24L << 20) + 4096];
        Random random = new Random(options.hashCode());
        byte[] text = "the quick brown fox jumps over the lazy dog; ".repeat(1000).getBytes();
        for (int at = 0; at < 8 << 20; at += text.length) {
            System.arraycopy(text, 0, source, at, Math.min(text.length, (8 << 20) - at)); // compressible
        }
        byte[] noise = new byte[4 << 20];
        random.nextBytes(noise);
        System.arraycopy(noise, 0, source, 12 << 20, noise.length); // incompressible
        source[source.length - 1] = 7; // a short last cluster
        Path raw = dir.resolve("source.raw");
        Files.write(raw, source);
        Path image = dir.resolve("compressed.qcow2");
        try (VirtualDisk src = new org.spindle.format.raw.RawFormat().open(FileBackend.open(raw, AccessMode.READ_ONLY),
                OpenOptions.defaults().withReadOnly(true));
                VirtualDisk dst = new Qcow2Format().create(FileBackend.open(image, AccessMode.CREATE_NEW),
                        CreateOptions.ofCapacity(source.length).withParameters(parse(options)))) {
            org.spindle.storage.core.ImageOps.copy(src, dst, org.spindle.storage.core.Progress.NONE, true);
        }
        String check = QemuTool.ok(dir, "qemu-img", "check", image.toString());
        assertThat(check).contains("No errors were found").doesNotContain("leaked")
                .doesNotContain(" 0.00% compressed clusters");
        QemuTool.ok(dir, "qemu-img", "compare", "-f", "qcow2", "-F", "raw", image.toString(), raw.toString());
        assertThat(spindleRead(image)).isEqualTo(source);
        // the 8 MiB of text shrink to almost nothing, whatever the cluster size
        assertThat(Files.size(image)).as("compressed image size").isLessThan(source.length - (4L << 20));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("resizeOptionSets")
    void resizedImagesPassQemuCheckAndCompare(String options) throws Exception {
        Path image = dir.resolve("resize.qcow2");
        QemuTool.ok(dir, "qemu-img", "create", "-q", "-f", "qcow2", "-o", options, image.toString(), "8M");
        QemuTool.io(dir, "qcow2", image, List.of("write -P 0x41 0 8M"));
        byte[] expected = new byte[40 << 20];
        java.util.Arrays.fill(expected, 0, 8 << 20, (byte) 0x41);
        // grow (the L1 table must grow too with small clusters), write past the old end
        try (VirtualDisk disk = new Qcow2Format().open(FileBackend.open(image, AccessMode.READ_WRITE), OpenOptions.defaults())) {
            disk.capability(org.spindle.storage.api.Resizable.class).orElseThrow().resize(40L << 20);
            byte[] data = new byte[3 << 20];
            new Random(5).nextBytes(data);
            disk.write(36L << 20, ByteBuffer.wrap(data));
            System.arraycopy(data, 0, expected, 36 << 20, data.length);
        }
        assertQemuAccepts(image, expected);
        assertThat(QemuTool.ok(dir, "qemu-img", "info", image.toString())).contains("virtual size: 40 MiB");
        // shrink to a size inside a cluster, then grow again: the cut-off bytes come back as zeros
        try (VirtualDisk disk = new Qcow2Format().open(FileBackend.open(image, AccessMode.READ_WRITE), OpenOptions.defaults())) {
            org.spindle.storage.api.Resizable r = disk.capability(org.spindle.storage.api.Resizable.class).orElseThrow();
            r.resize((5L << 20) + 1024);
            r.resize(6L << 20);
        }
        byte[] shrunk = new byte[6 << 20];
        System.arraycopy(expected, 0, shrunk, 0, (5 << 20) + 1024);
        assertQemuAccepts(image, shrunk);
    }

    static Stream<String> resizeOptionSets() {
        return Stream.of("cluster_size=512", "cluster_size=65536", "extended_l2=on", "compat=0.10,cluster_size=4096");
    }

    static Stream<String> compressedOptionSets() {
        return Stream.of("cluster_size=512", "cluster_size=65536", "cluster_size=2M", "compression_type=zstd",
                "compression_type=zstd,cluster_size=4096", "compat=0.10", "extended_l2=on,compression_type=zstd");
    }

    static Stream<String> snapshotOptionSets() {
        return Stream.of("cluster_size=65536", "cluster_size=4096,refcount_bits=32", "compat=0.10",
                "extended_l2=on,cluster_size=32768");
    }

    // ---------------------------------------------------------------------------------------------

    private byte[] qemuRaw(Path image) throws IOException, InterruptedException {
        return qemuRaw(image, null);
    }

    private byte[] qemuRaw(Path image, String snapshot) throws IOException, InterruptedException {
        Path out = dir.resolve("expected-" + System.nanoTime() + ".raw");
        List<String> cmd = new ArrayList<>(List.of("qemu-img", "convert", "-O", "raw"));
        if (snapshot != null) {
            cmd.addAll(List.of("-l", snapshot));
        }
        cmd.addAll(List.of(image.toString(), out.toString()));
        QemuTool.ok(dir, cmd.toArray(String[]::new));
        byte[] bytes = Files.readAllBytes(out);
        Files.delete(out);
        return bytes;
    }

    private DiskOpener opener() {
        return new DiskOpener(ServiceLoaderRegistry.load(getClass().getClassLoader()));
    }

    private byte[] spindleRead(Path image) throws StorageException {
        return spindleRead(image, null);
    }

    private byte[] spindleRead(Path image, String snapshot) throws StorageException {
        OpenOptions options = OpenOptions.defaults().withReadOnly(true);
        if (snapshot != null) {
            options = options.withParameters(Map.of(Snapshots.OPEN_PARAMETER, snapshot));
        }
        try (VirtualDisk disk = opener().open(image.toUri(), DiskOpener.AUTO, options).disk()) {
            return QemuTool.readAll(disk);
        }
    }

    private List<QemuTool.MapEntry> spindleMap(Path image) throws StorageException {
        try (VirtualDisk disk = new Qcow2Format().open(FileBackend.open(image, AccessMode.READ_ONLY),
                OpenOptions.defaults().withReadOnly(true))) {
            return QemuTool.map(disk);
        }
    }

    /** Random writes, zeroing and discards through Spindle (with the chain under it), mirrored in {@code model}. */
    private void randomWrites(Path image, byte[] model, long seed) throws Exception {
        Random random = new Random(seed);
        try (VirtualDisk disk = opener().open(image.toUri(), DiskOpener.AUTO, OpenOptions.defaults()).disk()) {
            for (int i = 0; i < 80; i++) {
                int kind = random.nextInt(10);
                long offset = random.nextBoolean() ? random.nextLong(model.length - 200_000)
                        : random.nextLong(model.length / 512 - 400) * 512;
                int length = 1 + random.nextInt(random.nextBoolean() ? 4096 : 200_000);
                if (kind < 6) {
                    byte[] data = new byte[length];
                    random.nextBytes(data);
                    disk.write(offset, ByteBuffer.wrap(data));
                    System.arraycopy(data, 0, model, (int) offset, length);
                } else if (kind < 8) {
                    disk.capability(WriteZeroes.class).orElseThrow().writeZeroes(offset, length);
                    java.util.Arrays.fill(model, (int) offset, (int) offset + length, (byte) 0);
                } else if (kind < 9) {
                    disk.capability(Discardable.class).orElseThrow().discard(offset, length);
                    ByteBuffer now = ByteBuffer.allocate(length);
                    disk.read(offset, now);
                    for (int k = 0; k < length; k++) {
                        byte b = now.get(k);
                        assertThat(b == 0 || b == model[(int) offset + k]).as("byte after discard").isTrue();
                        model[(int) offset + k] = b;
                    }
                } else {
                    disk.flush();
                }
            }
        }
    }

    private void assertQemuAccepts(Path image, byte[] expected) throws Exception {
        QemuTool.Result check = QemuTool.run(dir, "qemu-img", "check", image.toString());
        assertThat(check.exit()).as("qemu-img check said:\n" + check.out()).isZero();
        assertThat(check.out()).contains("No errors were found").doesNotContain("leaked");
        Path raw = dir.resolve("model.raw");
        Files.write(raw, expected);
        QemuTool.ok(dir, "qemu-img", "compare", "-f", "qcow2", "-F", "raw", image.toString(), raw.toString());
        Files.delete(raw);
    }
}
