package org.spindle.device.ahci;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.spindle.device.ahci.AhciDriver.*;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.spindle.device.ata.ArrayDisk;
import org.spindle.device.ata.AtaDisk;
import org.spindle.device.ata.AtaIdentity;
import org.spindle.device.ata.IoMode;
import org.spindle.device.ata.SlotThread;
import org.spindle.machine.api.DeviceStateDTO;
import org.spindle.machine.api.PciConfigSpace;

/** The HBA as a driver meets it before any command: PCI identity, capabilities, handoff, reset, links, power states, interrupts. */
class AhciHbaTest {
    private AhciFixture f;
    private AhciDriver d;

    private void start(long linkDelay, Object... devices) throws Exception {
        f = new AhciFixture(new AhciHba(6, IoMode.INLINE, linkDelay, new SlotThread(), devices));
        d = f.driver;
    }

    private static AtaDisk disk(int sectors, String serial) {
        return new AtaDisk(ArrayDisk.disk(sectors), AtaIdentity.disk(serial), true);
    }

    @AfterEach
    void close() throws Exception {
        if (f != null) {
            f.close();
        }
    }

    @Test
    void thePciFunctionIsAnIch9AhciWithMsiThenSataThenPowerManagement() throws Exception {
        start(10_000, disk(64, "D0"));
        assertThat(f.pci.configRead(AhciFixture.DEVFN, 0x00, 4)).isEqualTo(0x2922_8086);
        assertThat(f.pci.configRead(AhciFixture.DEVFN, 0x08, 4) >>> 8).as("class 01/06/01").isEqualTo(0x01_06_01);
        int first = f.pci.configRead(AhciFixture.DEVFN, PciConfigSpace.CAPABILITY_LIST, 1);
        int second = f.pci.configRead(AhciFixture.DEVFN, first + 1, 1);
        int third = f.pci.configRead(AhciFixture.DEVFN, second + 1, 1);
        assertThat(f.pci.configRead(AhciFixture.DEVFN, first, 1)).as("MSI first").isEqualTo(0x05);
        assertThat(f.pci.configRead(AhciFixture.DEVFN, second, 1)).as("then SATA").isEqualTo(0x12);
        assertThat(f.pci.configRead(AhciFixture.DEVFN, third, 1)).as("then power management").isEqualTo(0x01);
        assertThat(f.pci.configRead(AhciFixture.DEVFN, third + 1, 1)).isZero();
        // SATA capability: revision 1.0, index/data pair in BAR4 (BARLOC 8) at dword 4 (offset 10h).
        assertThat(f.pci.configRead(AhciFixture.DEVFN, second + 2, 2) & 0xFF).isEqualTo(0x10);
        assertThat(f.pci.configRead(AhciFixture.DEVFN, second + 4, 4)).isEqualTo(0x48);
        var bar4 = f.pci.sizeBar(AhciFixture.DEVFN, 4);
        var bar5 = f.pci.sizeBar(AhciFixture.DEVFN, 5);
        assertThat(bar4.io()).isTrue();
        assertThat(bar4.size()).isEqualTo(32);
        assertThat(bar5.io()).isFalse();
        assertThat(bar5.size()).as("ABAR: 100h + 6 ports of 80h, in ICH9's 2 KiB").isEqualTo(0x800);
        assertThat(f.pci.configRead(AhciFixture.DEVFN, 0x3D, 1)).as("INTA#").isEqualTo(1);
        assertThat(f.pci.configRead(AhciFixture.DEVFN, 0x92, 2) >>> 8).as("PCS: port 0 present").isEqualTo(0x01);
    }

    @Test
    void theHostCapabilitiesAreThoseOfAnAhci131HbaWithNcqAndSixPorts() throws Exception {
        start(10_000);
        int cap = d.hba(CAP);
        assertThat(cap & 1 << 31).as("S64A").isNotZero();
        assertThat(cap & 1 << 30).as("SNCQ").isNotZero();
        assertThat(cap & 1 << 29).as("SSNTF").isNotZero();
        assertThat(cap & 1 << 27).as("SSS").isNotZero();
        assertThat(cap & 1 << 26).as("SALP").isNotZero();
        assertThat(cap & 1 << 25).as("SAL").isNotZero();
        assertThat(cap & 1 << 24).as("SCLO").isNotZero();
        assertThat((cap >>> 20) & 0xF).as("ISS Gen3").isEqualTo(3);
        assertThat(cap & 1 << 18).as("SAM: AHCI only").isNotZero();
        assertThat((cap >>> 8) & 0x1F).as("NCS: 32 slots").isEqualTo(31);
        assertThat(cap & 1 << 7).as("CCCS").isNotZero();
        assertThat(cap & 0x1F).as("NP: 6 ports").isEqualTo(5);
        assertThat(d.hba(GHC)).as("AE set, read-only").isEqualTo(0x8000_0000);
        d.hba(GHC, 0);
        assertThat(d.hba(GHC) & 0x8000_0000).isNotZero();
        assertThat(d.hba(PI)).isEqualTo(0x3F);
        assertThat(d.hba(VS)).isEqualTo(0x0001_0301);
        assertThat(d.hba(CAP2) & 1).as("BOH").isEqualTo(1);
        assertThat((d.hba(CCC_CTL) >>> 3) & 0x1F).as("CCC interrupt: the first unimplemented port's bit").isEqualTo(6);
        d.hba(CAP, 0);
        d.hba(PI, 0);
        assertThat(d.hba(CAP)).isEqualTo(cap);
        assertThat(d.hba(PI)).isEqualTo(0x3F);
    }

    @Test
    void biosOsHandoffRecordsTheOwnershipChange() throws Exception {
        start(10_000);
        assertThat(d.hba(BOHC)).isZero();
        d.hba(BOHC, 0x1); // firmware owns the HBA
        d.hba(BOHC, d.hba(BOHC) | 0x2); // the OS asks for it
        assertThat(d.hba(BOHC)).as("BOS, OOS and OOC").isEqualTo(0x1 | 0x2 | 0x8);
        d.hba(BOHC, 0x2 | 0x8); // firmware lets go; the OS clears OOC (write 1)
        assertThat(d.hba(BOHC)).isEqualTo(0x2);
        d.hba(BOHC, 0x2);
        assertThat(d.hba(BOHC) & 0x8).as("OOC only on a 0-to-1 change of OOS").isZero();
    }

    @Test
    void staggeredSpinUpHoldsTheLinkUntilSudAndTheLinkTakesItsTime() throws Exception {
        start(10_000, disk(64, "D0"));
        assertThat(d.port(0, PxCMD) & SUD).as("SUD clear at power-on (staggered spin-up)").isZero();
        assertThat(d.port(0, PxSSTS)).as("device presence detected, no PHY").isEqualTo(1);
        assertThat(d.port(1, PxSSTS)).as("empty port").isZero();
        assertThat(d.port(0, PxTFD) & 0xFF).isEqualTo(0x7F);
        d.port(0, PxFB, (int) fisArea(0));
        d.port(0, PxCMD, FRE);
        d.port(0, PxCMD, FRE | SUD);
        assertThat(d.port(0, PxSSTS) & 0xF).as("OOB under way").isEqualTo(1);
        f.qt.clockStep(5_000);
        assertThat(d.port(0, PxSSTS) & 0xF).isEqualTo(1);
        f.qt.clockStep(5_000);
        assertThat(d.port(0, PxSSTS)).as("IPM active, Gen3, PHY up").isEqualTo(0x133);
        assertThat(d.port(0, PxSIG)).isEqualTo(0x0000_0101);
        assertThat(d.port(0, PxTFD)).as("error 01h, status 50h").isEqualTo(0x0150);
        byte[] sig = d.receivedFis(0, RX_D2H, 20);
        assertThat(sig[0]).as("the signature's register FIS").isEqualTo((byte) 0x34);
        assertThat(sig[1] & 0x40).as("without the interrupt bit").isZero();
        assertThat(sig[12]).isEqualTo((byte) 1);
        int serr = d.port(0, PxSERR);
        assertThat(serr & (1 << 26 | 1 << 16)).as("DIAG.X (COMINIT) and DIAG.N (PhyRdy change)").isEqualTo(1 << 26 | 1 << 16);
        assertThat(d.port(0, PxIS) & (PCS | PRCS)).isEqualTo(PCS | PRCS);
        d.port(0, PxIS, -1);
        assertThat(d.port(0, PxIS) & (PCS | PRCS)).as("PCS and PRCS follow PxSERR, not PxIS writes").isEqualTo(PCS | PRCS);
        d.port(0, PxSERR, 1 << 26);
        assertThat(d.port(0, PxIS) & (PCS | PRCS)).isEqualTo(PRCS);
        d.port(0, PxSERR, 1 << 16);
        assertThat(d.port(0, PxIS)).isZero();
        d.port(1, PxCMD, SUD);
        f.qt.clockStep(100_000);
        assertThat(d.port(1, PxSSTS)).as("no device, no link").isZero();
    }

    @Test
    void aPortResetKeepsTheCommandListAddressAndStartsAtSlotZero() throws Exception {
        start(10_000, disk(64, "D0"));
        d.startPort(0);
        d.resetHba();
        assertThat(d.port(0, PxCLB)).as("GHC.HR leaves PxCLB").isEqualTo((int) commandList(0));
        assertThat(d.port(0, PxFB)).isEqualTo((int) fisArea(0));
        d.port(0, PxCMD, d.port(0, PxCMD) | FRE | SUD);
        d.port(0, PxSCTL, 1);
        d.port(0, PxSCTL, 0);
        assertThat(d.port(0, PxTFD) & 0x80).as("BSY once COMINIT is seen").isNotZero();
        d.awaitLink(0);
        assertThat(d.port(0, PxTFD) & 0xFF).isEqualTo(0x50);
        d.port(0, PxCMD, d.port(0, PxCMD) | ST);
        assertThat((d.port(0, PxCMD) >>> 8) & 0x1F).as("CCS").isZero();
    }

    @Test
    void anHbaResetPutsEveryRegisterBackAndPortsListenAgain() throws Exception {
        start(10_000, disk(64, "D0"));
        d.startPort(0);
        d.hba(GHC, 0x8000_0002);
        d.port(0, PxIE, -1);
        d.hba(CCC_PORTS, 1);
        d.resetHba();
        assertThat(d.hba(GHC)).isEqualTo(0x8000_0000);
        assertThat(d.port(0, PxIE)).isZero();
        assertThat(d.port(0, PxCMD) & (ST | FRE | SUD | CR | FR)).isZero();
        assertThat(d.hba(CCC_PORTS)).as("HR leaves the other global registers").isEqualTo(1);
        assertThat(d.port(0, PxSSTS)).as("back to listening").isEqualTo(1);
        d.startPort(0);
        assertThat(d.port(0, PxSSTS) & 0xF).isEqualTo(3);
    }

    @Test
    void comresetHoldsTheLinkDownUntilDetIsReleased() throws Exception {
        start(10_000, disk(64, "D0"));
        d.startPort(0);
        d.stopPort(0);
        d.port(0, PxSERR, -1);
        d.port(0, PxSCTL, 0x301); // COMRESET, partial and slumber not allowed
        assertThat(d.port(0, PxSSTS)).isZero();
        assertThat(d.port(0, PxTFD) & 0xFF).isEqualTo(0x7F);
        assertThat(d.port(0, PxSERR) & 1 << 16).as("PhyRdy changed").isNotZero();
        f.qt.clockStep(1_000_000);
        assertThat(d.port(0, PxSSTS)).as("still held in COMRESET").isZero();
        d.port(0, PxSERR, -1);
        d.port(0, PxSCTL, 0x300);
        assertThat(d.port(0, PxSSTS) & 0xF).isEqualTo(1);
        f.qt.clockStep(10_000);
        assertThat(d.port(0, PxSSTS) & 0xF).isEqualTo(3);
        assertThat(d.port(0, PxTFD) & 0xFF).isEqualTo(0x50);
        assertThat(d.port(0, PxSERR) & (1 << 26 | 1 << 16)).isEqualTo(1 << 26 | 1 << 16);
        // Speed limited by SCTL.SPD: Gen1.
        d.port(0, PxSCTL, 0x311);
        d.port(0, PxSCTL, 0x310);
        f.qt.clockStep(10_000);
        assertThat((d.port(0, PxSSTS) >>> 4) & 0xF).isEqualTo(1);
        d.port(0, PxSCTL, 0x304);
        assertThat(d.port(0, PxSSTS)).as("offline").isEqualTo(4);
        d.port(0, PxSCTL, 0x300);
        f.qt.clockStep(10_000);
        assertThat(d.port(0, PxSSTS) & 0xF).isEqualTo(3);
    }

    @Test
    void stoppingTheEngineClearsIssuedAndActiveCommands() throws Exception {
        start(10_000, disk(64, "D0"));
        d.startPort(0);
        d.port(0, PxSACT, 0xF0);
        assertThat(d.port(0, PxSACT)).isEqualTo(0xF0);
        d.port(0, PxCMD, d.port(0, PxCMD) & ~ST);
        assertThat(d.port(0, PxCMD) & CR).isZero();
        assertThat(d.port(0, PxSACT)).isZero();
        d.port(0, PxSACT, 0x1);
        d.port(0, PxCI, 0x1);
        assertThat(d.port(0, PxSACT)).as("SACT and CI are only set while running").isZero();
        assertThat(d.port(0, PxCI)).isZero();
    }

    @Test
    void theIndexDataPairReachesTheSameRegisters() throws Exception {
        start(10_000, disk(64, "D0"));
        int io = (int) f.pci.assignBar(AhciFixture.DEVFN, 4);
        f.qt.outl(io + 0x10, CAP);
        assertThat(f.qt.inl(io + 0x14)).isEqualTo(d.hba(CAP));
        f.qt.outl(io + 0x10, 0x100 + PxIE);
        f.qt.outl(io + 0x14, DHRS | TFES);
        assertThat(d.port(0, PxIE)).isEqualTo(DHRS | TFES);
        assertThat(f.qt.inl(io + 0x10)).isEqualTo(0x114);
        f.qt.outl(io + 0x10, 0xFFFF_FFFF);
        assertThat(f.qt.inl(io + 0x10) & 3).as("dword aligned").isZero();
    }

    @Test
    void linksGoToPartialAndSlumberWhenAskedAndAllowedAndWakeForCommands() throws Exception {
        start(10_000, disk(64, "D0"));
        d.startPort(0);
        int cmd = d.port(0, PxCMD);
        d.port(0, PxCMD, cmd | 2 << 28);
        assertThat((d.port(0, PxSSTS) >>> 8) & 0xF).as("partial").isEqualTo(2);
        assertThat(d.port(0, PxCMD) >>> 28).as("ICC reads idle once done").isZero();
        d.port(0, PxCMD, cmd | 6 << 28);
        assertThat((d.port(0, PxSSTS) >>> 8) & 0xF).as("slumber").isEqualTo(6);
        d.identify(0, 0xEC);
        assertThat((d.port(0, PxSSTS) >>> 8) & 0xF).as("a command wakes the link").isEqualTo(1);
        d.port(0, PxSCTL, 0x300);
        d.port(0, PxCMD, cmd | 2 << 28);
        assertThat((d.port(0, PxSSTS) >>> 8) & 0xF).as("partial not allowed by SCTL.IPM").isEqualTo(1);
        d.port(0, PxSCTL, 0x000);
        d.port(0, PxCMD, cmd | ALPE | ASP);
        d.identify(0, 0xEC);
        assertThat((d.port(0, PxSSTS) >>> 8) & 0xF).as("aggressive: an idle link goes to slumber").isEqualTo(6);
        d.port(0, PxCMD, (cmd | ALPE) & ~ASP);
        d.identify(0, 0xEC);
        assertThat((d.port(0, PxSSTS) >>> 8) & 0xF).as("aggressive: partial").isEqualTo(2);
    }

    @Test
    void completionsRaiseIntxThroughGhcIeAndIsAndMsiWhenEnabled() throws Exception {
        start(10_000, disk(64, "D0"));
        d.startPort(0);
        d.port(0, PxIE, DHRS | PSS | TFES);
        d.hba(GHC, 0x8000_0002);
        d.issue(0, 0, h2d(0xE7, 0, 0, 0, 0), null, 0, List.of()); // FLUSH CACHE
        d.await(0, 0);
        assertThat(d.port(0, PxIS) & DHRS).isNotZero();
        assertThat(d.hba(IS)).isEqualTo(1);
        assertThat(f.qt.getIrq(AhciFixture.IRQ)).isTrue();
        d.hba(IS, 1);
        assertThat(d.hba(IS)).as("IS sets again while the port's PxIS holds").isEqualTo(1);
        d.port(0, PxIS, -1);
        d.hba(IS, 1);
        assertThat(d.hba(IS)).isZero();
        assertThat(f.qt.getIrq(AhciFixture.IRQ)).isFalse();
        // MSI: the message lands in RAM at the address the guest programmed.
        int msi = f.pci.findCapability(AhciFixture.DEVFN, 0x05, 0);
        f.pci.configWrite(AhciFixture.DEVFN, msi + 4, 4, 0x8000);
        f.pci.configWrite(AhciFixture.DEVFN, msi + 8, 4, 0);
        f.pci.configWrite(AhciFixture.DEVFN, msi + 12, 2, 0x4041);
        f.pci.configWrite(AhciFixture.DEVFN, msi + 2, 2, 0x0001);
        f.qt.writel(0x8000, 0);
        d.issue(0, 1, h2d(0xE7, 0, 0, 0, 0), null, 0, List.of());
        d.await(0, 1);
        assertThat(f.qt.readl(0x8000)).isEqualTo(0x4041);
        assertThat(f.qt.getIrq(AhciFixture.IRQ)).as("no INTx with MSI").isFalse();
        f.pci.configWrite(AhciFixture.DEVFN, msi + 2, 2, 0x0000);
        assertThat(f.qt.getIrq(AhciFixture.IRQ)).as("MSI off: the pending interrupt is on INTA# again").isTrue();
        f.pci.configWrite(AhciFixture.DEVFN, msi + 2, 2, 0x0001);
        assertThat(f.qt.getIrq(AhciFixture.IRQ)).as("MSI on: INTA# released").isFalse();
        d.port(0, PxIS, -1);
        d.hba(IS, 1);
        f.qt.writel(0x8000, 0);
        d.hba(GHC, 0x8000_0000);
        d.issue(0, 2, h2d(0xE7, 0, 0, 0, 0), null, 0, List.of());
        d.await(0, 2);
        assertThat(f.qt.readl(0x8000)).as("nothing while GHC.IE is clear").isZero();
        d.hba(GHC, 0x8000_0002);
        assertThat(f.qt.readl(0x8000)).as("a pending interrupt goes out when IE is set").isEqualTo(0x4041);
    }

    @Test
    void commandCompletionCoalescingInterruptsAfterCcCompletionsOrTheTimeout() throws Exception {
        start(10_000, disk(64, "D0"));
        d.startPort(0);
        d.hba(GHC, 0x8000_0002);
        d.hba(CCC_PORTS, 1);
        d.hba(CCC_CTL, 1 << 16 | 2 << 8 | 1); // 1 ms, 2 completions, enabled
        d.run(0, 0, h2d(0xE7, 0, 0, 0, 0), 0, List.of());
        assertThat(d.hba(IS) & 1 << 6).isZero();
        d.run(0, 1, h2d(0xE7, 0, 0, 0, 0), 0, List.of());
        assertThat(d.hba(IS) & 1 << 6).as("two completions").isNotZero();
        assertThat(f.qt.getIrq(AhciFixture.IRQ)).isTrue();
        d.hba(IS, 1 << 6);
        assertThat(f.qt.getIrq(AhciFixture.IRQ)).isFalse();
        d.run(0, 2, h2d(0xE7, 0, 0, 0, 0), 0, List.of());
        f.qt.clockStep(999_000);
        assertThat(d.hba(IS) & 1 << 6).isZero();
        f.qt.clockStep(2_000);
        assertThat(d.hba(IS) & 1 << 6).as("the timeout").isNotZero();
        // A timeout under way survives a save and restore.
        d.hba(IS, 1 << 6);
        d.run(0, 3, h2d(0xE7, 0, 0, 0, 0), 0, List.of());
        var saved = f.machine.save();
        f.machine.call(() -> {
            f.machine.reset();
            f.machine.restore(saved);
            return null;
        });
        assertThat(d.hba(IS) & 1 << 6).isZero();
        f.qt.clockStep(1_001_000);
        assertThat(d.hba(IS) & 1 << 6).as("the timeout after the restore").isNotZero();
        d.hba(CCC_CTL, 0x0005_0301);
        assertThat(d.hba(CCC_CTL) >>> 8).as("TV and CC hold while enabled").isEqualTo(0x0102);
    }

    @Test
    @SuppressWarnings("unchecked")
    void aSavedStateTheHbaRefusesChangesNothing() throws Exception {
        AtaDisk d0 = disk(64, "D0");
        start(0, d0, disk(64, "D1"));
        d.startPort(0);
        d.startPort(1);
        DeviceStateDTO good = f.machine.call(f.hba::save);
        // After the save the guest enables an interrupt on port 0 and turns its disk's write cache off.
        d.port(0, PxIE, 1);
        d.run(0, 0, h2d(0xEF, 0x82, 0, 0, 0), 0, List.of());
        assertThat(d0.writeCacheEnabled()).isFalse();

        DeviceStateDTO noCi = copy(good);
        ports(noCi).get(1).remove("ci");
        assertThatThrownBy(() -> restore(noCi)).isInstanceOf(IllegalArgumentException.class).hasMessageContaining("'ci'");
        assertThat(d.port(0, PxIE)).as("port 0 not restored").isEqualTo(1);

        DeviceStateDTO badDevice = copy(good);
        ((Map<String, Object>) ports(badDevice).get(1).get("device")).remove("engine");
        assertThatThrownBy(() -> restore(badDevice)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("engine");
        assertThat(d.port(0, PxIE)).isEqualTo(1);
        assertThat(d0.writeCacheEnabled()).as("port 0's disk put back as it was").isFalse();

        restore(good);
        assertThat(d.port(0, PxIE)).isZero();
        assertThat(d0.writeCacheEnabled()).isTrue();
    }

    private void restore(DeviceStateDTO state) throws Exception {
        f.machine.call(() -> {
            f.hba.restore(state);
            return null;
        });
    }

    /** A deep copy of a saved state's maps and lists (leaves shared). */
    private static DeviceStateDTO copy(DeviceStateDTO state) {
        DeviceStateDTO c = new DeviceStateDTO();
        c.type = state.type;
        c.version = state.version;
        c.values = (Map<String, Object>) deep(state.values);
        return c;
    }

    @SuppressWarnings("unchecked")
    private static Object deep(Object o) {
        if (o instanceof Map<?, ?> m) {
            Map<String, Object> out = new LinkedHashMap<>();
            m.forEach((k, v) -> out.put((String) k, deep(v)));
            return out;
        }
        if (o instanceof List<?> l) {
            List<Object> out = new ArrayList<>();
            l.forEach(v -> out.add(deep(v)));
            return out;
        }
        return o;
    }

    @SuppressWarnings("unchecked")
    private static List<Map<String, Object>> ports(DeviceStateDTO state) {
        return (List<Map<String, Object>>) state.values.get("port");
    }
}
