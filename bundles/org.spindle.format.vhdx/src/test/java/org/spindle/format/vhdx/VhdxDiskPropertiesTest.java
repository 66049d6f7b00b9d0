package org.spindle.format.vhdx;

import static org.assertj.core.api.Assertions.assertThat;

import java.net.URI;
import java.nio.ByteBuffer;
import java.util.List;
import java.util.Map;
import java.util.Random;

import net.jqwik.api.Arbitrary;
import net.jqwik.api.Example;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import net.jqwik.api.constraints.IntRange;
import org.spindle.backend.memory.MemoryBackendProvider;
import org.spindle.storage.api.AccessMode;
import org.spindle.storage.api.BackingReference;
import org.spindle.storage.api.CheckReport;
import org.spindle.storage.api.CreateOptions;
import org.spindle.storage.api.OpenOptions;
import org.spindle.storage.api.StorageException;
import org.spindle.storage.api.VirtualDisk;
import org.spindle.storage.core.DiskOpener;
import org.spindle.storage.core.ServiceLoaderRegistry;
import org.spindle.testing.storage.DiskFixture;
import org.spindle.testing.storage.DiskModelCheck;
import org.spindle.testing.storage.DiskOp;

/**
 * Fixed, dynamic and differencing VHDX disks against a byte-array model: random reads, writes,
 * flushes and reopens, block sizes of 1 and 2 MiB, 512- and 4096-byte sectors; every image at rest
 * passes {@code check}.
 */
class VhdxDiskPropertiesTest {
    private static final long CAPACITY = (3L << 20) + 8192;
    private final VhdxFormat vhdx = new VhdxFormat();

    @Provide
    Arbitrary<List<DiskOp>> ops() {
        return DiskModelCheck.operations(CAPACITY, 512, false);
    }

    @Provide
    Arbitrary<List<DiskOp>> ops4k() {
        return DiskModelCheck.operations(CAPACITY, 4096, false);
    }

    @Property(tries = 150)
    void dynamicDisksBehaveLikeTheModel(@ForAll("ops") List<DiskOp> ops, @ForAll @IntRange(min = 1, max = 2) int blockMiB)
            throws Exception {
        try (Fixture fixture = new Fixture(Map.of("block_size", blockMiB + "M"), null)) {
            DiskModelCheck.check(fixture, CAPACITY, 512, ops);
            fixture.assertClean();
        }
    }

    @Property(tries = 40)
    void fixedDisksBehaveLikeTheModel(@ForAll("ops") List<DiskOp> ops) throws Exception {
        try (Fixture fixture = new Fixture(Map.of("subformat", "fixed", "block_size", "1M"), null)) {
            DiskModelCheck.check(fixture, CAPACITY, 512, ops);
            fixture.assertClean();
        }
    }

    @Property(tries = 40)
    void fourKSectorDisksBehaveLikeTheModel(@ForAll("ops4k") List<DiskOp> ops) throws Exception {
        try (Fixture fixture = new Fixture(Map.of("block_size", "1M"), null)) {
            fixture.sectorSize = 4096;
            DiskModelCheck.check(fixture, CAPACITY, 4096, ops);
            fixture.assertClean();
        }
    }

    @Property(tries = 60)
    void differencingDisksBehaveLikeTheModel(@ForAll("ops") List<DiskOp> ops) throws Exception {
        byte[] initial = new byte[(int) CAPACITY];
        String base = "vxbase" + System.nanoTime();
        try (VirtualDisk disk = opener.create(URI.create("memory:" + base + "?size=0"), "vhdx",
                CreateOptions.ofCapacity(CAPACITY).withParameters(Map.of("block_size", "1M"))).disk()) {
            Random random = new Random(ops.size());
            byte[] data = new byte[1 << 20];
            random.nextBytes(data);
            disk.write(1L << 20, ByteBuffer.wrap(data));
            System.arraycopy(data, 0, initial, 1 << 20, data.length);
        }
        try (Fixture fixture = new Fixture(Map.of("block_size", "1M"), base)) {
            DiskModelCheck.check(fixture, initial, 512, ops);
            fixture.assertClean();
        }
    }

    private final ServiceLoaderRegistry registry = ServiceLoaderRegistry.load(getClass().getClassLoader());
    private final DiskOpener opener = new DiskOpener(registry);
    /** The opener's memory volumes, where the differencing fixtures live. */
    private final MemoryBackendProvider memory = (MemoryBackendProvider) registry.provider("memory").orElseThrow();

    /**
     * A write over several blocks whose first block's part is zeros, into blocks not yet allocated:
     * the zeros are skipped (they read as zeros already) but still taken from the buffer, so the next
     * block gets its own bytes, not the zeros again.
     */
    @Example
    void aZeroPartOfAWriteIsTakenFromTheBufferWithoutBeingWritten() throws Exception {
        try (Fixture fixture = new Fixture(Map.of("block_size", "1M"), null)) {
            VirtualDisk disk = fixture.create(CAPACITY, 4096);
            byte[] data = new byte[3 << 20];
            new java.util.SplittableRandom(5).nextBytes(data);
            java.util.Arrays.fill(data, 0, (1 << 20) + 512, (byte) 0);
            ByteBuffer src = ByteBuffer.wrap(data);
            disk.write(4096, src);
            assertThat(src.hasRemaining()).isFalse();
            ByteBuffer back = ByteBuffer.allocate(data.length);
            disk.read(4096, back);
            assertThat(back.array()).isEqualTo(data);
            disk.close();
            fixture.assertClean();
        }
    }

    private final class Fixture implements DiskFixture {
        private final MemoryBackendProvider provider = new MemoryBackendProvider();
        private final String name = "vx" + System.nanoTime();
        private final Map<String, String> parameters;
        private final String base;
        int sectorSize = 512;

        Fixture(Map<String, String> parameters, String base) {
            this.parameters = parameters;
            this.base = base;
        }

        @Override
        public VirtualDisk create(long capacity, int sectorSize) throws StorageException {
            CreateOptions options = CreateOptions.ofCapacity(capacity).withLogicalSectorSize(sectorSize)
                    .withParameters(parameters);
            if (base != null) {
                // create makes the image alone; opening stacks it over its parent
                opener.create(URI.create("memory:" + name + "?size=0"), "vhdx",
                        options.withBacking(new BackingReference("memory:" + base, "vhdx"))).disk().close();
                return opener.open(URI.create("memory:" + name), "vhdx", OpenOptions.defaults()).disk();
            }
            return vhdx.create(provider.open(URI.create("memory:" + name + "?size=0"), AccessMode.CREATE_NEW), options);
        }

        @Override
        public VirtualDisk reopen() throws StorageException {
            assertClean();
            if (base != null) {
                return opener.open(URI.create("memory:" + name), "vhdx", OpenOptions.defaults()).disk();
            }
            return vhdx.open(provider.open(URI.create("memory:" + name), AccessMode.READ_WRITE), OpenOptions.defaults());
        }

        void assertClean() {
            MemoryBackendProvider volumes = base != null ? memory : provider;
            try (var backend = volumes.open(URI.create("memory:" + name), AccessMode.READ_ONLY)) {
                CheckReport report = vhdx.check(backend, false);
                assertThat(report.problems()).isEmpty();
                assertThat(report.clean()).isTrue();
            } catch (StorageException e) {
                throw new AssertionError(e);
            }
        }

        @Override
        public void close() {
        }
    }
}
