package org.spindle.device.ide;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.Reader;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;
import java.util.Properties;

import org.junit.jupiter.api.Test;

import org.spindle.device.ata.SlotThread;
import org.spindle.device.ata.Ata;
import org.spindle.device.ata.ArrayDisk;
import org.spindle.device.ata.AtaDisk;
import org.spindle.device.ata.AtaIdentity;
import org.spindle.device.ata.AtapiCdrom;
import org.spindle.machine.api.PciAddress;
import org.spindle.machine.core.MachineConfig;
import org.spindle.machine.core.PcMachine;
import org.spindle.machine.qtest.QtestServer;
import org.spindle.testing.qtest.QPci;
import org.spindle.testing.qtest.QtestClient;

/**
 * The IDE configurations the shipped profiles hold, read as the component reads them, and the
 * configuration errors an operator can make, each named.
 */
class IdeProfilesTest {
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
    void win7HasASwitchableControllerWithTheInstallCdAndItsNativeInterruptAtIrq11() throws Exception {
        Map<String, Object> ide = cfg("win7", "org.spindle.device.ide-ide0.cfg");
        IdePositions positions = IdePositions.parse(ide);
        assertThat(positions.positions()[2]).isEqualTo(new IdePositions.Position(2, IdePositions.Kind.CDROM, "cd0"));
        assertThat(positions.positions()[0].kind()).isEqualTo(IdePositions.Kind.NONE);
        Piix3Ide.Mode mode = Piix3Ide.Mode.parse(ide.get("mode").toString());
        assertThat(mode).isEqualTo(Piix3Ide.Mode.SWITCHABLE);

        Piix3Ide controller = new Piix3Ide(mode, new SlotThread(), new AtaDisk(ArrayDisk.disk(64), AtaIdentity.disk("D")),
                null, new AtapiCdrom(AtaIdentity.cdrom("C"), "ide0.1.0", new SlotThread()), null);
        Path dir = Files.createTempDirectory("win7");
        try (PcMachine machine = new PcMachine(MachineConfig.from(cfg("win7", "org.spindle.machine.cfg")));
                QtestServer server = QtestServer.listen(machine, "unix:" + dir.resolve("q.sock"));
                QtestClient qt = QtestClient.connect(server.address())) {
            machine.call(() -> {
                machine.plug(PciAddress.parse(ide.get("spindle.pci.address").toString()), controller);
                return null;
            });
            QPci pci = QPci.mechanism1(qt, QPci.Style.LIBQOS, 0xE000_0000L);
            assertThat(pci.scan()).map(QPci.Function::toString).contains("00:01.1 8086:7010 class 01018a");
            int devfn = 1 << 3 | 1;
            int command = (int) pci.assignBar(devfn, 0);
            pci.assignBar(devfn, 1);
            pci.assignBar(devfn, 4);
            pci.enable(devfn);
            qt.irqInterceptIn("ioapic");
            pci.configWrite(devfn, 0x09, 1, 0x01); // the primary to native mode
            qt.outb(command + 6, 0xE0);
            qt.outb(command + 7, Ata.IDENTIFY_DEVICE);
            assertThat(qt.getIrq(11)).as("00:01.1 INTA# -> PIRQB -> IRQ 11").isTrue();
            assertThat(qt.getIrq(14)).isFalse();
        } finally {
            Files.deleteIfExists(dir.resolve("q.sock"));
            Files.deleteIfExists(dir);
        }
    }

    @Test
    void theDefaultProfileHasTheDemoDiskAndAnEmptyCdRom() throws Exception {
        IdePositions positions = IdePositions.parse(cfg("default", "org.spindle.device.ide-ide0.cfg"));
        assertThat(positions.positions()).extracting(IdePositions.Position::kind).containsExactly(
                IdePositions.Kind.DISK, IdePositions.Kind.NONE, IdePositions.Kind.CDROM, IdePositions.Kind.NONE);
        assertThat(positions.positions()[0].drive()).isEqualTo("demo");
        assertThat(positions.positions()[2].drive()).isNull();
    }

    @Test
    void configurationMistakesAreNamed() {
        // a PIIX3 with nothing attached is a PIIX3 (QEMU's pc has one whatever its drives)
        assertThat(IdePositions.parse(Map.of()).positions()).extracting(IdePositions.Position::kind)
                .containsOnly(IdePositions.Kind.NONE);
        assertThatThrownBy(() -> IdePositions.parse(Map.of("primary.master", "hdd:hd0")))
                .hasMessageContaining("primary.master = hdd:hd0").hasMessageContaining("not a device");
        assertThatThrownBy(() -> IdePositions.parse(Map.of("secondary.slave", "disk:")))
                .hasMessageContaining("secondary.slave").hasMessageContaining("not a drive id");
        assertThatThrownBy(() -> IdePositions.parse(Map.of("primary.master", "disk:hd0", "primary.slave", "cdrom:hd0")))
                .hasMessageContaining("primary.slave").hasMessageContaining("drive hd0 is in another place");
        assertThatThrownBy(() -> Piix3Ide.Mode.parse("legacy")).hasMessageContaining("'legacy'")
                .hasMessageContaining("compatibility, switchable or native");
    }
}
