package org.spindle.format.raw;

import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import net.jqwik.api.Arbitrary;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
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

/** Raw over a file and over memory, checked against an in-memory model with random operation sequences. */
class RawDiskPropertiesTest {
    private static final long CAPACITY = 256 * 1024 + 4096;
    private final RawFormat raw = new RawFormat();

    @Provide
    Arbitrary<List<DiskOp>> ops512() {
        return DiskModelCheck.operations(CAPACITY, 512);
    }

    @Provide
    Arbitrary<List<DiskOp>> ops4k() {
        return DiskModelCheck.operations(CAPACITY, 4096);
    }

    @Property(tries = 150)
    void rawOverFileBehavesLikeTheModel(@ForAll("ops512") List<DiskOp> ops) throws Exception {
        try (FileFixture fixture = new FileFixture()) {
            DiskModelCheck.check(fixture, CAPACITY, 512, ops);
        }
    }

    @Property(tries = 100)
    void rawOverFileWith4KSectorsBehavesLikeTheModel(@ForAll("ops4k") List<DiskOp> ops) throws Exception {
        try (FileFixture fixture = new FileFixture()) {
            DiskModelCheck.check(fixture, CAPACITY, 4096, ops);
        }
    }

    @Property(tries = 150)
    void rawOverMemoryBehavesLikeTheModel(@ForAll("ops512") List<DiskOp> ops) throws Exception {
        try (MemoryFixture fixture = new MemoryFixture()) {
            DiskModelCheck.check(fixture, CAPACITY, 512, ops);
        }
    }

    private final class FileFixture implements DiskFixture {
        private final Path dir = Files.createTempDirectory("spindle-raw");
        private final Path file = dir.resolve("disk.img");
        private int sectorSize;

        FileFixture() throws java.io.IOException {
        }

        @Override
        public VirtualDisk create(long capacity, int sectorSize) throws StorageException {
            this.sectorSize = sectorSize;
            return raw.create(FileBackend.open(file, AccessMode.CREATE_NEW),
                    CreateOptions.ofCapacity(capacity).withLogicalSectorSize(sectorSize));
        }

        @Override
        public VirtualDisk reopen() throws StorageException {
            return raw.open(FileBackend.open(file, AccessMode.READ_WRITE),
                    OpenOptions.defaults().withLogicalSectorSize(sectorSize));
        }

        @Override
        public void close() throws Exception {
            Files.deleteIfExists(file);
            Files.deleteIfExists(dir);
        }
    }

    private final class MemoryFixture implements DiskFixture {
        private final MemoryBackendProvider provider = new MemoryBackendProvider();
        private int sectorSize;

        @Override
        public VirtualDisk create(long capacity, int sectorSize) throws StorageException {
            this.sectorSize = sectorSize;
            return raw.create(provider.open(URI.create("memory:disk?size=0"), AccessMode.CREATE_NEW),
                    CreateOptions.ofCapacity(capacity).withLogicalSectorSize(sectorSize));
        }

        @Override
        public VirtualDisk reopen() throws StorageException {
            return raw.open(provider.open(URI.create("memory:disk"), AccessMode.READ_WRITE),
                    OpenOptions.defaults().withLogicalSectorSize(sectorSize));
        }

        @Override
        public void close() {
        }
    }
}
