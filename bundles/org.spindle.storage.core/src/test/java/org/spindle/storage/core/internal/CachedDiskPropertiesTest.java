package org.spindle.storage.core.internal;

import static org.assertj.core.api.Assertions.assertThat;

import java.net.URI;
import java.nio.ByteBuffer;
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
import net.jqwik.api.constraints.IntRange;
import org.spindle.backend.memory.MemoryBackendProvider;
import org.spindle.format.sparse.SparseFormat;
import org.spindle.storage.api.AccessMode;
import org.spindle.storage.api.CacheMode;
import org.spindle.storage.core.CachedDisk;
import org.spindle.storage.api.CacheStatsDTO;
import org.spindle.storage.api.CreateOptions;
import org.spindle.storage.api.OpenOptions;
import org.spindle.storage.api.StorageException;
import org.spindle.storage.api.VirtualDisk;
import org.spindle.testing.storage.DiskFixture;
import org.spindle.testing.storage.DiskModelCheck;
import org.spindle.testing.storage.DiskOp;

/**
 * The block cache against a model: tiny caches (a few blocks) so that nearly every request evicts,
 * over a sparse image in memory, in both modes, with reopening (which closes the cache: dirty blocks
 * must reach the disk). A second property injects write failures below the cache: nothing the guest
 * was told is written may be lost, a flush while writes fail must fail, and once the disk works again
 * a flush writes everything.
 */
class CachedDiskPropertiesTest {
    private static final int CAPACITY = 96 * 1024 + 1536;

    @Provide
    Arbitrary<List<DiskOp>> ops() {
        return DiskModelCheck.operations(CAPACITY, 512, true);
    }

    @Property(tries = 200)
    void aWriteBackCacheBehavesLikeTheModel(@ForAll("ops") List<DiskOp> ops,
            @ForAll @IntRange(min = 9, max = 13) int blockShift, @ForAll @IntRange(min = 1, max = 6) int blocks)
            throws Exception {
        try (Fixture fixture = new Fixture(CacheMode.WRITEBACK, 1 << blockShift, blocks)) {
            DiskModelCheck.check(fixture, CAPACITY, 512, ops);
        }
    }

    @Property(tries = 100)
    void aWriteThroughCacheBehavesLikeTheModel(@ForAll("ops") List<DiskOp> ops,
            @ForAll @IntRange(min = 9, max = 13) int blockShift, @ForAll @IntRange(min = 1, max = 6) int blocks)
            throws Exception {
        try (Fixture fixture = new Fixture(CacheMode.WRITETHROUGH, 1 << blockShift, blocks)) {
            DiskModelCheck.check(fixture, CAPACITY, 512, ops);
        }
    }

    /** A write or read at an offset, a flush, or the disk below starting or stopping to fail. */
    sealed interface Step {
        record Write(int offset, int length, long seed) implements Step { }
        record Read(int offset, int length) implements Step { }
        record Flush() implements Step { }
        record Failing(boolean on) implements Step { }
    }

    @Provide
    Arbitrary<List<Step>> steps() {
        Arbitrary<Integer> offsets = Arbitraries.integers().between(0, CAPACITY - 1);
        Arbitrary<Integer> lengths = Arbitraries.integers().between(1, 12 * 1024);
        return Arbitraries.frequencyOf(
                net.jqwik.api.Tuple.of(6, Combinators.combine(offsets, lengths, Arbitraries.longs())
                        .as((o, l, s) -> (Step) new Step.Write(o, Math.min(l, CAPACITY - o), s))),
                net.jqwik.api.Tuple.of(4, Combinators.combine(offsets, lengths)
                        .as((o, l) -> (Step) new Step.Read(o, Math.min(l, CAPACITY - o)))),
                net.jqwik.api.Tuple.of(2, Arbitraries.just((Step) new Step.Flush())),
                net.jqwik.api.Tuple.of(1, Arbitraries.of(true, false).map(on -> (Step) new Step.Failing(on))))
                .list().ofMinSize(1).ofMaxSize(60);
    }

    @Property(tries = 300)
    void failedWriteBacksLoseNothingAndSurfaceAtFlush(@ForAll("steps") List<Step> steps,
            @ForAll @IntRange(min = 9, max = 12) int blockShift, @ForAll @IntRange(min = 1, max = 4) int blocks)
            throws Exception {
        MemoryBackendProvider memory = new MemoryBackendProvider();
        VirtualDisk sparse = new SparseFormat().create(memory.open(URI.create("memory:f?size=0"), AccessMode.CREATE_NEW),
                CreateOptions.ofCapacity(CAPACITY).withParameters(Map.of(SparseFormat.BLOCK_SIZE, "4K")));
        FaultyDisk faulty = new FaultyDisk(sparse);
        CachedDisk cache = new CachedDisk(faulty, CacheMode.WRITEBACK, (long) blocks << blockShift, 1 << blockShift);
        byte[] model = new byte[CAPACITY];
        for (Step step : steps) {
            switch (step) {
                case Step.Write w -> {
                    byte[] data = new byte[w.length()];
                    new SplittableRandom(w.seed()).nextBytes(data);
                    try {
                        cache.write(w.offset(), ByteBuffer.wrap(data));
                        System.arraycopy(data, 0, model, w.offset(), data.length);
                    } catch (StorageException e) {
                        // refused while the disk fails (the cache went write-through after a failure):
                        // then nothing of it may show
                        assertThat(faulty.failing).as("a write fails only while the disk fails").isTrue();
                    }
                }
                case Step.Read r -> {
                    ByteBuffer dst = ByteBuffer.allocate(r.length());
                    cache.read(r.offset(), dst);
                    assertThat(dst.array()).isEqualTo(Arrays.copyOfRange(model, r.offset(), r.offset() + r.length()));
                }
                case Step.Flush f -> {
                    boolean dirty = cache.stats().dirtyBytes > 0;
                    try {
                        cache.flush();
                        assertThat(faulty.failing).as("flush succeeded while the disk fails").isFalse();
                    } catch (StorageException e) {
                        assertThat(faulty.failing || dirty).isTrue();
                        assertThat(faulty.failing).as("flush failed although the disk works: " + e).isTrue();
                    }
                }
                case Step.Failing x -> faulty.failing = x.on();
            }
        }
        faulty.failing = false;
        cache.flush();
        CacheStatsDTO stats = cache.stats();
        assertThat(stats.dirtyBytes).isZero();
        ByteBuffer below = ByteBuffer.allocate(CAPACITY);
        sparse.read(0, below);
        assertThat(below.array()).as("the disk below holds every acknowledged write").isEqualTo(model);
        cache.close();
    }

    private static final class Fixture implements DiskFixture {
        private final MemoryBackendProvider memory = new MemoryBackendProvider();
        private final CacheMode mode;
        private final int blockSize;
        private final int blocks;

        Fixture(CacheMode mode, int blockSize, int blocks) {
            this.mode = mode;
            this.blockSize = blockSize;
            this.blocks = blocks;
        }

        @Override
        public VirtualDisk create(long capacity, int sectorSize) throws StorageException {
            VirtualDisk disk = new SparseFormat().create(memory.open(URI.create("memory:c?size=0"), AccessMode.CREATE_NEW),
                    CreateOptions.ofCapacity(capacity).withParameters(Map.of(SparseFormat.BLOCK_SIZE, "2K")));
            return new CachedDisk(disk, mode, (long) blocks * blockSize, blockSize);
        }

        @Override
        public VirtualDisk reopen() throws StorageException {
            VirtualDisk disk = new SparseFormat().open(memory.open(URI.create("memory:c"), AccessMode.READ_WRITE),
                    OpenOptions.defaults());
            return new CachedDisk(disk, mode, (long) blocks * blockSize, blockSize);
        }

        @Override
        public void close() {
        }
    }
}
