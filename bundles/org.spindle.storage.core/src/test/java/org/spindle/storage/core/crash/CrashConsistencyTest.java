package org.spindle.storage.core.crash;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.SplittableRandom;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.spindle.format.sparse.SparseFormat;
import org.spindle.storage.api.AccessMode;
import org.spindle.storage.api.BackingReference;
import org.spindle.storage.api.CheckReport;
import org.spindle.storage.api.CreateOptions;
import org.spindle.storage.api.StorageBackend;
import org.spindle.storage.core.DiskOpener;
import org.spindle.storage.core.ServiceLoaderRegistry;

/**
 * The {@link CrashHarness} on sparse images: a plain sparse image and a sparse overlay over a raw base.
 */
class CrashConsistencyTest {
    private static final long CAPACITY = 4L << 20;

    @TempDir
    Path dir;

    private final DiskOpener opener = new DiskOpener(ServiceLoaderRegistry.load(getClass().getClassLoader()));

    private final CrashHarness harness = new CrashHarness(this::check);

    private CheckReport check(Path image) throws Exception {
        try (StorageBackend backend = opener.openBackend(image.toUri(), AccessMode.READ_ONLY)) {
            return new SparseFormat().check(backend, false);
        }
    }

    @Test
    void aSparseImageSurvivesSigkill() throws Exception {
        Path image = dir.resolve("disk.sparse");
        opener.create(image.toUri(), "sparse", CreateOptions.ofCapacity(CAPACITY)
                .withParameters(Map.of(SparseFormat.BLOCK_SIZE, "64K"))).disk().close();
        harness.run(image, new byte[(int) CAPACITY], 64 * 1024, true, 1);
    }

    @Test
    void aSparseOverlaySurvivesSigkill() throws Exception {
        Path base = dir.resolve("base.img");
        byte[] content = new byte[(int) CAPACITY];
        new SplittableRandom(7).nextBytes(content);
        Files.write(base, content);
        Path image = dir.resolve("top.sparse");
        opener.create(image.toUri(), "sparse", CreateOptions.ofCapacity(CAPACITY)
                .withBacking(new BackingReference("base.img", "raw"))
                .withParameters(Map.of(SparseFormat.BLOCK_SIZE, "16K"))).disk().close();
        // a discard over a raw base (which has no allocation map) changes nothing
        harness.run(image, content, 16 * 1024, false, 2);
        assertThat(Files.readAllBytes(base)).as("the base is never written").isEqualTo(content);
    }
}
