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
 * <p>Two things make the hand-over cheap. A thread that runs out of work looks at the queue for a
 * short while before it parks, so a guest with a steady stream of commands hands each one to a thread
 * already awake; and at most one thread is awake without work at a time. A thread that takes a task
 * while more are queued and no other thread is looking wakes one more, so tasks that wait for slow
 * storage spread over as many threads as they need (up to {@code max}), while quick ones stay on one
 * or two threads.
 *
 * <p>Platform threads, not virtual ones: a read copied from a memory-mapped image can fault and wait
 * for the disk, which would hold a virtual thread's carrier; and a blocking read on a virtual thread
 * pays for a compensating carrier each time.
 *
 * <p>{@link #close()} lets the tasks already queued run, then ends the threads; tasks queued after it
 * are refused.
 *
 * @since 1.4
 */
public final class IoThreads implements Executor, AutoCloseable {
    /** How long a thread without work looks at the queue before it parks. */
    static final long SPIN_NANOS = TimeUnit.MICROSECONDS.toNanos(50);

    private final String name;
    private final int max;
    private final long keepAliveNanos;
    private final Consumer<Throwable> failures;
    private final ConcurrentLinkedQueue<Runnable> queue = new ConcurrentLinkedQueue<>();
    /** Parked threads, the most recently parked first (its cache is the warmest). */
    private final ConcurrentLinkedDeque<Worker> idle = new ConcurrentLinkedDeque<>();
    /** Threads awake and about to look at the queue: spinning, or woken and not yet there. */
    private final AtomicInteger searching = new AtomicInteger();
    private final AtomicInteger threads = new AtomicInteger();
    private final AtomicInteger started = new AtomicInteger();
    private volatile boolean closed;

    /**
     * @param name     the threads' name prefix
     * @param max      the most threads at once (tasks in flight at once)
     * @param keepAlive how long a thread stays parked without work before it ends
     * @param failures told of a task that threw (the thread goes on with the next one)
     */
    public IoThreads(String name, int max, long keepAlive, TimeUnit unit, Consumer<Throwable> failures) {
        if (max < 1) {
            throw new IllegalArgumentException("I/O threads: at least one, not " + max);
        }
        this.name = Objects.requireNonNull(name);
        this.max = max;
        this.keepAliveNanos = unit.toNanos(keepAlive);
        this.failures = Objects.requireNonNull(failures);
    }

    /** Up to {@code max} threads named {@code name-N}, ending after ten seconds idle. */
    public IoThreads(String name, int max, Consumer<Throwable> failures) {
        this(name, max, 10, TimeUnit.SECONDS, failures);
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
            throw new RejectedExecutionException(name + ": the I/O threads are closed");
        }
        queue.offer(task);
        wake();
    }

    /** Threads running now (busy or idle). */
    public int threads() {
        return threads.get();
    }

    /** Queued tasks that no thread has taken yet. */
    public int queued() {
        return queue.size();
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
    }

    /**
     * Makes sure some thread will look at the queue: one already searching will; otherwise an idle one
     * is woken or a new one started, counted as searching on its behalf. With {@code max} threads all
     * busy, the first to finish its task takes the next.
     */
    private void wake() {
        while (searching.get() == 0) {
            searching.incrementAndGet();
            Worker w = idle.pollFirst();
            if (w != null) {
                w.signal();
                return;
            }
            if (start()) {
                return;
            }
            searching.decrementAndGet();
            // All threads busy: the first to finish takes the task. Unless one of them was just ending
            // after its keep-alive; then there is room for a new one now.
            if (queue.isEmpty() || threads.get() >= max) {
                return;
            }
        }
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
        Thread t = Thread.ofPlatform().daemon().name(name + "-" + started.incrementAndGet()).unstarted(w::run);
        w.thread = t;
        t.start();
        return true;
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
                Runnable task = take();
                if (task != null) {
                    // Running: no longer searching. More queued and nobody looking: one more thread.
                    if (searching.decrementAndGet() == 0 && !queue.isEmpty()) {
                        IoThreads.this.wake();
                    }
                    runTask(task);
                    searching.incrementAndGet();
                    continue;
                }
                // Nothing came: park. In the idle list before it stops counting as searching, so a
                // waker that sees nobody searching finds it there.
                idle.addFirst(this);
                searching.decrementAndGet();
                if ((!queue.isEmpty() || closed) && idle.remove(this)) {
                    searching.incrementAndGet();
                    if (closed && queue.isEmpty()) {
                        searching.decrementAndGet();
                        end();
                        return;
                    }
                    continue;
                }
                if (!parkUntilWoken()) {
                    return;
                }
                woken = false;
                if (closed && queue.isEmpty()) {
                    searching.decrementAndGet();
                    end();
                    return;
                }
            }
        }

        /** The next task, looking for a while if this is the only thread searching; null if none came. */
        private Runnable take() {
            Runnable task = queue.poll();
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
                    end();
                    // A task queued while this thread was leaving, when no other could be started.
                    if (!queue.isEmpty()) {
                        IoThreads.this.wake();
                    }
                    return false;
                }
                LockSupport.parkNanos(IoThreads.this, Math.max(left, 1000));
            }
            return true;
        }

        private void end() {
            threads.decrementAndGet();
        }

        private void runTask(Runnable task) {
            try {
                task.run();
            } catch (Throwable t) {
                try {
                    failures.accept(t);
                } catch (RuntimeException ignored) {
                    // The report failed too: the thread still goes on.
                }
            }
        }
    }
}
