package org.spindle.format.vhdx;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.ByteBuffer;
import java.util.Map;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.spindle.storage.api.CreateOptions;
import org.spindle.storage.api.OpenOptions;
import org.spindle.storage.api.VirtualDisk;
import org.spindle.storage.core.crash.CrashPoints;
import org.spindle.storage.core.crash.CutBackend;

/**
 * Every crash point of a VHDX's life ({@link CrashPoints}): after a kill the image is consistent
 * (its log replayed, in memory for reading and in place for check) and reads flushed data back; after
 * a power cut (any subset of the writes since the last flush) it reads flushed data back and
 * {@code check --repair} makes it consistent. Some of those crash points leave a log to replay: the
 * test proves they were visited.
 */
class VhdxCutTest {
    private static CreateOptions options(String blockSize) {
        return CreateOptions.ofCapacity(6L << 20).withParameters(Map.of("block_size", blockSize));
    }

    @ParameterizedTest
    @ValueSource(strings = {"1M", "2M"})
    void aKillBeforeAnyWriteLeavesAConsistentImage(String blockSize) throws Exception {
        CrashPoints points = CrashPoints.record(new VhdxFormat(), options(blockSize), 3, 5, false, 7);
        assertThat(points.crashPoints()).isGreaterThan(20);
        points.afterEveryKill();
    }

    @Test
    void aPowerCutBeforeAnyWriteLeavesARepairableImage() throws Exception {
        CrashPoints.record(new VhdxFormat(), options("1M"), 3, 4, false, 11).afterEveryPowerCut(8, 64, 3);
    }

    @Test
    void someCrashPointsLeaveALogThatReadingReplays() throws Exception {
        CutBackend backend = new CutBackend("log.vhdx");
        byte[] data = new byte[4096];
        java.util.Arrays.fill(data, (byte) 0x5c);
        int created;
        try (VirtualDisk disk = new VhdxFormat().create(backend, options("1M"))) {
            disk.flush();
            created = backend.writes();
            disk.write(3L << 20, ByteBuffer.wrap(data));
            disk.flush();
        }
        int replayed = 0;
        for (int k = created; k <= backend.writes(); k++) {
            byte[] image = backend.cutAfter(k);
            try (VirtualDisk disk = new VhdxFormat().open(new CutBackend("k" + k, image, true),
                    OpenOptions.defaults().withReadOnly(true))) {
                if (Boolean.TRUE.equals(disk.details().get("log_replayed"))) {
                    replayed++;
                    byte[] got = new byte[4096];
                    disk.read(3L << 20, ByteBuffer.wrap(got));
                    assertThat(got).as("the replayed BAT finds the block at crash point %d", k).isEqualTo(data);
                }
            }
        }
        assertThat(replayed).as("crash points with a log to replay").isPositive();
    }
}
