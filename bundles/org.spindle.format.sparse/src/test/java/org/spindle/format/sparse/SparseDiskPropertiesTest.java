package org.spindle.format.sparse;

import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import net.jqwik.api.Arbitrary;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import net.jqwik.api.constraints.IntRange;
import org.spindle.backend.file.FileBackend;
import org.spindle.backend.memory.MemoryBackendProvider;
import org.spindle.storage.api.AccessMode;
import org.spindle.storage.api.CreateOptions;
import org.spindle.storage.api.OpenOptions;
import org.spindle.storage.api.StorageException;
import org.spindle.storage.api.VirtualDisk;
import org.spindle.testing.storage.DiskFixture;
import org.spindle.testing.storage.DiskModelCheck;
import org.spindle.testing.storage.DiskOp;

/**
 * Sparse images against a byte-array model: random reads, writes, discards, zeroing, flushes and
 * reopens, with block sizes from 512 bytes to 64 KiB. After every close the file must also pass the
 * strict open rules of the layout's other reader, so discards never leave it unreadable there.
 */
class SparseDiskPropertiesTest {
    private static final long CAPACITY = 256 * 1024 + 4096;
    private final SparseFormat sparse = new SparseFormat();

    @Provide
    Arbitrary<List<DiskOp>> ops512() {
        return DiskModelCheck.operations(CAPACITY, 512, true);
    }

    @Provide
    Arbitrary<List<DiskOp>> ops4k() {
        return DiskModelCheck.operations(CAPACITY, 4096, true);
    }

    @Property(tries = 200)
    void sparseOverFileBehavesLikeTheModel(@ForAll("ops512") List<DiskOp> ops,
            @ForAll @IntRange(min = 9, max = 16) int blockShift) throws Exception {
        try (FileFixture fixture = new FileFixture(1 << blockShift)) {
            DiskModelCheck.check(fixture, CAPACITY, 512, ops);
            fixture.assertStrictlyValid();
        }
    }

    @Property(tries = 100)
    void sparseWith4KSectorsBehavesLikeTheModel(@ForAll("ops4k") List<DiskOp> ops,
            @ForAll @IntRange(min = 12, max = 15) int blockShift) throws Exception {
        try (FileFixture fixture = new FileFixture(1 << blockShift)) {
            DiskModelCheck.check(fixture, CAPACITY, 4096, ops);
            fixture.assertStrictlyValid();
        }
    }

    @Property(tries = 200)
    void sparseOverMemoryBehavesLikeTheModel(@ForAll("ops512") List<DiskOp> ops,
            @ForAll @IntRange(min = 9, max = 14) int blockShift) throws Exception {
        try (MemoryFixture fixture = new MemoryFixture(1 << blockShift)) {
            DiskModelCheck.check(fixture, CAPACITY, 512, ops);
        }
    }

    private CreateOptions options(long capacity, int sectorSize, int blockSize) {
        return CreateOptions.ofCapacity(capacity).withLogicalSectorSize(sectorSize)
                .withParameters(Map.of(SparseFormat.BLOCK_SIZE, Integer.toString(blockSize)));
    }

    private final class FileFixture implements DiskFixture {
        private final Path dir = Files.createTempDirectory("spindle-sparse");
        private final Path file = dir.resolve("disk.sparse");
        private final int blockSize;
        private int sectorSize;

        FileFixture(int blockSize) throws java.io.IOException {
            this.blockSize = blockSize;
        }

        @Override
        public VirtualDisk create(long capacity, int sectorSize) throws StorageException {
            this.sectorSize = sectorSize;
            return sparse.create(FileBackend.open(file, AccessMode.CREATE_NEW), options(capacity, sectorSize, blockSize));
        }

        @Override
        public VirtualDisk reopen() throws StorageException {
            assertStrictlyValid();
            return sparse.open(FileBackend.open(file, AccessMode.READ_WRITE),
                    OpenOptions.defaults().withLogicalSectorSize(sectorSize));
        }

        void assertStrictlyValid() {
            try {
                AeroRules.assertStrictlyValid(Files.readAllBytes(file));
            } catch (java.io.IOException e) {
                throw new java.io.UncheckedIOException(e);
            }
        }

        @Override
        public void close() throws Exception {
            Files.deleteIfExists(file);
            Files.deleteIfExists(dir);
        }
    }

    private final class MemoryFixture implements DiskFixture {
        private final MemoryBackendProvider provider = new MemoryBackendProvider();
        private final int blockSize;
        private int sectorSize;

        MemoryFixture(int blockSize) {
            this.blockSize = blockSize;
        }

        @Override
        public VirtualDisk create(long capacity, int sectorSize) throws StorageException {
            this.sectorSize = sectorSize;
            return sparse.create(provider.open(URI.create("memory:disk?size=0"), AccessMode.CREATE_NEW),
                    options(capacity, sectorSize, blockSize));
        }

        @Override
        public VirtualDisk reopen() throws StorageException {
            return sparse.open(provider.open(URI.create("memory:disk"), AccessMode.READ_WRITE),
                    OpenOptions.defaults().withLogicalSectorSize(sectorSize));
        }

        @Override
        public void close() {
        }
    }
}
