package org.spindle.device.ata;

/**
 * Under {@link IoMode#AUTO}, where one device's disk data phases run (a controller keeps one per port
 * or per device); used on the machine thread only.
 *
 * <p>A device starts on workers: nothing is known yet about its storage, and the first read of a remote
 * image or a cold disk must not hold the machine. Once nearly all of a window of data phases there were
 * quick (at most one in eight slow, since the host's scheduler can hold up a worker too), the device runs
 * them inline, where a copy from the host's page cache costs no hand-over. A run of
 * {@link #SLOW_TO_WORKERS} slow phases inline, or a single one over {@link #VERY_SLOW_NANOS}, sends it
 * back to workers, and the window it must pass to come back again doubles (up to
 * {@link #LONGEST_WINDOW}), so storage that is quick only now and then (a partly cached remote image)
 * settles on workers instead of holding the machine at each turn.
 *
 * <p>A data phase is slow when it takes longer than {@link #SLOW_NANOS} plus a nanosecond per byte (1 GB/s):
 * a copy of 4 KiB from the page cache takes a microsecond or two, a read from a disk or across a
 * network 100 µs and more.
 */
public final class AutoPlacement {
    public AutoPlacement() {
    }

    public static final long SLOW_NANOS = 200_000;
    /** One inline data phase this slow sends the device to workers at once: the storage made it wait. */
    public static final long VERY_SLOW_NANOS = 10_000_000;
    /**
     * Slow inline data phases in a row that send a device to workers: one alone may be the host's
     * scheduler taking the machine thread away mid-copy; slow storage makes every one slow.
     */
    public static final int SLOW_TO_WORKERS = 4;
    /** The data phases on workers judged together the first time. */
    public static final int FIRST_WINDOW = 256;
    public static final int LONGEST_WINDOW = 1 << 16;

    private boolean onWorkers = true;
    private int window = FIRST_WINDOW;
    private int phases;
    private int slowPhases;
    private int slowInline;

    public boolean onWorkers() {
        return onWorkers;
    }

    /** The data phases on workers the device must pass now to come inline. */
    public int window() {
        return window;
    }

    /** Whether a data phase of {@code bytes} that took {@code nanos} waited for the storage. */
    public static boolean slow(long nanos, long bytes) {
        return nanos > SLOW_NANOS + bytes;
    }

    /** A data phase ran inline. */
    public void ranInline(long nanos, long bytes) {
        if (!slow(nanos, bytes)) {
            slowInline = 0;
        } else if (++slowInline >= SLOW_TO_WORKERS || nanos > VERY_SLOW_NANOS) {
            onWorkers = true;
            window = Math.min(window * 2, LONGEST_WINDOW);
            slowInline = 0;
            phases = 0;
            slowPhases = 0;
        }
    }

    /** A data phase ran on a worker; {@code slow} as {@link #slow(long, long)} judged it there. */
    public void ranOnWorker(boolean slow) {
        if (!onWorkers) {
            return; // dispatched before the device came inline: the window was already judged
        }
        if (slow) {
            slowPhases++;
        }
        if (++phases >= window) {
            onWorkers = slowPhases * 8 > phases;
            phases = 0;
            slowPhases = 0;
        }
    }

    /** Another device or medium here: nothing is known about its storage. */
    public void reset() {
        onWorkers = true;
        window = FIRST_WINDOW;
        phases = 0;
        slowPhases = 0;
        slowInline = 0;
    }
}
