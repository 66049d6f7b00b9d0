package org.spindle.format.sparse;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatExceptionOfType;

import java.net.URI;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.Map;

import org.assertj.core.api.ThrowableAssert.ThrowingCallable;
import org.assertj.core.api.ThrowableAssertAlternative;
import org.junit.jupiter.api.Test;
import org.spindle.backend.memory.MemoryBackendProvider;
import org.spindle.storage.api.AccessMode;
import org.spindle.storage.api.AllocationMap;
import org.spindle.storage.api.BackingReference;
import org.spindle.storage.api.CheckReport;
import org.spindle.storage.api.CreateOptions;
import org.spindle.storage.api.Discardable;
import org.spindle.storage.api.DiskFormat;
import org.spindle.storage.api.Extent;
import org.spindle.storage.api.OpenOptions;
import org.spindle.storage.api.Overlay;
import org.spindle.storage.api.ProbeInput;
import org.spindle.storage.api.StorageBackend;
import org.spindle.storage.api.StorageException;
import org.spindle.storage.api.StorageException.Kind;
import org.spindle.storage.api.VirtualDisk;
import org.spindle.storage.api.WriteZeroes;

class SparseFormatTest {
    private static final int KIB = 1024;
    private final SparseFormat sparse = new SparseFormat();
    private final MemoryBackendProvider memory = new MemoryBackendProvider();
    private int names;

    private static ThrowableAssertAlternative<StorageException> failsWith(ThrowingCallable call, Kind kind) {
        return assertThatExceptionOfType(StorageException.class).isThrownBy(call)
                .satisfies(e -> assertThat(e.kind()).isEqualTo(kind));
    }

    private String newName() {
        return "sparse" + names++;
    }

    private StorageBackend backend(String name, AccessMode mode) throws StorageException {
        return memory.open(URI.create("memory:" + name + (mode == AccessMode.CREATE_NEW ? "?size=0" : "")), mode);
    }

    /** The backend of the disk made last, to look at the file while the disk holds it. */
    private StorageBackend live;

    private VirtualDisk create(String name, long capacity, int blockSize) throws StorageException {
        live = backend(name, AccessMode.CREATE_NEW);
        return sparse.create(live, CreateOptions.ofCapacity(capacity)
                .withParameters(Map.of(SparseFormat.BLOCK_SIZE, Integer.toString(blockSize))));
    }

    private VirtualDisk open(String name) throws StorageException {
        StorageBackend backend = backend(name, AccessMode.READ_WRITE);
        try {
            return sparse.open(backend, OpenOptions.defaults());
        } catch (StorageException e) {
            backend.close();    // a failed open leaves the backend with the caller
            throw e;
        }
    }

    private byte[] bytes(String name) throws StorageException {
        try (StorageBackend b = backend(name, AccessMode.READ_ONLY)) {
            ByteBuffer all = ByteBuffer.allocate((int) b.size());
            b.read(0, all);
            return all.array();
        }
    }

    private byte[] liveBytes() throws StorageException {
        ByteBuffer all = ByteBuffer.allocate((int) live.size());
        live.read(0, all);
        return all.array();
    }

    private void put(String name, long offset, byte[] data) throws StorageException {
        try (StorageBackend b = backend(name, AccessMode.READ_WRITE)) {
            b.write(offset, ByteBuffer.wrap(data));
        }
    }

    private static byte[] le64(long value) {
        return ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(value).array();
    }

    private static ByteBuffer pattern(int length, int seed) {
        byte[] data = new byte[length];
        for (int i = 0; i < length; i++) {
            data[i] = (byte) (seed + i * 31 + 1);
        }
        return ByteBuffer.wrap(data);
    }

    private static ByteBuffer read(VirtualDisk disk, long offset, int length) throws StorageException {
        ByteBuffer dst = ByteBuffer.allocate(length);
        disk.read(offset, dst);
        return dst.flip();
    }

    @Test
    void aNewImageHasExactlyTheDocumentedLayout() throws Exception {
        String name = newName();
        // 10 MiB + 512 in 1 MiB blocks: 11 entries, table ends at 64 + 88, data at 1 MiB
        create(name, 10 * KIB * KIB + 512, 1 << 20).close();
        byte[] file = bytes(name);
        assertThat(file).hasSize(1 << 20);
        ByteBuffer expected = ByteBuffer.allocate(64).order(ByteOrder.LITTLE_ENDIAN)
                .put("AEROSPAR".getBytes(StandardCharsets.US_ASCII)).putInt(1).putInt(64).putInt(1 << 20).putInt(0)
                .putLong(10L * KIB * KIB + 512).putLong(64).putLong(11).putLong(1 << 20).putLong(0);
        assertThat(Arrays.copyOf(file, 64)).isEqualTo(expected.array());
        assertThat(Arrays.copyOfRange(file, 64, file.length)).containsOnly(0);
        AeroRules.assertStrictlyValid(file);
    }

    @Test
    void theDefaultBlockSizeIsOneMebibyte() throws Exception {
        String name = newName();
        try (VirtualDisk disk = sparse.create(backend(name, AccessMode.CREATE_NEW), CreateOptions.ofCapacity(1 << 24))) {
            assertThat(disk.capability(AllocationMap.class)).get().extracting(AllocationMap::allocationUnit)
                    .isEqualTo(1 << 20);
            assertThat(disk.details()).containsEntry("block-size", 1 << 20).containsEntry("blocks", 16L);
        }
    }

    @Test
    void writesAllocateBlocksInOrderAndTheTableNamesThemAfterFlush() throws Exception {
        String name = newName();
        try (VirtualDisk disk = create(name, 64 * KIB, 4 * KIB)) {
            disk.write(9 * KIB, pattern(100, 1));       // block 2 → slot 0
            disk.write(0, pattern(4 * KIB, 2));          // block 0 → slot 1
            disk.flush();
            byte[] file = liveBytes();
            long dataOffset = 4 * KIB;                   // 64 + 16 * 8 rounded up to a block
            ByteBuffer b = ByteBuffer.wrap(file).order(ByteOrder.LITTLE_ENDIAN);
            assertThat(b.getLong(56)).as("allocated_blocks").isEqualTo(2);
            assertThat(b.getLong(64 + 2 * 8)).isEqualTo(dataOffset);
            assertThat(b.getLong(64)).isEqualTo(dataOffset + 4 * KIB);
            assertThat(b.getLong(64 + 8)).isZero();
            assertThat(file).hasSize((int) dataOffset + 8 * KIB);
            // the rest of a fresh block reads as zeros
            assertThat(Arrays.copyOfRange(file, (int) dataOffset, (int) dataOffset + KIB)).containsOnly(0);
            assertThat(read(disk, 9 * KIB, 100)).isEqualTo(pattern(100, 1));
            AeroRules.assertStrictlyValid(file);
        }
    }

    @Test
    void tableEntriesReachTheFileOnlyAtFlush() throws Exception {
        String name = newName();
        try (VirtualDisk disk = create(name, 64 * KIB, 4 * KIB)) {
            disk.write(0, pattern(512, 3));
            ByteBuffer b = ByteBuffer.wrap(liveBytes()).order(ByteOrder.LITTLE_ENDIAN);
            assertThat(b.getLong(64)).as("entry before flush").isZero();
            disk.flush();
            b = ByteBuffer.wrap(liveBytes()).order(ByteOrder.LITTLE_ENDIAN);
            assertThat(b.getLong(64)).as("entry after flush").isEqualTo(4 * KIB);
        }
    }

    @Test
    void zerosWrittenToAnUnallocatedBlockAllocateNothing() throws Exception {
        String name = newName();
        try (VirtualDisk disk = create(name, 64 * KIB, 4 * KIB)) {
            disk.write(4 * KIB, ByteBuffer.allocate(8 * KIB));
            assertThat(disk.details()).containsEntry("allocated-blocks", 0L);
        }
        assertThat(bytes(name)).hasSize(4 * KIB);
    }

    @Test
    void discardFreesWholeBlocksOnlyAndCompactsTheFile() throws Exception {
        String name = newName();
        try (VirtualDisk disk = create(name, 64 * KIB, 4 * KIB)) {
            for (int block = 0; block < 4; block++) {
                disk.write(block * 4L * KIB, pattern(4 * KIB, block));
            }
            disk.flush();
            Discardable discard = disk.capability(Discardable.class).orElseThrow();
            discard.discard(2 * KIB, 4 * KIB);           // covers no whole block
            assertThat(disk.details()).containsEntry("allocated-blocks", 4L);
            discard.discard(4 * KIB, 4 * KIB);           // block 1, in the middle of the file
            assertThat(read(disk, 4 * KIB, 4 * KIB).array()).containsOnly(0);
            disk.flush();
            byte[] file = liveBytes();
            AeroRules.assertStrictlyValid(file);
            assertThat(file).as("the last slot moved into the hole").hasSize(4 * KIB + 3 * 4 * KIB);
            assertThat(read(disk, 0, 4 * KIB)).isEqualTo(pattern(4 * KIB, 0));
            assertThat(read(disk, 8 * KIB, 4 * KIB)).isEqualTo(pattern(4 * KIB, 2));
            assertThat(read(disk, 12 * KIB, 4 * KIB)).isEqualTo(pattern(4 * KIB, 3));
        }
        try (VirtualDisk disk = open(name)) {
            assertThat(read(disk, 12 * KIB, 4 * KIB)).isEqualTo(pattern(4 * KIB, 3));
            assertThat(read(disk, 4 * KIB, 4 * KIB).array()).containsOnly(0);
        }
    }

    @Test
    void aDiscardedSlotIsNotReusedBeforeTheFreeIsCommitted() throws Exception {
        String name = newName();
        try (VirtualDisk disk = create(name, 64 * KIB, 4 * KIB)) {
            disk.write(0, pattern(4 * KIB, 1));
            disk.flush();
            disk.capability(Discardable.class).orElseThrow().discard(0, 4 * KIB);
            disk.write(8 * KIB, pattern(4 * KIB, 2));
            // on disk, block 0 still names slot 0: block 2's data must be in slot 1
            byte[] file = liveBytes();
            assertThat(Arrays.copyOfRange(file, 4 * KIB, 8 * KIB)).isEqualTo(pattern(4 * KIB, 1).array());
            assertThat(Arrays.copyOfRange(file, 8 * KIB, 12 * KIB)).isEqualTo(pattern(4 * KIB, 2).array());
        }
    }

    @Test
    void writeZeroesFreesWholeBlocksAndZeroesPartialOnes() throws Exception {
        String name = newName();
        try (VirtualDisk disk = create(name, 64 * KIB, 4 * KIB)) {
            disk.write(0, pattern(12 * KIB, 5));
            disk.capability(WriteZeroes.class).orElseThrow().writeZeroes(2 * KIB, 8 * KIB);
            assertThat(read(disk, 2 * KIB, 8 * KIB).array()).containsOnly(0);
            assertThat(read(disk, 0, 2 * KIB)).isEqualTo(pattern(12 * KIB, 5).limit(2 * KIB));
            assertThat(disk.details()).containsEntry("allocated-blocks", 2L);
        }
    }

    @Test
    void theAllocationMapReportsRunsOfDataAndHoles() throws Exception {
        String name = newName();
        try (VirtualDisk disk = create(name, 64 * KIB, 4 * KIB)) {
            disk.write(4 * KIB, pattern(8 * KIB, 1));    // blocks 1 and 2 in slots 0 and 1 (data at 4 KiB)
            disk.write(40 * KIB, pattern(10, 2));         // block 10, slot 2
            AllocationMap map = disk.capability(AllocationMap.class).orElseThrow();
            assertThat(map.extent(0, Long.MAX_VALUE)).isEqualTo(Extent.absent(0, 4 * KIB));
            assertThat(map.extent(4 * KIB, Long.MAX_VALUE)).isEqualTo(Extent.data(4 * KIB, 8 * KIB, 4 * KIB));
            assertThat(map.extent(6 * KIB, KIB)).isEqualTo(Extent.data(6 * KIB, KIB, 6 * KIB));
            assertThat(map.extent(12 * KIB, Long.MAX_VALUE)).isEqualTo(Extent.absent(12 * KIB, 28 * KIB));
            assertThat(map.extent(40 * KIB, Long.MAX_VALUE)).isEqualTo(Extent.data(40 * KIB, 4 * KIB, 12 * KIB));
            assertThat(map.extent(44 * KIB, Long.MAX_VALUE)).isEqualTo(Extent.absent(44 * KIB, 20 * KIB));
            failsWith(() -> map.extent(64 * KIB, 1), Kind.OUT_OF_BOUNDS);
        }
    }

    @Test
    void probingRecognisesTheMagicEvenInATruncatedImage() {
        byte[] magic = "AEROSPAR".getBytes(StandardCharsets.US_ASCII);
        assertThat(sparse.probe(input(magic))).isEqualTo(DiskFormat.PROBE_MAGIC);
        assertThat(sparse.probe(input("AEROSPRS".getBytes(StandardCharsets.US_ASCII)))).isEqualTo(DiskFormat.PROBE_MAGIC);
        assertThat(sparse.probe(input("AEROSPA".getBytes(StandardCharsets.US_ASCII)))).isEqualTo(DiskFormat.PROBE_NO);
        assertThat(sparse.probe(input(new byte[4096]))).isEqualTo(DiskFormat.PROBE_NO);
    }

    private static ProbeInput input(byte[] head) {
        return new ProbeInput("x", head.length, ByteBuffer.wrap(head), ByteBuffer.wrap(head));
    }

    @Test
    void aTruncatedImageIsCorrupt() throws Exception {
        String name = newName();
        create(name, 64 * KIB, 4 * KIB).close();
        byte[] file = bytes(name);
        String shortName = newName();
        try (StorageBackend b = memory.open(URI.create("memory:" + shortName + "?size=0"), AccessMode.CREATE_NEW)) {
            b.write(0, ByteBuffer.wrap(file, 0, 100));
        }
        failsWith(() -> open(shortName), Kind.CORRUPT_IMAGE).withMessageContaining("block table is cut off");
        String tinyName = newName();
        try (StorageBackend b = memory.open(URI.create("memory:" + tinyName + "?size=0"), AccessMode.CREATE_NEW)) {
            b.write(0, ByteBuffer.wrap(file, 0, 20));
        }
        failsWith(() -> open(tinyName), Kind.CORRUPT_IMAGE).withMessageContaining("shorter than the 64-byte header");
    }

    @Test
    void everyHeaderFieldIsChecked() throws Exception {
        assertHeaderRefused(8, le32(2), Kind.UNSUPPORTED_FEATURE, "version 2");
        assertHeaderRefused(12, le32(128), Kind.CORRUPT_IMAGE, "header_size");
        assertHeaderRefused(16, le32(3000), Kind.CORRUPT_IMAGE, "block_size");
        assertHeaderRefused(16, le32(128 << 20), Kind.CORRUPT_IMAGE, "block_size");
        assertHeaderRefused(24, le64(1000), Kind.CORRUPT_IMAGE, "disk_size_bytes");
        assertHeaderRefused(32, le64(128), Kind.CORRUPT_IMAGE, "table_offset");
        assertHeaderRefused(40, le64(17), Kind.CORRUPT_IMAGE, "table_entries");
        assertHeaderRefused(48, le64(8192), Kind.CORRUPT_IMAGE, "data_offset");
        assertHeaderRefused(56, le64(17), Kind.CORRUPT_IMAGE, "allocated_blocks");
        assertHeaderRefused(0, "AEROSPRS".getBytes(StandardCharsets.US_ASCII), Kind.UNSUPPORTED_FEATURE, "legacy");
    }

    private static byte[] le32(int value) {
        return ByteBuffer.allocate(4).order(ByteOrder.LITTLE_ENDIAN).putInt(value).array();
    }

    private void assertHeaderRefused(int offset, byte[] value, Kind kind, String words) throws Exception {
        String name = newName();
        create(name, 64 * KIB, 4 * KIB).close();
        put(name, offset, value);
        failsWith(() -> open(name), kind).withMessageContaining(words);
    }

    @Test
    void aHugeTableIsRefusedBeforeAnythingIsAllocated() throws Exception {
        String name = newName();
        create(name, 64 * KIB, 4 * KIB).close();
        // 2^40 bytes in 512-byte blocks: 2^31 entries, a 16 GiB table
        long disk = 1L << 40;
        put(name, 16, le32(512));
        put(name, 24, le64(disk));
        put(name, 40, le64(disk / 512));
        failsWith(() -> open(name), Kind.UNSUPPORTED_FEATURE).withMessageContaining("larger than 128 MiB");
    }

    @Test
    void badTableEntriesAreCorruptAndCheckRepairsThem() throws Exception {
        String name = newName();
        try (VirtualDisk disk = create(name, 64 * KIB, 4 * KIB)) {
            disk.write(0, pattern(4 * KIB, 1));
            disk.write(4 * KIB, pattern(4 * KIB, 2));
        }
        put(name, 64 + 2 * 8, le64(4 * KIB + 100));     // block 2: misaligned
        put(name, 64 + 3 * 8, le64(4 * KIB));           // block 3: shares slot 0 with block 0
        put(name, 64 + 4 * 8, le64(1 << 20));           // block 4: past the end of the file
        failsWith(() -> open(name), Kind.CORRUPT_IMAGE).withMessageContaining("img check --repair");

        CheckReport found;
        try (StorageBackend b = backend(name, AccessMode.READ_ONLY)) {
            found = sparse.check(b, false);
        }
        assertThat(found.corruptions()).isEqualTo(3);
        assertThat(found.problems()).anySatisfy(p -> assertThat(p).contains("block 2").contains("block boundary"))
                .anySatisfy(p -> assertThat(p).contains("block 3 shares data slot 0"))
                .anySatisfy(p -> assertThat(p).contains("block 4").contains("past the end of the file"));

        CheckReport repaired;
        try (StorageBackend b = backend(name, AccessMode.READ_WRITE)) {
            repaired = sparse.check(b, true);
        }
        assertThat(repaired.corruptions()).isZero();
        assertThat(repaired.corruptionsRepaired()).isEqualTo(3);
        AeroRules.assertStrictlyValid(bytes(name));
        try (VirtualDisk disk = open(name)) {
            assertThat(read(disk, 0, 4 * KIB)).isEqualTo(pattern(4 * KIB, 1));
            assertThat(read(disk, 4 * KIB, 4 * KIB)).isEqualTo(pattern(4 * KIB, 2));
            assertThat(read(disk, 12 * KIB, 4 * KIB)).as("the block that shared slot 0 keeps its data")
                    .isEqualTo(pattern(4 * KIB, 1));
            assertThat(read(disk, 8 * KIB, 4 * KIB).array()).containsOnly(0);
            assertThat(read(disk, 16 * KIB, 4 * KIB).array()).containsOnly(0);
            // and the copies are independent now
            disk.write(0, pattern(4 * KIB, 9));
            assertThat(read(disk, 12 * KIB, 4 * KIB)).isEqualTo(pattern(4 * KIB, 1));
        }
    }

    @Test
    void leaksOpenAndAreReclaimedByRepair() throws Exception {
        String name = newName();
        try (VirtualDisk disk = create(name, 64 * KIB, 4 * KIB)) {
            disk.write(0, pattern(4 * KIB, 1));
            disk.write(4 * KIB, pattern(4 * KIB, 2));
        }
        // forget block 0's entry: its slot leaks, and the header still counts it
        put(name, 64, le64(0));
        try (VirtualDisk disk = open(name)) {
            assertThat(read(disk, 4 * KIB, 4 * KIB)).isEqualTo(pattern(4 * KIB, 2));
        }
        CheckReport report;
        try (StorageBackend b = backend(name, AccessMode.READ_WRITE)) {
            assertThat(sparse.check(b, false)).satisfies(r -> {
                assertThat(r.corruptions()).isZero();
                assertThat(r.leaks()).isEqualTo(1);
            });
            report = sparse.check(b, true);
        }
        assertThat(report.leaks()).isZero();
        assertThat(report.leaksRepaired()).isEqualTo(1);
        byte[] file = bytes(name);
        AeroRules.assertStrictlyValid(file);
        assertThat(file).hasSize(8 * KIB);
        try (VirtualDisk disk = open(name)) {
            assertThat(read(disk, 4 * KIB, 4 * KIB)).isEqualTo(pattern(4 * KIB, 2));
        }
    }

    @Test
    void checkingACleanImageChangesNothing() throws Exception {
        String name = newName();
        try (VirtualDisk disk = create(name, 64 * KIB, 4 * KIB)) {
            disk.write(0, pattern(4 * KIB, 1));
        }
        byte[] before = bytes(name);
        try (StorageBackend b = backend(name, AccessMode.READ_WRITE)) {
            CheckReport report = sparse.check(b, true);
            assertThat(report.clean()).isTrue();
            assertThat(report.problems()).isEmpty();
            assertThat(report.allocatedUnits()).isEqualTo(1);
            assertThat(report.totalUnits()).isEqualTo(16);
        }
        assertThat(bytes(name)).isEqualTo(before);
    }

    @Test
    void anOverlayRecordsItsBaseInThePaddingAfterTheTable() throws Exception {
        String name = newName();
        BackingReference base = new BackingReference("base.img", "raw");
        try (VirtualDisk disk = sparse.create(backend(name, AccessMode.CREATE_NEW),
                CreateOptions.ofCapacity(64 * KIB).withBacking(base)
                        .withParameters(Map.of(SparseFormat.BLOCK_SIZE, "4K")))) {
            assertThat(disk.capability(Overlay.class)).get().extracting(Overlay::base).isEqualTo(base);
        }
        byte[] file = bytes(name);
        AeroRules.assertStrictlyValid(file);
        assertThat(new String(file, 64 + 16 * 8, 8, StandardCharsets.US_ASCII)).isEqualTo("SPNDLEXT");
        try (VirtualDisk disk = open(name)) {
            assertThat(disk.capability(Overlay.class)).get().extracting(Overlay::base).isEqualTo(base);
            assertThat(disk.details()).containsEntry("base", "base.img").containsEntry("base-format", "raw");
        }
        // a damaged extension must not open as a plain image: the guest would see the wrong data
        put(name, 64 + 16 * 8 + 21, new byte[] {'X'});
        failsWith(() -> open(name), Kind.CORRUPT_IMAGE).withMessageContaining("checksum");
    }

    @Test
    void anOverlayPinnedToItsBasesSizeAndVersionRecordsBoth() throws Exception {
        String name = newName();
        BackingReference base = new BackingReference("https://images.example/disk.img", "raw")
                .pinned(10L << 30, "etag:\"5f3a-1c\"");
        try (VirtualDisk disk = sparse.create(backend(name, AccessMode.CREATE_NEW),
                CreateOptions.ofCapacity(64 * KIB).withBacking(base)
                        .withParameters(Map.of(SparseFormat.BLOCK_SIZE, "4K")))) {
            assertThat(disk.capability(Overlay.class)).get().extracting(Overlay::base).isEqualTo(base);
        }
        byte[] file = bytes(name);
        AeroRules.assertStrictlyValid(file);
        ByteBuffer ext = ByteBuffer.wrap(file, 64 + 16 * 8, 64).slice().order(java.nio.ByteOrder.LITTLE_ENDIAN);
        assertThat(ext.getInt(8)).isEqualTo(2);
        assertThat(ext.getLong(24)).isEqualTo(10L << 30);
        try (VirtualDisk disk = open(name)) {
            assertThat(disk.capability(Overlay.class)).get().extracting(Overlay::base).isEqualTo(base);
            assertThat(disk.details()).containsEntry("base-size", 10L << 30)
                    .containsEntry("base-version", "etag:\"5f3a-1c\"");
        }
        // nothing to pin: the first layout, which older readers know
        String plain = newName();
        try (VirtualDisk disk = sparse.create(backend(plain, AccessMode.CREATE_NEW),
                CreateOptions.ofCapacity(64 * KIB).withBacking(new BackingReference("base.img", null))
                        .withParameters(Map.of(SparseFormat.BLOCK_SIZE, "4K")))) {
            assertThat(disk.capability(Overlay.class).orElseThrow().base().size()).isEqualTo(-1);
        }
        assertThat(ByteBuffer.wrap(bytes(plain), 64 + 16 * 8 + 8, 4).order(java.nio.ByteOrder.LITTLE_ENDIAN).getInt())
                .isEqualTo(1);
    }

    @Test
    void repairLeavesAnOverlayWithADamagedBaseRecordUntouched() throws Exception {
        // found by fuzzing: the table was rewritten, then opening for the leak pass threw
        String name = newName();
        try (VirtualDisk disk = sparse.create(backend(name, AccessMode.CREATE_NEW), CreateOptions.ofCapacity(64 * KIB)
                .withBacking(new BackingReference("b.img", "raw")).withParameters(Map.of(SparseFormat.BLOCK_SIZE, "4K")))) {
            disk.write(0, pattern(4 * KIB, 1));
        }
        put(name, 64 + 3 * 8, le64(4 * KIB));              // block 3 shares block 0's slot
        put(name, 64 + 16 * 8 + 21, new byte[] {'X'});     // and the base record's checksum is wrong
        byte[] before = bytes(name);
        try (StorageBackend b = backend(name, AccessMode.READ_WRITE)) {
            CheckReport report = sparse.check(b, true);
            assertThat(report.corruptions()).isEqualTo(2);
            assertThat(report.corruptionsRepaired()).isZero();
            assertThat(report.problems()).anySatisfy(p -> assertThat(p).contains("not repairable"));
        }
        assertThat(bytes(name)).isEqualTo(before);
    }

    @Test
    void resizeGrowsIntoThePaddingAndShrinkingForgetsTheTail() throws Exception {
        String name = newName();
        try (VirtualDisk disk = create(name, 64 * KIB, 4 * KIB)) {
            disk.write(0, pattern(64 * KIB, 1));
            org.spindle.storage.api.Resizable resize = disk.capability(org.spindle.storage.api.Resizable.class).orElseThrow();
            resize.resize(128 * KIB);
            assertThat(disk.capacity()).isEqualTo(128 * KIB);
            assertThat(read(disk, 64 * KIB, 64 * KIB).array()).containsOnly(0);
            disk.write(100 * KIB, pattern(10, 2));
            resize.resize(30 * KIB);                      // frees blocks 8.., zeroes the rest of block 7
            assertThat(disk.details()).containsEntry("allocated-blocks", 8L);
            resize.resize(64 * KIB);
            assertThat(read(disk, 0, 30 * KIB)).isEqualTo(pattern(64 * KIB, 1).limit(30 * KIB));
            assertThat(read(disk, 30 * KIB, 34 * KIB).array()).as("what was cut off does not come back").containsOnly(0);
            // 4 KiB table block: 504 entries of 4 KiB at most
            assertThatExceptionOfType(StorageException.class).isThrownBy(() -> resize.resize(505L * 4 * KIB))
                    .satisfies(e -> assertThat(e.kind()).isEqualTo(Kind.UNSUPPORTED_FEATURE))
                    .withMessageContaining("addresses at most 2064384 bytes");
            assertThatExceptionOfType(StorageException.class).isThrownBy(() -> resize.resize(1000))
                    .satisfies(e -> assertThat(e.kind()).isEqualTo(Kind.INVALID_CONFIG));
        }
        AeroRules.assertStrictlyValid(bytes(name));
        try (VirtualDisk disk = open(name)) {
            assertThat(disk.capacity()).isEqualTo(64 * KIB);
            assertThat(read(disk, 0, 30 * KIB)).isEqualTo(pattern(64 * KIB, 1).limit(30 * KIB));
            assertThat(read(disk, 30 * KIB, 34 * KIB).array()).containsOnly(0);
        }
    }

    @Test
    void aRefusedShrinkLosesNothing() throws Exception {
        // found in review: the tail was freed before the data-offset check refused the resize
        String name = newName();
        try (VirtualDisk disk = create(name, 600L * 4 * KIB, 4 * KIB)) {     // a two-block table
            disk.write(500L * 4 * KIB, pattern(100, 3));
            org.spindle.storage.api.Resizable resize = disk.capability(org.spindle.storage.api.Resizable.class).orElseThrow();
            assertThatExceptionOfType(StorageException.class).isThrownBy(() -> resize.resize(100L * 4 * KIB))
                    .satisfies(e -> assertThat(e.kind()).isEqualTo(Kind.UNSUPPORTED_FEATURE))
                    .withMessageContaining("would move the data area");
            assertThat(disk.capacity()).isEqualTo(600L * 4 * KIB);
            assertThat(read(disk, 500L * 4 * KIB, 100)).isEqualTo(pattern(100, 3));
        }
    }

    @Test
    void shrinkingAnImageWithLeaksGivesThemBackFirst() throws Exception {
        // found in review: the shrunk header kept a slot count larger than its table
        String name = newName();
        try (VirtualDisk disk = create(name, 32 * KIB, 4 * KIB)) {
            for (int block = 7; block >= 0; block--) {
                disk.write(block * 4L * KIB, pattern(4 * KIB, block));   // block 0 ends in slot 7
            }
        }
        put(name, 64 + 8, le64(0));                     // block 1's slot leaks, as after a crash
        try (VirtualDisk disk = open(name)) {
            disk.capability(org.spindle.storage.api.Resizable.class).orElseThrow().resize(8 * KIB);
            assertThat(read(disk, 0, 4 * KIB)).isEqualTo(pattern(4 * KIB, 0));
        }
        AeroRules.assertStrictlyValid(bytes(name));
        try (VirtualDisk disk = open(name)) {
            assertThat(disk.capacity()).isEqualTo(8 * KIB);
            assertThat(read(disk, 0, 4 * KIB)).isEqualTo(pattern(4 * KIB, 0));
            assertThat(read(disk, 4 * KIB, 4 * KIB).array()).containsOnly(0);
        }
    }

    @Test
    void anOverlayOrAReadOnlyImageCannotResize() throws Exception {
        String name = newName();
        try (VirtualDisk disk = sparse.create(backend(name, AccessMode.CREATE_NEW), CreateOptions.ofCapacity(64 * KIB)
                .withBacking(new BackingReference("b.img", null)).withParameters(Map.of(SparseFormat.BLOCK_SIZE, "4K")))) {
            assertThat(disk.capability(org.spindle.storage.api.Resizable.class)).isEmpty();
        }
    }

    @Test
    void aBaseThatDoesNotFitThePaddingIsRefusedAtCreate() throws Exception {
        // 64 + 8 * 504 = 4096: the table fills its block exactly, no room at all
        String name = newName();
        failsWith(() -> sparse.create(backend(name, AccessMode.CREATE_NEW),
                CreateOptions.ofCapacity(504L * 4096).withBacking(new BackingReference("b.img", null))
                        .withParameters(Map.of(SparseFormat.BLOCK_SIZE, "4K"))), Kind.INVALID_CONFIG)
                .withMessageContaining("choose another block size");
    }

    @Test
    void createRefusesBadOptions() throws Exception {
        failsWith(() -> create(newName(), 64 * KIB, 3000), Kind.INVALID_CONFIG).withMessageContaining("power of two");
        failsWith(() -> create(newName(), 64 * KIB, 32 << 20), Kind.INVALID_CONFIG).withMessageContaining("16 MiB");
        failsWith(() -> create(newName(), 1000, 4096), Kind.INVALID_CONFIG);
        failsWith(() -> create(newName(), 0, 4096), Kind.INVALID_CONFIG);
        failsWith(() -> sparse.create(backend(newName(), AccessMode.CREATE_NEW), CreateOptions.ofCapacity(4096)
                .withParameters(Map.of("cluster_size", "64K"))), Kind.INVALID_CONFIG).withMessageContaining("block_size");
    }

    @Test
    void aReadOnlyImageRefusesChangesAndOffersNoDiscard() throws Exception {
        String name = newName();
        create(name, 64 * KIB, 4 * KIB).close();
        byte[] before = bytes(name);
        try (VirtualDisk disk = sparse.open(backend(name, AccessMode.READ_ONLY), OpenOptions.defaults().withReadOnly(true))) {
            assertThat(disk.isReadOnly()).isTrue();
            failsWith(() -> disk.write(0, pattern(10, 1)), Kind.READ_ONLY);
            assertThat(disk.capability(Discardable.class)).isEmpty();
            assertThat(disk.capability(WriteZeroes.class)).isEmpty();
            disk.flush();
        }
        assertThat(bytes(name)).isEqualTo(before);
    }

    @Test
    void fillingEveryBlockAfterDiscardingEverythingStillFits() throws Exception {
        // freed slots wait for a commit; when all slots are held, the disk commits by itself
        String name = newName();
        try (VirtualDisk disk = create(name, 16 * KIB, 4 * KIB)) {
            disk.write(0, pattern(16 * KIB, 1));
            disk.flush();
            disk.capability(Discardable.class).orElseThrow().discard(0, 16 * KIB);
            disk.write(0, pattern(16 * KIB, 2));
            assertThat(read(disk, 0, 16 * KIB)).isEqualTo(pattern(16 * KIB, 2));
        }
        AeroRules.assertStrictlyValid(bytes(name));
        try (VirtualDisk disk = open(name)) {
            assertThat(read(disk, 0, 16 * KIB)).isEqualTo(pattern(16 * KIB, 2));
        }
    }
}
