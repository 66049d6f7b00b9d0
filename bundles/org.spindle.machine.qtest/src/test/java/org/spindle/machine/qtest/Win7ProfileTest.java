package org.spindle.machine.qtest;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.Reader;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;
import java.util.Properties;

import org.junit.jupiter.api.Test;
import org.spindle.machine.api.PciAddress;
import org.spindle.machine.core.MachineConfig;
import org.spindle.testing.machine.ProbeFunction;
import org.spindle.testing.qtest.QPci;

/**
 * The shipped win7 profile pins the canonical Windows 7 topology (aero-storage-digest §4.1): the
 * chipset, the device addresses, and INTx of 00:01.1 and 00:02.0 arriving at IRQ 11 and 12.
 */
class Win7ProfileTest {
    private static final Path PROFILE = Path.of("../../runtime/profiles/win7");

    private static Map<String, Object> cfg(String name) throws Exception {
        Properties p = new Properties();
        try (Reader r = Files.newBufferedReader(PROFILE.resolve(name))) {
            p.load(r);
        }
        Map<String, Object> m = new HashMap<>();
        p.forEach((k, v) -> m.put(k.toString(), v.toString()));
        return m;
    }

    @Test
    void theProfilePinsTheTopologyAndItsInterruptWiring() throws Exception {
        MachineConfig config = MachineConfig.from(cfg("org.spindle.machine.cfg"));
        assertThat(config.type()).isEqualTo("pc");
        assertThat(config.ramSize()).isEqualTo(2L << 30);
        assertThat(cfg("org.spindle.device.ide-ide0.cfg")).containsEntry("spindle.pci.address", "00:01.1");
        assertThat(cfg("org.spindle.device.ahci-sata0.cfg")).containsEntry("spindle.pci.address", "00:02.0");
        try (QtestFixture f = new QtestFixture(config)) {
            QPci pci = QPci.mechanism1(f.qt, QPci.Style.HARDWARE, 0xE000_0000L);
            assertThat(pci.scan()).map(QPci.Function::toString).contains(
                    "00:00.0 8086:1237 class 060000", "00:01.0 8086:7000 class 060100");
            assertThat(pci.configRead(1 << 3, 0x0E, 1) & 0x80).as("PIIX3 multi-function").isEqualTo(0x80);
            // stand-ins at the IDE and AHCI addresses: where their INTA# arrives
            ProbeFunction ide = new ProbeFunction();
            ProbeFunction ahci = new ProbeFunction();
            f.onMachine(() -> {
                f.machine.plug(PciAddress.parse("00:01.1"), ide);
                f.machine.plug(PciAddress.parse("00:02.0"), ahci);
            });
            f.qt.irqInterceptIn("ioapic");
            f.onMachine(() -> ide.setIntx(true));
            assertThat(f.qt.getIrq(11)).as("00:01.1 INTA# -> PIRQB -> 11").isTrue();
            f.onMachine(() -> ide.setIntx(false));
            f.onMachine(() -> ahci.setIntx(true));
            assertThat(f.qt.getIrq(12)).as("00:02.0 INTA# -> PIRQC -> 12").isTrue();
            assertThat(f.qt.getIrq(11)).isFalse();
        }
    }
}
