package org.spindle.device.ide;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.Arrays;
import java.util.List;
import java.util.Map;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import org.spindle.device.ata.Ata;
import org.spindle.device.ata.AtaDisk;
import org.spindle.device.ata.AtaIdentity;
import org.spindle.device.ata.ArrayDisk;
import org.spindle.device.ata.AtapiCdrom;
import org.spindle.device.ata.DeviceThread;
import org.spindle.device.ata.IoMode;
import org.spindle.device.ata.SlotThread;
import org.spindle.machine.api.DeviceLifecycle;
import org.spindle.machine.api.DeviceStateDTO;
import org.spindle.machine.api.PciAddress;
import org.spindle.machine.api.PciConfigSpace;
import org.spindle.machine.api.PciFunction;

/**
 * The PIIX3 IDE function driven as a guest driver drives it, through qtest: a 32 MiB disk as primary
 * master (no slave), a CD-ROM as secondary master; storage work inline ({@link IdeWorkersTest} runs
 * the same with it on I/O threads).
 */
class IdeTest {
    static final int SECTORS = 65536;
    final ArrayDisk image = disk();
    final ArrayDisk disc = ArrayDisk.cd(512);
    AtapiCdrom cd;
    IdeFixture f;
    IdeDriver hd;
    IdeDriver atapi;

    /** Where the controller runs storage work. */
    IoMode io() {
        return IoMode.INLINE;
    }

    /** The primary master's image. */
    ArrayDisk disk() {
        return ArrayDisk.disk(SECTORS);
    }

    @BeforeEach
    void setUp() throws Exception {
        cd = new AtapiCdrom(AtaIdentity.cdrom("CD1"), "ide0.1.0", DeviceThread.DIRECT);
        cd.insert(disc, "disc.iso", false);
        f = new IdeFixture(new Piix3Ide(Piix3Ide.Mode.COMPATIBILITY, io(), new SlotThread(),
                new AtaDisk(image, AtaIdentity.disk("HD1")), null, cd, null));
        hd = new IdeDriver(f, true);
        atapi = new IdeDriver(f, false);
    }

    @AfterEach
    void tearDown() throws Exception {
        f.close();
    }

    @Test
    void theFunctionIsAPiix3IdeControllerWithABusMasterBar() {
        assertThat(f.pci.configRead(IdeFixture.DEVFN, 0, 4)).isEqualTo(0x7010_8086);
        assertThat(f.pci.configRead(IdeFixture.DEVFN, 8, 4) >>> 8).isEqualTo(0x010180);
        assertThat(f.pci.sizeBar(IdeFixture.DEVFN, 4).size()).isEqualTo(16);
    }

    @Test
    void signaturesAfterResetTellDisksFromPacketDevices() {
        hd.select(0);
        assertThat(new int[] {f.qt.inb(0x1F2), f.qt.inb(0x1F3), f.qt.inb(0x1F4), f.qt.inb(0x1F5)})
                .containsExactly(1, 1, 0x00, 0x00);
        assertThat(hd.status()).isEqualTo(Ata.DRDY | Ata.DSC);
        atapi.select(0);
        assertThat(new int[] {f.qt.inb(0x172), f.qt.inb(0x173), f.qt.inb(0x174), f.qt.inb(0x175)})
                .containsExactly(1, 1, 0x14, 0xEB);
        // The absent slave: status 0, and commands to it are ignored.
        hd.select(1);
        assertThat(hd.status()).isZero();
        hd.command28(1, Ata.IDENTIFY_DEVICE, 0, 0, 0);
        assertThat(hd.status()).isZero();
        assertThat(hd.irq()).isFalse();
    }

    @Test
    void identifyAndIdentifyPacketByPio() {
        hd.command28(0, Ata.IDENTIFY_DEVICE, 0, 0, 0);
        byte[] id = hd.pioIn(1, 512);
        assertThat((id[120] & 0xFF) | (id[121] & 0xFF) << 8 | (id[122] & 0xFF) << 16).isEqualTo(SECTORS);
        assertThat(hd.status() & (Ata.DRQ | Ata.ERR)).isZero();

        atapi.command28(0, Ata.IDENTIFY_DEVICE, 0, 0, 0);
        assertThat(atapi.irq()).isTrue();
        assertThat(atapi.status() & Ata.ERR).as("a packet device aborts IDENTIFY DEVICE").isNotZero();
        assertThat(f.qt.inb(0x174) | f.qt.inb(0x175) << 8).isEqualTo(0xEB14);
        atapi.command28(0, Ata.IDENTIFY_PACKET_DEVICE, 0, 0, 0);
        byte[] pid = atapi.pioIn(1, 512);
        assertThat((pid[0] & 0xFF) | (pid[1] & 0xFF) << 8).isEqualTo(0x85C0);
    }

    @Test
    void pioReadsOfEverySizeClass() {
        for (int count : new int[] {1, 3, 0}) {
            hd.command28(0, Ata.READ_SECTORS, 0, count, 100);
            int sectors = count == 0 ? 256 : count;
            assertThat(hd.pioIn(sectors, 512)).as("%d sectors", sectors).isEqualTo(image.slice(100 * 512, sectors * 512));
            assertThat(hd.altStatus() & (Ata.DRQ | Ata.BSY | Ata.ERR)).isZero();
        }
        hd.command28(0, Ata.READ_MULTIPLE, 0, 40, 7);
        byte[] multi = hd.pioIn(3, 16 * 512);
        assertThat(Arrays.copyOf(multi, 40 * 512)).isEqualTo(image.slice(7 * 512, 40 * 512));
    }

    @Test
    void dataPortWidths() {
        hd.command28(0, Ata.READ_SECTORS, 0, 1, 3);
        assertThat(hd.irq()).isTrue();
        byte[] got = new byte[512];
        for (int i = 0; i < 256; i += 4) {
            int v = f.qt.inl(0x1F0);
            for (int k = 0; k < 4; k++) {
                got[i + k] = (byte) (v >>> (8 * k));
            }
        }
        for (int i = 256; i < 512; i++) {
            got[i] = (byte) f.qt.inb(0x1F0);
        }
        assertThat(got).isEqualTo(image.slice(3 * 512, 512));
        assertThat(hd.status() & Ata.DRQ).isZero();
    }

    @Test
    void pioWriteInterruptsAfterEachBlockAndLandsOnTheDisk() {
        byte[] data = new byte[3 * 512];
        Arrays.fill(data, (byte) 0x5A);
        hd.command28(0, Ata.WRITE_SECTORS, 0, 3, 20);
        assertThat(hd.irq()).as("no interrupt before the first block").isFalse();
        hd.pioOut(data, 512);
        assertThat(hd.irq()).isTrue();
        assertThat(hd.status() & (Ata.DRQ | Ata.ERR)).isZero();
        assertThat(image.slice(20 * 512, 3 * 512)).isEqualTo(data);
    }

    @Test
    void flushWithWriteCacheOnAndOff() {
        hd.command28(0, Ata.FLUSH_CACHE, 0, 0, 0);
        assertThat(image.flushes).isEqualTo(1);
        hd.command28(0, Ata.SET_FEATURES, Ata.SF_DISABLE_WRITE_CACHE, 0, 0);
        assertThat(image.flushes).isEqualTo(2);
        hd.command28(0, Ata.WRITE_SECTORS, 0, 1, 0);
        hd.pioOut(new byte[512], 512);
        assertThat(image.flushes).as("written through").isEqualTo(3);
    }

    @Test
    void dmaReadThroughAPrdTableSplitAcrossPages() {
        long table = 0x10000;
        // 3 sectors into 1.5 KiB across a page boundary, in three pieces.
        hd.prd(table, new long[][] {{0x20F00, 0x100}, {0x21000, 0x300}, {0x30000, 0x200}});
        hd.command28(0, Ata.READ_DMA, 0, 3, 50);
        assertThat(hd.irq()).as("nothing before the bus master starts").isFalse();
        hd.startDma(true);
        assertThat(hd.irq()).isTrue();
        assertThat(hd.bmStatus() & 0x07).as("interrupt, not active, no error").isEqualTo(0x04);
        assertThat(hd.status() & (Ata.DRQ | Ata.ERR | Ata.BSY)).isZero();
        byte[] got = new byte[1536];
        System.arraycopy(f.qt.memread(0x20F00, 0x400), 0, got, 0, 0x400);
        System.arraycopy(f.qt.memread(0x30000, 0x200), 0, got, 0x400, 0x200);
        assertThat(got).isEqualTo(image.slice(50 * 512, 1536));
        hd.stopDma();
    }

    @Test
    void dmaWithZeroCountsMeans256And65536Sectors() {
        long table = 0x10000;
        hd.prd(table, new long[][] {{0x100000, 0x10000}, {0x110000, 0x10000}});
        hd.command28(0, Ata.READ_DMA, 0, 0, 0);
        hd.startDma(true);
        assertThat(hd.status() & Ata.ERR).isZero();
        assertThat(f.qt.memread(0x100000, 256 * 512)).isEqualTo(image.slice(0, 256 * 512));
        hd.stopDma();
        hd.clearBm();

        long[][] entries = new long[512][];
        for (int i = 0; i < 512; i++) {
            entries[i] = new long[] {0x200000 + 0x10000L * i, 0x10000};
        }
        hd.prd(table, entries);
        hd.command48(0, Ata.READ_DMA_EXT, 0, 0);
        hd.startDma(true);
        assertThat(hd.status() & Ata.ERR).isZero();
        assertThat(f.qt.memread(0x200000 + 0x1FF0000L, 0x10000)).isEqualTo(image.slice(0x1FF0000L, 0x10000));
        assertThat(f.qt.memread(0x200000, 512)).isEqualTo(image.slice(0, 512));
    }

    @Test
    void aPrdTableLongerThanTheTransferLeavesTheBusMasterActive() {
        hd.prd(0x10000, new long[][] {{0x40000, 0x1000}});
        hd.command28(0, Ata.READ_DMA, 0, 1, 9);
        hd.startDma(true);
        assertThat(hd.bmStatus() & 0x07).isEqualTo(0x05);
        assertThat(f.qt.memread(0x40000, 512)).isEqualTo(image.slice(9 * 512, 512));
    }

    @Test
    void aShortPrdTableAbortsAndAWriteNeverReachesTheDisk() {
        byte[] before = image.slice(60 * 512, 1024);
        f.qt.memset(0x40000, 1024, 0xEE);
        hd.prd(0x10000, new long[][] {{0x40000, 0x200}});
        hd.command28(0, Ata.WRITE_DMA, 0, 2, 60);
        hd.startDma(false);
        assertThat(hd.irq()).isTrue();
        assertThat(hd.status() & Ata.ERR).isNotZero();
        assertThat(hd.error()).isEqualTo(Ata.ABRT);
        assertThat(hd.bmStatus() & 0x07).as("interrupt only").isEqualTo(0x04);
        assertThat(image.slice(60 * 512, 1024)).isEqualTo(before);
    }

    @Test
    void aDirectionMismatchIsABusMasterError() {
        byte[] before = image.slice(0, 512);
        hd.prd(0x10000, new long[][] {{0x40000, 0x200}});
        hd.command28(0, Ata.WRITE_DMA, 0, 1, 0);
        hd.startDma(true); // toward memory, for a write
        assertThat(hd.irq()).isTrue();
        assertThat(hd.status() & Ata.ERR).isNotZero();
        assertThat(hd.bmStatus() & 0x07).isEqualTo(0x06);
        assertThat(image.slice(0, 512)).isEqualTo(before);
        hd.clearBm();
        assertThat(hd.bmStatus() & 0x06).as("write one to clear").isZero();
    }

    @Test
    void aBadLbaIsIdNotFoundWithAnInterrupt() {
        hd.command48(0, Ata.READ_SECTORS_EXT, 2, SECTORS - 1);
        assertThat(hd.irq()).isTrue();
        assertThat(hd.status() & (Ata.ERR | Ata.DRQ)).isEqualTo(Ata.ERR);
        assertThat(hd.error()).isEqualTo(Ata.IDNF);
        assertThat(hd.irq()).as("reading status acknowledges").isFalse();
    }

    @Test
    void hobReadsBackThePreviousWrites() {
        hd.select(0);
        f.qt.outb(0x1F3, 0x11);
        f.qt.outb(0x1F3, 0x22);
        f.qt.outb(0x1F2, 0x33);
        f.qt.outb(0x1F2, 0x44);
        assertThat(f.qt.inb(0x1F3)).isEqualTo(0x22);
        f.qt.outb(0x3F6, 0x80);
        assertThat(f.qt.inb(0x1F3)).isEqualTo(0x11);
        assertThat(f.qt.inb(0x1F2)).isEqualTo(0x33);
        f.qt.outb(0x1F4, 0); // a write clears HOB
        assertThat(f.qt.inb(0x1F3)).isEqualTo(0x22);
        hd.command48(0, Ata.READ_NATIVE_MAX_EXT, 0, 0);
        assertThat(f.qt.inb(0x1F3) | f.qt.inb(0x1F4) << 8).isEqualTo(SECTORS - 1);
        f.qt.outb(0x3F6, 0x80);
        assertThat(f.qt.inb(0x1F3) | f.qt.inb(0x1F4) | f.qt.inb(0x1F5)).isZero();
    }

    @Test
    void nienHoldsTheInterruptUntilItClears() {
        f.qt.outb(0x3F6, 0x02);
        hd.command28(0, Ata.FLUSH_CACHE, 0, 0, 0);
        assertThat(hd.irq()).isFalse();
        f.qt.outb(0x3F6, 0x00);
        assertThat(hd.irq()).isTrue();
        hd.status();
        assertThat(hd.irq()).isFalse();
    }

    @Test
    void softwareResetIsBusyThenLeavesSignatures() {
        hd.command28(0, Ata.READ_SECTORS, 0, 4, 0);
        f.qt.outb(0x3F6, 0x04);
        assertThat(hd.altStatus() & Ata.BSY).isNotZero();
        f.qt.outb(0x3F6, 0x00);
        assertThat(hd.altStatus()).isEqualTo(Ata.DRDY | Ata.DSC);
        assertThat(f.qt.inb(0x1F2) | f.qt.inb(0x1F3) << 8).isEqualTo(0x0101);
        assertThat(hd.error()).isEqualTo(1);
    }

    @Test
    void atapiSenseSequenceAfterEjectAndInsertThroughIde() throws Exception {
        byte[] tur = new byte[12];
        atapi.packet(0, tur, false, 0);
        assertThat(atapi.irq()).isTrue();
        assertThat(atapi.status() & Ata.ERR).as("the medium change").isNotZero();
        assertThat(atapi.error() >> 4).isEqualTo(6);
        atapi.packet(0, tur, false, 0);
        assertThat(atapi.status() & Ata.ERR).isZero();

        cd.remove(false);
        atapi.packet(0, tur, false, 0);
        assertThat(atapi.status() & Ata.ERR).isNotZero();
        atapi.packet(0, new byte[] {0x03, 0, 0, 0, 18}, false, 18);
        byte[] sense = atapi.packetIn();
        assertThat(new int[] {sense[2], sense[12], sense[13]}).containsExactly(2, 0x3A, 2);

        cd.insert(ArrayDisk.cd(20), "new.iso", false);
        atapi.packet(0, tur, false, 0);
        assertThat(atapi.error() >> 4).isEqualTo(6);
        atapi.packet(0, tur, false, 0);
        assertThat(atapi.status() & Ata.ERR).isZero();
    }

    @Test
    void atapiReadByPioInByteCountLimitedBlocksAndByDma() {
        atapi.packet(0, new byte[12], false, 0); // the medium change
        atapi.status();
        byte[] read10 = {0x28, 0, 0, 0, 0, 5, 0, 0, 3, 0, 0, 0};
        atapi.packet(0, read10, false, 4096);
        assertThat(atapi.packetIn()).isEqualTo(disc.slice(5 * 2048, 3 * 2048));

        atapi.prd(0x10000, new long[][] {{0x50000, 0x1000}, {0x60000, 0x800}});
        atapi.packet(0, read10, true, 0);
        atapi.startDma(true);
        assertThat(atapi.irq()).isTrue();
        assertThat(atapi.status() & (Ata.ERR | Ata.DRQ)).isZero();
        assertThat(f.qt.inb(0x172) & 3).as("completion").isEqualTo(3);
        assertThat(f.qt.memread(0x50000, 0x1000)).isEqualTo(disc.slice(5 * 2048, 0x1000));
        assertThat(f.qt.memread(0x60000, 0x800)).isEqualTo(disc.slice(7 * 2048, 0x800));
    }

    @Test
    void atapiReadCdRawSectorsByPio() {
        atapi.packet(0, new byte[12], false, 0);
        atapi.status();
        atapi.packet(0, new byte[] {(byte) 0xBE, 0, 0, 0, 0, 2, 0, 0, 2, (byte) 0xF8, 0, 0}, false, 0xFFFE);
        byte[] raw = atapi.packetIn();
        assertThat(raw).hasSize(2 * 2352);
        assertThat(Arrays.copyOfRange(raw, 2352 + 16, 2352 + 16 + 2048)).isEqualTo(disc.slice(3 * 2048, 2048));
        assertThat(raw[2352 + 14]).as("frame 3+150 = 00:02:03").isEqualTo((byte) 0x03);
    }

    /** The whole machine saved, reset (every register back to power-on) and restored. */
    private void saveResetRestore() throws Exception {
        f.machine.call(() -> {
            Map<String, DeviceStateDTO> saved = f.machine.save();
            f.machine.reset();
            f.machine.restore(saved);
            return null;
        });
    }

    @Test
    void saveAndRestoreInTheMiddleOfAPioRead() throws Exception {
        hd.command28(0, Ata.READ_SECTORS, 0, 3, 40);
        byte[] first = hd.pioIn(1, 512);
        hd.waitNotBusy(); // the next block comes, as a driver waits for DRQ
        for (int i = 0; i < 100; i++) {
            f.qt.inw(0x1F0);
        }
        saveResetRestore();
        byte[] rest = new byte[512 - 200];
        for (int i = 0; i < rest.length; i += 2) {
            int w = f.qt.inw(0x1F0);
            rest[i] = (byte) w;
            rest[i + 1] = (byte) (w >> 8);
        }
        assertThat(rest).isEqualTo(image.slice(41 * 512 + 200, 512 - 200));
        assertThat(hd.pioIn(1, 512)).isEqualTo(image.slice(42 * 512, 512));
        assertThat(first).isEqualTo(image.slice(40 * 512, 512));
    }

    @Test
    @SuppressWarnings("unchecked")
    void aStateThatDoesNotFitIsRefusedAndTheMachineIsLeftAsItWas() throws Exception {
        // an idle machine's state, then the primary channel's second device's part of it lost
        Map<String, DeviceStateDTO> idle = f.machine.call(f.machine::save);
        Map<String, Object> primary = (Map<String, Object>) idle.get("device 00:01.1").values.get("primary");
        ((Map<String, Object>) ((List<Object>) primary.get("devices")).get(1)).remove("registers");
        // meanwhile a PIO read is under way
        hd.command28(0, Ata.READ_SECTORS, 0, 2, 60);
        byte[] first = hd.pioIn(1, 512);
        hd.waitNotBusy();
        assertThatThrownBy(() -> f.machine.call(() -> {
            f.machine.restore(idle);
            return null;
        })).isInstanceOf(IllegalArgumentException.class).hasMessageContaining("IDE channel primary is incomplete");
        // the first device, whose part was taken before the second's failed, is back where the read stood
        assertThat(hd.altStatus() & (Ata.BSY | Ata.DRQ | Ata.ERR)).isEqualTo(Ata.DRQ);
        assertThat(hd.pioIn(1, 512)).isEqualTo(image.slice(61 * 512, 512));
        assertThat(first).isEqualTo(image.slice(60 * 512, 512));
    }

    /** A function with work in flight that never ends: it cannot be quiesced, so the machine cannot be saved. */
    private static final class Stuck implements PciFunction,
            DeviceLifecycle {
        private final PciConfigSpace config =
                PciConfigSpace.builder(0x1234, 0x5678).build();

        @Override
        public PciConfigSpace config() {
            return config;
        }

        @Override
        public void reset() {
        }

        @Override
        public void quiesce() {
            throw new IllegalStateException("work that never ends");
        }

        @Override
        public DeviceStateDTO save() {
            throw new IllegalStateException("work that never ends");
        }

        @Override
        public void restore(DeviceStateDTO state) {
        }
    }

    @Test
    void aRestoreGoesOnWhenThePresentStateCannotBeSavedAndSaysSo() throws Exception {
        Map<String, DeviceStateDTO> idle = f.machine.call(f.machine::save);
        f.machine.call(() -> {
            f.machine.plug(PciAddress.parse("00:05.0"), new Stuck());
            return null;
        });
        hd.command28(0, Ata.READ_SECTORS, 0, 1, 60);
        hd.waitNotBusy();
        assertThat(hd.altStatus() & Ata.DRQ).isNotZero();
        f.machine.call(() -> {
            f.machine.restore(idle);
            return null;
        });
        // the idle state took: the read that was under way is gone
        assertThat(hd.altStatus() & (Ata.BSY | Ata.DRQ)).isZero();
        assertThat(f.machine.problems()).anyMatch(p -> p.contains("without the present state to come back to")
                && p.contains("work that never ends"));
    }

    @Test
    void saveAndRestoreWithADmaCommandIssued() throws Exception {
        hd.prd(0x10000, new long[][] {{0x70000, 0x800}});
        hd.command48(0, Ata.READ_DMA_EXT, 4, 300);
        saveResetRestore();
        hd.startDma(true);
        assertThat(hd.irq()).isTrue();
        assertThat(hd.status() & Ata.ERR).isZero();
        assertThat(f.qt.memread(0x70000, 0x800)).isEqualTo(image.slice(300 * 512, 0x800));
    }
}
