package org.spindle.format.vhd;

import static org.assertj.core.api.Assertions.assertThat;

import java.net.URI;
import java.nio.ByteBuffer;
import java.util.List;
import java.util.Map;

import net.jqwik.api.Arbitrary;
import net.jqwik.api.Example;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import net.jqwik.api.constraints.IntRange;
import org.spindle.backend.memory.MemoryBackendProvider;
import org.spindle.storage.api.AccessMode;
import org.spindle.storage.api.CheckReport;
import org.spindle.storage.api.CreateOptions;
import org.spindle.storage.api.OpenOptions;
import org.spindle.storage.api.StorageException;
import org.spindle.storage.api.VirtualDisk;
import org.spindle.testing.storage.DiskFixture;
import org.spindle.testing.storage.DiskModelCheck;
import org.spindle.testing.storage.DiskOp;

/**
 * Fixed and dynamic VHDs against a byte-array model: random reads, writes, flushes and reopens, with
 * block sizes from 512 bytes to 64 KiB; every image at rest passes {@code check}.
 */
class VhdDiskPropertiesTest {
    private static final long CAPACITY = 384 * 1024 + 4096;
    private final VhdFormat vhd = new VhdFormat();

    @Provide
    Arbitrary<List<DiskOp>> ops() {
        return DiskModelCheck.operations(CAPACITY, 512, false);
    }

    @Property(tries = 200)
    void dynamicDisksBehaveLikeTheModel(@ForAll("ops") List<DiskOp> ops, @ForAll @IntRange(min = 9, max = 16) int blockBits)
            throws Exception {
        try (Fixture fixture = new Fixture(Map.of("block_size", Integer.toString(1 << blockBits)))) {
            DiskModelCheck.check(fixture, CAPACITY, 512, ops);
            fixture.assertClean();
        }
    }

    @Property(tries = 50)
    void fixedDisksBehaveLikeTheModel(@ForAll("ops") List<DiskOp> ops) throws Exception {
        try (Fixture fixture = new Fixture(Map.of("subformat", "fixed"))) {
            DiskModelCheck.check(fixture, CAPACITY, 512, ops);
            fixture.assertClean();
        }
    }

    /**
     * A write over several blocks whose first block's part is zeros, into blocks not yet allocated:
     * the zeros are skipped (they read as zeros already) but still taken from the buffer, so the next
     * block gets its own bytes, not the zeros again.
     */
    @Example
    void aZeroPartOfAWriteIsTakenFromTheBufferWithoutBeingWritten() throws Exception {
        try (Fixture fixture = new Fixture(Map.of("block_size", "65536"))) {
            VirtualDisk disk = fixture.create(CAPACITY, 512);
            byte[] data = new byte[3 * 65536];
            new java.util.SplittableRandom(5).nextBytes(data);
            java.util.Arrays.fill(data, 0, 65536 + 512, (byte) 0);
            ByteBuffer src = ByteBuffer.wrap(data);
            disk.write(512, src);
            assertThat(src.hasRemaining()).isFalse();
            ByteBuffer back = ByteBuffer.allocate(data.length);
            disk.read(512, back);
            assertThat(back.array()).isEqualTo(data);
            disk.close();
            fixture.assertClean();
        }
    }

    private final class Fixture implements DiskFixture {
        private final MemoryBackendProvider provider = new MemoryBackendProvider();
        private final String name = "v" + System.nanoTime();
        private final Map<String, String> parameters;

        Fixture(Map<String, String> parameters) {
            this.parameters = parameters;
        }

        @Override
        public VirtualDisk create(long capacity, int sectorSize) throws StorageException {
            return vhd.create(provider.open(URI.create("memory:" + name + "?size=0"), AccessMode.CREATE_NEW),
                    CreateOptions.ofCapacity(capacity).withParameters(parameters));
        }

        @Override
        public VirtualDisk reopen() throws StorageException {
            assertClean();
            return vhd.open(provider.open(URI.create("memory:" + name), AccessMode.READ_WRITE), OpenOptions.defaults());
        }

        void assertClean() {
            try (var backend = provider.open(URI.create("memory:" + name), AccessMode.READ_ONLY)) {
                CheckReport report = vhd.check(backend, false);
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
