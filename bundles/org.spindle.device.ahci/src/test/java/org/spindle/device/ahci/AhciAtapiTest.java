package org.spindle.device.ahci;

import static org.assertj.core.api.Assertions.assertThat;
import static org.spindle.device.ahci.AhciDriver.*;

import java.util.List;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.spindle.device.ata.ArrayDisk;
import org.spindle.device.ata.AtaDisk;
import org.spindle.device.ata.AtaIdentity;
import org.spindle.device.ata.AtapiCdrom;
import org.spindle.device.ata.IoMode;
import org.spindle.device.ata.SlotThread;

/** A CD-ROM on a SATA port: PACKET commands with the CDB in the command table, sense after eject and insert, READ(10) by DMA and PIO. */
class AhciAtapiTest {
    private static final int ATAPI = 0x20;

    private AhciFixture f;
    private AhciDriver d;
    private AtapiCdrom cd;

    @BeforeEach
    void start() throws Exception {
        SlotThread thread = new SlotThread();
        cd = new AtapiCdrom(AtaIdentity.cdrom("CD1"), "sata0.1", thread, true);
        f = new AhciFixture(new AhciHba(6, IoMode.WORKERS, 10_000, thread,
                new AtaDisk(ArrayDisk.disk(64), AtaIdentity.disk("D0"), true), cd));
        d = f.driver;
        d.startPort(1);
    }

    @AfterEach
    void close() throws Exception {
        f.close();
    }

    /** PACKET with the CDB; {@code dma} sets features bit 0; the byte count limit goes in LBA mid/high. */
    private int packet(int slot, byte[] cdb, boolean dma, List<Prd> prdt) {
        byte[] acmd = new byte[16];
        System.arraycopy(cdb, 0, acmd, 0, cdb.length);
        d.issue(1, slot, h2d(0xA0, dma ? 1 : 0, 0, 0xFFFE00, 0), acmd, ATAPI, prdt);
        return d.await(1, slot);
    }

    private static byte[] cdb(int... bytes) {
        byte[] b = new byte[12];
        for (int i = 0; i < bytes.length; i++) {
            b[i] = (byte) bytes[i];
        }
        return b;
    }

    private static byte[] read10(long lba, int blocks) {
        return cdb(0x28, 0, (int) (lba >>> 24), (int) (lba >>> 16), (int) (lba >>> 8), (int) lba, 0, blocks >>> 8, blocks);
    }

    /** REQUEST SENSE: key, ASC, ASCQ. */
    private int[] sense() {
        f.qt.memset(DATA, 18, 0);
        int is = packet(0, cdb(0x03, 0, 0, 0, 18), false, List.of(new Prd(DATA, 18 + 0)));
        assertThat(is & FATAL).isZero();
        d.port(1, PxIS, -1);
        byte[] s = f.qt.memread(DATA, 18);
        return new int[] {s[2] & 0x0F, s[12] & 0xFF, s[13] & 0xFF};
    }

    private int testUnitReady() {
        int is = packet(0, cdb(0x00), false, List.of());
        if ((is & TFES) != 0) {
            int key = (d.port(1, PxTFD) >>> 12) & 0xF;
            d.recover(1);
            return key;
        }
        d.port(1, PxIS, -1);
        return 0;
    }

    @Test
    void theDeviceSignsAsAtapiAndIdentifiesByPacketDevice() {
        assertThat(d.port(1, PxSIG)).isEqualTo(0xEB14_0101);
        assertThat(d.port(1, PxTFD) & 0xFF).isZero();
        d.issue(1, 0, h2d(0xEC, 0, 0, 0, 0), null, 0, List.of(new Prd(DATA, 512)));
        assertThat(d.await(1, 0) & TFES).as("IDENTIFY DEVICE aborts on a PACKET device").isNotZero();
        d.recover(1);
        int[] id = d.identify(1, 0xA1);
        assertThat(id[0]).isEqualTo(0x85C0);
        assertThat(id[76] & 0x000E).isEqualTo(0x000E);
        assertThat(id[93]).as("no PATA cable word on SATA").isZero();
    }

    @Test
    void ejectAndInsertGiveTheSenseSequenceAndReadsGoByDma() throws Exception {
        assertThat(testUnitReady()).as("power-on unit attention").isEqualTo(6);
        assertThat(testUnitReady()).as("no disc").isEqualTo(2);
        assertThat(sense()).containsExactly(2, 0x3A, 0x01);
        ArrayDisk disc = ArrayDisk.cd(64);
        cd.insert(disc, "disc", false);
        assertThat(testUnitReady()).isEqualTo(6);
        assertThat(sense()).as("medium may have changed").containsExactly(6, 0x28, 0x00);
        assertThat(testUnitReady()).isZero();
        f.qt.memset(DATA, 4 * 2048, 0);
        int is = packet(2, read10(3, 4), true, prds(DATA, 4096, 4096));
        assertThat(is & FATAL).isZero();
        assertThat(is & DHRS).as("a PACKET command ends with a register FIS").isNotZero();
        assertThat(f.qt.memread(DATA, 4 * 2048)).isEqualTo(disc.slice(3 * 2048, 4 * 2048));
        assertThat(d.prdbc(1, 2)).isEqualTo(4 * 2048);
        d.port(1, PxIS, -1);
        f.qt.memset(DATA, 2 * 2048, 0);
        is = packet(3, read10(10, 2), false, prds(DATA, 4096));
        assertThat(is & FATAL).isZero();
        assertThat(f.qt.memread(DATA, 2 * 2048)).as("by PIO").isEqualTo(disc.slice(10 * 2048, 2 * 2048));
        // The guest ejects it: START STOP UNIT with LoEj.
        is = packet(4, cdb(0x1B, 0, 0, 0, 0x02), false, List.of());
        assertThat(is & FATAL).isZero();
        assertThat(cd.status().trayOpen).isTrue();
        assertThat(testUnitReady()).isEqualTo(2);
        assertThat(sense()).containsExactly(2, 0x3A, 0x02);
        // READ past the end of the disc, after a new one.
        cd.insert(ArrayDisk.cd(8), "small", false);
        testUnitReady();
        is = packet(5, read10(8, 1), true, prds(DATA, 2048));
        assertThat(is & TFES).isNotZero();
        assertThat((d.port(1, PxTFD) >>> 12) & 0xF).as("ILLEGAL REQUEST").isEqualTo(5);
        d.recover(1);
        assertThat(sense()).containsExactly(5, 0x21, 0x00);
    }
}
