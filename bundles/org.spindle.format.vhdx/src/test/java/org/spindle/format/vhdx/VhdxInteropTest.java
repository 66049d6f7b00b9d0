package org.spindle.format.vhdx;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.stream.Stream;

import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.spindle.backend.file.FileBackend;
import org.spindle.storage.api.AccessMode;
import org.spindle.storage.api.BackingReference;
import org.spindle.storage.api.CheckReport;
import org.spindle.storage.api.CreateOptions;
import org.spindle.storage.api.OpenOptions;
import org.spindle.storage.api.StorageBackend;
import org.spindle.storage.api.StorageException;
import org.spindle.storage.api.VirtualDisk;
import org.spindle.storage.core.DiskOpener;
import org.spindle.storage.core.ServiceLoaderRegistry;
import org.spindle.storage.core.support.QemuTool;

/**
 * VHDX against QEMU's {@code vhdx} driver: images {@code qemu-img} made (dynamic and fixed, block
 * sizes from 1 MiB to 256 MiB, larger logs, blocks created zero or not present) and {@code qemu-io}
 * filled read as {@code qemu-img convert -O raw} reads them and map alike; images Spindle made and
 * wrote (512- and 4096-byte sectors) pass {@code qemu-img check} and compare equal in
 * {@code qemu-img compare}, and take QEMU's writes. Differencing disks (QEMU does not open them) are
 * checked against a model.
 */
class VhdxInteropTest {
    @TempDir
    Path dir;

    @BeforeAll
    static void tools() {
        QemuTool.assumeInstalled();
    }

    static Stream<Arguments> qemuCases() {
        return Stream.of(
                Arguments.of("subformat=dynamic", 64L << 20),
                Arguments.of("subformat=dynamic", 300L << 20),
                Arguments.of("subformat=fixed", 40L << 20),
                Arguments.of("subformat=fixed,block_state_zero=off", 40L << 20),
                Arguments.of("block_size=1M", 64L << 20),
                Arguments.of("block_size=32M", 300L << 20),
                Arguments.of("block_size=256M", 600L << 20),
                Arguments.of("log_size=4M", 64L << 20),
                Arguments.of("block_state_zero=off", 64L << 20));
    }

    static Stream<Arguments> spindleCases() {
        return Stream.of(
                Arguments.of("subformat=dynamic", 512, 64L << 20),
                Arguments.of("subformat=dynamic", 512, 300L << 20),
                Arguments.of("subformat=fixed", 512, 40L << 20),
                Arguments.of("block_size=1M", 512, 64L << 20),
                Arguments.of("block_size=256M", 512, 600L << 20),
                Arguments.of("log_size=2M,block_size=2M", 512, 64L << 20),
                Arguments.of("physical_sector_size=4096", 512, 64L << 20));
    }

    static Map<String, String> parse(String options) {
        Map<String, String> map = new HashMap<>();
        for (String kv : options.split(",")) {
            String[] p = kv.split("=", 2);
            map.put(p[0], p[1]);
        }
        return map;
    }

    @ParameterizedTest(name = "{0} {1}")
    @MethodSource("qemuCases")
    void imagesQemuWroteReadTheSameAndTakeSpindleWrites(String options, long size) throws Exception {
        Path image = dir.resolve("qemu.vhdx");
        QemuTool.ok(dir, "qemu-img", "create", "-q", "-f", "vhdx", "-o", options, image.toString(), Long.toString(size));
        QemuTool.io(dir, "vhdx", image, List.of("write -P 0xa1 0 5000", "write -P 0xb2 3M 2M", "write -z 6M 1M",
                "write -P 0xc3 " + (size - 8192) + " 8192", "write -P 0xd4 " + (size / 2) + " 1M"));
        byte[] expected = qemuRaw(image);
        assertThat(spindleRead(image)).isEqualTo(expected);
        assertMapsAgree(image);
        assertThat(check(image).problems()).isEmpty();
        long fileSize = Files.size(image);
        randomWrites(image, expected, options.hashCode() + size);
        QemuTool.ok(dir, "qemu-img", "check", "-f", "vhdx", image.toString());
        QemuTool.ok(dir, "qemu-img", "compare", "-f", "vhdx", "-F", "raw", image.toString(), writeRaw(expected).toString());
        assertThat(check(image).problems()).isEmpty();
        if (options.contains("fixed") && options.contains("block_state_zero=off")) {
            // QEMU's default fixed file marks its blocks zero without places (and grows when written, in
            // QEMU too); with block_state_zero=off every block has its place, and writes stay in it
            assertThat(Files.size(image)).as("a fixed file writes its blocks in place").isEqualTo(fileSize);
        }
    }

    @ParameterizedTest(name = "{0} {1} {2}")
    @MethodSource("spindleCases")
    void imagesSpindleMadeReadTheSameInQemu(String options, int sectorSize, long size) throws Exception {
        Path image = dir.resolve("spindle.vhdx");
        try (VirtualDisk disk = new VhdxFormat().create(FileBackend.open(image, AccessMode.CREATE_NEW),
                CreateOptions.ofCapacity(size).withLogicalSectorSize(sectorSize).withParameters(parse(options)))) {
            assertThat(disk.capacity()).isEqualTo(size);
            assertThat(disk.logicalSectorSize()).isEqualTo(sectorSize);
        }
        QemuTool.ok(dir, "qemu-img", "check", "-f", "vhdx", image.toString());
        byte[] expected = new byte[(int) size];
        randomWrites(image, expected, ~(options.hashCode() + size));
        QemuTool.ok(dir, "qemu-img", "check", "-f", "vhdx", image.toString());
        QemuTool.ok(dir, "qemu-img", "compare", "-f", "vhdx", "-F", "raw", image.toString(), writeRaw(expected).toString());
        assertMapsAgree(image);
        assertThat(check(image).problems()).isEmpty();
        // qemu's writes land where Spindle reads them
        QemuTool.io(dir, "vhdx", image, List.of("write -P 0x5a 1M 3M", "write -P 0x5b 20M 4096"));
        assertThat(spindleRead(image)).isEqualTo(qemuRaw(image));
    }

    @Test
    void differencingDisksReadThroughTheirParentAndKeepItUnchanged() throws Exception {
        long size = 48L << 20;
        Path base = dir.resolve("base.vhdx");
        byte[] model = new byte[(int) size];
        try (VirtualDisk disk = new VhdxFormat().create(FileBackend.open(base, AccessMode.CREATE_NEW),
                CreateOptions.ofCapacity(size).withParameters(Map.of("block_size", "1M")))) {
            byte[] data = new byte[6 << 20];
            new Random(1).nextBytes(data);
            disk.write(1L << 20, ByteBuffer.wrap(data));
            System.arraycopy(data, 0, model, 1 << 20, data.length);
        }
        byte[] baseBytes = Files.readAllBytes(base);
        Path top = dir.resolve("top.vhdx");
        try (VirtualDisk disk = opener().create(top.toUri(), "vhdx",
                CreateOptions.ofCapacity(size).withBacking(new BackingReference("base.vhdx", "vhdx"))).disk()) {
            assertThat(disk.capability(org.spindle.storage.api.Overlay.class)).isPresent();
            assertThat(disk.details()).containsEntry("subformat", "differencing");
        }
        assertThat(spindleRead(top)).as("a new differencing disk reads as its parent").isEqualTo(model);
        randomWrites(top, model, 99);
        assertThat(spindleRead(top)).isEqualTo(model);
        assertThat(Files.readAllBytes(base)).as("the parent is never written").isEqualTo(baseBytes);
        assertThat(check(top).problems()).isEmpty();
        assertThat(qemuRaw(base)).isEqualTo(spindleRead(base));
    }

    /** QEMU opens only 512-byte-sector VHDX files; 4096-byte ones round-trip through Spindle against a model. */
    @Test
    void fourKSectorImagesKeepWhatIsWritten() throws Exception {
        long size = 64L << 20;
        Path image = dir.resolve("4k.vhdx");
        try (VirtualDisk disk = new VhdxFormat().create(FileBackend.open(image, AccessMode.CREATE_NEW),
                CreateOptions.ofCapacity(size).withLogicalSectorSize(4096).withParameters(Map.of("block_size", "1M")))) {
            assertThat(disk.logicalSectorSize()).isEqualTo(4096);
            assertThat(disk.details()).containsEntry("logical_sector_size", 4096).containsEntry("physical_sector_size", 4096);
        }
        byte[] model = new byte[(int) size];
        randomWrites(image, model, 4096);
        assertThat(spindleRead(image)).isEqualTo(model);
        assertThat(check(image).problems()).isEmpty();
    }

    /**
     * QEMU 7.2's vhdx driver reports no allocation status (its map calls the whole disk data); then
     * Spindle's map must at least be true to the data: every range it calls zero reads as zeros in
     * QEMU. A QEMU that does report status must agree with Spindle extent for extent.
     */
    void assertMapsAgree(Path image) throws Exception {
        List<QemuTool.MapEntry> qemu = QemuTool.map(dir, "vhdx", image);
        List<QemuTool.MapEntry> spindle = spindleMap(image);
        if (qemu.size() > 1) {
            assertThat(spindle).isEqualTo(qemu);
            return;
        }
        byte[] raw = qemuRaw(image);
        for (QemuTool.MapEntry e : spindle) {
            if (!e.kind().equals("data")) {
                for (long i = e.start(); i < e.start() + e.length(); i++) {
                    if (raw[(int) i] != 0) {
                        throw new AssertionError("Spindle maps " + e + " as " + e.kind() + " but byte " + i + " is " + raw[(int) i]);
                    }
                }
            }
        }
    }

    // ---------------------------------------------------------------------------------------------

    CheckReport check(Path image) throws StorageException {
        try (StorageBackend b = FileBackend.open(image, AccessMode.READ_ONLY)) {
            return new VhdxFormat().check(b, false);
        }
    }

    Path writeRaw(byte[] bytes) throws IOException {
        Path raw = dir.resolve("model-" + System.nanoTime() + ".raw");
        Files.write(raw, bytes);
        return raw;
    }

    byte[] qemuRaw(Path image) throws IOException, InterruptedException {
        Path out = dir.resolve("expected-" + System.nanoTime() + ".raw");
        QemuTool.ok(dir, "qemu-img", "convert", "-f", "vhdx", "-O", "raw", image.toString(), out.toString());
        byte[] bytes = Files.readAllBytes(out);
        Files.delete(out);
        return bytes;
    }

    DiskOpener opener() {
        return new DiskOpener(ServiceLoaderRegistry.load(getClass().getClassLoader()));
    }

    byte[] spindleRead(Path image) throws StorageException {
        try (VirtualDisk disk = opener().open(image.toUri(), "vhdx", OpenOptions.defaults().withReadOnly(true)).disk()) {
            return QemuTool.readAll(disk);
        }
    }

    List<QemuTool.MapEntry> spindleMap(Path image) throws StorageException {
        try (VirtualDisk disk = opener().open(image.toUri(), "vhdx", OpenOptions.defaults().withReadOnly(true)).disk()) {
            return QemuTool.map(disk);
        }
    }

    void randomWrites(Path image, byte[] model, long seed) throws Exception {
        Random random = new Random(seed);
        try (VirtualDisk disk = opener().open(image.toUri(), "vhdx", OpenOptions.defaults()).disk()) {
            for (int i = 0; i < 60; i++) {
                long offset = random.nextBoolean() ? random.nextLong(model.length - 300_000)
                        : random.nextLong(model.length / 512 - 600) * 512;
                int length = 1 + random.nextInt(random.nextBoolean() ? 4096 : 300_000);
                if (random.nextInt(8) == 0) {
                    disk.flush();
                    continue;
                }
                byte[] data = new byte[length];
                if (random.nextInt(5) > 0) {
                    random.nextBytes(data);
                }
                disk.write(offset, ByteBuffer.wrap(data));
                System.arraycopy(data, 0, model, (int) offset, length);
            }
        }
    }
}
