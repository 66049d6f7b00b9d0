package org.spindle.machine.api;

import org.osgi.annotation.versioning.ProviderType;

/**
 * The machine's time: nanoseconds since the machine started, advancing with the host clock while the
 * machine runs, or only when a test steps it ({@code clock_step} in the qtest protocol). Timers fire
 * on the machine thread when the clock passes their deadline.
 */
@ProviderType
public interface VirtualClock {
    /** Nanoseconds of virtual time since the machine started. */
    long nanos();

    /** A new timer that runs {@code action} when it fires; it is not scheduled yet. */
    Timer timer(String name, Runnable action);

    /** A one-shot timer, scheduled again by its action when it should repeat. */
    @ProviderType
    interface Timer {
        /** Schedules (or reschedules) the timer to fire when the clock reaches {@code deadlineNanos}. */
        void schedule(long deadlineNanos);

        void cancel();

        boolean isScheduled();
    }
}
