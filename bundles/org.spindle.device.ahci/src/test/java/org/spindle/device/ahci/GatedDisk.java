package org.spindle.device.ahci;

import java.nio.ByteBuffer;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

import org.spindle.device.ata.ArrayDisk;
import org.spindle.storage.api.StorageException;

/**
 * A disk whose reads of chosen sectors (and, when told, flushes) wait until the test releases them:
 * requests in flight at once, finishing in the order the test picks.
 */
final class GatedDisk extends ArrayDisk {
    private final Map<Long, CountDownLatch> gates = new ConcurrentHashMap<>();
    final AtomicInteger waiting = new AtomicInteger();

    GatedDisk(int sectors) {
        super(sectors * 512, 512, false);
    }

    private volatile CountDownLatch flushGate;
    /** How long every read takes from now on (a disk that has to seek). */
    volatile long readMillis;

    /** Flushes wait from now on until {@link #releaseAll}. */
    void gateFlush() {
        flushGate = new CountDownLatch(1);
    }

    /** Reads starting at {@code lba} wait from now on until {@link #release}. */
    void gate(long lba) {
        gates.put(lba, new CountDownLatch(1));
    }

    void release(long lba) {
        CountDownLatch g = gates.remove(lba);
        if (g != null) {
            g.countDown();
        }
    }

    void releaseAll() {
        for (Long lba : gates.keySet()) {
            release(lba);
        }
        CountDownLatch f = flushGate;
        flushGate = null;
        if (f != null) {
            f.countDown();
        }
    }

    /** Waits until {@code n} reads are held at their gates. */
    void awaitWaiting(int n) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (waiting.get() < n) {
            if (System.nanoTime() > deadline) {
                throw new AssertionError(waiting.get() + " reads waiting, not " + n);
            }
            Thread.sleep(1);
        }
    }

    @Override
    public void read(long offset, ByteBuffer dst) throws StorageException {
        long millis = readMillis;
        if (millis > 0) {
            try {
                Thread.sleep(millis);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new StorageException(StorageException.Kind.IO, "interrupted");
            }
        }
        CountDownLatch g = gates.get(offset / 512);
        if (g != null) {
            waiting.incrementAndGet();
            try {
                if (!g.await(20, TimeUnit.SECONDS)) {
                    throw new StorageException(StorageException.Kind.IO, "gate never opened");
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new StorageException(StorageException.Kind.IO, "interrupted");
            } finally {
                waiting.decrementAndGet();
            }
        }
        synchronized (this) {
            super.read(offset, dst);
        }
    }

    @Override
    public void flush() {
        CountDownLatch g = flushGate;
        if (g != null) {
            waiting.incrementAndGet();
            try {
                g.await(20, TimeUnit.SECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            } finally {
                waiting.decrementAndGet();
            }
        }
        synchronized (this) {
            super.flush();
        }
    }

    @Override
    public void write(long offset, ByteBuffer src) throws StorageException {
        synchronized (this) {
            super.write(offset, src);
        }
    }
}
