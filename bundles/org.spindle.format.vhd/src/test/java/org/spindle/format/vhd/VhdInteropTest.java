package org.spindle.format.vhd;

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
import org.spindle.storage.api.CheckReport;
import org.spindle.storage.api.CreateOptions;
import org.spindle.storage.api.Extent;
import org.spindle.storage.api.OpenOptions;
import org.spindle.storage.api.StorageBackend;
import org.spindle.storage.api.StorageException;
import org.spindle.storage.api.VirtualDisk;
import org.spindle.storage.core.DiskOpener;
import org.spindle.storage.core.ServiceLoaderRegistry;

/**
 * VHD against QEMU's {@code vpc} driver: images {@code qemu-img} made (fixed and dynamic, with and
 * without {@code force_size}, sizes a geometry describes and sizes it does not) and {@code qemu-io}
 * filled read as {@code qemu-img convert -O raw} reads them, are the size {@code qemu-img info} says,
 * and map alike; images Spindle made and wrote compare equal in {@code qemu-img compare} and have the
 * size {@code qemu-img} reads. Differencing disks (which QEMU does not open) are checked against a model.
 */
class VhdInteropTest {
    @TempDir
    Path dir;

    @BeforeAll
    static void tools() {
        QemuTool.assumeInstalled();
    }

    static Stream<String> qemuOptionSets() {
        return Stream.of("subformat=dynamic", "subformat=fixed", "subformat=dynamic,force_size=on",
                "subformat=fixed,force_size=on");
    }

    static Stream<Long> sizes() {
        // 64 MiB (17 sectors per track) and 300 MiB (63) are not whole geometries; 130968 sectors (963/8/17) are one
        return Stream.of(64L << 20, 300L << 20, 130_968L * 512);
    }

    static Stream<org.junit.jupiter.params.provider.Arguments> qemuCases() {
        return qemuOptionSets().flatMap(o -> sizes().map(s -> org.junit.jupiter.params.provider.Arguments.of(o, s)));
    }

    private static Map<String, String> parse(String options) {
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
        Path image = dir.resolve("qemu.vhd");
        QemuTool.ok(dir, "qemu-img", "create", "-q", "-f", "vpc", "-o", options, image.toString(), Long.toString(size));
        long qemuSize = qemuSize(image);
        List<String> fill = new ArrayList<>(List.of("write -P 0xa1 0 5000", "write -P 0xb2 3M 2M",
                "write -z 6M 1M", "write -P 0xc3 " + (qemuSize - 8192) + " 8192"));
        QemuTool.io(dir, "vpc", image, fill);
        byte[] expected = qemuRaw(image);
        try (VirtualDisk disk = open(image, true)) {
            assertThat(disk.capacity()).as("the size qemu-img reads").isEqualTo(qemuSize);
        }
        assertThat(spindleRead(image)).isEqualTo(expected);
        assertThat(spindleMap(image)).isEqualTo(QemuTool.map(dir, "vpc", image));
        randomWrites(image, expected, options.hashCode() + size);
        QemuTool.ok(dir, "qemu-img", "compare", "-f", "vpc", "-F", "raw", image.toString(), writeRaw(expected).toString());
        assertThat(check(image).clean()).isTrue();
    }

    @ParameterizedTest(name = "{0} {1}")
    @MethodSource("qemuCases")
    void imagesSpindleMadeReadTheSameInQemu(String options, long size) throws Exception {
        Path image = dir.resolve("spindle.vhd");
        try (VirtualDisk disk = new VhdFormat().create(FileBackend.open(image, AccessMode.CREATE_NEW),
                CreateOptions.ofCapacity(size).withParameters(parse(options)))) {
            assertThat(disk.capacity()).as("the size asked for").isEqualTo(size);
        }
        assertThat(qemuSize(image)).as("the size qemu-img reads").isEqualTo(size);
        byte[] expected = new byte[(int) Math.min(size, 1L << 30)];
        if (size > expected.length) {
            throw new AssertionError("test sizes stay below 1 GiB + 1");
        }
        randomWrites(image, expected, ~(options.hashCode() + size));
        QemuTool.ok(dir, "qemu-img", "compare", "-f", "vpc", "-F", "raw", image.toString(), writeRaw(expected).toString());
        assertThat(spindleMap(image)).isEqualTo(QemuTool.map(dir, "vpc", image));
        assertThat(check(image).clean()).isTrue();
        // qemu's writes land where Spindle reads them
        QemuTool.io(dir, "vpc", image, List.of("write -P 0x5a 1M 3M", "write -P 0x5b 40M 4096"));
        assertThat(spindleRead(image)).isEqualTo(qemuRaw(image));
    }

    @Test
    void differencingDisksReadThroughTheirParentAndKeepItUnchanged() throws Exception {
        long size = 48L << 20;
        Path base = dir.resolve("base.vhd");
        byte[] model = new byte[(int) size];
        try (VirtualDisk disk = new VhdFormat().create(FileBackend.open(base, AccessMode.CREATE_NEW),
                CreateOptions.ofCapacity(size).withParameters(Map.of("block_size", "1M")))) {
            byte[] data = new byte[6 << 20];
            new Random(1).nextBytes(data);
            disk.write(1L << 20, ByteBuffer.wrap(data));
            System.arraycopy(data, 0, model, 1 << 20, data.length);
        }
        byte[] baseBytes = Files.readAllBytes(base);
        Path top = dir.resolve("top.vhd");
        // through the opener, which lets the format read its parent's identity
        try (VirtualDisk disk = opener().create(top.toUri(), "vhd",
                CreateOptions.ofCapacity(size).withBacking(new BackingReference("base.vhd", "vhd"))).disk()) {
            assertThat(disk.capability(org.spindle.storage.api.Overlay.class)).isPresent();
            assertThat(disk.details()).containsEntry("subformat", "differencing");
        }
        assertThat(spindleRead(top)).as("a new differencing disk reads as its parent").isEqualTo(model);
        randomWrites(top, model, 99);
        assertThat(spindleRead(top)).isEqualTo(model);
        assertThat(Files.readAllBytes(base)).as("the parent is never written").isEqualTo(baseBytes);
        assertThat(check(top).clean()).isTrue();
        // qemu reads the parent as it is
        assertThat(qemuRaw(base)).isEqualTo(spindleRead(base));
    }

    // ---------------------------------------------------------------------------------------------

    private long qemuSize(Path image) throws IOException, InterruptedException {
        String info = QemuTool.ok(dir, "qemu-img", "info", "-f", "vpc", "--output=json", image.toString());
        java.util.regex.Matcher m = java.util.regex.Pattern.compile("\"virtual-size\":\\s*(\\d+)").matcher(info);
        assertThat(m.find()).isTrue();
        return Long.parseLong(m.group(1));
    }

    private VirtualDisk open(Path image, boolean readOnly) throws StorageException {
        return new VhdFormat().open(FileBackend.open(image, readOnly ? AccessMode.READ_ONLY : AccessMode.READ_WRITE),
                OpenOptions.defaults().withReadOnly(readOnly));
    }

    private CheckReport check(Path image) throws StorageException {
        try (StorageBackend b = FileBackend.open(image, AccessMode.READ_ONLY)) {
            return new VhdFormat().check(b, false);
        }
    }

    private Path writeRaw(byte[] bytes) throws IOException {
        Path raw = dir.resolve("model-" + System.nanoTime() + ".raw");
        Files.write(raw, bytes);
        return raw;
    }

    private byte[] qemuRaw(Path image) throws IOException, InterruptedException {
        Path out = dir.resolve("expected-" + System.nanoTime() + ".raw");
        QemuTool.ok(dir, "qemu-img", "convert", "-f", "vpc", "-O", "raw", image.toString(), out.toString());
        byte[] bytes = Files.readAllBytes(out);
        Files.delete(out);
        return bytes;
    }

    private DiskOpener opener() {
        return new DiskOpener(ServiceLoaderRegistry.load(getClass().getClassLoader()));
    }

    private byte[] spindleRead(Path image) throws StorageException {
        try (VirtualDisk disk = opener().open(image.toUri(), "vhd", OpenOptions.defaults().withReadOnly(true)).disk()) {
            return QemuTool.readAll(disk);
        }
    }

    private List<QemuTool.MapEntry> spindleMap(Path image) throws StorageException {
        try (VirtualDisk disk = open(image, true)) {
            return QemuTool.map(disk);
        }
    }

    private void randomWrites(Path image, byte[] model, long seed) throws Exception {
        Random random = new Random(seed);
        try (VirtualDisk disk = opener().open(image.toUri(), "vhd", OpenOptions.defaults()).disk()) {
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
