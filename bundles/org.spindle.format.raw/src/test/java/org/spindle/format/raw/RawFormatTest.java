package org.spindle.format.raw;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatExceptionOfType;

import java.net.URI;
import java.nio.ByteBuffer;
import java.util.Map;

import org.assertj.core.api.ThrowableAssert.ThrowingCallable;
import org.assertj.core.api.ThrowableAssertAlternative;
import org.junit.jupiter.api.Test;
import org.spindle.backend.memory.MemoryBackendProvider;
import org.spindle.storage.api.AccessMode;
import org.spindle.storage.api.CreateOptions;
import org.spindle.storage.api.DiskFormat;
import org.spindle.storage.api.Discardable;
import org.spindle.storage.api.OpenOptions;
import org.spindle.storage.api.ProbeInput;
import org.spindle.storage.api.Resizable;
import org.spindle.storage.api.StorageBackend;
import org.spindle.storage.api.StorageException;
import org.spindle.storage.api.StorageException.Kind;
import org.spindle.storage.api.VirtualDisk;
import org.spindle.storage.api.WriteZeroes;

class RawFormatTest {
    private final RawFormat raw = new RawFormat();
    private final MemoryBackendProvider memory = new MemoryBackendProvider();

    private static ThrowableAssertAlternative<StorageException> failsWith(ThrowingCallable call, Kind kind) {
        return assertThatExceptionOfType(StorageException.class).isThrownBy(call)
                .satisfies(e -> assertThat(e.kind()).isEqualTo(kind));
    }

    private StorageBackend backend(String name, long size, AccessMode mode) throws StorageException {
        return memory.open(URI.create("memory:" + name + "?size=" + size), mode);
    }

    @Test
    void probingAlwaysAnswersWithTheFallbackScore() {
        ByteBuffer empty = ByteBuffer.allocate(0);
        assertThat(raw.probe(new ProbeInput("x", 0, empty, empty))).isEqualTo(DiskFormat.PROBE_FALLBACK);
    }

    @Test
    void theCapacityIsTheBackendSize() throws Exception {
        try (VirtualDisk disk = raw.open(backend("cap", 1 << 20, AccessMode.READ_WRITE), OpenOptions.defaults())) {
            assertThat(disk.capacity()).isEqualTo(1 << 20);
            assertThat(disk.logicalSectorSize()).isEqualTo(512);
            assertThat(disk.sectorCount()).isEqualTo(2048);
            assertThat(disk.formatName()).isEqualTo("raw");
        }
    }

    @Test
    void sectorIoMustBeWholeSectorsAndNamesTheSizes() throws Exception {
        try (VirtualDisk disk = raw.open(backend("align", 8192, AccessMode.READ_WRITE),
                OpenOptions.defaults().withLogicalSectorSize(4096))) {
            failsWith(() -> disk.readSectors(0, ByteBuffer.allocate(512)), Kind.UNALIGNED)
                    .withMessageContaining("512 bytes").withMessageContaining("4096-byte sectors");
            failsWith(() -> disk.writeSectors(1, ByteBuffer.allocate(100)), Kind.UNALIGNED);
            failsWith(() -> disk.readSectors(2, ByteBuffer.allocate(4096)), Kind.OUT_OF_BOUNDS);
            failsWith(() -> disk.readSectors(Long.MAX_VALUE / 100, ByteBuffer.allocate(4096)), Kind.OUT_OF_BOUNDS);
            failsWith(() -> disk.readSectors(-1, ByteBuffer.allocate(4096)), Kind.OUT_OF_BOUNDS);
        }
    }

    @Test
    void ioPastTheEndNamesOffsetAndLengthAndWritesNothing() throws Exception {
        try (VirtualDisk disk = raw.open(backend("end", 4096, AccessMode.READ_WRITE), OpenOptions.defaults())) {
            failsWith(() -> disk.write(4000, ByteBuffer.wrap(new byte[200])), Kind.OUT_OF_BOUNDS)
                    .withMessageContaining("200 bytes at offset 4000");
            ByteBuffer all = ByteBuffer.allocate(4096);
            disk.read(0, all);
            assertThat(all.array()).containsOnly(0);
            assertThat(disk.capacity()).isEqualTo(4096);
        }
    }

    @Test
    void aReadOnlyDiskRefusesWritesZeroingAndResizing() throws Exception {
        backend("ro", 4096, AccessMode.READ_WRITE).close();
        try (VirtualDisk disk = raw.open(memory.open(URI.create("memory:ro"), AccessMode.READ_ONLY),
                OpenOptions.defaults().withReadOnly(true))) {
            assertThat(disk.isReadOnly()).isTrue();
            failsWith(() -> disk.write(0, ByteBuffer.wrap(new byte[1])), Kind.READ_ONLY);
            assertThat(disk.capability(WriteZeroes.class)).isEmpty();
            assertThat(disk.capability(Resizable.class)).isEmpty();
            assertThat(disk.capability(Discardable.class)).isEmpty();
        }
    }

    @Test
    void writeZeroesAndDiscardUseTheBackend() throws Exception {
        try (VirtualDisk disk = raw.open(backend("zero", 1 << 20, AccessMode.READ_WRITE), OpenOptions.defaults())) {
            byte[] ones = new byte[1 << 20];
            java.util.Arrays.fill(ones, (byte) 0x11);
            disk.write(0, ByteBuffer.wrap(ones));
            disk.capability(WriteZeroes.class).orElseThrow().writeZeroes(1000, 5000);
            disk.capability(Discardable.class).orElseThrow().discard(0, 1 << 20);
            failsWith(() -> disk.capability(Discardable.class).orElseThrow().discard(1 << 20, 1), Kind.OUT_OF_BOUNDS);
            ByteBuffer back = ByteBuffer.allocate(1 << 20);
            disk.read(0, back);
            assertThat(back.array()).containsOnly(0);
        }
    }

    @Test
    void createSetsTheCapacityAndRefusesPartialSectors() throws Exception {
        try (VirtualDisk disk = raw.create(memory.open(URI.create("memory:?size=0"), AccessMode.READ_WRITE),
                CreateOptions.ofCapacity(3 << 20))) {
            assertThat(disk.capacity()).isEqualTo(3 << 20);
        }
        StorageBackend b = memory.open(URI.create("memory:?size=0"), AccessMode.READ_WRITE);
        failsWith(() -> raw.create(b, CreateOptions.ofCapacity(1000)), Kind.INVALID_CONFIG)
                .withMessageContaining("1000 bytes");
        b.close();
    }

    @Test
    void parametersAreRefused() throws Exception {
        StorageBackend b = backend("params", 512, AccessMode.READ_WRITE);
        failsWith(() -> raw.open(b, OpenOptions.defaults().withParameters(Map.of("cluster", "64K"))),
                Kind.INVALID_CONFIG).withMessageContaining("cluster");
        b.close();
    }

    @Test
    void aRawImageCannotRecordABaseOrTakeOptions() throws Exception {
        failsWith(() -> raw.create(backend("rawbase", 0, AccessMode.CREATE_NEW), CreateOptions.ofCapacity(4096)
                .withBacking(new org.spindle.storage.api.BackingReference("b.img", null))), Kind.UNSUPPORTED_FEATURE)
                .withMessageContaining("cannot record a base");
        failsWith(() -> raw.create(backend("rawopt", 0, AccessMode.CREATE_NEW), CreateOptions.ofCapacity(4096)
                .withParameters(Map.of("block_size", "4K"))), Kind.INVALID_CONFIG).withMessageContaining("no options");
    }
}
