package org.spindle.format.iso;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatExceptionOfType;

import java.net.URI;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Map;
import java.util.ServiceLoader;

import org.assertj.core.api.ThrowableAssert.ThrowingCallable;
import org.assertj.core.api.ThrowableAssertAlternative;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.spindle.backend.file.FileBackend;
import org.spindle.backend.memory.MemoryBackendProvider;
import org.spindle.storage.api.AccessMode;
import org.spindle.storage.api.AllocationMap;
import org.spindle.storage.api.CreateOptions;
import org.spindle.storage.api.DiskFormat;
import org.spindle.storage.api.Discardable;
import org.spindle.storage.api.Extent;
import org.spindle.storage.api.MediaType;
import org.spindle.storage.api.OpenOptions;
import org.spindle.storage.api.ProbeInput;
import org.spindle.storage.api.Resizable;
import org.spindle.storage.api.StorageBackend;
import org.spindle.storage.api.StorageException;
import org.spindle.storage.api.StorageException.Kind;
import org.spindle.storage.api.StorageException.Operation;
import org.spindle.storage.api.VirtualDisk;
import org.spindle.storage.api.WriteZeroes;

class IsoFormatTest {
    private static final int SECTOR = IsoImage.SECTOR;
    private final IsoFormat iso = new IsoFormat();
    private final MemoryBackendProvider memory = new MemoryBackendProvider();

    private static ThrowableAssertAlternative<StorageException> failsWith(ThrowingCallable call, Kind kind) {
        return assertThatExceptionOfType(StorageException.class).isThrownBy(call)
                .satisfies(e -> assertThat(e.kind()).isEqualTo(kind));
    }

    /** A named memory volume holding {@code image}, opened read-only. */
    private StorageBackend backend(String name, byte[] image) throws StorageException {
        try (StorageBackend writer = memory.open(URI.create("memory:" + name + "?size=" + image.length),
                AccessMode.READ_WRITE)) {
            writer.write(0, ByteBuffer.wrap(image));
        }
        return memory.open(URI.create("memory:" + name), AccessMode.READ_ONLY);
    }

    private VirtualDisk open(String name, byte[] image) throws StorageException {
        return iso.open(backend(name, image), OpenOptions.defaults());
    }

    /** Opening must fail, and leave the backend to the caller, still open. */
    private ThrowableAssertAlternative<StorageException> openFails(String name, byte[] image, Kind kind)
            throws StorageException {
        StorageBackend b = backend(name, image);
        try {
            return failsWith(() -> iso.open(b, OpenOptions.defaults()), kind)
                    .satisfies(e -> assertThat(e.operation()).isEqualTo(Operation.OPEN))
                    .satisfies(e -> assertThat(e.location()).isEqualTo("memory:" + name))
                    .satisfies(e -> assertThat(b.size()).isEqualTo(image.length));
        } finally {
            b.close();
        }
    }

    static ProbeInput probeInput(String location, long size, byte[] head) {
        int tail = Math.min(head.length, ProbeInput.TAIL_SIZE);
        return new ProbeInput(location, size, ByteBuffer.wrap(head, 0, Math.min(head.length, ProbeInput.HEAD_SIZE)),
                ByteBuffer.wrap(head, head.length - tail, tail).slice());
    }

    // ---- probing ----

    @Test
    void cd001AtSector16IsTheMagicWhateverTheNameOrSize() {
        byte[] image = IsoImage.valid(40);
        assertThat(iso.probe(probeInput("file:///tmp/disc.img", image.length, image)))
                .isEqualTo(DiskFormat.PROBE_MAGIC);
        // a truncated image still scores, so that opening it says why it is unusable
        assertThat(iso.probe(probeInput("disc", 1234567, Arrays.copyOf(image, 32774))))
                .isEqualTo(DiskFormat.PROBE_MAGIC);
        byte[] bootOnly = IsoImage.ofSectors(20).bootRecord().terminator().bytes();
        assertThat(iso.probe(probeInput("boot", bootOnly.length, bootOnly))).isEqualTo(DiskFormat.PROBE_MAGIC);
    }

    @Test
    void anIsoNameWithoutCd001IsWeakOnlyForWholeSectors() {
        byte[] blank = new byte[8 * SECTOR];
        assertThat(iso.probe(probeInput("file:///tmp/Disc.ISO", blank.length, blank)))
                .isEqualTo(DiskFormat.PROBE_WEAK);
        assertThat(iso.probe(probeInput("memory:disc.iso?size=16K", blank.length, blank)))
                .isEqualTo(DiskFormat.PROBE_WEAK);
        assertThat(iso.probe(probeInput("/tmp/disc.iso", 1000, new byte[1000]))).isEqualTo(DiskFormat.PROBE_NO);
        assertThat(iso.probe(probeInput("/tmp/disc.iso", 0, new byte[0]))).isEqualTo(DiskFormat.PROBE_NO);
        assertThat(iso.probe(probeInput("/tmp/disc.img", blank.length, blank))).isEqualTo(DiskFormat.PROBE_NO);
        assertThat(iso.probe(probeInput("/tmp/disc.iso.img", blank.length, blank))).isEqualTo(DiskFormat.PROBE_NO);
    }

    @Test
    void aShortInputIsCheckedOnlyAsFarAsItGoes() {
        byte[] image = IsoImage.valid(20);
        for (int length : new int[] {0, 1, 2048, 32768, 32769, 32773}) {
            assertThat(iso.probe(probeInput("short", length, Arrays.copyOf(image, length))))
                    .as("%d bytes", length).isEqualTo(DiskFormat.PROBE_NO);
        }
        assertThat(iso.probe(probeInput("short", 32774, Arrays.copyOf(image, 32774))))
                .isEqualTo(DiskFormat.PROBE_MAGIC);
        // the size may claim more than the head holds
        assertThat(iso.probe(probeInput("short.iso", 1L << 40, new byte[100]))).isEqualTo(DiskFormat.PROBE_WEAK);
    }

    @Test
    void theFormatIsFoundThroughServiceLoader() {
        assertThat(ServiceLoader.load(DiskFormat.class).stream().map(p -> p.get().name())).contains("iso");
        assertThat(iso.name()).isEqualTo("iso");
    }

    // ---- opening ----

    @Test
    void aValidImageIsA2048ByteSectorReadOnlyCd() throws Exception {
        byte[] image = IsoImage.valid(40);
        try (VirtualDisk disk = open("valid", image)) {
            assertThat(disk.capacity()).isEqualTo(40L * SECTOR);
            assertThat(disk.logicalSectorSize()).isEqualTo(2048);
            assertThat(disk.sectorCount()).isEqualTo(40);
            assertThat(disk.mediaType()).isEqualTo(MediaType.CDROM);
            assertThat(disk.isReadOnly()).isTrue();
            assertThat(disk.formatName()).isEqualTo("iso");
            ByteBuffer pvd = ByteBuffer.allocate(SECTOR);
            disk.readSectors(16, pvd);
            assertThat(pvd.array()).isEqualTo(Arrays.copyOfRange(image, 16 * SECTOR, 17 * SECTOR));
            ByteBuffer all = ByteBuffer.allocate(image.length);
            disk.read(0, all);
            assertThat(all.array()).isEqualTo(image);
            failsWith(() -> disk.readSectors(40, ByteBuffer.allocate(SECTOR)), Kind.OUT_OF_BOUNDS);
            failsWith(() -> disk.readSectors(0, ByteBuffer.allocate(512)), Kind.UNALIGNED);
        }
    }

    @Test
    void openingForWritingIsAllowedButTheDiskStaysReadOnly() throws Exception {
        StorageBackend writable = memory.open(URI.create("memory:rw?size=" + 20 * SECTOR), AccessMode.READ_WRITE);
        writable.write(0, ByteBuffer.wrap(IsoImage.valid(20)));
        try (VirtualDisk disk = iso.open(writable, OpenOptions.defaults().withReadOnly(false))) {
            assertThat(disk.isReadOnly()).isTrue();
            failsWith(() -> disk.write(0, ByteBuffer.allocate(1)), Kind.READ_ONLY);
        }
    }

    @Test
    void theSectorSizeOptionMayOnlyBe2048() throws Exception {
        byte[] image = IsoImage.valid(20);
        try (VirtualDisk disk = iso.open(backend("ss2048", image),
                OpenOptions.defaults().withLogicalSectorSize(2048))) {
            assertThat(disk.logicalSectorSize()).isEqualTo(2048);
        }
        for (int size : new int[] {512, 4096}) {
            StorageBackend b = backend("ss" + size, image);
            failsWith(() -> iso.open(b, OpenOptions.defaults().withLogicalSectorSize(size)), Kind.INVALID_CONFIG)
                    .withMessageContaining("2048-byte sectors").withMessageContaining("size of " + size);
            b.close();
        }
    }

    @Test
    void parametersAreRefused() throws Exception {
        StorageBackend b = backend("params", IsoImage.valid(20));
        failsWith(() -> iso.open(b, OpenOptions.defaults().withParameters(Map.of("joliet", "on"))),
                Kind.INVALID_CONFIG).withMessageContaining("joliet");
        b.close();
    }

    @Test
    void aFileOfPartSectorsIsCorrupt() throws Exception {
        openFails("odd", Arrays.copyOf(IsoImage.valid(700), 1234567), Kind.CORRUPT_IMAGE)
                .withMessageContaining("whole number of 2048-byte sectors").withMessageContaining("1234567 bytes");
        openFails("empty", new byte[0], Kind.CORRUPT_IMAGE).withMessageContaining("empty");
    }

    @Test
    void aVolumeLargerThanTheFileIsTruncated() throws Exception {
        byte[] image = IsoImage.ofSectors(30).primary("SYS", "VOL", 40).terminator().bytes();
        openFails("short", image, Kind.CORRUPT_IMAGE)
                .withMessageContaining("truncated: the volume has 40 sectors but the file holds only 30");
        // the largest size the field can hold, which no long arithmetic may turn negative
        byte[] huge = IsoImage.ofSectors(30).primary("SYS", "VOL", 0xFFFF_FFFFL).terminator().bytes();
        openFails("huge", huge, Kind.CORRUPT_IMAGE).withMessageContaining("4294967295 sectors");
    }

    @Test
    void sectorsAfterTheVolumeBelongToTheDisk() throws Exception {
        byte[] image = IsoImage.ofSectors(50).primary("SYS", "VOL", 30).terminator().bytes();
        try (VirtualDisk disk = open("padded", image)) {
            assertThat(disk.sectorCount()).isEqualTo(50);
            assertThat(disk.details()).containsEntry("volume-sectors", 30L);
            ByteBuffer last = ByteBuffer.allocate(SECTOR);
            disk.readSectors(49, last);
            assertThat(last.array()).isEqualTo(Arrays.copyOfRange(image, 49 * SECTOR, 50 * SECTOR));
        }
    }

    @Test
    void bothEndianCopiesThatDisagreeAreCorrupt() throws Exception {
        byte[] size = IsoImage.ofSectors(30).primary("S", "V", 30, 29, SECTOR, SECTOR).terminator().bytes();
        openFails("size", size, Kind.CORRUPT_IMAGE).withMessageContaining("30 (little-endian) and 29 (big-endian)");
        byte[] block = IsoImage.ofSectors(30).primary("S", "V", 30, 30, SECTOR, 512).terminator().bytes();
        openFails("block", block, Kind.CORRUPT_IMAGE).withMessageContaining("logical block size");
    }

    @Test
    void logicalBlocksOtherThan2048AreUnsupported() throws Exception {
        byte[] image = IsoImage.ofSectors(30).primary("S", "V", 30, 30, 512, 512).terminator().bytes();
        openFails("b512", image, Kind.UNSUPPORTED_FEATURE).withMessageContaining("512-byte logical blocks");
    }

    @Test
    void aVolumeEndingBeforeItsOwnDescriptorIsCorrupt() throws Exception {
        byte[] image = IsoImage.ofSectors(30).primary("S", "V", 0).terminator().bytes();
        openFails("zero", image, Kind.CORRUPT_IMAGE).withMessageContaining("volume space size of 0 blocks");
    }

    @Test
    void aSetWithoutTerminatorIsCorruptOnlyWithoutPrimary() throws Exception {
        // boot records up to the end of the file: no primary, no end
        IsoImage noEnd = IsoImage.ofSectors(20);
        for (int i = 0; i < 4; i++) {
            noEnd.bootRecord();
        }
        openFails("noend", noEnd.bytes(), Kind.CORRUPT_IMAGE)
                .withMessageContaining("no primary volume descriptor and no terminator before the end of the file");
        IsoImage gap = IsoImage.ofSectors(30).bootRecord().bootRecord();
        openFails("gap", gap.bytes(), Kind.CORRUPT_IMAGE)
                .withMessageContaining("before sector 18, which is no volume descriptor");
        // more descriptors than the walk looks at: it stops at its bound
        IsoImage endless = IsoImage.ofSectors(200);
        for (int i = 0; i < 150; i++) {
            endless.supplementary();
        }
        openFails("endless", endless.bytes(), Kind.CORRUPT_IMAGE).withMessageContaining("first 64 descriptors");
        // a primary volume descriptor is enough
        try (VirtualDisk disk = open("pvdonly", IsoImage.ofSectors(20).primary("S", "V", 20).bytes())) {
            assertThat(disk.details()).containsEntry("volume-id", "V");
        }
        IsoImage far = IsoImage.ofSectors(200).primary("S", "FAR", 200);
        for (int i = 0; i < 150; i++) {
            far.supplementary();
        }
        try (VirtualDisk disk = open("far", far.bytes())) {
            assertThat(disk.details()).containsEntry("volume-id", "FAR");
        }
    }

    @Test
    void anImageWithoutCd001IsACdWithoutFileSystem() throws Exception {
        byte[] bare = IsoImage.ofSectors(24).bytes();
        try (VirtualDisk disk = open("bare", bare)) {
            assertThat(disk.capacity()).isEqualTo(bare.length);
            assertThat(disk.mediaType()).isEqualTo(MediaType.CDROM);
            assertThat(disk.details()).containsExactly(Map.entry("el-torito", false));
            ByteBuffer all = ByteBuffer.allocate(bare.length);
            disk.read(0, all);
            assertThat(all.array()).isEqualTo(bare);
        }
        // shorter than the system area: no descriptor can be there
        try (VirtualDisk disk = open("tiny", IsoImage.ofSectors(1).bytes())) {
            assertThat(disk.sectorCount()).isEqualTo(1);
        }
    }

    @Test
    void detailsShowThePrimaryDescriptorAndElTorito() throws Exception {
        byte[] image = IsoImage.ofSectors(40).primary("LINUX", "MY_DISC", 40).bootRecord().supplementary()
                .terminator().bytes();
        try (VirtualDisk disk = open("details", image)) {
            assertThat(disk.details()).containsExactly(Map.entry("volume-id", "MY_DISC"),
                    Map.entry("volume-sectors", 40L), Map.entry("system-id", "LINUX"),
                    Map.entry("el-torito", true));
        }
        byte[] otherBoot = IsoImage.ofSectors(40).primary("", "", 40).bootRecord("SOME OTHER LOADER")
                .terminator().bytes();
        try (VirtualDisk disk = open("other", otherBoot)) {
            assertThat(disk.details()).containsEntry("el-torito", false).containsEntry("volume-id", "");
        }
        byte[] control = IsoImage.ofSectors(40).primary("A\u001b[2J", "B\u0007", 40).terminator().bytes();
        try (VirtualDisk disk = open("control", control)) {
            assertThat(disk.details()).containsEntry("system-id", "A?[2J").containsEntry("volume-id", "B?");
        }
    }

    @Test
    void writesAreRefusedAndChangeNothing(@TempDir Path dir) throws Exception {
        Path file = dir.resolve("disc.iso");
        byte[] image = IsoImage.valid(20);
        Files.write(file, image);
        try (VirtualDisk disk = iso.open(FileBackend.open(file, AccessMode.READ_WRITE), OpenOptions.defaults())) {
            String location = file.toUri().toString();
            failsWith(() -> disk.write(4096, ByteBuffer.wrap(new byte[100])), Kind.READ_ONLY)
                    .withMessageContaining("100 bytes at offset 4096")
                    .satisfies(e -> assertThat(e.location()).isEqualTo(location));
            failsWith(() -> disk.writeSectors(3, ByteBuffer.allocate(SECTOR)), Kind.READ_ONLY)
                    .satisfies(e -> assertThat(e.offset()).isEqualTo(3 * SECTOR));
            failsWith(() -> ((Discardable) disk).discard(0, SECTOR), Kind.READ_ONLY)
                    .satisfies(e -> assertThat(e.operation()).isEqualTo(Operation.DISCARD))
                    .satisfies(e -> assertThat(e.location()).isEqualTo(location));
            failsWith(() -> ((WriteZeroes) disk).writeZeroes(0, SECTOR), Kind.READ_ONLY)
                    .satisfies(e -> assertThat(e.operation()).isEqualTo(Operation.WRITE_ZEROES));
            assertThat(disk.capability(Discardable.class)).isEmpty();
            assertThat(disk.capability(WriteZeroes.class)).isEmpty();
            assertThat(disk.capability(Resizable.class)).isEmpty();
            disk.flush();
        }
        assertThat(Files.readAllBytes(file)).isEqualTo(image);
    }

    @Test
    void everySectorIsStoredDataAtItsOwnOffset() throws Exception {
        try (VirtualDisk disk = open("map", IsoImage.valid(20))) {
            AllocationMap map = disk.capability(AllocationMap.class).orElseThrow();
            assertThat(map.allocationUnit()).isEqualTo(2048);
            assertThat(map.extent(0, Long.MAX_VALUE)).isEqualTo(Extent.data(0, 20 * SECTOR, 0));
            assertThat(map.extent(5000, 100)).isEqualTo(Extent.data(5000, 100, 5000));
            failsWith(() -> map.extent(20 * SECTOR, 1), Kind.OUT_OF_BOUNDS);
            failsWith(() -> map.extent(-1, 1), Kind.OUT_OF_BOUNDS);
            failsWith(() -> map.extent(0, 0), Kind.OUT_OF_BOUNDS);
        }
    }

    @Test
    void createIsRefused() throws Exception {
        StorageBackend b = memory.open(URI.create("memory:?size=0"), AccessMode.READ_WRITE);
        failsWith(() -> iso.create(b, CreateOptions.ofCapacity(SECTOR * 100)), Kind.UNSUPPORTED_FEATURE)
                .withMessageContaining("read-only").withMessageContaining("xorriso")
                .satisfies(e -> assertThat(e.operation()).isEqualTo(Operation.CREATE));
        assertThat(b.size()).isZero();
        b.close();
    }

    @Test
    void closeReleasesTheBackendOnceAndEndsIo() throws Exception {
        VirtualDisk disk = open("closing", IsoImage.valid(20));
        disk.close();
        disk.close();
        failsWith(() -> disk.read(0, ByteBuffer.allocate(1)), Kind.BACKEND_UNAVAILABLE)
                .satisfies(e -> assertThat(e.location()).isEqualTo("memory:closing"));
        failsWith(() -> disk.readSectors(16, ByteBuffer.allocate(SECTOR)), Kind.BACKEND_UNAVAILABLE);
        failsWith(disk::flush, Kind.BACKEND_UNAVAILABLE);
        failsWith(() -> disk.write(0, ByteBuffer.allocate(1)), Kind.BACKEND_UNAVAILABLE);
        failsWith(() -> ((AllocationMap) disk).extent(0, 1), Kind.BACKEND_UNAVAILABLE);
        // the read-only handle is gone: a writer may open the volume again
        memory.open(URI.create("memory:closing"), AccessMode.READ_WRITE).close();
    }
}
