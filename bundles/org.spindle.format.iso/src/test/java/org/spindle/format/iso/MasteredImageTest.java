package org.spindle.format.iso;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.File;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.TimeUnit;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.spindle.backend.file.FileBackend;
import org.spindle.storage.api.AccessMode;
import org.spindle.storage.api.DiskFormat;
import org.spindle.storage.api.OpenOptions;
import org.spindle.storage.api.VirtualDisk;

/**
 * An image made by a real mastering tool, so that the hand-built images of the other tests are not the
 * only evidence of what the descriptors look like. Skipped where neither genisoimage nor xorriso is
 * installed.
 */
class MasteredImageTest {
    private static final String MARKER = "spindle reads this file through the disk";

    @Test
    void aToolMadeBootableImageOpensWithItsVolumeName(@TempDir Path dir) throws Exception {
        List<String> tool = mastering();
        assumeTrue(tool != null, "neither genisoimage nor xorriso is on the PATH");
        Path tree = Files.createDirectories(dir.resolve("tree"));
        Files.writeString(tree.resolve("readme.txt"), MARKER, StandardCharsets.US_ASCII);
        Files.write(tree.resolve("boot.img"), new byte[4 * 2048]);
        Path image = dir.resolve("made.iso");
        List<String> command = new ArrayList<>(tool);
        command.addAll(List.of("-quiet", "-V", "SPINDLE_TEST", "-b", "boot.img", "-c", "boot.cat", "-no-emul-boot",
                "-boot-load-size", "4", "-o", image.toString(), tree.toString()));
        Process process = new ProcessBuilder(command).redirectErrorStream(true)
                .redirectOutput(dir.resolve("tool.log").toFile()).start();
        assertThat(process.waitFor(60, TimeUnit.SECONDS)).isTrue();
        assertThat(process.exitValue()).as(Files.readString(dir.resolve("tool.log"))).isZero();

        byte[] bytes = Files.readAllBytes(image);
        IsoFormat iso = new IsoFormat();
        assertThat(iso.probe(IsoFormatTest.probeInput("made", bytes.length, bytes))).isEqualTo(DiskFormat.PROBE_MAGIC);
        try (VirtualDisk disk = iso.open(FileBackend.open(image, AccessMode.READ_ONLY), OpenOptions.defaults())) {
            assertThat(disk.capacity()).isEqualTo(bytes.length);
            assertThat(disk.details()).containsEntry("volume-id", "SPINDLE_TEST").containsEntry("el-torito", true);
            assertThat((Long) disk.details().get("volume-sectors")).isPositive()
                    .isLessThanOrEqualTo(disk.sectorCount());
            ByteBuffer all = ByteBuffer.allocate(bytes.length);
            disk.read(0, all);
            assertThat(all.array()).isEqualTo(bytes);
            assertThat(new String(bytes, StandardCharsets.US_ASCII)).contains(MARKER);
        }
    }

    /** The command that takes mkisofs options, or {@code null} if no such tool is installed. */
    private static List<String> mastering() {
        if (onPath("genisoimage")) {
            return List.of("genisoimage");
        }
        if (onPath("xorriso")) {
            return List.of("xorriso", "-as", "mkisofs");
        }
        return null;
    }

    private static boolean onPath(String name) {
        String path = System.getenv("PATH");
        return path != null && Arrays.stream(path.split(File.pathSeparator))
                .anyMatch(d -> !d.isEmpty() && Files.isExecutable(Path.of(d, name)));
    }
}
