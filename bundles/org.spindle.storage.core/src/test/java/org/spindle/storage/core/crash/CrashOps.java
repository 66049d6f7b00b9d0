package org.spindle.storage.core.crash;

import java.util.SplittableRandom;

/**
 * The workload of a crash run, as a pure function of a seed and an index, so that the parent can
 * replay exactly what the child did: writes of random data (often partial blocks, sometimes several
 * blocks), discards, and flushes every few operations.
 */
sealed interface CrashOps {
    record Write(long offset, int length, long dataSeed) implements CrashOps {
        byte[] data() {
            byte[] data = new byte[length];
            new SplittableRandom(dataSeed).nextBytes(data);
            return data;
        }
    }

    record Discard(long offset, long length) implements CrashOps {
    }

    record Flush() implements CrashOps {
    }

    static CrashOps op(long seed, int index, long capacity) {
        SplittableRandom random = new SplittableRandom(seed * 0x9E3779B97F4A7C15L + index);
        int kind = random.nextInt(100);
        if (kind < 15) {
            return new Flush();
        }
        if (kind < 23) {
            long offset = random.nextLong(capacity);
            return new Discard(offset, random.nextLong(1, Math.min(capacity - offset, 256 * 1024) + 1));
        }
        int length = random.nextInt(4) == 0 ? random.nextInt(1, 128 * 1024) : random.nextInt(1, 9000);
        long offset = random.nextLong(capacity - length + 1);
        return new Write(offset, length, random.nextLong());
    }
}
