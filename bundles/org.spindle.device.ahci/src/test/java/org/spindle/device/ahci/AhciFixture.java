package org.spindle.device.ahci;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

import org.spindle.machine.api.PciAddress;
import org.spindle.machine.core.MachineConfig;
import org.spindle.machine.core.PcMachine;
import org.spindle.machine.qtest.QtestServer;
import org.spindle.testing.qtest.QPci;
import org.spindle.testing.qtest.QtestClient;

/**
 * The Win7 profile's wiring: a pc with 128 MiB, the AHCI HBA at 00:02.0 whose INTA# reaches IRQ 12
 * (slot swizzle, PIRQC routed to 12), its qtest front door, BAR5 assigned and memory and bus mastering
 * enabled as firmware leaves them.
 */
final class AhciFixture implements AutoCloseable {
    static final int DEVFN = 2 << 3;
    static final int IRQ = 12;

    final PcMachine machine;
    final AhciHba hba;
    final QtestServer server;
    final QtestClient qt;
    final QPci pci;
    final long abar;
    final AhciDriver driver;
    private final Path dir;

    AhciFixture(AhciHba hba) throws IOException {
        this.hba = hba;
        machine = new PcMachine(new MachineConfig("machine", "pc", 128L << 20, 1, "slot", new int[] {10, 11, 12, 10},
                1_767_225_600L));
        machine.plug(PciAddress.parse("00:02.0"), hba);
        dir = Files.createTempDirectory("ahci");
        server = QtestServer.listen(machine, "unix:" + dir.resolve("q.sock"));
        qt = QtestClient.connect(server.address());
        pci = QPci.mechanism1(qt, QPci.Style.LIBQOS, 0xE000_0000L);
        abar = pci.assignBar(DEVFN, 5);
        pci.enable(DEVFN);
        qt.irqInterceptIn("ioapic");
        driver = new AhciDriver(qt, abar);
    }

    @Override
    public void close() throws IOException {
        qt.close();
        server.close();
        machine.close();
        Files.deleteIfExists(dir.resolve("q.sock"));
        Files.deleteIfExists(dir);
    }
}
