package org.spindle.device.ahci;

import static org.assertj.core.api.Assertions.assertThat;
import static org.spindle.device.ahci.AhciDriver.*;

import java.util.List;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.spindle.device.ata.ArrayDisk;
import org.spindle.device.ata.AtaDisk;
import org.spindle.device.ata.AtaIdentity;
import org.spindle.device.ata.IoMode;
import org.spindle.device.ata.SlotThread;

/** Drives attached and pulled while the guest runs: what the port shows each time, and the other port's I/O untouched. */
class AhciHotplugTest {
    private static final int WRITE = 0x40;

    private AhciFixture f;
    private AhciDriver d;

    @AfterEach
    void close() throws Exception {
        if (f != null) {
            f.close();
        }
    }

    @Test
    void aDiskPulledAndAttachedThreeTimesWhileTheOtherPortKeepsItsIo() throws Exception {
        GatedDisk busy = new GatedDisk(8192);
        f = new AhciFixture(new AhciHba(6, IoMode.WORKERS, 10_000, new SlotThread(),
                new AtaDisk(busy, AtaIdentity.disk("BUSY"), true), new AtaDisk(ArrayDisk.disk(256), AtaIdentity.disk("HP0"), true)));
        d = f.driver;
        d.startPort(0);
        d.startPort(1);
        d.port(1, PxIE, PCS | PRCS);
        d.hba(GHC, 0x8000_0002);
        for (int round = 1; round <= 3; round++) {
            // Port 0: sixteen queued reads held by the disk, sixteen writes running.
            for (int tag = 0; tag < 16; tag++) {
                busy.gate(1000 + 8L * tag);
                d.prepare(0, tag, AhciNcqTest.fpdma(false, tag, 1000 + 8L * tag, 8), null, 0,
                        List.of(new Prd(DATA + 0x1000L * tag, 4096)));
            }
            for (int tag = 16; tag < 32; tag++) {
                f.qt.memset(DATA + 0x1000L * tag, 4096, round * 16 + tag);
                d.prepare(0, tag, AhciNcqTest.fpdma(true, tag, 4000 + 8L * tag, 8), null, WRITE,
                        List.of(new Prd(DATA + 0x1000L * tag, 4096)));
            }
            d.port(0, PxSACT, -1);
            d.port(0, PxCI, -1);
            busy.awaitWaiting(16);

            // Pull port 1's disk.
            Object old = f.hba.detach(1);
            assertThat(old).isInstanceOf(AtaDisk.class);
            assertThat(d.port(1, PxSSTS)).as("round " + round + ": no device").isZero();
            assertThat(d.port(1, PxIS) & PRCS).as("PhyRdy changed").isNotZero();
            assertThat(d.port(1, PxTFD) & 0xFF).isEqualTo(0x7F);
            assertThat(f.qt.getIrq(AhciFixture.IRQ)).isTrue();
            assertThat(f.pci.configRead(AhciFixture.DEVFN, 0x92, 2) >>> 8).as("PCS present bits").isEqualTo(0x01);
            d.port(1, PxSERR, -1);
            d.hba(IS, -1);
            assertThat(f.qt.getIrq(AhciFixture.IRQ)).isFalse();

            // Port 0's reads go on.
            busy.releaseAll();
            assertThat(d.awaitTags(0, -1) & FATAL).isZero();
            for (int tag = 0; tag < 16; tag++) {
                assertThat(f.qt.memread(DATA + 0x1000L * tag, 4096)).as("round " + round + " tag " + tag)
                        .isEqualTo(busy.slice((1000 + 8L * tag) * 512, 4096));
            }
            for (int tag = 16; tag < 32; tag++) {
                assertThat(busy.slice((4000 + 8L * tag) * 512, 4096)).containsOnly(round * 16 + tag);
            }
            d.port(0, PxIS, -1);

            // A new disk on port 1: COMINIT, then the link after its delay.
            ArrayDisk next = ArrayDisk.disk(256 * (round + 1));
            f.hba.attach(1, new AtaDisk(next, AtaIdentity.disk("HP" + round), true));
            assertThat(d.port(1, PxIS) & PCS).as("COMINIT seen").isNotZero();
            assertThat(f.qt.getIrq(AhciFixture.IRQ)).isTrue();
            d.awaitLink(1);
            assertThat(d.port(1, PxSIG)).isEqualTo(0x101);
            assertThat(f.pci.configRead(AhciFixture.DEVFN, 0x92, 2) >>> 8).isEqualTo(0x03);
            d.port(1, PxSERR, -1);
            d.hba(IS, -1);
            d.startPort(1);
            d.port(1, PxIE, PCS | PRCS);
            int[] id = d.identify(1, 0xEC);
            assertThat(id[100] | id[101] << 16).isEqualTo(256 * (round + 1));
            assertThat((char) (id[11] >>> 8)).as("serial HP" + round).isEqualTo((char) ('0' + round));
            f.qt.memset(DATA, 512, 0);
            d.run(1, 1, h2d(0x25, 0, 1, 7, 0x40), 0, List.of(new Prd(DATA, 512)));
            assertThat(f.qt.memread(DATA, 512)).isEqualTo(next.slice(7 * 512, 512));
        }
    }

    @Test
    void aStoppedEngineReportsRunningUntilItsDataHasStoppedMoving() throws Exception {
        GatedDisk disk = new GatedDisk(256);
        f = new AhciFixture(new AhciHba(6, IoMode.WORKERS, 10_000, new SlotThread(),
                new AtaDisk(disk, AtaIdentity.disk("SLOW"), true)));
        d = f.driver;
        d.startPort(0);
        disk.gate(0);
        d.issue(0, 0, h2d(0x25, 0, 8, 0, 0x40), null, 0, List.of(new Prd(DATA, 4096)));
        disk.awaitWaiting(1);
        d.port(0, PxCMD, d.port(0, PxCMD) & ~ST);
        assertThat(d.port(0, PxCI)).isZero();
        assertThat(d.port(0, PxCMD) & CR).as("CR holds while the abandoned read can still land").isNotZero();
        disk.releaseAll();
        d.awaitIdle(0);
        f.qt.memset(DATA, 4096, 0xAB);
        Thread.sleep(50);
        assertThat(f.qt.memread(DATA, 4096)).as("nothing lands after CR clears").containsOnly(0xAB);
    }

    @Test
    void commandsOfAPulledDiskNeverCompleteAndTheEngineRecovers() throws Exception {
        GatedDisk disk = new GatedDisk(256);
        f = new AhciFixture(new AhciHba(6, IoMode.WORKERS, 10_000, new SlotThread(), null,
                new AtaDisk(disk, AtaIdentity.disk("GONE"), true)));
        d = f.driver;
        assertThat(d.port(0, PxSSTS)).isZero();
        d.startPort(1);
        disk.gate(0);
        d.issue(1, 0, h2d(0x25, 0, 1, 0, 0x40), null, 0, List.of(new Prd(DATA, 512)));
        disk.awaitWaiting(1);
        f.hba.detach(1);
        disk.releaseAll();
        Thread.sleep(50);
        assertThat(d.port(1, PxCI)).as("the device went away with it").isEqualTo(1);
        d.stopPort(1);
        assertThat(d.port(1, PxCI)).isZero();
        f.hba.attach(1, new AtaDisk(ArrayDisk.disk(128), AtaIdentity.disk("BACK"), true));
        d.startPort(1);
        d.identify(1, 0xEC);
    }
}
