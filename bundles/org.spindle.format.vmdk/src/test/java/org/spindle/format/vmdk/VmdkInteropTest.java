package org.spindle.format.vmdk;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
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
import org.spindle.storage.api.Extent;
import org.spindle.storage.api.OpenOptions;
import org.spindle.storage.api.StorageException;
import org.spindle.storage.api.VirtualDisk;
import org.spindle.storage.core.DiskOpener;

/**
 * VMDK import against QEMU: monolithicSparse images (plain, with zeroed grains, written by
 * {@code qemu-io}) and streamOptimized images (compressed grains, the directory behind the footer)
 * made by {@code qemu-img} read byte for byte as {@code qemu-img convert -O raw} reads them, and map
 * alike.
 */
class VmdkInteropTest {
    @TempDir
    Path dir;

    @BeforeAll
    static void tools() {
        QemuTool.assumeInstalled();
    }

    static Stream<String> optionSets() {
        return Stream.of("subformat=monolithicSparse", "subformat=monolithicSparse,zeroed_grain=on",
                "subformat=streamOptimized", "subformat=monolithicSparse,compat6=on");
    }

    /** A raw source: text, random data, zeros and a short tail, 24 MiB + 512. */
    private Path source() throws IOException {
        byte[] bytes = new byte[(24 << 20) + 512];
        byte[] text = "VMDK import test; ".repeat(500).getBytes();
        for (int at = 1 << 20; at < 5 << 20; at += text.length) {
            System.arraycopy(text, 0, bytes, at, Math.min(text.length, (5 << 20) - at));
        }
        byte[] noise = new byte[3 << 20];
        new Random(3).nextBytes(noise);
        System.arraycopy(noise, 0, bytes, 9 << 20, noise.length);
        bytes[bytes.length - 1] = 42;
        return Files.write(dir.resolve("source.raw"), bytes);
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("optionSets")
    void imagesQemuMadeReadTheSame(String options) throws Exception {
        Path image = dir.resolve("disk.vmdk");
        QemuTool.ok(dir, "qemu-img", "convert", "-f", "raw", "-O", "vmdk", "-o", options, source().toString(),
                image.toString());
        if (!options.contains("streamOptimized")) {
            QemuTool.io(dir, "vmdk", image, List.of("write -P 0x61 100k 70k", "write -z 1M 128k",
                    "write -P 0x62 20M 4k"));
        }
        byte[] expected = qemuRaw(image);
        assertThat(spindleRead(image)).isEqualTo(expected);
        assertThat(spindleMap(image)).isEqualTo(QemuTool.map(dir, "vmdk", image));
        try (org.spindle.storage.api.StorageBackend b = FileBackend.open(image, AccessMode.READ_ONLY)) {
            org.spindle.storage.api.CheckReport report = new VmdkFormat().check(b, false);
            assertThat(report.problems()).isEmpty();
            assertThat(report.allocatedUnits()).isPositive();
        }
        // a grain table entry pointing past the end of the file is found
        try (org.spindle.storage.api.StorageBackend b = FileBackend.open(image, AccessMode.READ_WRITE)) {
            ByteBuffer header = ByteBuffer.allocate(512).order(java.nio.ByteOrder.LITTLE_ENDIAN);
            b.read(0, header);
            if (header.getLong(56) == -1) { // the directory is named by the footer
                b.read(b.size() - 1024, header.clear());
            }
            long gd = header.getLong(56) * 512;
            ByteBuffer gde = ByteBuffer.allocate(4).order(java.nio.ByteOrder.LITTLE_ENDIAN);
            b.read(gd, gde);
            long gt = Integer.toUnsignedLong(gde.getInt(0)) * 512;
            b.write(gt + 4 * 20, ByteBuffer.allocate(4).order(java.nio.ByteOrder.LITTLE_ENDIAN).putInt(0, 0x7fff0000));
            assertThat(new VmdkFormat().check(b, false).corruptions()).isEqualTo(1);
        }
    }

    @Test
    void aStreamOptimizedImageWithItsDirectoryNamedByTheFooterReadsTheSame() throws Exception {
        // VMware's stream writers put the grain directory at the end: the header says GD_AT_END and a
        // footer (a header copy) before the end-of-stream marker names it. Rewrite qemu's image that way.
        Path image = dir.resolve("stream.vmdk");
        QemuTool.ok(dir, "qemu-img", "convert", "-f", "raw", "-O", "vmdk", "-o", "subformat=streamOptimized",
                source().toString(), image.toString());
        byte[] expected = qemuRaw(image);
        byte[] file = Files.readAllBytes(image);
        byte[] header = java.util.Arrays.copyOf(file, 512);
        ByteBuffer.wrap(file).order(java.nio.ByteOrder.LITTLE_ENDIAN).putLong(56, -1L);
        ByteBuffer tail = ByteBuffer.allocate(1536).order(java.nio.ByteOrder.LITTLE_ENDIAN);
        tail.putLong(0, 1).putInt(12, 3); // footer marker: one sector, type 3
        tail.put(512, header); // the footer: the header with the real directory offset
        // end-of-stream marker: zeros
        byte[] rewritten = java.util.Arrays.copyOf(file, ((file.length + 511) & ~511) + 1536);
        System.arraycopy(tail.array(), 0, rewritten, rewritten.length - 1536, 1536);
        Files.write(image, rewritten);
        assertThat(spindleRead(image)).isEqualTo(expected);
    }

    @Test
    void vmdkIsReadOnlyAndSaysHowToWrite() throws Exception {
        Path image = dir.resolve("ro.vmdk");
        QemuTool.ok(dir, "qemu-img", "create", "-q", "-f", "vmdk", image.toString(), "1M");
        try (VirtualDisk disk = new VmdkFormat().open(FileBackend.open(image, AccessMode.READ_ONLY),
                OpenOptions.defaults().withReadOnly(true))) {
            assertThat(disk.isReadOnly()).isTrue();
            assertThatThrownBy(() -> disk.write(0, ByteBuffer.allocate(512))).isInstanceOfSatisfying(StorageException.class,
                    e -> assertThat(e.getMessage()).contains("img convert"));
        }
    }

    @Test
    void splitSparseExtentsAreRefusedByName() throws Exception {
        Path image = dir.resolve("split.vmdk");
        QemuTool.ok(dir, "qemu-img", "create", "-q", "-f", "vmdk", "-o", "subformat=twoGbMaxExtentSparse", image.toString(), "1M");
        assertThatThrownBy(() -> opener().open(image.toUri(), DiskOpener.AUTO, OpenOptions.defaults().withReadOnly(true)))
                .isInstanceOfSatisfying(StorageException.class, e -> {
                    assertThat(e.kind()).isEqualTo(StorageException.Kind.UNSUPPORTED_FEATURE);
                    assertThat(e.getMessage()).contains("SPARSE extents").contains("twoGbMaxExtentSparse");
                });
    }

    @Test
    void monolithicFlatImagesQemuMadeReadAndTakeWrites() throws Exception {
        Path image = dir.resolve("flat.vmdk");
        QemuTool.ok(dir, "qemu-img", "create", "-q", "-f", "vmdk", "-o", "subformat=monolithicFlat", image.toString(), "24M");
        QemuTool.io(dir, "vmdk", image, List.of("write -P 0x31 0 1M", "write -P 0x32 5000 3000", "write -P 0x33 23M 1M"));
        byte[] expected = qemuRaw(image);
        try (VirtualDisk disk = opener().open(image.toUri(), DiskOpener.AUTO, OpenOptions.defaults()).disk()) {
            assertThat(disk.formatName()).isEqualTo("vmdk");
            byte[] got = new byte[(int) disk.capacity()];
            disk.read(0, ByteBuffer.wrap(got));
            assertThat(got).isEqualTo(expected);
            Random random = new Random(8);
            for (int i = 0; i < 40; i++) {
                byte[] data = new byte[1 + random.nextInt(100_000)];
                random.nextBytes(data);
                long at = random.nextLong(expected.length - data.length);
                disk.write(at, ByteBuffer.wrap(data));
                System.arraycopy(data, 0, expected, (int) at, data.length);
            }
        }
        Path raw = Files.write(dir.resolve("model.raw"), expected);
        QemuTool.ok(dir, "qemu-img", "compare", "-f", "vmdk", "-F", "raw", image.toString(), raw.toString());
    }

    @Test
    void monolithicFlatImagesSpindleMadeReadInQemu() throws Exception {
        Path image = dir.resolve("made.vmdk");
        byte[] expected = new byte[20 << 20];
        try (VirtualDisk disk = opener().create(image.toUri(), "vmdk", org.spindle.storage.api.CreateOptions.ofCapacity(expected.length)).disk()) {
            byte[] data = new byte[3 << 20];
            new Random(9).nextBytes(data);
            disk.write(7L << 20, ByteBuffer.wrap(data));
            System.arraycopy(data, 0, expected, 7 << 20, data.length);
        }
        assertThat(Files.exists(dir.resolve("made-flat.vmdk"))).isTrue();
        String info = QemuTool.ok(dir, "qemu-img", "info", image.toString());
        assertThat(info).contains("file format: vmdk").contains("virtual size: 20 MiB").contains("monolithicFlat");
        Path raw = Files.write(dir.resolve("model.raw"), expected);
        QemuTool.ok(dir, "qemu-img", "compare", "-f", "vmdk", "-F", "raw", image.toString(), raw.toString());
        QemuTool.io(dir, "vmdk", image, List.of("write -P 0x44 1M 64k"));
        assertThat(spindleReadChain(image)).isEqualTo(qemuRaw(image));
    }

    private org.spindle.storage.core.DiskOpener opener() {
        return new DiskOpener(org.spindle.storage.core.ServiceLoaderRegistry.load(getClass().getClassLoader()));
    }

    private byte[] spindleReadChain(Path image) throws StorageException {
        try (VirtualDisk disk = opener().open(image.toUri(), DiskOpener.AUTO, OpenOptions.defaults().withReadOnly(true)).disk()) {
            return QemuTool.readAll(disk);
        }
    }

    private byte[] qemuRaw(Path image) throws IOException, InterruptedException {
        Path out = dir.resolve("expected-" + System.nanoTime() + ".raw");
        QemuTool.ok(dir, "qemu-img", "convert", "-f", "vmdk", "-O", "raw", image.toString(), out.toString());
        byte[] bytes = Files.readAllBytes(out);
        Files.delete(out);
        return bytes;
    }

    private byte[] spindleRead(Path image) throws StorageException {
        try (VirtualDisk disk = new VmdkFormat().open(FileBackend.open(image, AccessMode.READ_ONLY),
                OpenOptions.defaults().withReadOnly(true))) {
            return QemuTool.readAll(disk);
        }
    }

    private List<QemuTool.MapEntry> spindleMap(Path image) throws StorageException {
        try (VirtualDisk disk = new VmdkFormat().open(FileBackend.open(image, AccessMode.READ_ONLY),
                OpenOptions.defaults().withReadOnly(true))) {
            return QemuTool.map(disk);
        }
    }
}
