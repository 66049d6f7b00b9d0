package org.spindle.format.vhd;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.Arrays;
import java.util.Map;

import org.junit.jupiter.api.Test;
import org.spindle.storage.api.CreateOptions;
import org.spindle.storage.core.crash.CrashPoints;
import org.spindle.storage.core.crash.CutBackend;

/**
 * Every crash point of a dynamic VHD's life ({@link CrashPoints}): after a kill the image is
 * consistent and reads flushed data back; after a power cut it reads flushed data back and
 * {@code check --repair} makes it consistent. And a kill never leaves a file without a footer at its
 * end, which tools that read only the end (not the copy at the start) need.
 */
class VhdCutTest {
    private static final CreateOptions OPTIONS = CreateOptions.ofCapacity(1 << 20)
            .withParameters(Map.of("block_size", "64K"));

    @Test
    void aKillBeforeAnyWriteLeavesAConsistentImage() throws Exception {
        CrashPoints points = CrashPoints.record(new VhdFormat(), OPTIONS, 2, 4, false, 7);
        assertThat(points.crashPoints()).isGreaterThan(10);
        points.afterEveryKill();
    }

    @Test
    void aKillNeverLeavesTheFileWithoutAFooterAtItsEnd() throws Exception {
        CutBackend backend = new CutBackend("footer.vhd");
        try (var disk = new VhdFormat().create(backend, OPTIONS)) {
            disk.flush();
            int from = backend.writes();
            disk.write(300 << 10, java.nio.ByteBuffer.allocate(4096));
            disk.flush();
            for (int k = from; k <= backend.writes(); k++) {
                byte[] image = backend.cutAfter(k);
                VhdFooter.parse(Arrays.copyOfRange(image, image.length - VhdFooter.SIZE, image.length));
            }
        }
    }

    @Test
    void aPowerCutBeforeAnyWriteLeavesARepairableImage() throws Exception {
        CrashPoints.record(new VhdFormat(), OPTIONS, 2, 4, false, 11).afterEveryPowerCut(8, 128, 3);
    }
}
