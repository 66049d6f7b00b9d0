package org.spindle.device.ata;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.LongAdder;
import java.util.concurrent.locks.LockSupport;
import java.util.function.BooleanSupplier;

import org.junit.jupiter.api.Test;

/** The threads controllers move disk data on. */
class IoThreadsTest {
    private final List<Throwable> failures = new CopyOnWriteArrayList<>();

    @Test
    void tasksThatWaitForStorageSpreadOverThreadsUpToTheMost() throws Exception {
        try (IoThreads io = new IoThreads("t", 8, failures::add)) {
            CountDownLatch release = new CountDownLatch(1);
            AtomicInteger running = new AtomicInteger();
            AtomicInteger most = new AtomicInteger();
            CountDownLatch done = new CountDownLatch(12);
            for (int i = 0; i < 12; i++) {
                io.execute(() -> {
                    most.accumulateAndGet(running.incrementAndGet(), Math::max);
                    try {
                        release.await();
                    } catch (InterruptedException e) {
                        Thread.currentThread().interrupt();
                    }
                    running.decrementAndGet();
                    done.countDown();
                });
            }
            waitFor(() -> running.get() == 8);
            assertThat(io.threads()).isEqualTo(8);
            assertThat(io.queued()).isEqualTo(4);
            release.countDown();
            assertThat(done.await(10, TimeUnit.SECONDS)).isTrue();
            assertThat(most.get()).isEqualTo(8);
        }
        assertThat(failures).isEmpty();
    }

    /**
     * A task queued while a thread is busy with a quick one (200 µs, well under the stall time) waits
     * for that thread rather than waking another: with page-cached data that is sooner, and a second
     * thread would compete with the guest for the CPU. (A round the host's scheduler delays by a
     * millisecond may go to a second thread; nearly all must not.)
     */
    @Test
    void aTaskQueuedBehindAQuickOneWaitsForItsThread() throws Exception {
        // The watcher's stall time far away: only the hand-over rule is tested here.
        try (IoThreads io = new IoThreads("t", 32, TimeUnit.SECONDS.toNanos(10), TimeUnit.SECONDS.toNanos(100),
                failures::add)) {
            int same = 0;
            for (int round = 0; round < 100; round++) {
                Thread[] ran = new Thread[2];
                CountDownLatch done = new CountDownLatch(2);
                io.execute(() -> {
                    ran[0] = Thread.currentThread();
                    long end = System.nanoTime() + 200_000;
                    while (System.nanoTime() < end) {
                        Thread.onSpinWait();
                    }
                    done.countDown();
                });
                io.execute(() -> {
                    ran[1] = Thread.currentThread();
                    done.countDown();
                });
                assertThat(done.await(10, TimeUnit.SECONDS)).isTrue();
                if (ran[0] == ran[1]) {
                    same++;
                }
            }
            assertThat(same).isEqualTo(100);
        }
        assertThat(failures).isEmpty();
    }

    @Test
    void aFailingTaskIsReportedAndTheThreadGoesOn() throws Exception {
        try (IoThreads io = new IoThreads("t", 1, failures::add)) {
            CountDownLatch done = new CountDownLatch(1);
            io.execute(() -> {
                throw new IllegalStateException("storage bug");
            });
            io.execute(done::countDown);
            assertThat(done.await(10, TimeUnit.SECONDS)).isTrue();
            assertThat(failures).singleElement().extracting(Throwable::getMessage).isEqualTo("storage bug");
        }
    }

    /** A task that leaves its thread interrupted does not pass the interrupt on (a file channel would close under the next). */
    @Test
    void aTasksInterruptStaysWithIt() throws Exception {
        try (IoThreads io = new IoThreads("t", 1, failures::add)) {
            CountDownLatch done = new CountDownLatch(1);
            boolean[] interrupted = {true};
            io.execute(() -> Thread.currentThread().interrupt());
            io.execute(() -> {
                interrupted[0] = Thread.currentThread().isInterrupted();
                done.countDown();
            });
            assertThat(done.await(10, TimeUnit.SECONDS)).isTrue();
            assertThat(interrupted[0]).isFalse();
        }
    }

    @Test
    void closeRunsWhatWasQueuedThenEndsTheThreadsAndRefusesMore() throws Exception {
        IoThreads io = new IoThreads("closing", 1, failures::add);
        CountDownLatch release = new CountDownLatch(1);
        LongAdder ran = new LongAdder();
        io.execute(() -> {
            try {
                release.await();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            ran.increment();
        });
        for (int i = 0; i < 5; i++) {
            io.execute(ran::increment);
        }
        io.close();
        assertThatThrownBy(() -> io.execute(ran::increment)).isInstanceOf(RejectedExecutionException.class)
                .hasMessageContaining("closed");
        release.countDown();
        waitFor(() -> io.threads() == 0 && !alive("closing"));
        assertThat(ran.sum()).isEqualTo(6);
    }

    @Test
    void idleThreadsEndAndNewOnesStartWhenWorkReturns() throws Exception {
        try (IoThreads io = new IoThreads("t", 4, 20, TimeUnit.MILLISECONDS, failures::add)) {
            CountDownLatch first = new CountDownLatch(1);
            io.execute(first::countDown);
            assertThat(first.await(10, TimeUnit.SECONDS)).isTrue();
            waitFor(() -> io.threads() == 0);
            CountDownLatch second = new CountDownLatch(1);
            io.execute(second::countDown);
            assertThat(second.await(10, TimeUnit.SECONDS)).isTrue();
        }
    }

    /**
     * Many submitters against threads that keep ending (a keep-alive of a microsecond), the watcher out
     * of the way (it would rescue a stranded task): every task runs exactly once, and at rest nothing
     * searches, nothing runs, and every thread left is parked.
     */
    @Test
    void noTaskIsStrandedWhileThreadsComeAndGo() throws Exception {
        for (int max : new int[] {1, 2, 5}) {
            try (IoThreads io = new IoThreads("t", max, 1_000, Long.MAX_VALUE / 4, failures::add)) {
                int submitters = 4;
                int each = 5_000;
                LongAdder ran = new LongAdder();
                Thread[] ts = new Thread[submitters];
                for (int s = 0; s < submitters; s++) {
                    ts[s] = Thread.ofPlatform().start(() -> {
                        for (int i = 0; i < each; i++) {
                            io.execute(ran::increment);
                            if (i % 97 == 0) {
                                LockSupport.parkNanos(200_000); // long enough for idle threads to end
                            }
                        }
                    });
                }
                for (Thread t : ts) {
                    t.join();
                }
                waitFor(() -> ran.sum() == (long) submitters * each);
                waitFor(() -> {
                    int[] c = io.counts();
                    return c[0] == 0 && c[1] == 0 && c[2] == io.threads();
                });
            }
        }
        assertThat(failures).isEmpty();
    }

    /** Submitters racing close: every task accepted runs, every other is refused, and the threads end. */
    @Test
    void closeRacingSubmittersLosesNoAcceptedTask() throws Exception {
        for (int round = 0; round < 50; round++) {
            String name = "race" + round;
            IoThreads io = new IoThreads(name, 2, failures::add);
            LongAdder accepted = new LongAdder();
            LongAdder ran = new LongAdder();
            Thread[] ts = new Thread[3];
            for (int s = 0; s < ts.length; s++) {
                ts[s] = Thread.ofPlatform().start(() -> {
                    try {
                        while (true) {
                            io.execute(ran::increment);
                            accepted.increment();
                        }
                    } catch (RejectedExecutionException refused) {
                        // closed
                    }
                });
            }
            LockSupport.parkNanos(round * 20_000L);
            io.close();
            for (Thread t : ts) {
                t.join();
            }
            waitFor(() -> ran.sum() == accepted.sum());
            waitFor(() -> io.threads() == 0 && !alive(name));
        }
        assertThat(failures).isEmpty();
    }

    /** Whether a thread of the pool named {@code name} (a worker or the watcher) is still alive. */
    private static boolean alive(String name) {
        return Thread.getAllStackTraces().keySet().stream().anyMatch(t -> t.getName().startsWith(name + "-"));
    }

    @Test
    void atLeastOneThread() {
        assertThatThrownBy(() -> new IoThreads("t", 0, failures::add))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("at least one");
    }

    private static void waitFor(BooleanSupplier condition) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (!condition.getAsBoolean()) {
            assertThat(System.nanoTime() < deadline).as("waited ten seconds").isTrue();
            Thread.sleep(1);
        }
    }
}
