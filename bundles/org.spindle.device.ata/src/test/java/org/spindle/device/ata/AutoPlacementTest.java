package org.spindle.device.ata;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

/** Where a port under io = auto runs its data phases, judged from how long they took. */
class AutoPlacementTest {
    private static final long QUICK = 3_000;
    private static final long SLOW = 2_000_000;
    private final AutoPlacement p = new AutoPlacement();

    private void onWorkers(int phases, int slow) {
        for (int i = 0; i < phases; i++) {
            p.ranOnWorker(i < slow);
        }
    }

    @Test
    void aPortStartsOnWorkersAndComesInlineAfterAWindowOfQuickPhases() {
        assertThat(p.onWorkers()).isTrue();
        onWorkers(AutoPlacement.FIRST_WINDOW - 1, 0);
        assertThat(p.onWorkers()).isTrue();
        p.ranOnWorker(false);
        assertThat(p.onWorkers()).isFalse();
    }

    @Test
    void oneSlowPhaseInEightStillCountsAsQuickOneMoreDoesNot() {
        onWorkers(AutoPlacement.FIRST_WINDOW, AutoPlacement.FIRST_WINDOW / 8);
        assertThat(p.onWorkers()).isFalse();
        p.reset();
        onWorkers(AutoPlacement.FIRST_WINDOW, AutoPlacement.FIRST_WINDOW / 8 + 1);
        assertThat(p.onWorkers()).as("judged again over the next window").isTrue();
        onWorkers(AutoPlacement.FIRST_WINDOW, 0);
        assertThat(p.onWorkers()).isFalse();
    }

    @Test
    void aRunOfSlowInlinePhasesSendsThePortBackAndDoublesTheWindow() {
        onWorkers(AutoPlacement.FIRST_WINDOW, 0);
        // Slow phases broken by a quick one: the host's scheduler, not the storage.
        for (int i = 0; i < 10; i++) {
            p.ranInline(SLOW, 4096);
            p.ranInline(SLOW, 4096);
            p.ranInline(QUICK, 4096);
        }
        assertThat(p.onWorkers()).isFalse();
        for (int i = 0; i < AutoPlacement.SLOW_TO_WORKERS; i++) {
            assertThat(p.onWorkers()).isFalse();
            p.ranInline(SLOW, 4096);
        }
        assertThat(p.onWorkers()).isTrue();
        assertThat(p.window()).isEqualTo(2 * AutoPlacement.FIRST_WINDOW);
        onWorkers(AutoPlacement.FIRST_WINDOW, 0);
        assertThat(p.onWorkers()).as("half of the doubled window").isTrue();
        onWorkers(AutoPlacement.FIRST_WINDOW, 0);
        assertThat(p.onWorkers()).isFalse();
    }

    @Test
    void oneVerySlowPhaseIsEnough() {
        onWorkers(AutoPlacement.FIRST_WINDOW, 0);
        p.ranInline(AutoPlacement.VERY_SLOW_NANOS + 1, 4096);
        assertThat(p.onWorkers()).isTrue();
    }

    @Test
    void theWindowStopsDoublingAtItsLongestAndANewDeviceStartsAfresh() {
        for (int i = 0; i < 20; i++) {
            onWorkers(p.window(), 0);
            assertThat(p.onWorkers()).isFalse();
            p.ranInline(AutoPlacement.VERY_SLOW_NANOS + 1, 0);
        }
        assertThat(p.window()).isEqualTo(AutoPlacement.LONGEST_WINDOW);
        p.reset();
        assertThat(p.onWorkers()).isTrue();
        assertThat(p.window()).isEqualTo(AutoPlacement.FIRST_WINDOW);
    }

    @Test
    void slowGrowsWithTheBytesMoved() {
        assertThat(AutoPlacement.slow(AutoPlacement.SLOW_NANOS + 1, 0)).isTrue();
        assertThat(AutoPlacement.slow(AutoPlacement.SLOW_NANOS + 1, 128 * 1024)).isFalse();
        assertThat(AutoPlacement.slow(AutoPlacement.SLOW_NANOS + 128 * 1024 + 1, 128 * 1024)).isTrue();
    }

    @Test
    void phasesDispatchedToWorkersBeforeThePortCameInlineDoNotCount() {
        onWorkers(AutoPlacement.FIRST_WINDOW, 0);
        onWorkers(100, 100);
        assertThat(p.onWorkers()).isFalse();
    }
}
