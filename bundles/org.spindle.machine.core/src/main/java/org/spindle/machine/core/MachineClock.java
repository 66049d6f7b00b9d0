package org.spindle.machine.core;

import java.util.Comparator;
import java.util.PriorityQueue;

import org.spindle.machine.api.VirtualClock;

/**
 * The machine's {@link VirtualClock}: virtual nanoseconds that advance only through {@link #advanceTo}
 * (the machine loop moves it with the host clock while the machine runs; a qtest client steps it with
 * {@code clock_step} and {@code clock_set}). Timers due by the new time fire in deadline order (ties in
 * the order they were scheduled), each with the clock standing at its own deadline, so a timer that
 * reschedules itself inside the step fires again within it. Machine thread only.
 */
public final class MachineClock implements VirtualClock {
    private long now;
    private long sequence;
    private final PriorityQueue<TimerImpl> queue = new PriorityQueue<>(
            Comparator.comparingLong((TimerImpl t) -> t.deadline).thenComparingLong(t -> t.order));

    @Override
    public long nanos() {
        return now;
    }

    @Override
    public Timer timer(String name, Runnable action) {
        return new TimerImpl(name, action);
    }

    /** The deadline of the next timer, or -1 when none is scheduled. */
    public long nextDeadline() {
        TimerImpl t = queue.peek();
        return t == null ? -1 : t.deadline;
    }

    /**
     * Moves the clock to {@code target} (never backwards), firing every timer due by then.
     *
     * @return the number of timers that fired
     */
    public int advanceTo(long target) {
        return advanceTo(target, Integer.MAX_VALUE);
    }

    /**
     * Moves the clock towards {@code target}, firing at most {@code maxTimers} timers: a periodic timer
     * of a guest's device must not hold the machine for ever in one huge step. When the budget runs
     * out with timers still due, the clock stops at the deadline of the last one fired ({@link #nanos()}
     * tells where).
     *
     * @return the number of timers that fired
     */
    public int advanceTo(long target, int maxTimers) {
        if (target < now) {
            throw new IllegalArgumentException("the clock stands at " + now + " ns; it does not go back to " + target);
        }
        int fired = 0;
        while (!queue.isEmpty() && queue.peek().deadline <= target) {
            if (fired == maxTimers) {
                return fired;
            }
            TimerImpl t = queue.poll();
            t.scheduled = false;
            now = Math.max(now, t.deadline);
            fired++;
            t.action.run();
        }
        now = target;
        return fired;
    }

    /** Moves the clock on by {@code nanos}. */
    public int step(long nanos) {
        if (nanos < 0) {
            throw new IllegalArgumentException("a step of " + nanos + " ns");
        }
        return advanceTo(Math.addExact(now, nanos));
    }

    private final class TimerImpl implements Timer {
        private final String name;
        private final Runnable action;
        private long deadline;
        private long order;
        private boolean scheduled;

        TimerImpl(String name, Runnable action) {
            this.name = name;
            this.action = action;
        }

        @Override
        public void schedule(long deadlineNanos) {
            if (scheduled) {
                queue.remove(this);
            }
            deadline = deadlineNanos;
            order = sequence++;
            scheduled = true;
            queue.add(this);
        }

        @Override
        public void cancel() {
            if (scheduled) {
                queue.remove(this);
                scheduled = false;
            }
        }

        @Override
        public boolean isScheduled() {
            return scheduled;
        }

        @Override
        public String toString() {
            return "timer " + name + (scheduled ? " at " + deadline + " ns" : " (idle)");
        }
    }
}
