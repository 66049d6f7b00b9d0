package org.spindle.it;

import static org.junit.Assert.assertArrayEquals;
import static org.junit.Assert.assertEquals;
import static org.ops4j.pax.exam.CoreOptions.options;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Map;
import java.util.concurrent.TimeUnit;

import org.junit.Assume;
import org.junit.Test;
import org.junit.runner.RunWith;
import org.ops4j.pax.exam.Configuration;
import org.ops4j.pax.exam.Option;
import org.ops4j.pax.exam.junit.PaxExam;
import org.ops4j.pax.exam.spi.reactors.ExamReactorStrategy;
import org.ops4j.pax.exam.spi.reactors.PerMethod;
import org.spindle.storage.api.Drive;

/**
 * The image format bundles as drives in the runtime: qcow2 (over a raw backing file), VHD and VMDK
 * images made by {@code qemu-img} are probed, attached and read; the qcow2 drive takes writes that
 * {@code qemu-img check} then finds consistent. Skipped where QEMU's tools are not installed.
 */
@RunWith(PaxExam.class)
@ExamReactorStrategy(PerMethod.class)
public class ImageFormatsIT extends SpindleTestSupport {

    @Configuration
    public Option[] config() {
        return options(spindleBundles());
    }

    private static String qemu(Path dir, String... command) throws Exception {
        // a drive's image is closed (and its file lock released) just after its service goes: QEMU's
        // tools meet the lock for that moment, and are asked again
        long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (true) {
            Process p = new ProcessBuilder(command).directory(dir.toFile()).redirectErrorStream(true).start();
            String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            p.waitFor(60, TimeUnit.SECONDS);
            if (p.exitValue() != 0 && out.contains("Failed to lock") && System.nanoTime() < end) {
                Thread.sleep(100);
                continue;
            }
            assertEquals(String.join(" ", command) + " said: " + out, 0, p.exitValue());
            return out;
        }
    }

    @Test
    public void qcow2VhdVhdxAndVmdkImagesAttachAsDrives() throws Exception {
        Assume.assumeTrue("qemu-img is not installed", Files.isExecutable(Path.of("/usr/bin/qemu-img")));
        Path raw = tempImage("base.raw", 4 << 20);
        Path dir = raw.getParent();
        byte[] pattern = new byte[4 << 20];
        Arrays.fill(pattern, (byte) 0x3C);
        Files.write(raw, pattern);
        qemu(dir, "qemu-img", "create", "-q", "-f", "qcow2", "-b", "base.raw", "-F", "raw", "top.qcow2");
        qemu(dir, "qemu-img", "convert", "-f", "raw", "-O", "vpc", "base.raw", "disk.vhd");
        qemu(dir, "qemu-img", "convert", "-f", "raw", "-O", "vhdx", "base.raw", "disk.vhdx");
        qemu(dir, "qemu-img", "convert", "-f", "raw", "-O", "vmdk", "-o", "subformat=streamOptimized", "base.raw", "disk.vmdk");

        Map<String, String> formats = Map.of("q0", "top.qcow2", "v0", "disk.vhd", "x0", "disk.vhdx", "k0", "disk.vmdk");
        Map<String, org.osgi.service.cm.Configuration> configs = new java.util.HashMap<>();
        for (Map.Entry<String, String> e : formats.entrySet()) {
            // the imported VMDK is read-only
            Map<String, Object> props = e.getKey().equals("k0")
                    ? Map.of("backend", dir.resolve(e.getValue()).toString(), "readOnly", true)
                    : Map.of("backend", dir.resolve(e.getValue()).toString());
            configs.put(e.getKey(), configureDrive(e.getKey(), props));
        }
        for (Map.Entry<String, String> e : formats.entrySet()) {
            Drive drive = awaitDrive(e.getKey());
            ByteBuffer head = ByteBuffer.allocate(4096);
            drive.read(1 << 20, head);
            byte[] expected = new byte[4096];
            Arrays.fill(expected, (byte) 0x3C);
            assertArrayEquals(e.getValue() + " reads its data", expected, head.array());
        }
        assertEquals("qcow2", awaitDrive("q0").formatName());
        assertEquals("vhd", awaitDrive("v0").formatName());
        assertEquals("vhdx", awaitDrive("x0").formatName());
        assertEquals("vmdk", awaitDrive("k0").formatName());

        // a VHDX drive's writes go through its log; QEMU accepts the file once the drive is gone
        Drive x0 = awaitDrive("x0");
        x0.write(3 << 20, ByteBuffer.wrap(new byte[] {5, 6, 7, 8}));
        x0.flush();
        configs.get("x0").delete();
        awaitGone("x0");
        qemu(dir, "qemu-img", "check", "-f", "vhdx", "disk.vhdx");
        String written = qemu(dir, "qemu-io", "-f", "vhdx", "-r", "-c", "read -P 5 " + (3 << 20) + " 1", "disk.vhdx");
        assertEquals(written, false, written.contains("Pattern verification failed"));

        Drive q0 = awaitDrive("q0");
        q0.write(8192, ByteBuffer.wrap(new byte[] {1, 2, 3, 4}));
        q0.flush();
        configs.get("q0").delete();
        awaitGone("q0");
        String check = qemu(dir, "qemu-img", "check", "top.qcow2");
        assertEquals(true, check.contains("No errors were found"));
        assertArrayEquals("the backing file is untouched", pattern, Files.readAllBytes(raw));
    }

    /** A chunked image (a manifest read with Jackson, chunks checked by SHA-256) attached read-only. */
    @Test
    public void aChunkedImageAttachesAndADamagedChunkIsAnErrorNotData() throws Exception {
        Path dir = Files.createTempDirectory("spindle-it-chunked");
        Files.createDirectories(dir.resolve("chunks"));
        int chunk = 256 * 1024;
        byte[] disk = new byte[4 * chunk];
        java.util.List<String> hashes = new java.util.ArrayList<>();
        for (int i = 0; i < 4; i++) {
            Arrays.fill(disk, i * chunk, (i + 1) * chunk, (byte) (0x10 + i));
            byte[] part = Arrays.copyOfRange(disk, i * chunk, (i + 1) * chunk);
            hashes.add(java.util.HexFormat.of().formatHex(java.security.MessageDigest.getInstance("SHA-256").digest(part)));
            Files.write(dir.resolve(String.format("chunks/%08d.bin", i)), part);
        }
        Files.write(dir.resolve("manifest.json"), new org.spindle.format.chunked.ChunkedManifest("it", "v1",
                "application/octet-stream", disk.length, chunk, 8, hashes).toJson());
        byte[] damaged = Files.readAllBytes(dir.resolve("chunks/00000003.bin"));
        damaged[0] ^= 1;
        Files.write(dir.resolve("chunks/00000003.bin"), damaged);

        configureDrive("c0", Map.of("backend", dir.resolve("manifest.json").toString(), "readOnly", true));
        Drive c0 = awaitDrive("c0");
        assertEquals("chunked", c0.formatName());
        ByteBuffer two = ByteBuffer.allocate(chunk);
        c0.read(2L * chunk, two);
        assertArrayEquals(Arrays.copyOfRange(disk, 2 * chunk, 3 * chunk), two.array());
        try {
            c0.read(3L * chunk, ByteBuffer.allocate(512));
            org.junit.Assert.fail("a chunk whose SHA-256 differs from the manifest's was read");
        } catch (org.spindle.storage.api.StorageException e) {
            assertEquals(org.spindle.storage.api.StorageException.Kind.CORRUPT_IMAGE, e.kind());
        }
        // the drive's description carries the chunk traffic: one chunk read whole, one refused
        org.spindle.storage.api.TransferStatsDTO[] transfers = c0.info().transfers;
        assertEquals(1, transfers.length);
        assertEquals("whole-object", transfers[0].transport);
        assertEquals(chunk + 512, transfers[0].bytesRead);
        assertEquals(chunk, transfers[0].bytesFetched);
        assertEquals(1, transfers[0].failures);
    }
}
