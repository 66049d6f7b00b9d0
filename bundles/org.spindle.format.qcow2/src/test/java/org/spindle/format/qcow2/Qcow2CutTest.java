package org.spindle.format.qcow2;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.Map;

import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.spindle.storage.api.CreateOptions;
import org.spindle.storage.core.crash.CrashPoints;

/**
 * Every crash point of a qcow2 image's life ({@link CrashPoints}), for plain, subcluster and
 * lazy-refcount images, with writes and zeroing: after a kill the image is consistent (leaks
 * allowed) and reads flushed data back; after a power cut it reads flushed data back and
 * {@code check --repair} makes it consistent.
 */
class Qcow2CutTest {
    private static CreateOptions options(String parameters) {
        Map<String, String> map = new java.util.HashMap<>();
        map.put("cluster_size", "4096");
        for (String p : parameters.split(",")) {
            if (!p.isBlank()) {
                String[] kv = p.split("=");
                map.put(kv[0], kv[1]);
            }
        }
        return CreateOptions.ofCapacity(512 << 10).withParameters(map);
    }

    @ParameterizedTest
    @ValueSource(strings = {"", "extended_l2=on,cluster_size=65536", "refcount_bits=1"})
    void aKillBeforeAnyWriteLeavesAConsistentImage(String parameters) throws Exception {
        CrashPoints points = CrashPoints.record(new Qcow2Format(), options(parameters), 3, 6, true, 5);
        assertThat(points.crashPoints()).isGreaterThan(10);
        points.afterEveryKill();
    }

    /** Lazy refcounts let refcounts lag behind a kill on purpose; opening the dirty image writable repairs them. */
    @ParameterizedTest
    @ValueSource(strings = {"lazy_refcounts=on", "lazy_refcounts=on,extended_l2=on,cluster_size=65536"})
    void aKillWithLazyRefcountsLeavesAnImageThatRepairsOnOpen(String parameters) throws Exception {
        CrashPoints points = CrashPoints.record(new Qcow2Format(), options(parameters), 3, 6, true, 5);
        points.afterEveryKillOnceOpenedWritable();
    }

    @ParameterizedTest
    @ValueSource(strings = {"", "extended_l2=on,cluster_size=65536"})
    void aPowerCutBeforeAnyWriteLeavesARepairableImage(String parameters) throws Exception {
        CrashPoints.record(new Qcow2Format(), options(parameters), 3, 6, true, 9).afterEveryPowerCut(8, 64, 3);
    }
}
