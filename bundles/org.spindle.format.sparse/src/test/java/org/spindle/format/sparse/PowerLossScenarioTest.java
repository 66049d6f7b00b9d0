package org.spindle.format.sparse;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.BitSet;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;

import org.junit.jupiter.api.Test;
import org.spindle.storage.api.CheckReport;
import org.spindle.storage.api.CreateOptions;
import org.spindle.storage.api.Discardable;
import org.spindle.storage.api.OpenOptions;
import org.spindle.storage.api.VirtualDisk;

/**
 * One workload that allocates, overwrites, frees and compacts, cut by a power failure before every
 * single backend call it makes, keeping every subset of the unsynced changes (or 256 random ones when
 * there are many). Unlike the random property, this reaches each step of a commit and a compaction.
 */
class PowerLossScenarioTest {
    private static final int BLOCK = 4096;
    private static final int CAPACITY = 16 * BLOCK;

    /** A step of the workload; {@code flush} steps mark what is durable. */
    private record Step(String kind, int offset, int length, int fill) {
    }

    private static final List<Step> WORKLOAD = List.of(
            new Step("write", 0, 4 * BLOCK, 1),
            new Step("write", 9 * BLOCK + 100, 300, 2),
            new Step("flush", 0, 0, 0),
            new Step("discard", BLOCK, BLOCK, 0),            // frees slot 1: a hole in the middle
            new Step("write", 2 * BLOCK + 7, 50, 3),          // in place
            new Step("write", 12 * BLOCK, BLOCK, 4),          // a new slot while slot 1 waits for the commit
            new Step("flush", 0, 0, 0),                       // commit, then compaction moves the last slot down
            new Step("discard", 0, 3 * BLOCK, 0),
            new Step("write", 15 * BLOCK, 10, 5),
            new Step("flush", 0, 0, 0));

    @Test
    void everyCutKeepsFlushedDataAndAConsistentImage() throws Exception {
        Outcome full = run(new VolatileBackend(new byte[0]), Long.MAX_VALUE, null);
        int total = full.events;
        assertThat(total).isGreaterThan(20);
        int cuts = 0;
        // a cut while the image is being created leaves no image to speak of: start after
        for (long cutAt = full.createEvents + 1; cutAt <= total; cutAt++) {
            Outcome outcome = run(new VolatileBackend(new byte[0]), cutAt, null);
            int pending = outcome.pendingAtCut;
            List<BitSet> subsets = new ArrayList<>();
            if (pending <= 8) {
                for (int mask = 0; mask < (1 << pending); mask++) {
                    subsets.add(BitSet.valueOf(new long[] {mask}));
                }
            } else {
                SplittableRandom random = new SplittableRandom(cutAt);
                for (int i = 0; i < 256; i++) {
                    BitSet keep = new BitSet();
                    for (int b = 0; b < pending; b++) {
                        if (random.nextBoolean()) {
                            keep.set(b);
                        }
                    }
                    subsets.add(keep);
                }
            }
            for (BitSet keep : subsets) {
                Outcome o = run(new VolatileBackend(new byte[0]), cutAt, keep);
                verify(o, cutAt, keep);
                cuts++;
            }
        }
        assertThat(cuts).isGreaterThan(total);
    }

    private static final class Outcome {
        int events;
        int createEvents;
        int pendingAtCut;
        byte[] image;
        byte[] flushed;
        List<Step> unflushed = new ArrayList<>();
    }

    /** Runs the workload, taking the image a cut before event {@code cutAt} leaves (keeping {@code keep}). */
    private static Outcome run(VolatileBackend backend, long cutAt, BitSet keep) throws Exception {
        Outcome outcome = new Outcome();
        CountingBackend counting = new CountingBackend(backend, cutAt, keep, outcome);
        VirtualDisk disk = new SparseFormat().create(counting, CreateOptions.ofCapacity(CAPACITY)
                .withParameters(Map.of(SparseFormat.BLOCK_SIZE, Integer.toString(BLOCK))));
        outcome.createEvents = counting.events;
        byte[] now = new byte[CAPACITY];
        byte[] flushed = new byte[CAPACITY];
        List<Step> unflushed = new ArrayList<>();
        for (Step step : WORKLOAD) {
            boolean cutBefore = outcome.image != null;
            switch (step.kind()) {
                case "write" -> {
                    byte[] data = new byte[step.length()];
                    Arrays.fill(data, (byte) step.fill());
                    disk.write(step.offset(), ByteBuffer.wrap(data));
                    System.arraycopy(data, 0, now, step.offset(), data.length);
                    unflushed.add(step);
                }
                case "discard" -> {
                    disk.capability(Discardable.class).orElseThrow().discard(step.offset(), step.length());
                    unflushed.add(step);
                }
                default -> {
                    disk.flush();
                    if (outcome.image == null) {
                        flushed = now.clone();
                        unflushed.clear();
                    }
                }
            }
            if (!cutBefore && outcome.image != null) {
                outcome.flushed = flushed.clone();
                outcome.unflushed = List.copyOf(unflushed);
            }
        }
        outcome.events = counting.events;
        return outcome;
    }

    private static void verify(Outcome o, long cutAt, BitSet keep) throws Exception {
        if (o.image == null) {
            return;
        }
        String where = "cut before event " + cutAt + " keeping " + keep;
        VolatileBackend after = new VolatileBackend(o.image);
        SparseFormat format = new SparseFormat();
        CheckReport report = format.check(after, false);
        assertThat(report.corruptions()).as("%s: %s", where, report.problems()).isZero();
        byte[] actual = new byte[CAPACITY];
        try (VirtualDisk disk = format.open(after, OpenOptions.defaults())) {
            disk.read(0, ByteBuffer.wrap(actual));
        }
        for (int at = 0; at < CAPACITY; at++) {
            if (actual[at] == o.flushed[at]) {
                continue;
            }
            boolean explained = false;
            for (Step s : o.unflushed) {
                boolean covers = at >= s.offset() && at < s.offset() + s.length();
                if (covers && (s.kind().equals("write") ? actual[at] == s.fill() : actual[at] == 0)) {
                    explained = true;
                }
            }
            assertThat(explained).as("%s: byte %d reads %d, flushed %d", where, at, actual[at], o.flushed[at]).isTrue();
        }
    }

    /** Counts the backend calls and takes the image at the planned one. */
    private static final class CountingBackend implements org.spindle.storage.api.StorageBackend,
            org.spindle.storage.api.Resizable {
        final VolatileBackend inner;
        final long cutAt;
        final BitSet keep;
        final Outcome outcome;
        int events;

        CountingBackend(VolatileBackend inner, long cutAt, BitSet keep, Outcome outcome) {
            this.inner = inner;
            this.cutAt = cutAt;
            this.keep = keep;
            this.outcome = outcome;
        }

        private void event() {
            events++;
            if (events == cutAt && outcome.image == null) {
                outcome.pendingAtCut = inner.pendingCount();
                outcome.image = keep == null ? new byte[0] : inner.powerLoss(keep);
            }
        }

        @Override
        public String location() {
            return inner.location();
        }

        @Override
        public long size() {
            return inner.size();
        }

        @Override
        public boolean isReadOnly() {
            return false;
        }

        @Override
        public void read(long offset, ByteBuffer dst) throws org.spindle.storage.api.StorageException {
            inner.read(offset, dst);
        }

        @Override
        public void write(long offset, ByteBuffer src) {
            event();
            inner.write(offset, src);
        }

        @Override
        public void resize(long newSize) {
            event();
            inner.resize(newSize);
        }

        @Override
        public void flush() {
            event();
            inner.flush();
        }

        @Override
        public <T> java.util.Optional<T> capability(Class<T> type) {
            return type == org.spindle.storage.api.Resizable.class ? java.util.Optional.of(type.cast(this))
                    : java.util.Optional.empty();
        }

        @Override
        public void close() {
        }
    }
}
