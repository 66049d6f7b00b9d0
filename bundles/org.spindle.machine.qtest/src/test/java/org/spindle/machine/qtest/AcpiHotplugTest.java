package org.spindle.machine.qtest;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;

import org.junit.jupiter.api.Test;
import org.spindle.machine.api.PciAddress;
import org.spindle.machine.core.MachineConfig;
import org.spindle.testing.machine.ProbeFunction;
import org.spindle.testing.qtest.QPci;
import org.spindle.testing.qtest.QtestClient;

/** The PIIX4-style ACPI PCI hot-plug registers (0xAE00-0xAE13) and GPE bit 1 on the SCI, as a guest's ACPI code uses them. */
class AcpiHotplugTest {
    @Test
    void addRemoveRequestAndEjectThrough0xAE08() throws Exception {
        try (QtestFixture f = QtestFixture.pc()) {
            QtestClient qt = f.qt;
            List<PciAddress> ejected = new CopyOnWriteArrayList<>();
            f.onMachine(() -> f.machine.onEject(ejected::add));
            f.onMachine(() -> f.machine.plug(PciAddress.of(3, 0), new ProbeFunction()));
            qt.irqInterceptIn("ioapic");
            qt.outb(0xAFE2, 0x02); // GPE0_EN: PCI hot-plug

            assertThat(qt.inl(0xAE0C)).as("removable: the cold-plugged probe, not the chipset").isEqualTo(1 << 3);
            assertThat(qt.inl(0xAE08)).as("feature set").isZero();

            ProbeFunction added = new ProbeFunction();
            f.onMachine(() -> f.machine.hotplug(PciAddress.of(6, 0), added));
            assertThat(qt.getIrq(9)).as("SCI").isTrue();
            assertThat(qt.inb(0xAFE0)).isEqualTo(0x02);
            assertThat(qt.inl(0xAE00)).as("up").isEqualTo(1 << 6);
            assertThat(qt.inl(0xAE00)).as("up is reported once").isZero();
            qt.outb(0xAFE0, 0x02); // the GPE handler clears its status bit
            assertThat(qt.getIrq(9)).isFalse();
            assertThat(qt.inl(0xAE0C)).isEqualTo(1 << 3 | 1 << 6);

            // the new function works like any other
            QPci pci = QPci.mechanism1(qt, QPci.Style.LIBQOS, 0xE000_0000L);
            assertThat(pci.configRead(6 << 3, 0, 4)).isEqualTo(0x0005_1B36);
            long bar = pci.assignBar(6 << 3, 1);
            pci.enable(6 << 3);
            qt.writel(bar, 0x600D);
            assertThat(qt.readl(bar)).isEqualTo(0x600D);

            // the operator asks for it back; the guest's _EJ0 writes the slot's bit to 0xAE08
            f.onMachine(() -> f.machine.requestUnplug(PciAddress.of(6, 0)));
            assertThat(qt.getIrq(9)).isTrue();
            assertThat(qt.inl(0xAE04)).as("down").isEqualTo(1 << 6);
            assertThat(f.machine.removalPending(PciAddress.of(6, 0))).isTrue();
            qt.outl(0xAE08, 1 << 6);
            assertThat(ejected).containsExactly(PciAddress.of(6, 0));
            assertThat(added.slot()).isNull();
            assertThat(pci.configRead(6 << 3, 0, 2)).isEqualTo(0xFFFF);
            assertThat(qt.readl(bar)).as("its BAR is gone").isEqualTo(0xFFFF_FFFF);
            assertThat(qt.inl(0xAE04)).isZero();
            assertThat(qt.inl(0xAE0C)).isEqualTo(1 << 3);

            // the chipset's slots and empty slots are not ejected
            qt.outl(0xAE08, 1 << 1 | 1 << 9);
            assertThat(pci.configRead(1 << 3, 0, 2)).isEqualTo(0x8086);
            assertThat(ejected).hasSize(1);
            assertThatThrownBy(() -> f.machine.requestUnplug(PciAddress.of(1, 0)))
                    .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("no removable device");
        }
    }

    @Test
    void aFunctionInTheChipsetsSlotIsPartOfTheBoardNotAHotPluggedCard() throws Exception {
        try (QtestFixture f = new QtestFixture(MachineConfig.of("pc", 64L << 20))) {
            f.qt.outb(0xAFE2, 0x02);
            ProbeFunction ide = new ProbeFunction();
            f.onMachine(() -> f.machine.hotplug(PciAddress.of(1, 1), ide));
            assertThat(f.machine.pciFunctions()).containsKey(PciAddress.of(1, 1));
            assertThat(f.qt.inb(0xAFE0) & 0x02).as("no hot-plug event").isZero();
            assertThat(f.qt.inl(0xAE00)).as("no slot up").isZero();
            assertThat(f.qt.inl(0xAE0C) & 1 << 1).as("slot 1 is not removable").isZero();
        }
    }

    @Test
    void q35HasNoAcpiHotplugSlots() throws Exception {
        try (QtestFixture f = QtestFixture.q35()) {
            assertThatThrownBy(() -> f.machine.hotplug(PciAddress.of(6, 0), new ProbeFunction()))
                    .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("q35");
            assertThat(f.qt.inl(0xAE00)).as("nothing at 0xAE00 on a q35").isEqualTo(0xFFFF_FFFF);
        }
    }

    @Test
    void theMultiFunctionRuleAndTakenAddresses() throws Exception {
        try (QtestFixture f = QtestFixture.pc()) {
            assertThatThrownBy(() -> f.machine.plug(PciAddress.of(1, 0), new ProbeFunction()))
                    .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("00:01.0 is taken by 00:01.0 8086:7000");
            f.machine.plug(PciAddress.of(4, 0), new ProbeFunction());
            assertThatThrownBy(() -> f.machine.plug(PciAddress.of(4, 1), new ProbeFunction()))
                    .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("not multi-function");
            f.machine.plug(PciAddress.of(5, 1), new ProbeFunction());
            assertThatThrownBy(() -> f.machine.plug(PciAddress.of(5, 0), new ProbeFunction()))
                    .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("must be multi-function");
            // function 1 alone stays hidden until function 0 arrives
            QPci pci = QPci.mechanism1(f.qt, QPci.Style.HARDWARE, 0);
            assertThat(pci.configRead(5 << 3 | 1, 0, 2)).isEqualTo(0xFFFF);
            f.machine.plug(PciAddress.of(5, 0), new ProbeFunction(true));
            assertThat(pci.configRead(5 << 3 | 1, 0, 2)).isEqualTo(0x1B36);
            assertThatThrownBy(() -> f.machine.unplug(PciAddress.of(0, 0)))
                    .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("chipset");
            assertThatThrownBy(() -> f.machine.plug(new PciAddress(1, 2, 0), new ProbeFunction()))
                    .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("bus 0 only");
        }
    }
}
