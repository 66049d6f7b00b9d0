package org.spindle.format.vhdx;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Map;
import java.util.UUID;

import org.junit.jupiter.api.Test;
import org.spindle.storage.api.CheckReport;
import org.spindle.storage.api.CreateOptions;
import org.spindle.storage.api.OpenOptions;
import org.spindle.storage.api.StorageException;
import org.spindle.storage.api.VirtualDisk;
import org.spindle.storage.core.crash.CutBackend;

/**
 * Damaged and unusual VHDX structures: what opens, what is refused and with which words, and what
 * {@code check --repair} puts right.
 */
class VhdxStructureTest {
    private static final byte[] DATA = new byte[4096];

    static {
        java.util.Arrays.fill(DATA, (byte) 0x42);
    }

    /** A 4 MiB dynamic image with one block written at 1 MiB. */
    private static byte[] image() throws Exception {
        CutBackend backend = new CutBackend("made.vhdx");
        try (VirtualDisk disk = new VhdxFormat().create(backend, CreateOptions.ofCapacity(4L << 20)
                .withParameters(Map.of("block_size", "1M")))) {
            disk.write(1L << 20, ByteBuffer.wrap(DATA));
        }
        return backend.content();
    }

    private static VirtualDisk open(byte[] image, boolean readOnly) throws StorageException {
        return new VhdxFormat().open(new CutBackend("test.vhdx", image, readOnly), OpenOptions.defaults().withReadOnly(readOnly));
    }

    private static CheckReport check(CutBackend backend, boolean repair) throws StorageException {
        return new VhdxFormat().check(backend, repair);
    }

    private static void assertReadsData(byte[] image) throws Exception {
        try (VirtualDisk disk = open(image, true)) {
            byte[] got = new byte[4096];
            disk.read(1L << 20, ByteBuffer.wrap(got));
            assertThat(got).isEqualTo(DATA);
        }
    }

    @Test
    void aDamagedHeaderIsReplacedByTheOtherAndRepairRewritesIt() throws Exception {
        for (long slot : VhdxHeader.SLOTS) {
            byte[] image = image();
            image[(int) slot + 100] ^= 1;
            assertReadsData(image);
            CutBackend backend = new CutBackend("h.vhdx", image, false);
            CheckReport before = check(backend, false);
            assertThat(before.corruptions()).isEqualTo(1);
            assertThat(before.problems()).anyMatch(p -> p.contains("is damaged: the checksum does not match"));
            assertThat(check(backend, true).corruptionsRepaired()).isEqualTo(1);
            assertThat(check(backend, false).problems()).isEmpty();
        }
    }

    @Test
    void twoDamagedHeadersRefuseTheFileNamingBoth() throws Exception {
        byte[] image = image();
        image[(int) VhdxHeader.SLOTS[0]] = 'X';
        image[(int) VhdxHeader.SLOTS[1] + 8] ^= 1;
        assertThatThrownBy(() -> open(image, true)).isInstanceOf(StorageException.class)
                .hasMessageContaining("neither header is valid (header 1: no 'head' signature; header 2: the checksum does not match)");
    }

    @Test
    void aDamagedRegionTableCopyIsRepairedFromTheOther() throws Exception {
        for (long at : VhdxLayout.REGION_TABLES) {
            byte[] image = image();
            image[(int) at + 20] ^= 1;
            assertReadsData(image);
            CutBackend backend = new CutBackend("r.vhdx", image, false);
            assertThat(check(backend, false).corruptions()).isEqualTo(1);
            assertThat(check(backend, true).corruptionsRepaired()).isEqualTo(1);
            assertThat(check(backend, false).problems()).isEmpty();
            assertReadsData(backend.content());
        }
    }

    @Test
    void anUnknownRequiredRegionOrMetadataItemIsRefusedNamingIt() throws Exception {
        UUID unknown = UUID.fromString("01234567-89ab-cdef-0123-456789abcdef");
        // a third region, required
        byte[] image = image();
        for (long at : VhdxLayout.REGION_TABLES) {
            ByteBuffer b = ByteBuffer.wrap(image, (int) at, VhdxRegionTable.SIZE).slice().order(ByteOrder.LITTLE_ENDIAN);
            b.putInt(8, 3);
            Guids.write(b, 16 + 64, unknown);
            b.putLong(16 + 64 + 16, 64L << 20);
            b.putInt(16 + 64 + 24, 1 << 20);
            b.putInt(16 + 64 + 28, 1);
            Crc.seal(image, (int) at, VhdxRegionTable.SIZE, 4);
        }
        assertThatThrownBy(() -> open(image, true)).isInstanceOf(StorageException.class)
                .hasMessageContaining("UNSUPPORTED_FEATURE").hasMessageContaining("region " + unknown);
        // a sixth metadata item, required
        byte[] second = image();
        long meta = regionOffset(second, VhdxLayout.REGION_METADATA);
        ByteBuffer m = ByteBuffer.wrap(second, (int) meta, 65536).slice().order(ByteOrder.LITTLE_ENDIAN);
        int count = m.getShort(10);
        m.putShort(10, (short) (count + 1));
        int entry = 32 + count * 32;
        Guids.write(m, entry, unknown);
        m.putInt(entry + 16, 65536 + 4096);
        m.putInt(entry + 20, 8);
        m.putInt(entry + 24, 4);
        assertThatThrownBy(() -> open(second, true)).isInstanceOf(StorageException.class)
                .hasMessageContaining("UNSUPPORTED_FEATURE").hasMessageContaining("metadata item " + unknown);
    }

    @Test
    void aBatEntryBeyondTheFileIsRefusedAndRepairedToNotPresent() throws Exception {
        byte[] image = image();
        long bat = regionOffset(image, VhdxLayout.REGION_BAT);
        ByteBuffer.wrap(image).order(ByteOrder.LITTLE_ENDIAN).putLong((int) bat + 16,
                VhdxLayout.entry(VhdxLayout.PAYLOAD_FULLY_PRESENT, 900L << 20));
        assertThatThrownBy(() -> open(image, true)).isInstanceOf(StorageException.class)
                .hasMessageContaining("BAT entry 2 places a block at 943718400, outside the");
        CutBackend backend = new CutBackend("b.vhdx", image, false);
        assertThat(check(backend, false).corruptions()).isEqualTo(1);
        assertThat(check(backend, true).corruptionsRepaired()).isEqualTo(1);
        assertThat(check(backend, false).corruptions()).isZero();
        assertReadsData(backend.content());
    }

    @Test
    void twoEntriesOnOneBlockAreACorruption() throws Exception {
        byte[] image = image();
        long bat = regionOffset(image, VhdxLayout.REGION_BAT);
        ByteBuffer b = ByteBuffer.wrap(image).order(ByteOrder.LITTLE_ENDIAN);
        b.putLong((int) bat + 24, b.getLong((int) bat + 8));
        CheckReport report = check(new CutBackend("o.vhdx", image, true), false);
        assertThat(report.corruptions()).isEqualTo(1);
        assertThat(report.problems()).anyMatch(p -> p.contains("BAT entry 3 places a block at") && p.contains("another block"));
    }

    @Test
    void aFileWithoutRoomForALogEntryReadsButRefusesMetadataChanges() throws Exception {
        byte[] image = image();
        for (long slot : VhdxHeader.SLOTS) {
            ByteBuffer.wrap(image).order(ByteOrder.LITTLE_ENDIAN).putInt((int) slot + 68, 0);
            Crc.seal(image, (int) slot, VhdxHeader.SIZE, 4);
        }
        assertReadsData(image);
        try (VirtualDisk disk = open(image, false)) {
            disk.write(1L << 20, ByteBuffer.wrap(new byte[512])); // in place: no metadata change
            disk.write(3L << 20, ByteBuffer.wrap(DATA)); // a new block
            assertThatThrownBy(disk::flush).isInstanceOf(StorageException.class)
                    .hasMessageContaining("cannot hold an entry");
        } catch (StorageException expectedOnClose) {
            assertThat(expectedOnClose).hasMessageContaining("cannot hold an entry");
        }
    }

    @Test
    void aDifferencingDiskRefusesAParentThatChangedSinceItWasMade() throws Exception {
        java.nio.file.Path dir = java.nio.file.Files.createTempDirectory("vhdx-parent");
        try {
            org.spindle.storage.core.DiskOpener opener = new org.spindle.storage.core.DiskOpener(
                    org.spindle.storage.core.ServiceLoaderRegistry.load(getClass().getClassLoader()));
            java.nio.file.Path base = dir.resolve("base.vhdx");
            java.nio.file.Path top = dir.resolve("top.vhdx");
            opener.create(base.toUri(), "vhdx", CreateOptions.ofCapacity(8L << 20)).disk().close();
            opener.create(top.toUri(), "vhdx", CreateOptions.ofCapacity(8L << 20)
                    .withBacking(new org.spindle.storage.api.BackingReference("base.vhdx", "vhdx"))).disk().close();
            opener.open(top.toUri(), "vhdx", OpenOptions.defaults().withReadOnly(true)).disk().close();
            try (VirtualDisk b = opener.open(base.toUri(), "vhdx", OpenOptions.defaults()).disk()) {
                b.write(0, ByteBuffer.wrap(DATA));
            }
            assertThatThrownBy(() -> opener.open(top.toUri(), "vhdx", OpenOptions.defaults().withReadOnly(true)))
                    .isInstanceOf(StorageException.class)
                    .hasMessageContaining("the parent 'base.vhdx' has changed since this differencing disk was made");
        } finally {
            try (var files = java.nio.file.Files.walk(dir)) {
                files.sorted(java.util.Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
            }
        }
    }

    @Test
    void aFixedFileKeepsItsBlocksInPlace() throws Exception {
        CutBackend backend = new CutBackend("fixed.vhdx");
        try (VirtualDisk disk = new VhdxFormat().create(backend, CreateOptions.ofCapacity(4L << 20)
                .withParameters(Map.of("block_size", "1M", "subformat", "fixed")))) {
            assertThat(disk.details()).containsEntry("subformat", "fixed");
        }
        long size = backend.size();
        // make block 2 a zero block that keeps its place, as QEMU's fixed files have them
        byte[] image = backend.content();
        long bat = regionOffset(image, VhdxLayout.REGION_BAT);
        ByteBuffer b = ByteBuffer.wrap(image).order(ByteOrder.LITTLE_ENDIAN);
        long placed = VhdxLayout.fileOffset(b.getLong((int) bat + 16));
        b.putLong((int) bat + 16, VhdxLayout.entry(VhdxLayout.PAYLOAD_ZERO, placed));
        b.put((int) placed + 8192, (byte) 0x77); // leftovers in the block's place
        CutBackend file = new CutBackend("fixed2.vhdx", image, false);
        try (VirtualDisk disk = new VhdxFormat().open(file, OpenOptions.defaults())) {
            byte[] got = new byte[4096];
            disk.read(2L << 20, ByteBuffer.wrap(got));
            assertThat(got).as("a zero block reads as zeros").isEqualTo(new byte[4096]);
            disk.write((2L << 20) + 4096, ByteBuffer.wrap(DATA));
        }
        assertThat(file.size()).as("the file did not grow").isEqualTo(size);
        try (VirtualDisk disk = open(file.content(), true)) {
            byte[] got = new byte[12288];
            disk.read(2L << 20, ByteBuffer.wrap(got));
            byte[] expected = new byte[12288];
            System.arraycopy(DATA, 0, expected, 4096, 4096);
            assertThat(got).as("the write, and zeros around it").isEqualTo(expected);
        }
    }

    private static long regionOffset(byte[] image, UUID region) throws StorageException {
        VhdxRegionTable t = VhdxRegionTable.parse(java.util.Arrays.copyOfRange(image, (int) VhdxLayout.REGION_TABLES[0],
                (int) VhdxLayout.REGION_TABLES[0] + VhdxRegionTable.SIZE));
        return t.find(region, "x").offset();
    }
}
