package org.spindle.device.ahci;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.Reader;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;

import org.junit.jupiter.api.Test;
import org.spindle.device.ata.ArrayDisk;
import org.spindle.device.ata.AtaDisk;
import org.spindle.device.ata.AtaIdentity;
import org.spindle.device.ata.DeviceSpec;
import org.spindle.device.ata.IoMode;
import org.spindle.device.ata.SlotThread;
import org.spindle.machine.api.PciAddress;
import org.spindle.machine.core.MachineConfig;
import org.spindle.machine.core.PcMachine;
import org.spindle.machine.qtest.QtestServer;
import org.spindle.testing.qtest.QPci;
import org.spindle.testing.qtest.QtestClient;

/** The AHCI configuration of the win7 profile, read as the component reads it, and the mistakes an operator can make, each named. */
class AhciProfilesTest {
    private static final Path PROFILES = Path.of("../../runtime/profiles");

    private static Map<String, Object> cfg(String profile, String name) throws Exception {
        Properties p = new Properties();
        try (Reader r = Files.newBufferedReader(PROFILES.resolve(profile).resolve(name))) {
            p.load(r);
        }
        Map<String, Object> m = new HashMap<>();
        p.forEach((k, v) -> m.put(k.toString(), v.toString()));
        return m;
    }

    @Test
    void win7HasTheOsDiskOnPort0AndInterruptsAtIrq12() throws Exception {
        Map<String, Object> sata = cfg("win7", "org.spindle.device.ahci-sata0.cfg");
        int ports = Integer.parseInt(sata.get("ports").toString());
        DeviceSpec[] specs = AhciComponent.ports(sata, ports);
        assertThat(specs[0]).isEqualTo(new DeviceSpec(DeviceSpec.Kind.DISK, "hd0"));
        assertThat(specs).hasSize(6);
        assertThat(IoMode.parse(sata.get("io").toString())).isEqualTo(IoMode.AUTO);
        AhciHba hba = new AhciHba(ports, IoMode.WORKERS, 0, new SlotThread(),
                new AtaDisk(ArrayDisk.disk(64), AtaIdentity.disk("hd0"), true));
        Path dir = Files.createTempDirectory("win7");
        try (PcMachine machine = new PcMachine(MachineConfig.from(cfg("win7", "org.spindle.machine.cfg")));
                QtestServer server = QtestServer.listen(machine, "unix:" + dir.resolve("q.sock"));
                QtestClient qt = QtestClient.connect(server.address())) {
            machine.call(() -> {
                machine.plug(PciAddress.parse(sata.get("spindle.pci.address").toString()), hba);
                return null;
            });
            QPci pci = QPci.mechanism1(qt, QPci.Style.LIBQOS, 0xE000_0000L);
            assertThat(pci.scan()).map(QPci.Function::toString).contains("00:02.0 8086:2922 class 010601");
            int devfn = 2 << 3;
            AhciDriver d = new AhciDriver(qt, pci.assignBar(devfn, 5));
            pci.enable(devfn);
            qt.irqInterceptIn("ioapic");
            d.startPort(0);
            d.port(0, AhciDriver.PxIE, AhciDriver.DHRS);
            d.hba(AhciDriver.GHC, 0x8000_0002);
            assertThat(qt.getIrq(12)).isFalse();
            d.issue(0, 1, AhciDriver.h2d(0xE7, 0, 0, 0, 0), null, 0, List.of());
            d.await(0, 1);
            assertThat(qt.getIrq(12)).as("00:02.0 INTA# -> PIRQC -> IRQ 12").isTrue();
        } finally {
            Files.deleteIfExists(dir.resolve("q.sock"));
            Files.deleteIfExists(dir);
        }
    }

    @Test
    void configurationMistakesAreNamed() {
        assertThatThrownBy(() -> AhciComponent.ports(Map.of("port.0", "hdd:hd0"), 6))
                .hasMessageContaining("port.0 = hdd:hd0").hasMessageContaining("not a device");
        assertThatThrownBy(() -> AhciComponent.ports(Map.of("port.6", "disk:hd0"), 6))
                .hasMessageContaining("port.6").hasMessageContaining("the HBA has 6 ports");
        assertThatThrownBy(() -> AhciComponent.ports(Map.of("port.40", "cdrom"), 32))
                .hasMessageContaining("port.0 to port.31");
        assertThatThrownBy(() -> AhciComponent.ports(Map.of("port.0", "disk:hd0", "port.1", "cdrom:hd0"), 6))
                .hasMessageContaining("port.1").hasMessageContaining("drive hd0 is on another port");
        assertThatThrownBy(() -> IoMode.parse("async")).hasMessageContaining("'async'").hasMessageContaining("auto, inline or workers");
        assertThatThrownBy(() -> new AhciHba(33, IoMode.INLINE, 0, new SlotThread())).hasMessageContaining("1 to 32 ports");
        assertThatThrownBy(() -> new AhciHba(6, IoMode.INLINE, 0, new SlotThread(),
                new AtaDisk(ArrayDisk.disk(8), AtaIdentity.disk("P")))).hasMessageContaining("serial AtaDisk");
    }
}
