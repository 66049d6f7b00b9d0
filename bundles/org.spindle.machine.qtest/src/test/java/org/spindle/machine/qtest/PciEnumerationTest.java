package org.spindle.machine.qtest;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import org.spindle.machine.api.PciAddress;
import org.spindle.testing.machine.ProbeFunction;
import org.spindle.testing.qtest.QPci;
import org.spindle.testing.qtest.QtestClient;

/** The bus as firmware finds it, through the qtest client: scan, identify, size, assign, enable, capabilities. */
class PciEnumerationTest {
    private static final int PROBE = 3 << 3;

    @ParameterizedTest
    @EnumSource(value = QPci.Style.class, names = {"LIBQOS", "HARDWARE"})
    void pcBusScanFindsTheChipsetAndThePluggedFunction(QPci.Style style) throws Exception {
        try (QtestFixture f = QtestFixture.pc()) {
            f.onMachine(() -> f.machine.plug(PciAddress.of(3, 0), new ProbeFunction()));
            QPci pci = QPci.mechanism1(f.qt, style, 0xE000_0000L);
            assertThat(pci.scan()).map(QPci.Function::toString).containsExactly(
                    "00:00.0 8086:1237 class 060000",
                    "00:01.0 8086:7000 class 060100",
                    "00:01.3 8086:7113 class 068000",
                    "00:03.0 1b36:0005 class 00ff00");
            // a missing function, and function 1 of a single-function device, read vendor 0xFFFF
            assertThat(pci.configRead(5 << 3, 0, 2)).isEqualTo(0xFFFF);
            assertThat(pci.configRead(PROBE | 1, 0, 4)).isEqualTo(0xFFFF_FFFF);
            assertThat(pci.configRead(PROBE, 0x0E, 1) & 0x80).isZero();
            assertThat(pci.configRead(1 << 3, 0x0E, 1) & 0x80).isEqualTo(0x80);
            exerciseProbe(f, pci);
        }
    }

    @Test
    void q35BusScanThroughEcamOnceFirmwareEnablesIt() throws Exception {
        try (QtestFixture f = QtestFixture.q35()) {
            f.onMachine(() -> f.machine.plug(PciAddress.of(3, 0), new ProbeFunction()));
            // before PCIEXBAR is enabled nothing decodes at 0xB0000000
            assertThat(f.qt.readl(0xB000_0000L)).isEqualTo(0xFFFF_FFFF);
            QPci cf8 = QPci.mechanism1(f.qt, QPci.Style.HARDWARE, 0);
            assertThat(cf8.configRead(0, 0x60, 4)).isEqualTo(0xB000_0000); // the reset value: base, disabled
            cf8.configWrite(0, 0x64, 4, 0);
            cf8.configWrite(0, 0x60, 4, 0xB000_0001); // 256 buses at 0xB0000000, enabled
            QPci pci = QPci.ecam(f.qt, 0xB000_0000L, 0xC000_0000L);
            assertThat(pci.scan()).map(QPci.Function::toString).containsExactly(
                    "00:00.0 8086:29c0 class 060000",
                    "00:03.0 1b36:0005 class 00ff00",
                    "00:1f.0 8086:2918 class 060100");
            // a conventional function's space ends at 256 bytes; past it ECAM reads all ones
            assertThat(pci.configRead(PROBE, 0x100, 4)).isEqualTo(0xFFFF_FFFF);
            // another bus: nothing there
            assertThat(f.qt.readl(0xB000_0000L + (1 << 20))).isEqualTo(0xFFFF_FFFF);
            exerciseProbe(f, pci);
            // ECAM and mechanism #1 see the same registers
            assertThat(cf8.configRead(PROBE, 0x10, 4)).isEqualTo(pci.configRead(PROBE, 0x10, 4));
            // moving the window: the old place stops decoding
            cf8.configWrite(0, 0x60, 4, 0xE000_0003); // 128 buses at 0xE0000000
            assertThat(f.qt.readl(0xB000_0000L)).isEqualTo(0xFFFF_FFFF);
            assertThat(f.qt.readl(0xE000_0000L)).isEqualTo(0x29C0_8086);
        }
    }

    /** Sizing, assignment, decoding enables, capabilities and accesses of every width to a probe at 00:03.0. */
    private static void exerciseProbe(QtestFixture f, QPci pci) {
        ProbeFunction probe = (ProbeFunction) f.machine.pciFunctions().get(PciAddress.of(3, 0));
        assertThat(pci.configRead(PROBE, 0x2C, 4)).isEqualTo(0x1100_1AF4);
        assertThat(pci.configRead(PROBE, 0x3D, 1)).isEqualTo(1);

        assertThat(pci.sizeBar(PROBE, 0)).isEqualTo(new QPci.Bar(0, true, false, false, 16));
        assertThat(pci.sizeBar(PROBE, 1)).isEqualTo(new QPci.Bar(1, false, false, false, 4096));
        assertThat(pci.sizeBar(PROBE, 2)).isEqualTo(new QPci.Bar(2, false, true, true, 16384));
        assertThat(pci.sizeBar(PROBE, 4)).isNull();
        assertThat(pci.sizeBar(PROBE, 5)).isNull();

        long io = pci.assignBar(PROBE, 0);
        long mem32 = pci.assignBar(PROBE, 1);
        long mem64 = pci.assignBar(PROBE, 2);
        assertThat(io).isEqualTo(0xC000);
        QtestClient qt = f.qt;
        // assigned but not enabled: nothing decodes
        assertThat(qt.inl((int) io)).isEqualTo(0xFFFF_FFFF);
        assertThat(qt.readl(mem32)).isEqualTo(0xFFFF_FFFF);
        assertThat(probe.takeAccesses()).isEmpty();

        pci.enable(PROBE);
        assertThat(pci.configRead(PROBE, 0x04, 2) & 7).isEqualTo(7);
        qt.outl((int) io + 4, 0x11223344);
        assertThat(qt.inw((int) io + 6)).isEqualTo(0x1122);
        qt.writel(mem32 + 8, 0xCAFEF00D);
        assertThat(qt.readl(mem32 + 8)).isEqualTo(0xCAFEF00D);
        // byte streams of 1, 2, 4 and 8 bytes are one access of that width
        assertThat(qt.memread(mem64 + 16, 4)).containsExactly(0, 0, 0, 0);
        qt.memwrite(mem64 + 16, new byte[] {1, 2, 3, 4, 5, 6, 7, 8});
        assertThat(qt.memread(mem64 + 18, 2)).containsExactly(3, 4);
        assertThat(qt.bufread(mem64 + 16, 1)).containsExactly(1);
        assertThat(probe.takeAccesses()).containsExactly(
                "BAR0 write 4 4", "BAR0 read 6 2", "BAR1 write 8 4", "BAR1 read 8 4",
                "BAR2 read 16 4", "BAR2 write 16 8", "BAR2 read 18 2", "BAR2 read 16 1");

        // the capability list: MSI, then MSI-X
        int msi = pci.findCapability(PROBE, 0x05, 0);
        int msix = pci.findCapability(PROBE, 0x11, 0);
        assertThat(msi).isEqualTo(0x40);
        assertThat(msix).isGreaterThan(msi);
        assertThat(pci.findCapability(PROBE, 0x05, msi)).isZero();
        assertThat(pci.configRead(PROBE, msix + 2, 2) & 0x7FF).isEqualTo(ProbeFunction.VECTORS - 1);
        assertThat(pci.configRead(PROBE, msix + 4, 4)).isEqualTo(ProbeFunction.MSIX_TABLE | 2);

        // memory decoding off: the memory BARs go, the I/O BAR stays
        pci.configWrite(PROBE, 0x04, 2, 0x5);
        assertThat(qt.readl(mem32 + 8)).isEqualTo(0xFFFF_FFFF);
        assertThat(qt.inw((int) io + 6)).isEqualTo(0x1122);
        pci.configWrite(PROBE, 0x04, 2, 0x7);

        // a BAR moved while decoding: the old place is empty, the new one answers
        pci.configWrite(PROBE, 0x14, 4, (int) (mem32 + 0x10000));
        assertThat(qt.readl(mem32 + 8)).isEqualTo(0xFFFF_FFFF);
        assertThat(qt.readl(mem32 + 0x10008)).isEqualTo(0xCAFEF00D);

        // read-only registers stay: IDs, class code, header type; status error bits clear by writing 1
        pci.configWrite(PROBE, 0x00, 4, 0);
        pci.configWrite(PROBE, 0x08, 4, 0);
        assertThat(pci.configRead(PROBE, 0, 4)).isEqualTo(0x0005_1B36);
        assertThat(pci.configRead(PROBE, 0x08, 4)).isEqualTo(0x00FF_0001);
        assertThat(pci.configRead(PROBE, 0x06, 2)).isEqualTo(0x0010); // capabilities list, nothing else
        List<String> problems = f.machine.problems();
        assertThat(problems).isEmpty();
    }

    @Test
    void aBarPlacedOverAnotherDeviceIsNotDecodedAndTheClashIsNoted() throws Exception {
        try (QtestFixture f = QtestFixture.pc()) {
            f.onMachine(() -> {
                f.machine.plug(PciAddress.of(3, 0), new ProbeFunction());
                f.machine.plug(PciAddress.of(4, 0), new ProbeFunction());
            });
            QPci pci = QPci.mechanism1(f.qt, QPci.Style.LIBQOS, 0xE000_0000L);
            long a = pci.assignBar(3 << 3, 1);
            pci.enable(3 << 3);
            pci.configWrite(4 << 3, 0x14, 4, (int) a);
            pci.enable(4 << 3);
            // BARs the firmware left at 0 clash too (both devices decode BAR0 and BAR2 at 0), as on real hardware
            assertThat(f.machine.problems()).hasSize(3).anySatisfy(p -> assertThat(p)
                    .startsWith("00:04.0 BAR1 at 0x" + Long.toHexString(a) + " not decoded").contains("overlaps 00:03.0 BAR1"));
            // the first device keeps its BAR
            f.qt.writel(a, 0x5A5A_5A5A);
            assertThat(f.qt.readl(a)).isEqualTo(0x5A5A_5A5A);
            // the I/O APIC cannot be displaced either, and the guest keeps running
            pci.configWrite(4 << 3, 0x14, 4, 0xFEC0_0000);
            assertThat(f.qt.readl(0xFEC0_0000L + 0x10)).isNotEqualTo(0xFFFF_FFFF);
        }
    }
}
