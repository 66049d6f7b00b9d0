package org.spindle.machine.qtest;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;
import org.spindle.machine.api.InterruptLine;
import org.spindle.machine.api.PciAddress;
import org.spindle.machine.core.MachineConfig;
import org.spindle.testing.machine.ProbeFunction;
import org.spindle.testing.qtest.QPci;
import org.spindle.testing.qtest.QtestClient;

/** INTx through the PIRQ routers to the 8259A pair and the I/O APIC; MSI and MSI-X as memory writes. */
class InterruptRoutingTest {
    private static final int PROBE = 3 << 3;
    private static final int PIIX3 = 1 << 3;

    private static ProbeFunction plugProbe(QtestFixture f) throws Exception {
        ProbeFunction probe = new ProbeFunction();
        f.onMachine(() -> f.machine.plug(PciAddress.of(3, 0), probe));
        return probe;
    }

    /** ICW1-ICW4 for both chips (vectors 0x08 and 0x70), every input masked but the cascade. */
    private static void initPics(QtestClient qt) {
        qt.outb(0x20, 0x11);
        qt.outb(0x21, 0x08);
        qt.outb(0x21, 0x04);
        qt.outb(0x21, 0x01);
        qt.outb(0xA0, 0x11);
        qt.outb(0xA1, 0x70);
        qt.outb(0xA1, 0x02);
        qt.outb(0xA1, 0x01);
        qt.outb(0x21, 0xFB);
        qt.outb(0xA1, 0xFF);
    }

    private static boolean pending(QtestFixture f) throws Exception {
        return f.machine.call(() -> f.machine.pic().interruptPending());
    }

    private static int acknowledge(QtestFixture f) throws Exception {
        return f.machine.call(() -> f.machine.pic().acknowledge());
    }

    private static void intx(QtestFixture f, ProbeFunction probe, boolean level) throws Exception {
        f.onMachine(() -> probe.setIntx(level));
    }

    @Test
    void intxReachesThe8259ThroughThePiix3RouteAsALevelInterrupt() throws Exception {
        try (QtestFixture f = QtestFixture.pc()) {
            ProbeFunction probe = plugProbe(f);
            QtestClient qt = f.qt;
            QPci pci = QPci.mechanism1(qt, QPci.Style.HARDWARE, 0xE000_0000L);
            initPics(qt);
            qt.outb(0x4D1, 0x08); // ELCR: IRQ 11 level-triggered
            qt.outb(0xA1, 0xF7); // unmask IRQ 11
            // QEMU's i440FX board: device 3 INTA# is PIRQC; routing is off after reset
            assertThat(pci.configRead(PIIX3, 0x60, 4)).isEqualTo(0x8080_8080);
            intx(f, probe, true);
            assertThat(pci.configRead(PROBE, 0x06, 2) & 0x08).as("Interrupt Status").isEqualTo(0x08);
            assertThat(pending(f)).as("unrouted PIRQ reaches nothing").isFalse();

            pci.configWrite(PIIX3, 0x62, 1, 11);
            assertThat(pending(f)).isTrue();
            assertThat(acknowledge(f)).isEqualTo(0x73);
            qt.outb(0xA0, 0x20);
            qt.outb(0x20, 0x20);
            assertThat(pending(f)).as("a level input still asserted asks again after EOI").isTrue();
            assertThat(acknowledge(f)).isEqualTo(0x73);
            qt.outb(0xA0, 0x20);
            qt.outb(0x20, 0x20);

            // Interrupt Disable lets go of the pin (the slave's IRR follows a level input); Interrupt
            // Status still shows the function's level
            pci.configWrite(PROBE, 0x04, 2, 0x400);
            assertThat(slaveIrr(qt) & 0x08).isZero();
            assertThat(pci.configRead(PROBE, 0x06, 2) & 0x08).isEqualTo(0x08);
            // the master latched the cascade's edge when the EOI let the slave ask again; the request is
            // gone by the INTA cycle, so the slave answers with its spurious IRQ 15 (the 8259A's default
            // IR7, and QEMU's model)
            assertThat(acknowledge(f)).isEqualTo(0x77);
            qt.outb(0x20, 0x20);
            assertThat(pending(f)).isFalse();
            // the mask holds it back
            qt.outb(0xA1, 0xFF);
            pci.configWrite(PROBE, 0x04, 2, 0);
            assertThat(slaveIrr(qt) & 0x08).isEqualTo(0x08);
            assertThat(pending(f)).isFalse();
            qt.outb(0xA1, 0xF7);
            assertThat(pending(f)).isTrue();
            assertThat(acknowledge(f)).isEqualTo(0x73);
            // a driver's handler: the device lets go of INTx, then the EOIs
            intx(f, probe, false);
            qt.outb(0xA0, 0x20);
            qt.outb(0x20, 0x20);
            assertThat(slaveIrr(qt) & 0x08).isZero();
            assertThat(pending(f)).isFalse();
            assertThat(pci.configRead(PROBE, 0x06, 2) & 0x08).isZero();

            // two functions on one PIRQ: wired OR
            ProbeFunction other = new ProbeFunction();
            f.onMachine(() -> f.machine.plug(PciAddress.of(7, 0), other)); // (7 - 1 + 0) mod 4 = PIRQC too
            intx(f, probe, true);
            intx(f, other, true);
            intx(f, probe, false);
            assertThat(slaveIrr(qt) & 0x08).as("the other function still holds the line").isEqualTo(0x08);
            intx(f, other, false);
            assertThat(slaveIrr(qt) & 0x08).isZero();
        }
    }

    /** The slave 8259A's interrupt request register (OCW3 read IRR). */
    private static int slaveIrr(QtestClient qt) {
        qt.outb(0xA0, 0x0A);
        return qt.inb(0xA0);
    }

    @Test
    void intxAndIsaLinesReachTheIoApicAndItsMessagesTheApicWindow() throws Exception {
        try (QtestFixture f = QtestFixture.pc()) {
            ProbeFunction probe = plugProbe(f);
            QtestClient qt = f.qt;
            QPci pci = QPci.mechanism1(qt, QPci.Style.LIBQOS, 0xE000_0000L);
            pci.configWrite(PIIX3, 0x62, 1, 11);
            qt.irqInterceptIn("ioapic");
            assertThat(qt.getIrq(11)).isFalse();
            // redirection entry 11: vector 0x41, level, unmasked, to APIC 0
            qt.writel(0xFEC0_0000L, 0x10 + 2 * 11);
            qt.writel(0xFEC0_0010L, 0x0000_8041);
            intx(f, probe, true);
            assertThat(qt.getIrq(11)).isTrue();
            assertThat(f.machine.apicMessages(0x41)).isEqualTo(1);
            intx(f, probe, true);
            assertThat(f.machine.apicMessages(0x41)).as("remote IRR holds a level input").isEqualTo(1);
            qt.writel(0xFEC0_0040L, 0x41); // EOI while still asserted: sent again
            assertThat(f.machine.apicMessages(0x41)).isEqualTo(2);
            intx(f, probe, false);
            assertThat(qt.getIrq(11)).isFalse();
            qt.writel(0xFEC0_0040L, 0x41);
            assertThat(f.machine.apicMessages(0x41)).isEqualTo(2);

            // an edge ISA input (IRQ 5, GSI 5): one message per rising edge
            qt.writel(0xFEC0_0000L, 0x10 + 2 * 5);
            qt.writel(0xFEC0_0010L, 0x0000_0035);
            InterruptLine irq5 = f.machine.isaIrq(5);
            f.onMachine(irq5::pulse);
            f.onMachine(irq5::pulse);
            assertThat(f.machine.apicMessages(0x35)).isEqualTo(2);
            // masked in the I/O APIC: the wire still moves, no message
            qt.writel(0xFEC0_0010L, 0x0001_0035);
            f.onMachine(irq5::raise);
            assertThat(qt.getIrq(5)).isTrue();
            assertThat(f.machine.apicMessages(0x35)).isEqualTo(2);
            // ISA IRQ 0 is I/O APIC input 2
            f.onMachine(() -> f.machine.isaIrq(0).raise());
            assertThat(qt.getIrq(2)).isTrue();
            assertThat(qt.getIrq(0)).isFalse();
        }
    }

    @Test
    void q35RoutesIntxToIoApicInputs16To23AndTheLpcRoutes() throws Exception {
        try (QtestFixture f = QtestFixture.q35()) {
            ProbeFunction probe = plugProbe(f);
            f.qt.irqInterceptIn("/machine/ioapic");
            intx(f, probe, true);
            // device 3, INTA#: PIRQ E + (3 + 0) mod 4 = PIRQH, input 23
            assertThat(f.qt.getIrq(23)).isTrue();
            QPci pci = QPci.mechanism1(f.qt, QPci.Style.HARDWARE, 0xC000_0000L);
            pci.configWrite(31 << 3, 0x6B, 1, 10); // PIRQH_ROUT to IRQ 10
            assertThat(f.qt.getIrq(10)).isTrue();
            intx(f, probe, false);
            assertThat(f.qt.getIrq(23)).isFalse();
            assertThat(f.qt.getIrq(10)).isFalse();
        }
    }

    @Test
    void theSlotSwizzleAndFirmwareRoutesOfAProfile() throws Exception {
        MachineConfig win7 = MachineConfig.from(java.util.Map.of("type", "pc", "ram", "256M", "intx.swizzle", "slot",
                "pirq.routes", "10,11,12,10"));
        try (QtestFixture f = new QtestFixture(win7)) {
            ProbeFunction probe = plugProbe(f);
            f.qt.irqInterceptIn("ioapic");
            intx(f, probe, true);
            // device 3, INTA#: PIRQD, which the profile routes to IRQ 10
            assertThat(f.qt.getIrq(10)).isTrue();
            assertThat(QPci.mechanism1(f.qt, QPci.Style.HARDWARE, 0).configRead(PIIX3, 0x60, 4)).isEqualTo(0x0A0C_0B0A);
        }
    }

    @Test
    void msiLandsInRamWithItsVectorAndWaitsWhileMasked() throws Exception {
        try (QtestFixture f = QtestFixture.pc()) {
            ProbeFunction probe = plugProbe(f);
            QtestClient qt = f.qt;
            QPci pci = QPci.mechanism1(qt, QPci.Style.LIBQOS, 0xE000_0000L);
            int msi = pci.findCapability(PROBE, 0x05, 0);
            assertThat(pci.configRead(PROBE, msi + 2, 2)).as("64-bit, per-vector mask, 4 vectors offered").isEqualTo(0x0184);
            pci.configWrite(PROBE, msi + 4, 4, 0x1000);
            pci.configWrite(PROBE, msi + 8, 4, 0);
            pci.configWrite(PROBE, msi + 0xC, 2, 0x4020);
            pci.configWrite(PROBE, msi + 2, 2, 0x0021); // enable, 4 vectors
            qt.memset(0x1000, 16, 0);

            f.onMachine(() -> probe.signalMsi(3));
            assertThat(qt.readl(0x1000)).as("not a bus master: no write").isZero();
            pci.enable(PROBE);
            f.onMachine(() -> probe.signalMsi(3));
            assertThat(qt.readl(0x1000)).isEqualTo(0x4023);

            pci.configWrite(PROBE, msi + 0x10, 4, 0x2); // mask vector 1
            f.onMachine(() -> probe.signalMsi(1));
            assertThat(qt.readl(0x1000)).isEqualTo(0x4023);
            assertThat(pci.configRead(PROBE, msi + 0x14, 4)).as("pending").isEqualTo(0x2);
            pci.configWrite(PROBE, msi + 0x14, 4, 0); // pending bits are read-only
            assertThat(pci.configRead(PROBE, msi + 0x14, 4)).isEqualTo(0x2);
            pci.configWrite(PROBE, msi + 0x10, 4, 0);
            assertThat(qt.readl(0x1000)).isEqualTo(0x4021);
            assertThat(pci.configRead(PROBE, msi + 0x14, 4)).isZero();

            // aimed at the local APIC window it is an interrupt, not memory
            pci.configWrite(PROBE, msi + 4, 4, 0xFEE0_0000);
            f.onMachine(() -> probe.signalMsi(0));
            assertThat(f.machine.apicMessages(0x20)).isEqualTo(1);
            // disabled: nothing
            pci.configWrite(PROBE, msi + 2, 2, 0);
            f.onMachine(() -> probe.signalMsi(0));
            assertThat(f.machine.apicMessages(0x20)).isEqualTo(1);
        }
    }

    @Test
    void msixLandsInRamAndMaskingSetsThePendingBit() throws Exception {
        try (QtestFixture f = QtestFixture.pc()) {
            ProbeFunction probe = plugProbe(f);
            QtestClient qt = f.qt;
            QPci pci = QPci.mechanism1(qt, QPci.Style.LIBQOS, 0xE000_0000L);
            long bar = pci.assignBar(PROBE, 2);
            pci.enable(PROBE);
            int msix = pci.findCapability(PROBE, 0x11, 0);
            long table = bar + ProbeFunction.MSIX_TABLE;
            long pba = bar + ProbeFunction.MSIX_PBA;
            assertThat(qt.readl(table + 12)).as("every vector starts masked").isEqualTo(1);
            long entry = table + 2 * 16;
            qt.writel(entry, 0x2000);
            qt.writel(entry + 4, 0);
            qt.writel(entry + 8, 0xBEEF);
            qt.writel(entry + 12, 0);
            qt.memset(0x2000, 8, 0);

            f.onMachine(() -> probe.signalMsix(2));
            assertThat(qt.readl(0x2000)).as("MSI-X disabled: nothing").isZero();
            assertThat(qt.readq(pba)).isZero();
            pci.configWrite(PROBE, msix + 2, 2, 0x8000);
            f.onMachine(() -> probe.signalMsix(2));
            assertThat(qt.readl(0x2000)).isEqualTo(0xBEEF);

            qt.writel(0x2000, 0);
            qt.writel(entry + 12, 1);
            f.onMachine(() -> probe.signalMsix(2));
            assertThat(qt.readl(0x2000)).isZero();
            assertThat(qt.readq(pba)).isEqualTo(0b100);
            qt.writeq(pba, 0); // read-only
            assertThat(qt.readq(pba)).isEqualTo(0b100);
            qt.writel(entry + 12, 0);
            assertThat(qt.readl(0x2000)).isEqualTo(0xBEEF);
            assertThat(qt.readq(pba)).isZero();

            // the function mask holds every vector
            qt.writel(0x2000, 0);
            pci.configWrite(PROBE, msix + 2, 2, 0xC000);
            f.onMachine(() -> probe.signalMsix(2));
            assertThat(qt.readl(0x2000)).isZero();
            assertThat(qt.readq(pba)).isEqualTo(0b100);
            pci.configWrite(PROBE, msix + 2, 2, 0x8000);
            assertThat(qt.readl(0x2000)).isEqualTo(0xBEEF);
            assertThat(qt.readq(pba)).isZero();

            // the rest of the BAR still reaches the device
            qt.writel(bar + 8, 0x1234);
            assertThat(qt.readl(bar + 8)).isEqualTo(0x1234);
            assertThat(probe.takeAccesses()).containsExactly("BAR2 write 8 4", "BAR2 read 8 4");
        }
    }
}
