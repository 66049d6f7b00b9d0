package org.spindle.format.vhdx;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.Map;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.spindle.backend.file.FileBackend;
import org.spindle.storage.api.AccessMode;
import org.spindle.storage.api.CheckReport;
import org.spindle.storage.api.CreateOptions;
import org.spindle.storage.api.OpenOptions;
import org.spindle.storage.api.StorageBackend;
import org.spindle.storage.api.VirtualDisk;
import org.spindle.storage.core.crash.CrashHarness;
import org.spindle.storage.core.support.QemuTool;

/**
 * A dynamic VHDX under SIGKILL (the storage core's {@link CrashHarness}): after every kill the image
 * opens (its log, if the kill left one, replayed), Spindle's check and {@code qemu-img check} find no
 * corruption (orphaned blocks are leaks), and flushed data is intact. QEMU replays a pending log only
 * when it may write, so it checks a copy with {@code -r leaks} then.
 */
class VhdxCrashTest {
    private static final long CAPACITY = 6L << 20;

    @TempDir
    Path dir;

    @Test
    void aDynamicVhdxSurvivesSigkill() throws Exception {
        Path image = dir.resolve("disk.vhdx");
        try (VirtualDisk disk = new VhdxFormat().create(FileBackend.open(image, AccessMode.CREATE_NEW),
                CreateOptions.ofCapacity(CAPACITY).withParameters(Map.of("block_size", "1M")))) {
            assertThat(disk.capacity()).isEqualTo(CAPACITY);
        }
        new CrashHarness(this::check).run(image, new byte[(int) CAPACITY], 65536, false, 31);
    }

    private CheckReport check(Path image) throws Exception {
        CheckReport report;
        try (StorageBackend backend = FileBackend.open(image, AccessMode.READ_ONLY)) {
            report = new VhdxFormat().check(backend, false);
        }
        if (Files.isExecutable(Path.of("/usr/bin/qemu-img"))) {
            boolean pendingLog;
            try (VirtualDisk disk = new VhdxFormat().open(FileBackend.open(image, AccessMode.READ_ONLY),
                    OpenOptions.defaults().withReadOnly(true))) {
                pendingLog = Boolean.TRUE.equals(disk.details().get("log_replayed"));
            }
            Path target = image;
            if (pendingLog) {
                target = dir.resolve("qemu-check.vhdx");
                Files.copy(image, target, StandardCopyOption.REPLACE_EXISTING);
            }
            QemuTool.Result r = pendingLog
                    ? QemuTool.run(dir, "qemu-img", "check", "-r", "leaks", "-f", "vhdx", target.toString())
                    : QemuTool.run(dir, "qemu-img", "check", "-f", "vhdx", target.toString());
            // 0: clean; 3: leaks only
            assertThat(r.exit()).as("qemu-img check said:\n" + r.out()).isIn(0, 3);
        }
        return report;
    }
}
