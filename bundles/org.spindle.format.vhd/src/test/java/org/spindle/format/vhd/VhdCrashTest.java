package org.spindle.format.vhd;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Path;
import java.util.Map;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.spindle.backend.file.FileBackend;
import org.spindle.storage.api.AccessMode;
import org.spindle.storage.api.CheckReport;
import org.spindle.storage.api.CreateOptions;
import org.spindle.storage.api.StorageBackend;
import org.spindle.storage.api.VirtualDisk;
import org.spindle.storage.core.crash.CrashHarness;

/**
 * A dynamic VHD under SIGKILL (the storage core's {@link CrashHarness}): after every kill the image
 * opens, {@code check} finds no corruption (orphaned blocks are leaks), and flushed data is intact.
 * VHD has no discard, so the harness's discards change nothing.
 */
class VhdCrashTest {
    private static final long CAPACITY = 4L << 20;

    @TempDir
    Path dir;

    @Test
    void aDynamicVhdSurvivesSigkill() throws Exception {
        Path image = dir.resolve("disk.vhd");
        try (VirtualDisk disk = new VhdFormat().create(FileBackend.open(image, AccessMode.CREATE_NEW),
                CreateOptions.ofCapacity(CAPACITY).withParameters(Map.of("block_size", "64K")))) {
            assertThat(disk.capacity()).isEqualTo(CAPACITY);
        }
        new CrashHarness(this::check).run(image, new byte[(int) CAPACITY], 65536, false, 21);
    }

    private CheckReport check(Path image) throws Exception {
        try (StorageBackend backend = FileBackend.open(image, AccessMode.READ_ONLY)) {
            return new VhdFormat().check(backend, false);
        }
    }
}
