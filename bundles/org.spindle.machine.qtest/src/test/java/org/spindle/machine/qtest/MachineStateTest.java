package org.spindle.machine.qtest;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.spindle.machine.api.DeviceStateDTO;
import org.spindle.machine.api.PciAddress;
import org.spindle.machine.core.MachineConfig;
import org.spindle.testing.machine.ProbeFunction;
import org.spindle.testing.qtest.QPci;
import org.spindle.testing.qtest.QtestClient;

/** Save, reset, restore: every platform device (and a plugged function) reads back exactly as before. */
class MachineStateTest {
    private static final int PROBE = 3 << 3;

    @ParameterizedTest
    @ValueSource(strings = {"pc", "q35"})
    void saveResetRestoreGivesIdenticalRegisterReads(String type) throws Exception {
        try (QtestFixture f = new QtestFixture(MachineConfig.of(type, 256L << 20))) {
            ProbeFunction probe = new ProbeFunction();
            f.onMachine(() -> f.machine.plug(PciAddress.of(3, 0), probe));
            QtestClient qt = f.qt;
            boolean pc = type.equals("pc");
            QPci pci = QPci.mechanism1(qt, QPci.Style.HARDWARE, pc ? 0xE000_0000L : 0xC000_0000L);
            long io = pci.assignBar(PROBE, 0);
            long bar2 = pci.assignBar(PROBE, 2);
            pci.enable(PROBE);
            if (!pc) {
                pci.configWrite(0, 0x60, 4, 0xB000_0001); // ECAM on
            }
            // PIC pair: initialised, masks, ELCR, a request in service
            qt.outb(0x20, 0x11);
            qt.outb(0x21, 0x20);
            qt.outb(0x21, 0x04);
            qt.outb(0x21, 0x01);
            qt.outb(0xA0, 0x11);
            qt.outb(0xA1, 0x28);
            qt.outb(0xA1, 0x02);
            qt.outb(0xA1, 0x01);
            qt.outb(0x21, 0xB8);
            qt.outb(0xA1, 0x3F);
            qt.outb(0x4D1, 0x0C);
            f.onMachine(() -> f.machine.isaIrq(1).raise());
            f.onMachine(() -> f.machine.pic().acknowledge());
            // I/O APIC: an ID and some entries
            qt.writel(0xFEC0_0000L, 0);
            qt.writel(0xFEC0_0010L, 0x0300_0000);
            for (int pin = 0; pin < 24; pin += 5) {
                qt.writel(0xFEC0_0000L, 0x10 + 2 * pin);
                qt.writel(0xFEC0_0010L, 0x0000_A030 + pin);
                qt.writel(0xFEC0_0000L, 0x11 + 2 * pin);
                qt.writel(0xFEC0_0010L, pin << 24);
            }
            // CMOS: status B, a byte of RAM
            qt.outb(0x70, 0x0B);
            qt.outb(0x71, 0x06);
            qt.outb(0x70, 0x40);
            qt.outb(0x71, 0x5A);
            // fw_cfg: part-way through the RAM size item
            qt.outw(0x510, 0x03);
            qt.inb(0x511);
            qt.inb(0x511);
            // the ISA bridge's routes, the probe's MSI, MSI-X and registers, INTx asserted
            pci.configWrite(pc ? 1 << 3 : 31 << 3, 0x60, 4, 0x0B0A_0B0A);
            int msi = pci.findCapability(PROBE, 0x05, 0);
            pci.configWrite(PROBE, msi + 4, 4, 0x3000);
            pci.configWrite(PROBE, msi + 0xC, 2, 0x55);
            pci.configWrite(PROBE, msi + 0x10, 4, 0x1);
            pci.configWrite(PROBE, msi + 2, 2, 0x11);
            f.onMachine(() -> probe.signalMsi(0));
            int msix = pci.findCapability(PROBE, 0x11, 0);
            qt.writel(bar2 + ProbeFunction.MSIX_TABLE + 16, 0x4000);
            qt.writel(bar2 + ProbeFunction.MSIX_TABLE + 24, 0x77);
            pci.configWrite(PROBE, msix + 2, 2, 0x8000);
            f.onMachine(() -> probe.signalMsix(1)); // masked: pending
            f.onMachine(() -> probe.signalMsix(0)); // masked: pending
            qt.outl((int) io, 0x0BADCAFE);
            f.onMachine(() -> probe.setIntx(true));
            if (pc) {
                qt.outb(0xAFE2, 0x02);
                ProbeFunction other = new ProbeFunction();
                f.onMachine(() -> f.machine.hotplug(PciAddress.of(6, 0), other));
                f.onMachine(() -> f.machine.requestUnplug(PciAddress.of(3, 0)));
            }
            qt.outl(0xCF8, 0x8000_1810);
            qt.outb(0xCF9, 0x02);

            Map<String, DeviceStateDTO> saved = f.machine.call(f.machine::save);
            List<String> before = reads(qt, pc, io, bar2);
            f.onMachine(f.machine::reset);
            List<String> afterReset = reads(qt, pc, io, bar2);
            assertThat(afterReset).isNotEqualTo(before);
            f.onMachine(() -> f.machine.restore(saved));
            assertThat(reads(qt, pc, io, bar2)).containsExactlyElementsOf(before);
            assertThat(f.machine.problems()).isEmpty();

            // the guest's own reset: bit 2 of the reset control register at 0xCF9
            int bridge = pc ? 1 << 3 : 31 << 3;
            assertThat(pci.configRead(bridge, 0x60, 4)).isEqualTo(0x0B0A_0B0A);
            qt.outb(0xCF9, 0x06);
            assertThat(pci.configRead(bridge, 0x60, 4)).isEqualTo(0x8080_8080);
            assertThat(pci.configRead(PROBE, 0x04, 2)).isZero();

            // a state of another kind is refused by name
            Map<String, DeviceStateDTO> wrong = new HashMap<>(saved);
            wrong.put("pic", saved.get("rtc"));
            assertThatThrownBy(() -> f.machine.call(() -> {
                f.machine.restore(wrong);
                return null;
            })).isInstanceOf(IllegalArgumentException.class).hasMessageContaining("PicPair");
        }
    }

    /** Every register the test can read (reads with side effects are made in the same order each time). */
    private static List<String> reads(QtestClient qt, boolean pc, long io, long bar2) {
        List<String> r = new ArrayList<>();
        r.add("cf8 " + qt.inl(0xCF8) + " cf9 " + qt.inb(0xCF9));
        for (int port : new int[] {0x20, 0xA0}) {
            r.add("imr " + qt.inb(port + 1));
            qt.outb(port, 0x0A);
            r.add("irr " + qt.inb(port));
            qt.outb(port, 0x0B);
            r.add("isr " + qt.inb(port));
        }
        r.add("elcr " + qt.inb(0x4D0) + " " + qt.inb(0x4D1));
        for (int reg = 0; reg < 0x40; reg++) {
            qt.writel(0xFEC0_0000L, reg);
            r.add("ioapic " + reg + " " + qt.readl(0xFEC0_0010L));
        }
        for (int index = 0; index < 128; index++) {
            if (index == 0x0C) {
                continue; // status C: read below, once (it clears)
            }
            qt.outb(0x70, index);
            r.add("cmos " + index + " " + qt.inb(0x71));
        }
        qt.outb(0x70, 0x0C);
        r.add("cmos C " + qt.inb(0x71));
        r.add("fw_cfg " + qt.inb(0x511) + " " + qt.inb(0x511));
        for (int devfn : new int[] {0, 1 << 3, 1 << 3 | 3, 3 << 3, 6 << 3, 31 << 3}) {
            for (int off = 0; off < 256; off += 4) {
                qt.outl(0xCF8, 0x8000_0000 | devfn << 8 | off);
                r.add("pci " + devfn + " " + off + " " + qt.inl(0xCFC));
            }
        }
        for (int off = 0; off < 4 * 16; off += 4) {
            r.add("msix " + off + " " + qt.readl(bar2 + ProbeFunction.MSIX_TABLE + off));
        }
        r.add("pba " + qt.readq(bar2 + ProbeFunction.MSIX_PBA));
        r.add("bar0 " + qt.inl((int) io));
        r.add("ram " + qt.readl(0x3000));
        if (pc) {
            for (int port = 0xAE00; port < 0xAE14; port += 4) {
                r.add("hotplug " + port + " " + qt.inl(port));
            }
            for (int port = 0xAFE0; port < 0xAFE4; port++) {
                r.add("gpe " + port + " " + qt.inb(port));
            }
        } else {
            r.add("ecam " + qt.readl(0xB000_0000L + (3 << 15)));
        }
        return r;
    }
}
