package org.spindle.storage.core;

import java.net.URI;
import java.nio.ByteBuffer;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;

import net.jqwik.api.Arbitrary;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import net.jqwik.api.constraints.IntRange;
import org.spindle.backend.memory.MemoryBackendProvider;
import org.spindle.format.sparse.SparseFormat;
import org.spindle.storage.api.BackingReference;
import org.spindle.storage.api.CreateOptions;
import org.spindle.storage.api.OpenOptions;
import org.spindle.storage.api.StorageException;
import org.spindle.storage.api.VirtualDisk;
import org.spindle.testing.storage.DiskFixture;
import org.spindle.testing.storage.DiskModelCheck;
import org.spindle.testing.storage.DiskOp;

/**
 * A sparse overlay over a base with data, checked against a model that starts as the base's bytes:
 * reads fall through, writes (partial units included) copy up, discards never bring back older base
 * data, and everything survives reopening the chain. The base is raw (no allocation map: discard must
 * keep data) or sparse with holes (discard may free units where the base reads zeros).
 */
class CowDiskPropertiesTest {
    private static final int CAPACITY = 192 * 1024 + 2048;

    @Provide
    Arbitrary<List<DiskOp>> ops() {
        return DiskModelCheck.operations(CAPACITY, 512, true);
    }

    @Property(tries = 150)
    void anOverlayOverRawBehavesLikeTheModel(@ForAll("ops") List<DiskOp> ops, @ForAll long seed,
            @ForAll @IntRange(min = 9, max = 14) int blockShift) throws Exception {
        try (Chain chain = new Chain("raw", 1 << blockShift)) {
            DiskModelCheck.check(chain, chain.baseContent(seed), 512, ops);
        }
    }

    @Property(tries = 150)
    void anOverlayOverSparseBehavesLikeTheModel(@ForAll("ops") List<DiskOp> ops, @ForAll long seed,
            @ForAll @IntRange(min = 9, max = 14) int blockShift) throws Exception {
        try (Chain chain = new Chain("sparse", 1 << blockShift)) {
            DiskModelCheck.check(chain, chain.baseContent(seed), 512, ops);
        }
    }

    /** A base (filled once) and an overlay naming it, both memory volumes, opened through the opener. */
    private static final class Chain implements DiskFixture {
        private static int names;
        private final MemoryBackendProvider memory = new MemoryBackendProvider();
        private final TestRegistry registry = TestRegistry.withMemoryAndRaw(memory);
        private final DiskOpener opener;
        private final String baseFormat;
        private final int blockSize;
        private final String base = "base" + names;
        private final String top = "top" + names++;

        Chain(String baseFormat, int blockSize) {
            registry.formats.add(new SparseFormat());
            this.opener = new DiskOpener(registry);
            this.baseFormat = baseFormat;
            this.blockSize = blockSize;
        }

        /** Writes the base: random data with every third 4 KiB run left as zeros (holes, in sparse). */
        byte[] baseContent(long seed) throws StorageException {
            byte[] content = new byte[CAPACITY];
            SplittableRandom random = new SplittableRandom(seed);
            for (int at = 0; at < CAPACITY; at += 4096) {
                if (random.nextInt(3) != 0) {
                    byte[] run = new byte[Math.min(4096, CAPACITY - at)];
                    random.nextBytes(run);
                    System.arraycopy(run, 0, content, at, run.length);
                }
            }
            CreateOptions options = CreateOptions.ofCapacity(CAPACITY)
                    .withParameters(baseFormat.equals("sparse") ? Map.of(SparseFormat.BLOCK_SIZE, "4K") : Map.of());
            try (VirtualDisk disk = opener.create(URI.create("memory:" + base + "?size=0"), baseFormat, options).disk()) {
                for (int at = 0; at < CAPACITY; at += 4096) {
                    ByteBuffer run = ByteBuffer.wrap(content, at, Math.min(4096, CAPACITY - at));
                    disk.write(at, run);
                }
            }
            return content;
        }

        @Override
        public VirtualDisk create(long capacity, int sectorSize) throws StorageException {
            CreateOptions options = CreateOptions.ofCapacity(capacity)
                    .withBacking(new BackingReference(base, baseFormat))
                    .withParameters(Map.of(SparseFormat.BLOCK_SIZE, Integer.toString(blockSize)));
            opener.create(URI.create("memory:" + top + "?size=0"), "sparse", options).disk().close();
            return reopen();
        }

        @Override
        public VirtualDisk reopen() throws StorageException {
            return opener.open(URI.create("memory:" + top), DiskOpener.AUTO, OpenOptions.defaults()).disk();
        }

        @Override
        public void close() {
        }
    }
}
