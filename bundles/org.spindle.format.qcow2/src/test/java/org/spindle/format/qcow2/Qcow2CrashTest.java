package org.spindle.format.qcow2;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.SplittableRandom;

import org.spindle.storage.core.support.QemuTool;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.spindle.backend.file.FileBackend;
import org.spindle.storage.api.AccessMode;
import org.spindle.storage.api.BackingReference;
import org.spindle.storage.api.CheckReport;
import org.spindle.storage.api.CreateOptions;
import org.spindle.storage.api.OpenOptions;
import org.spindle.storage.api.StorageBackend;
import org.spindle.storage.api.VirtualDisk;
import org.spindle.storage.core.crash.CrashHarness;

/**
 * qcow2 under SIGKILL (the storage core's {@link CrashHarness}): after every kill the image passes
 * Spindle's check and {@code qemu-img check} without corruption (leaks are what the specification
 * allows a crash to leave), and flushed data is intact. With lazy refcounts the image is left dirty;
 * opening it writable rebuilds the refcounts, and then both checks must pass.
 */
class Qcow2CrashTest {
    private static final long CAPACITY = 4L << 20;

    @TempDir
    Path dir;

    private CheckReport check(Path image, boolean repairFirst) throws Exception {
        if (repairFirst) {
            new Qcow2Format().open(FileBackend.open(image, AccessMode.READ_WRITE), OpenOptions.defaults()).close();
        }
        CheckReport report;
        try (StorageBackend backend = FileBackend.open(image, AccessMode.READ_ONLY)) {
            report = new Qcow2Format().check(backend, false);
        }
        if (Files.isExecutable(Path.of("/usr/bin/qemu-img"))) {
            QemuTool.Result r = QemuTool.run(dir, "qemu-img", "check", "-f", "qcow2", image.toString());
            // 0: clean; 3: leaked clusters only. Anything else is corruption or an unreadable image.
            assertThat(r.exit()).as("qemu-img check said:\n" + r.out()).isIn(0, 3);
        }
        return report;
    }

    private void create(Path image, Map<String, String> options, BackingReference backing) throws Exception {
        try (VirtualDisk disk = new Qcow2Format().create(FileBackend.open(image, AccessMode.CREATE_NEW),
                CreateOptions.ofCapacity(CAPACITY).withParameters(options).withBacking(backing))) {
            assertThat(disk.capacity()).isEqualTo(CAPACITY);
        }
    }

    @Test
    void aQcow2ImageSurvivesSigkill() throws Exception {
        Path image = dir.resolve("disk.qcow2");
        create(image, Map.of("cluster_size", "4096", "refcount_bits", "4"), null);
        new CrashHarness(p -> check(p, false)).run(image, new byte[(int) CAPACITY], 4096, true, 11);
    }

    @Test
    void aQcow2ImageWithLazyRefcountsAndSubclustersSurvivesSigkill() throws Exception {
        Path image = dir.resolve("lazy.qcow2");
        create(image, Map.of("cluster_size", "16384", "lazy_refcounts", "on", "extended_l2", "on"), null);
        // discard frees whole subclusters (512 bytes here)
        new CrashHarness(p -> check(p, true)).run(image, new byte[(int) CAPACITY], 512, true, 12);
    }

    @Test
    void aQcow2OverlaySurvivesSigkill() throws Exception {
        Path base = dir.resolve("base.img");
        byte[] content = new byte[(int) CAPACITY];
        new SplittableRandom(7).nextBytes(content);
        Files.write(base, content);
        Path image = dir.resolve("top.qcow2");
        create(image, Map.of("cluster_size", "8192"), new BackingReference("base.img", "raw"));
        new CrashHarness(p -> check(p, false)).run(image, content, 8192, false, 13);
        assertThat(Files.readAllBytes(base)).as("the base is never written").isEqualTo(content);
    }
}
