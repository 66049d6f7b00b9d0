package org.spindle.backend.file;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.spindle.storage.api.AccessMode;
import org.spindle.storage.api.StorageException;
import org.spindle.storage.api.StorageException.Kind;

/** Mapped reads of a file that this process writes, grows and shrinks (see {@link FileMapping}). */
class FileMappingTest {
    private static final int MIB = 1 << 20;

    @TempDir
    Path dir;

    @Test
    void aMappedReadSeesEveryWriteThatReturnedBeforeIt() throws Exception {
        Path file = Files.write(dir.resolve("coherent.img"), new byte[4 * MIB]);
        try (FileBackend backend = FileBackend.open(file, AccessMode.READ_WRITE)) {
            assertThat(backend.readsMapped()).isTrue();
            assertThat(mapped(backend)).isEqualTo(4 * MIB);
            SplittableRandom random = new SplittableRandom(7);
            for (int i = 0; i < 200; i++) {
                int length = 1 + random.nextInt(64 * 1024);
                long offset = random.nextLong(4 * MIB - length);
                byte[] bytes = new byte[length];
                random.nextBytes(bytes);
                backend.write(offset, ByteBuffer.wrap(bytes));
                // heap and direct destinations, at a position other than 0
                ByteBuffer heap = ByteBuffer.allocate(length + 3).position(3);
                ByteBuffer direct = ByteBuffer.allocateDirect(length + 5).position(5);
                backend.read(offset, heap);
                backend.read(offset, direct);
                assertThat(heap.position()).isEqualTo(length + 3);
                assertThat(direct.position()).isEqualTo(length + 5);
                assertThat(bytesOf(heap.position(3))).isEqualTo(bytes);
                assertThat(bytesOf(direct.position(5))).isEqualTo(bytes);
            }
        }
    }

    @Test
    void aGrowingFileIsReadPastTheMappingAndMappedAgainOnceItHasGrownEnough() throws Exception {
        Path file = dir.resolve("grows.img");
        try (FileBackend backend = FileBackend.open(file, AccessMode.CREATE_NEW)) {
            assertThat(mapped(backend)).as("an empty file has nothing to map").isZero();
            // append 1 MiB clusters as a growing format does, reading each back at once
            byte[] cluster = new byte[MIB];
            long mappedBefore = 0;
            int remaps = 0;
            for (int i = 0; i < 40; i++) {
                java.util.Arrays.fill(cluster, (byte) (i + 1));
                backend.write((long) i * MIB, ByteBuffer.wrap(cluster));
                ByteBuffer back = ByteBuffer.allocate(MIB);
                backend.read((long) i * MIB, back);
                assertThat(back.array()).isEqualTo(cluster);
                long now = mapped(backend);
                if (now != mappedBefore) {
                    remaps++;
                    assertThat(now - mappedBefore).as("the mapping grows in steps").isGreaterThanOrEqualTo(
                            FileMapping.MIN_GROWTH);
                    mappedBefore = now;
                }
            }
            assertThat(remaps).as("40 MiB appended in 1 MiB writes: two new mappings, not forty").isEqualTo(2);
            // everything, mapped or not, reads back
            for (int i = 0; i < 40; i++) {
                ByteBuffer back = ByteBuffer.allocate(16);
                backend.read((long) i * MIB + MIB - 16, back);
                assertThat(back.array()).containsOnly((byte) (i + 1));
            }
        }
    }

    @Test
    void aResizeRemapsAndAReadPastTheNewEndFailsCleanly() throws Exception {
        Path file = Files.write(dir.resolve("resized.img"), new byte[8 * MIB]);
        try (FileBackend backend = FileBackend.open(file, AccessMode.READ_WRITE)) {
            backend.write(3 * MIB, ByteBuffer.wrap(new byte[] {9, 9, 9}));
            backend.resize(3 * MIB + 2);
            assertThat(mapped(backend)).isEqualTo(3 * MIB + 2);
            ByteBuffer tail = ByteBuffer.allocate(2);
            backend.read(3 * MIB, tail);
            assertThat(tail.array()).containsExactly(9, 9);
            ByteBuffer past = ByteBuffer.allocate(4096);
            assertThatThrownBy(() -> backend.read(4 * MIB, past)).isInstanceOfSatisfying(StorageException.class,
                    e -> assertThat(e.kind()).isEqualTo(Kind.OUT_OF_BOUNDS));
            assertThat(past.position()).isZero();
            backend.resize(6 * MIB);
            assertThat(mapped(backend)).isEqualTo(6 * MIB);
            ByteBuffer grown = ByteBuffer.allocate(4096);
            backend.read(5 * MIB, grown);
            assertThat(grown.array()).containsOnly(0);
        }
    }

    @Test
    void readersRacingRemapsGetTheFilesBytesOrACleanErrorNeverAFault() throws Exception {
        // the first 4 MiB never change; the writer grows the file past it and cuts it back, over and over
        byte[] stable = FileBackendTest.pattern(4 * MIB);
        Path file = Files.write(dir.resolve("racing.img"), stable);
        try (FileBackend backend = FileBackend.open(file, AccessMode.READ_WRITE)) {
            AtomicBoolean stop = new AtomicBoolean();
            ExecutorService threads = Executors.newFixedThreadPool(3);
            try {
                List<Future<Integer>> readers = new ArrayList<>();
                for (int r = 0; r < 2; r++) {
                    int seed = r;
                    readers.add(threads.submit(() -> {
                        SplittableRandom random = new SplittableRandom(seed);
                        ByteBuffer dst = ByteBuffer.allocateDirect(4096);
                        int reads = 0;
                        while (!stop.get()) {
                            long offset = random.nextLong(stable.length / 4096) * 4096;
                            backend.read(offset, dst.clear());
                            byte[] got = bytesOf(dst.flip());
                            assertThat(got).isEqualTo(java.util.Arrays.copyOfRange(stable, (int) offset,
                                    (int) offset + 4096));
                            // and past the stable part: data, or OUT_OF_BOUNDS if the file is short now
                            try {
                                backend.read(stable.length + random.nextLong(30L * MIB), dst.clear());
                            } catch (StorageException e) {
                                assertThat(e.kind()).as(e.toString()).isEqualTo(Kind.OUT_OF_BOUNDS);
                            }
                            reads++;
                        }
                        return reads;
                    }));
                }
                Future<?> writer = threads.submit(() -> {
                    for (int i = 0; i < 100; i++) {
                        backend.resize(stable.length + 40L * MIB);
                        backend.write(stable.length + 20L * MIB, ByteBuffer.allocate(4096));
                        backend.resize(stable.length);
                    }
                    return null;
                });
                writer.get(60, TimeUnit.SECONDS);
                stop.set(true);
                for (Future<Integer> reader : readers) {
                    assertThat(reader.get(10, TimeUnit.SECONDS)).isPositive();
                }
            } finally {
                stop.set(true);
                threads.shutdownNow();
            }
        }
    }

    @Test
    void theMappingIsSharedByReadersAndGoesWithTheLast() throws Exception {
        Path file = Files.write(dir.resolve("shared.img"), FileBackendTest.pattern(MIB));
        FileBackend first = FileBackend.open(file, AccessMode.READ_ONLY);
        FileBackend second = FileBackend.open(file, AccessMode.READ_ONLY);
        assertThat(second.entry().mapping).isSameAs(first.entry().mapping);
        first.close();
        ByteBuffer back = ByteBuffer.allocate(4096);
        second.read(MIB - 4096, back);
        assertThat(back.array()).isEqualTo(java.util.Arrays.copyOfRange(FileBackendTest.pattern(MIB), MIB - 4096, MIB));
        FileMapping mapping = second.entry().mapping;
        second.close();
        assertThat(mapping.mappedLength()).as("unmapped with the last user").isZero();
    }

    private static long mapped(FileBackend backend) {
        return backend.entry().mapping.mappedLength();
    }

    private static byte[] bytesOf(ByteBuffer buffer) {
        byte[] bytes = new byte[buffer.remaining()];
        buffer.get(bytes);
        return bytes;
    }
}
