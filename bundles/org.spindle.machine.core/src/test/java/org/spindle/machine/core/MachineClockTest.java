package org.spindle.machine.core;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.ArrayList;
import java.util.List;

import org.junit.jupiter.api.Test;
import org.spindle.machine.api.VirtualClock;

/** Virtual time: steps fire due timers in deadline order at their own deadlines; nothing fires early or twice. */
class MachineClockTest {
    @Test
    void timersFireInDeadlineOrderAtTheirDeadlines() {
        MachineClock clock = new MachineClock();
        List<String> fired = new ArrayList<>();
        VirtualClock.Timer a = clock.timer("a", () -> fired.add("a@" + clock.nanos()));
        VirtualClock.Timer b = clock.timer("b", () -> fired.add("b@" + clock.nanos()));
        VirtualClock.Timer c = clock.timer("c", () -> fired.add("c@" + clock.nanos()));
        a.schedule(300);
        b.schedule(100);
        c.schedule(100);
        assertThat(clock.nextDeadline()).isEqualTo(100);
        assertThat(clock.step(99)).isZero();
        assertThat(fired).isEmpty();
        assertThat(clock.step(1)).isEqualTo(2);
        assertThat(fired).containsExactly("b@100", "c@100");
        assertThat(b.isScheduled()).isFalse();
        assertThat(clock.advanceTo(1000)).isEqualTo(1);
        assertThat(fired).containsExactly("b@100", "c@100", "a@300");
        assertThat(clock.nanos()).isEqualTo(1000);
    }

    @Test
    void aPeriodicTimerFiresEveryPeriodWithinOneStep() {
        MachineClock clock = new MachineClock();
        List<Long> ticks = new ArrayList<>();
        VirtualClock.Timer[] timer = new VirtualClock.Timer[1];
        timer[0] = clock.timer("tick", () -> {
            ticks.add(clock.nanos());
            timer[0].schedule(clock.nanos() + 250);
        });
        timer[0].schedule(250);
        clock.step(1000);
        assertThat(ticks).containsExactly(250L, 500L, 750L, 1000L);
        assertThat(clock.nextDeadline()).isEqualTo(1250);
    }

    @Test
    void rescheduledAndCancelledTimersDoNotFireAtTheirOldDeadline() {
        MachineClock clock = new MachineClock();
        List<String> fired = new ArrayList<>();
        VirtualClock.Timer t = clock.timer("t", () -> fired.add("t@" + clock.nanos()));
        t.schedule(100);
        t.schedule(500);
        clock.step(200);
        assertThat(fired).isEmpty();
        t.cancel();
        clock.step(1000);
        assertThat(fired).isEmpty();
        assertThat(clock.nextDeadline()).isEqualTo(-1);
        assertThatThrownBy(() -> clock.advanceTo(5)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("does not go back");
    }

    @Test
    void aBoundedAdvanceStopsAtTheLastTimerItFired() {
        MachineClock clock = new MachineClock();
        long[] ticks = new long[1];
        VirtualClock.Timer[] periodic = new VirtualClock.Timer[1];
        periodic[0] = clock.timer("periodic", () -> {
            ticks[0]++;
            periodic[0].schedule(clock.nanos() + 1000);
        });
        periodic[0].schedule(1000);
        assertThat(clock.advanceTo(1_000_000_000_000L, 5)).isEqualTo(5);
        assertThat(clock.nanos()).isEqualTo(5000);
        assertThat(ticks[0]).isEqualTo(5);
        assertThat(clock.advanceTo(10_500, 100)).isEqualTo(5);
        assertThat(clock.nanos()).isEqualTo(10_500);
    }
}
