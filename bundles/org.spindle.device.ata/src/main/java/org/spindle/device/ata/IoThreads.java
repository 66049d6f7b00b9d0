package org.spindle.device.ata;

import java.util.Objects;
import java.util.concurrent.ConcurrentLinkedDeque;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.Executor;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.locks.LockSupport;
import java.util.function.Consumer;

/**
 * The threads a controller moves its disks' data on, off the machine thread: a task queued here runs
 * on one of up to {@code max} platform threads, started as they are needed and ended after they have
 * been idle for a while.
 *
 * <p>The hand-over is cheap when the data comes quickly. A thread that runs out of work looks at the
 * queue for a short while before it parks, so a guest with a steady stream of commands hands each one
 * to a thread already awake, and at most one thread does that at a time. A task queued while a thread
 * is busy with another waits for it rather than waking a second thread: with data in the page cache
 * the busy thread is back within microseconds, and a second thread would only compete for the CPU
 * with the guest. When the storage makes threads wait instead (a remote image, a disk seeking), a
 * watcher thread notices tasks that have been queued for {@link #STALL_NANOS} and wakes a thread for
 * each, up to {@code max}, so a full queue of commands is in flight at once.
 *
 * <p>Platform threads, not virtual ones: a read copied from a memory-mapped image can fault and wait
 * for the disk, which would hold a virtual thread's carrier; and a blocking read on a virtual thread
 * pays for a compensating carrier each time.
 *
 * <p>{@link #close()} lets the tasks already queued run, then ends the threads; tasks queued after it
 * are refused. A thread's interrupt status is cleared after each task, so one task's interrupt never
 * reaches the next (a file channel would close under it).
 *
 * @since 1.4
 */
public final class IoThreads implements Executor, AutoCloseable {
    /** How long a thread without work looks at the queue before it parks. */
    static final long SPIN_NANOS = TimeUnit.MICROSECONDS.toNanos(50);
    /** How long a queued task waits behind busy threads before the watcher wakes more threads. */
    static final long STALL_NANOS = TimeUnit.MILLISECONDS.toNanos(1);
    /** Watcher ticks with nothing queued or running before the watcher thread ends (a new one starts when needed). */
    private static final int WATCH_IDLE_TICKS = 50;

    /** A queued task; compared by identity, so a task refused at close is taken back exactly. */
    private static final class Queued {
        final Runnable task;
        final long since;

        Queued(Runnable task, long since) {
            this.task = task;
            this.since = since;
        }
    }

    private final String name;
    private final int max;
    private final long keepAliveNanos;
    private final long stallNanos;
    private final Consumer<Throwable> failures;
    private final ConcurrentLinkedQueue<Queued> queue = new ConcurrentLinkedQueue<>();
    /** Parked threads, the most recently parked first (its cache is the warmest). */
    private final ConcurrentLinkedDeque<Worker> idle = new ConcurrentLinkedDeque<>();
    /** Threads awake and about to look at the queue: spinning, or woken and not yet there. */
    private final AtomicInteger searching = new AtomicInteger();
    /** Threads running a task. */
    private final AtomicInteger busy = new AtomicInteger();
    private final AtomicInteger threads = new AtomicInteger();
    private final AtomicInteger started = new AtomicInteger();
    private volatile boolean closed;
    /** Whether a watcher thread runs (work is queued or running); guarded by this for changes. */
    private volatile boolean watching;

    /**
     * @param name      the threads' name prefix
     * @param max       the most threads at once (tasks in flight at once)
     * @param keepAlive how long a thread stays parked without work before it ends
     * @param failures  told of a task that threw (the thread goes on with the next one)
     */
    public IoThreads(String name, int max, long keepAlive, TimeUnit unit, Consumer<Throwable> failures) {
        this(name, max, unit.toNanos(keepAlive), STALL_NANOS, failures);
    }

    /** Up to {@code max} threads named {@code name-N}, ending after ten seconds idle. */
    public IoThreads(String name, int max, Consumer<Throwable> failures) {
        this(name, max, 10, TimeUnit.SECONDS, failures);
    }

    /** With the watcher's stall time too (tests). */
    IoThreads(String name, int max, long keepAliveNanos, long stallNanos, Consumer<Throwable> failures) {
        if (max < 1) {
            throw new IllegalArgumentException("I/O threads: at least one, not " + max);
        }
        this.name = Objects.requireNonNull(name);
        this.max = max;
        this.keepAliveNanos = keepAliveNanos;
        this.stallNanos = stallNanos;
        this.failures = Objects.requireNonNull(failures);
    }

    /**
     * Queues {@code task} to run on one of the threads.
     *
     * @throws RejectedExecutionException after {@link #close()}
     */
    @Override
    public void execute(Runnable task) {
        Objects.requireNonNull(task);
        if (closed) {
            throw rejected();
        }
        Queued q = new Queued(task, System.nanoTime());
        queue.offer(q);
        // Closed meanwhile: the threads may have ended already. Take the task back if it is still
        // there; if a thread took it, it runs.
        if (closed && queue.remove(q)) {
            throw rejected();
        }
        wake();
    }

    private RejectedExecutionException rejected() {
        return new RejectedExecutionException(name + ": the I/O threads are closed");
    }

    /** Threads running now (busy or idle). */
    public int threads() {
        return threads.get();
    }

    /** Queued tasks that no thread has taken yet. */
    public int queued() {
        return queue.size();
    }

    /** Threads searching, busy, and parked (tests: at rest, nothing searches or runs, and every thread is parked). */
    int[] counts() {
        return new int[] {searching.get(), busy.get(), idle.size()};
    }

    /** Lets the queued tasks run and ends the threads once the queue is empty; refuses new tasks. */
    @Override
    public void close() {
        closed = true;
        Worker w;
        while ((w = idle.pollFirst()) != null) {
            searching.incrementAndGet();
            w.signal();
        }
        // A watcher thread sees closed at its next tick (at most the stall time).
    }

    /**
     * Makes sure some thread will take the task just queued: one searching already will, and so will
     * a busy one when its task ends (the watcher runs in case they all wait on the storage);
     * otherwise an idle thread is woken or a new one started.
     */
    private void wake() {
        while (searching.get() == 0) {
            if (busy.get() > 0) {
                watch();
                return;
            }
            if (claim()) {
                return;
            }
            // No thread could be started: one was just ending (after its keep-alive, or at close).
            // Try again while there is room.
            if (queue.isEmpty() || threads.get() >= max) {
                return;
            }
        }
    }

    /** One more thread looking at the queue, counted as searching: an idle one woken or a new one. */
    private boolean claim() {
        searching.incrementAndGet();
        Worker w = idle.pollFirst();
        if (w != null) {
            w.signal();
            return true;
        }
        if (start()) {
            return true;
        }
        searching.decrementAndGet();
        return false;
    }

    private boolean start() {
        int n;
        do {
            n = threads.get();
            if (n >= max) {
                return false;
            }
        } while (!threads.compareAndSet(n, n + 1));
        Worker w = new Worker();
        try {
            Thread t = Thread.ofPlatform().daemon().name(name + "-" + started.incrementAndGet()).unstarted(w::run);
            w.thread = t;
            t.start();
            return true;
        } catch (OutOfMemoryError | RuntimeException e) {
            // The host would not give a thread (a limit on threads): the ones running take the work.
            threads.decrementAndGet();
            report(e);
            return false;
        }
    }

    /** Starts the watcher thread unless it runs. */
    private void watch() {
        if (watching || closed) {
            return;
        }
        synchronized (this) {
            if (watching) {
                return;
            }
            try {
                Thread.ofPlatform().daemon().name(name + "-watcher").start(this::watcherLoop);
                watching = true;
            } catch (OutOfMemoryError | RuntimeException e) {
                report(e); // no watcher: commands behind a thread that waits on the storage wait for it
            }
        }
    }

    /**
     * The watcher: every stall time it looks at the oldest queued task, and when that has waited a
     * stall time with no thread searching (the busy ones wait on the storage), it wakes a thread for
     * each queued task, as many as {@code max} allows. It ends when nothing has been queued or running
     * for {@link #WATCH_IDLE_TICKS} ticks, or at close.
     */
    private void watcherLoop() {
        int idleTicks = 0;
        while (!closed) {
            LockSupport.parkNanos(this, stallNanos);
            Queued head = queue.peek();
            if (head != null && System.nanoTime() - head.since >= stallNanos && searching.get() == 0) {
                for (int n = queue.size(); n > 0 && claim(); n--) {
                    // one more thread per task waiting
                }
            }
            if (head != null || busy.get() > 0) {
                idleTicks = 0;
            } else if (++idleTicks >= WATCH_IDLE_TICKS) {
                synchronized (this) {
                    // A task queued behind a busy thread just before found the watcher running: keep on.
                    if (busy.get() == 0 && queue.isEmpty()) {
                        watching = false;
                        return;
                    }
                }
                idleTicks = 0;
            }
        }
        synchronized (this) {
            watching = false;
        }
    }

    private void report(Throwable t) {
        try {
            failures.accept(t);
        } catch (Throwable ignored) {
            // The report failed too: the pool still goes on.
        }
    }

    private final class Worker {
        volatile Thread thread;
        volatile boolean woken;

        void signal() {
            woken = true;
            LockSupport.unpark(thread);
        }

        /** Starts searching (counted by whoever started it). */
        void run() {
            while (true) {
                Queued q = take();
                if (q != null) {
                    busy.incrementAndGet();
                    searching.decrementAndGet();
                    if (!queue.isEmpty()) {
                        watch(); // more tasks behind this one: in case it waits on the storage
                    }
                    runTask(q.task);
                    Thread.interrupted(); // a task's interrupt stays with it
                    // Searching again before no longer busy: a task queued meanwhile is seen by one or the other.
                    searching.incrementAndGet();
                    busy.decrementAndGet();
                    continue;
                }
                // Nothing came: park. In the idle list before it stops counting as searching, so a
                // waker that sees nobody searching finds it there.
                idle.addFirst(this);
                searching.decrementAndGet();
                if ((!queue.isEmpty() || closed) && idle.remove(this)) {
                    searching.incrementAndGet();
                    if (closed && queue.isEmpty()) {
                        leave(true);
                        return;
                    }
                    continue;
                }
                if (!parkUntilWoken()) {
                    return;
                }
                woken = false;
                if (closed && queue.isEmpty()) {
                    leave(true);
                    return;
                }
            }
        }

        /**
         * The thread ends; a task queued while it was leaving, when no other thread could be started
         * for it, gets one now.
         */
        private void leave(boolean searchingNow) {
            if (searchingNow) {
                searching.decrementAndGet();
            }
            threads.decrementAndGet();
            if (!queue.isEmpty()) {
                wake();
            }
        }

        /** The next task, looking for a while if this is the only thread searching; null if none came. */
        private Queued take() {
            Queued task = queue.poll();
            if (task != null || closed || searching.get() > 1) {
                return task;
            }
            long deadline = System.nanoTime() + SPIN_NANOS;
            int spins = 0;
            while ((task = queue.poll()) == null) {
                Thread.onSpinWait();
                if ((++spins & 63) == 0 && (System.nanoTime() - deadline > 0 || closed)) {
                    return null;
                }
            }
            return task;
        }

        /** Parks until woken (true) or idle for the keep-alive, after which the thread ends (false). */
        private boolean parkUntilWoken() {
            long deadline = System.nanoTime() + keepAliveNanos;
            while (!woken) {
                long left = deadline - System.nanoTime();
                if (left <= 0 && idle.remove(this)) {
                    leave(false);
                    return false;
                }
                LockSupport.parkNanos(IoThreads.this, Math.max(left, 1000));
            }
            return true;
        }

        private void runTask(Runnable task) {
            try {
                task.run();
            } catch (Throwable t) {
                report(t);
            }
        }
    }
}
