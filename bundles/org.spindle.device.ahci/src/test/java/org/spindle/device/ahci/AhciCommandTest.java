package org.spindle.device.ahci;

import static org.assertj.core.api.Assertions.assertThat;
import static org.spindle.device.ahci.AhciDriver.*;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import org.spindle.device.ata.ArrayDisk;
import org.spindle.device.ata.AtaDisk;
import org.spindle.device.ata.AtaIdentity;
import org.spindle.device.ata.IoMode;
import org.spindle.device.ata.SlotThread;

/** Non-queued commands on a started port: IDENTIFY, DMA and PIO with PRDTs of many shapes, 48-bit LBAs, FLUSH, TRIM, and the error paths. */
class AhciCommandTest {
    private static final int WRITE = 0x40;

    private AhciFixture f;
    private AhciDriver d;
    private ArrayDisk image;

    private void start(IoMode io) throws Exception {
        image = ArrayDisk.disk(4096);
        f = new AhciFixture(new AhciHba(6, io, 10_000, new SlotThread(),
                new AtaDisk(image, AtaIdentity.disk("SPINDLE-D0"), true)));
        d = f.driver;
        d.handoff();
        d.resetHba();
        d.startPort(0);
    }

    @AfterEach
    void close() throws Exception {
        if (f != null) {
            f.close();
        }
    }

    @Test
    void identifyByPioEndsWithAPioSetupFisCarryingTheStatus() throws Exception {
        start(IoMode.INLINE);
        int[] id = d.identify(0, 0xEC);
        assertThat(d.prdbc(0, 0)).isEqualTo(512);
        assertThat(id[75]).as("queue depth 32").isEqualTo(31);
        assertThat(id[76] & 0x0100).as("NCQ").isNotZero();
        assertThat(id[76] & 0x000E).as("Gen1-3").isEqualTo(0x000E);
        assertThat(id[100] | id[101] << 16).isEqualTo(4096);
        StringBuilder serial = new StringBuilder();
        for (int w = 10; w < 20; w++) {
            serial.append((char) (id[w] >>> 8)).append((char) (id[w] & 0xFF));
        }
        assertThat(serial.toString().trim()).isEqualTo("SPINDLE-D0");
        byte[] pio = d.receivedFis(0, RX_PIO_SETUP, 20);
        assertThat(pio[0]).isEqualTo((byte) 0x5F);
        assertThat(pio[1] & 0x60).as("interrupt, device to host").isEqualTo(0x60);
        assertThat(pio[15] & 0xFF).as("E_Status").isEqualTo(0x50);
        assertThat((pio[16] & 0xFF) | (pio[17] & 0xFF) << 8).isEqualTo(512);
        assertThat(d.port(0, PxTFD) & 0xFF).isEqualTo(0x50);
    }

    @ParameterizedTest
    @EnumSource(IoMode.class)
    void dmaWritesAndReadsGoThroughPrdtsOfEveryShape(IoMode io) throws Exception {
        start(io);
        List<List<Prd>> shapes = new ArrayList<>();
        shapes.add(prds(DATA, 64 * 1024));
        shapes.add(prds(DATA, 512, 1024, 2, 510, 4096, 2048, 57_344));
        int[] twos = new int[1024];
        java.util.Arrays.fill(twos, 64);
        shapes.add(prds(DATA, twos));
        // Pieces scattered: every other 4 KiB page.
        List<Prd> scattered = new ArrayList<>();
        for (int i = 0; i < 16; i++) {
            scattered.add(new Prd(DATA + 0x2000L * i, 4096));
        }
        shapes.add(scattered);
        // A PRDT longer than the data: the rest is not touched.
        shapes.add(prds(DATA, 32 * 1024, 32 * 1024, 64 * 1024));
        Random r = new Random(7);
        long lba = 100;
        for (List<Prd> shape : shapes) {
            byte[] data = new byte[64 * 1024];
            r.nextBytes(data);
            put(shape, data);
            d.run(0, 3, h2d(0x35, 0, 128, lba, 0x40), WRITE, shape); // WRITE DMA EXT
            assertThat(d.prdbc(0, 3)).isEqualTo(64 * 1024);
            assertThat(image.slice(lba * 512, data.length)).isEqualTo(data);
            for (Prd p : shape) {
                f.qt.memset(p.address(), p.bytes(), 0);
            }
            int is = d.run(0, 4, h2d(0x25, 0, 128, lba, 0x40), 0, shape); // READ DMA EXT
            assertThat(is & DHRS).isNotZero();
            assertThat(get(shape, data.length)).isEqualTo(data);
            byte[] d2h = d.receivedFis(0, RX_D2H, 20);
            assertThat(d2h[0]).isEqualTo((byte) 0x34);
            assertThat(d2h[1] & 0x40).as("interrupt bit").isNotZero();
            assertThat(d2h[2] & 0xFF).isEqualTo(0x50);
            lba += 128;
        }
    }

    @Test
    void aPrdEntryWithItsInterruptBitSetsDescriptorProcessed() throws Exception {
        start(IoMode.INLINE);
        int is = d.run(0, 0, h2d(0xC8, 0, 8, 0, 0x40), 0, List.of(new Prd(DATA, 2048, true), new Prd(DATA + 2048, 2048)));
        assertThat(is & DPS).isNotZero();
        is = d.run(0, 0, h2d(0xC8, 0, 8, 0, 0x40), 0, List.of(new Prd(DATA, 4096), new Prd(DATA + 4096, 512, true)));
        assertThat(is & DPS).as("the entry past the data is never processed").isZero();
        assertThat(get(prds(DATA, 4096), 4096)).isEqualTo(image.slice(0, 4096));
    }

    @Test
    void pioReadsAndWritesMoveThroughThePrdtToo() throws Exception {
        start(IoMode.INLINE);
        byte[] data = new byte[8 * 512];
        new Random(3).nextBytes(data);
        f.qt.memwrite(DATA, data);
        int is = d.run(0, 1, h2d(0x30, 0, 8, 40, 0xE0), WRITE, prds(DATA, 1024, 3072)); // WRITE SECTORS
        assertThat(is & DHRS).as("PIO out ends with a register FIS").isNotZero();
        assertThat(image.slice(40 * 512, data.length)).isEqualTo(data);
        byte[] pio = d.receivedFis(0, RX_PIO_SETUP, 20);
        assertThat(pio[1] & 0x20).as("host to device").isZero();
        f.qt.memset(DATA, data.length, 0);
        is = d.run(0, 2, h2d(0x24, 0, 8, 40, 0x40), 0, prds(DATA, 4096)); // READ SECTORS EXT
        assertThat(is & PSS).isNotZero();
        assertThat(f.qt.memread(DATA, data.length)).isEqualTo(data);
        // READ MULTIPLE with the default multiple count, and READ DMA (28-bit).
        f.qt.memset(DATA, data.length, 0);
        d.run(0, 3, h2d(0xC4, 0, 8, 40, 0xE0), 0, prds(DATA, 4096));
        assertThat(f.qt.memread(DATA, data.length)).isEqualTo(data);
        f.qt.memset(DATA, data.length, 0);
        d.run(0, 4, h2d(0xC8, 0, 8, 40, 0xE0), 0, prds(DATA, 4096));
        assertThat(f.qt.memread(DATA, data.length)).isEqualTo(data);
    }

    @Test
    void fortyEightBitAddressesReachBeyondTheTwentyEightBitLimit() throws Exception {
        SparseDisk big = new SparseDisk(256L << 30);
        f = new AhciFixture(new AhciHba(6, IoMode.INLINE, 10_000, new SlotThread(),
                new AtaDisk(big, AtaIdentity.disk("BIG"), true)));
        d = f.driver;
        d.startPort(0);
        int[] id = d.identify(0, 0xEC);
        assertThat(id[100] | (long) id[101] << 16 | (long) id[102] << 32).isEqualTo((256L << 30) / 512);
        assertThat(id[60] | id[61] << 16).as("28-bit count saturates").isEqualTo(0x0FFF_FFFF);
        long lba = 0x1234_5678L; // above 2^28
        byte[] data = new byte[4096];
        new Random(11).nextBytes(data);
        f.qt.memwrite(DATA, data);
        d.run(0, 0, h2d(0x35, 0, 8, lba, 0x40), WRITE, prds(DATA, 4096));
        assertThat(big.holds(lba)).isTrue();
        assertThat(big.holds(lba & 0x0FFF_FFFFL)).isFalse();
        f.qt.memset(DATA, 4096, 0);
        d.run(0, 1, h2d(0x25, 0, 8, lba, 0x40), 0, prds(DATA, 4096));
        assertThat(f.qt.memread(DATA, 4096)).isEqualTo(data);
    }

    @Test
    void flushReachesTheMediumAndTrimDiscardsTheRangesGiven() throws Exception {
        SparseDisk disk = new SparseDisk(1L << 30);
        f = new AhciFixture(new AhciHba(6, IoMode.INLINE, 10_000, new SlotThread(),
                new AtaDisk(disk, AtaIdentity.disk("T"), true)));
        d = f.driver;
        d.startPort(0);
        int[] id = d.identify(0, 0xEC);
        assertThat(id[169] & 1).as("TRIM supported").isEqualTo(1);
        f.qt.memset(DATA, 64 * 512, 0x5A);
        d.run(0, 0, h2d(0x35, 0, 64, 1000, 0x40), WRITE, prds(DATA, 64 * 512));
        d.run(0, 1, h2d(0xEA, 0, 0, 0, 0x40), 0, List.of()); // FLUSH CACHE EXT
        assertThat(disk.flushes).isEqualTo(1);
        ByteBuffer ranges = ByteBuffer.allocate(512).order(ByteOrder.LITTLE_ENDIAN);
        ranges.putLong(1008 | 16L << 48);
        ranges.putLong(1040 | 8L << 48);
        f.qt.memwrite(DATA, ranges.array());
        d.run(0, 2, h2d(0x06, 1, 1, 0, 0x40), WRITE, prds(DATA, 512)); // DATA SET MANAGEMENT, TRIM
        for (long lba = 1000; lba < 1064; lba++) {
            boolean trimmed = lba >= 1008 && lba < 1024 || lba >= 1040 && lba < 1048;
            assertThat(disk.holds(lba)).as("LBA " + lba).isEqualTo(!trimmed);
        }
    }

    @Test
    void aBadLbaIsATaskFileErrorThatStopsThePortUntilRecovered() throws Exception {
        start(IoMode.INLINE);
        d.port(0, PxIE, TFES | DHRS);
        d.hba(GHC, 0x8000_0002);
        d.issue(0, 5, h2d(0x25, 0, 8, 4090, 0x40), null, 0, prds(DATA, 4096));
        int is = d.await(0, 5);
        assertThat(is & TFES).isNotZero();
        int tfd = d.port(0, PxTFD);
        assertThat(tfd & 0x01).as("ERR").isNotZero();
        assertThat((tfd >>> 8) & 0x10).as("IDNF").isNotZero();
        assertThat(d.port(0, PxCI)).as("the failed slot stays issued").isEqualTo(1 << 5);
        assertThat((d.port(0, PxCMD) >>> 8) & 0x1F).as("CCS names it").isEqualTo(5);
        assertThat(f.qt.getIrq(AhciFixture.IRQ)).isTrue();
        d.issue(0, 6, h2d(0xEC, 0, 0, 0, 0), null, 0, prds(DATA, 512));
        assertThat(d.port(0, PxCI) & 1 << 6).as("nothing runs after a task file error").isNotZero();
        d.recover(0);
        d.port(0, PxIE, 0);
        d.hba(IS, -1);
        assertThat(f.qt.getIrq(AhciFixture.IRQ)).isFalse();
        assertThat(d.port(0, PxCI)).isZero();
        d.identify(0, 0xEC);
        // An unknown command aborts the same way.
        d.issue(0, 7, h2d(0xFD, 0, 0, 0, 0), null, 0, List.of());
        assertThat(d.await(0, 7) & TFES).isNotZero();
        assertThat((d.port(0, PxTFD) >>> 8) & 0x04).as("ABRT").isNotZero();
        d.recover(0);
        d.identify(0, 0xEC);
    }

    @Test
    void aCommandFisOfAnotherTypeIsAFatalInterfaceError() throws Exception {
        start(IoMode.INLINE);
        byte[] bad = h2d(0xEC, 0, 0, 0, 0);
        bad[0] = 0x46; // a data FIS
        d.issue(0, 0, bad, null, 0, prds(DATA, 512));
        int is = d.await(0, 0);
        assertThat(is & IFS).isNotZero();
        assertThat(d.port(0, PxSERR) & 1 << 10).as("SERR.ERR.P").isNotZero();
        assertThat(f.hba.config().problems()).anyMatch(p -> p.contains("type 46h"));
        d.recover(0);
        d.identify(0, 0xEC);
        // A command FIS length below five dwords, likewise.
        d.prepare(0, 1, h2d(0xEC, 0, 0, 0, 0), null, 0, prds(DATA, 512));
        f.qt.writel(commandList(0) + 32, 1 << 16 | 2);
        d.port(0, PxCI, 1 << 1);
        assertThat(d.await(0, 1) & IFS).isNotZero();
        d.recover(0);
        d.identify(0, 0xEC);
    }

    @Test
    void aPrdtOutsideRamIsAHostBusFatalErrorRecoveredWithClo() throws Exception {
        start(IoMode.INLINE);
        byte[] before = image.slice(0, 4096);
        d.issue(0, 2, h2d(0x35, 0, 8, 0, 0x40), null, WRITE, List.of(new Prd(DATA, 2048), new Prd(0xF000_0000L, 2048)));
        int is = d.await(0, 2);
        assertThat(is & HBFS).isNotZero();
        assertThat(image.slice(0, 4096)).as("nothing reached the disk").isEqualTo(before);
        assertThat(d.port(0, PxTFD) & 0x80).as("the device still looks busy").isNotZero();
        d.issue(0, 3, h2d(0x25, 0, 8, 0, 0x40), null, 0, List.of(new Prd(0x7FFF_F000L, 8192)));
        assertThat(d.port(0, PxCI) & 1 << 3).isNotZero();
        d.recover(0); // with CLO, as BSY is set
        assertThat(d.port(0, PxTFD) & 0x88).isZero();
        d.identify(0, 0xEC);
        // A read whose PRDT runs past the end of RAM: no byte lands.
        d.issue(0, 4, h2d(0x25, 0, 16, 0, 0x40), null, 0, List.of(new Prd((128L << 20) - 4096, 8192)));
        assertThat(d.await(0, 4) & HBFS).isNotZero();
        d.recover(0);
        // A PRD whose upper address bits reach past the 64-bit address space.
        d.issue(0, 5, h2d(0x25, 0, 1, 0, 0x40), null, 0, List.of(new Prd(0x8000_0000_0020_0000L, 512)));
        assertThat(d.await(0, 5) & HBFS).isNotZero();
        d.recover(0);
        // The command list itself outside RAM.
        d.stopPort(0);
        d.port(0, PxCLB, 0xF000_0000);
        d.port(0, PxCMD, d.port(0, PxCMD) | FRE);
        d.port(0, PxCMD, d.port(0, PxCMD) | ST);
        d.port(0, PxCI, 1);
        assertThat(d.port(0, PxIS) & HBFS).isNotZero();
    }

    @Test
    void theHbasDmaReachesRamOnlyNeverItsOwnRegisters() throws Exception {
        start(IoMode.INLINE);
        d.stopPort(0);
        d.port(0, PxFB, (int) (f.abar + 0x100)); // the FIS area on top of port 0's registers
        d.port(0, PxCMD, d.port(0, PxCMD) | FRE);
        d.port(0, PxCMD, d.port(0, PxCMD) | ST);
        d.issue(0, 0, h2d(0xEC, 0, 0, 0, 0), null, 0, prds(DATA, 512));
        assertThat(d.port(0, PxIS) & HBFS).isNotZero();
        assertThat(d.port(0, PxSCTL)).as("no FIS landed on the registers").isZero();
        assertThat(d.port(0, PxSSTS) & 0xF).isEqualTo(3);
    }

    @Test
    void aReadLogOfTheWrongSizeAbortsAndKeepsTheLog() throws Exception {
        start(IoMode.INLINE);
        d.prepare(0, 0, AhciNcqTest.fpdma(false, 0, 4090, 16), null, 0, prds(DATA, 8192));
        d.port(0, PxSACT, 1);
        d.port(0, PxCI, 1);
        assertThat(d.port(0, PxIS) & TFES).isNotZero();
        d.recover(0);
        d.issue(0, 1, h2d(0x2F, 0, 2, 0x10, 0x40), null, 0, prds(DATA, 1024));
        assertThat(d.await(0, 1) & TFES).as("two pages of a one-page log").isNotZero();
        d.recover(0);
        f.qt.memset(DATA, 512, 0xEE);
        d.run(0, 2, h2d(0x2F, 0, 1, 0x10, 0x40), 0, prds(DATA, 512));
        assertThat(f.qt.readb(DATA + 3) & 0x10).as("the log still names the IDNF").isNotZero();
    }

    @Test
    void aPrdtShorterThanTheDataIsAnOverflow() throws Exception {
        start(IoMode.INLINE);
        d.issue(0, 0, h2d(0x25, 0, 16, 0, 0x40), null, 0, prds(DATA, 4096));
        assertThat(d.await(0, 0) & OFS).isNotZero();
        assertThat(f.hba.config().problems()).anyMatch(p -> p.contains("8192 bytes of data, 4096 in its PRDT"));
        d.recover(0);
        d.identify(0, 0xEC);
    }

    @Test
    void softResetReportsTheSignatureAgain() throws Exception {
        start(IoMode.INLINE);
        d.issue(0, 0, control(0x04), null, 0x400 | 0x100, List.of()); // SRST, C and R bits
        d.await(0, 0);
        assertThat(d.port(0, PxCI)).isZero();
        f.qt.memset(fisArea(0) + RX_D2H, 20, 0);
        d.issue(0, 1, control(0), null, 0, List.of());
        d.await(0, 1);
        assertThat(d.port(0, PxTFD)).isEqualTo(0x0150);
        assertThat(d.port(0, PxSIG)).isEqualTo(0x101);
        byte[] fis = d.receivedFis(0, RX_D2H, 20);
        assertThat(fis[0]).isEqualTo((byte) 0x34);
        assertThat(fis[12]).isEqualTo((byte) 1);
        d.identify(0, 0xEC);
    }

    private void put(List<Prd> shape, byte[] data) {
        int at = 0;
        for (Prd p : shape) {
            int n = Math.min(p.bytes(), data.length - at);
            if (n <= 0) {
                break;
            }
            f.qt.memwrite(p.address(), java.util.Arrays.copyOfRange(data, at, at + n));
            at += n;
        }
    }

    private byte[] get(List<Prd> shape, int length) {
        byte[] out = new byte[length];
        int at = 0;
        for (Prd p : shape) {
            int n = Math.min(p.bytes(), length - at);
            if (n <= 0) {
                break;
            }
            System.arraycopy(f.qt.memread(p.address(), n), 0, out, at, n);
            at += n;
        }
        return out;
    }
}
