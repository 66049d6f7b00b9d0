package org.spindle.format.sparse;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;

import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Combinators;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import net.jqwik.api.Tuple;
import org.spindle.storage.api.CheckReport;
import org.spindle.storage.api.CreateOptions;
import org.spindle.storage.api.Discardable;
import org.spindle.storage.api.OpenOptions;
import org.spindle.storage.api.VirtualDisk;

/**
 * The write ordering under power loss, which a killed process cannot show (the host keeps its page
 * cache): a backend that loses a random subset of everything written since its last flush. After each
 * cut, the image must open, {@code check} must find no corruption, every write acknowledged by a
 * completed flush must read back, and every other byte must read as before or as an unflushed
 * operation left it. Discards free blocks, so compaction (moving slots) is cut too.
 */
class PowerLossPropertiesTest {
    private static final int BLOCK = 4096;
    private static final int CAPACITY = 32 * BLOCK;

    sealed interface Op {
        record Write(int offset, int length, long seed) implements Op {
            byte[] data() {
                byte[] d = new byte[length];
                new SplittableRandom(seed).nextBytes(d);
                return d;
            }
        }

        record Discard(int offset, int length) implements Op {
        }

        record Flush() implements Op {
        }
    }

    @Provide
    Arbitrary<List<Op>> ops() {
        Arbitrary<Integer> offsets = Arbitraries.integers().between(0, CAPACITY - 1);
        Arbitrary<Integer> lengths = Arbitraries.oneOf(Arbitraries.integers().between(1, 600),
                Arbitraries.integers().between(1, 5 * BLOCK));
        return Arbitraries.frequencyOf(
                Tuple.of(6, Combinators.combine(offsets, lengths, Arbitraries.longs())
                        .as((o, l, s) -> (Op) new Op.Write(o, Math.min(l, CAPACITY - o), s))),
                Tuple.of(2, Combinators.combine(offsets, lengths)
                        .as((o, l) -> (Op) new Op.Discard(o, Math.min(l * 3, CAPACITY - o)))),
                Tuple.of(2, Arbitraries.just((Op) new Op.Flush())))
                .list().ofMinSize(1).ofMaxSize(50);
    }

    @Property(tries = 250)
    void aPowerCutLosesOnlyUnflushedWrites(@ForAll("ops") List<Op> first, @ForAll("ops") List<Op> second,
            @ForAll long cutSeed) throws Exception {
        VolatileBackend backend = new VolatileBackend(new byte[0]);
        SparseFormat format = new SparseFormat();
        VirtualDisk disk = format.create(backend, CreateOptions.ofCapacity(CAPACITY)
                .withParameters(Map.of(SparseFormat.BLOCK_SIZE, Integer.toString(BLOCK))));
        byte[] flushed = new byte[CAPACITY];
        byte[] now = new byte[CAPACITY];
        List<Op> unflushed = new ArrayList<>();
        SplittableRandom cut = new SplittableRandom(cutSeed);
        for (List<Op> phase : List.of(first, second)) {
            // a dry run on a copy counts the backend calls the phase makes; then the power fails at one of
            // them, half the time one made inside a commit (where the ordering of metadata matters)
            VolatileBackend dry = new VolatileBackend(backend.powerLossFree());
            VirtualDisk dryDisk = format.open(dry, OpenOptions.defaults());
            long start = dry.events();
            runPhase(dryDisk, dry, phase);
            long total = dry.events() - start;
            List<Long> inCommit = dry.commitEvents;
            long event = !inCommit.isEmpty() && cut.nextBoolean()
                    ? inCommit.get(cut.nextInt(inCommit.size())) - start
                    : cut.nextLong(1, Math.max(2, total + 1));
            backend.cutBefore(event, cut);
            byte[] flushedAtCut = null;
            List<Op> unflushedAtCut = null;
            for (Op op : phase) {
                switch (op) {
                    case Op.Write w -> {
                        disk.write(w.offset(), ByteBuffer.wrap(w.data()));
                        System.arraycopy(w.data(), 0, now, w.offset(), w.length());
                        unflushed.add(op);
                    }
                    case Op.Discard d -> {
                        disk.capability(Discardable.class).orElseThrow().discard(d.offset(), d.length());
                        zeroWholeBlocks(now, d.offset(), d.length());
                        unflushed.add(op);
                    }
                    case Op.Flush f -> {
                        backend.inCommit = true;
                        disk.flush();
                        backend.inCommit = false;
                        if (backend.cutImage() == null) {
                            flushed = now.clone();
                            unflushed.clear();
                        }
                    }
                }
                if (backend.cutImage() != null && flushedAtCut == null) {
                    // the cut fell during this operation: it and everything since the last flush are unflushed
                    flushedAtCut = flushed;
                    unflushedAtCut = List.copyOf(unflushed);
                }
            }
            byte[] survivor = backend.cutImage();
            if (survivor == null) {
                survivor = backend.powerLoss(cut);
                flushedAtCut = flushed;
                unflushedAtCut = List.copyOf(unflushed);
            }
            VolatileBackend after = new VolatileBackend(survivor);
            CheckReport report = format.check(after, false);
            assertThat(report.corruptions()).as("corruptions after the cut: %s", report.problems()).isZero();
            disk = format.open(after, OpenOptions.defaults());
            byte[] actual = new byte[CAPACITY];
            disk.read(0, ByteBuffer.wrap(actual));
            for (int at = 0; at < CAPACITY; at++) {
                if (actual[at] != flushedAtCut[at] && !couldBe(actual[at], at, unflushedAtCut)) {
                    throw new AssertionError("byte " + at + " reads " + actual[at] + ", flushed " + flushedAtCut[at]
                            + ", and no unflushed operation wrote that");
                }
            }
            // carry on from what survived
            backend = after;
            flushed = actual.clone();
            now = actual.clone();
            unflushed.clear();
        }
        disk.close();
    }

    /** The phase's operations alone, for counting backend calls. */
    private static void runPhase(VirtualDisk disk, VolatileBackend backend, List<Op> phase) throws Exception {
        for (Op op : phase) {
            switch (op) {
                case Op.Write w -> disk.write(w.offset(), ByteBuffer.wrap(w.data()));
                case Op.Discard d -> disk.capability(Discardable.class).orElseThrow().discard(d.offset(), d.length());
                case Op.Flush f -> {
                    backend.inCommit = true;
                    disk.flush();
                    backend.inCommit = false;
                }
            }
        }
    }

    private static void zeroWholeBlocks(byte[] model, int offset, int length) {
        int end = offset + length;
        int firstBlock = (offset + BLOCK - 1) / BLOCK * BLOCK;
        int last = end == model.length ? end : end / BLOCK * BLOCK;
        if (firstBlock < last) {
            Arrays.fill(model, firstBlock, last, (byte) 0);
        }
    }

    private static boolean couldBe(byte value, int at, List<Op> unflushed) {
        for (Op op : unflushed) {
            if (op instanceof Op.Write w && at >= w.offset() && at < w.offset() + w.length()
                    && w.data()[at - w.offset()] == value) {
                return true;
            }
            if (op instanceof Op.Discard d && value == 0) {
                byte[] probe = new byte[CAPACITY];
                Arrays.fill(probe, (byte) 1);
                zeroWholeBlocks(probe, d.offset(), d.length());
                if (probe[at] == 0) {
                    return true;
                }
            }
        }
        return false;
    }
}
