package org.spindle.device.ide;

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
 * A pc machine with a PIIX3 IDE function at 00:01.1, its qtest front door, and a guest-side driver:
 * the IDE function enabled (I/O and bus mastering) and BAR4 assigned, as firmware leaves it.
 */
final class IdeFixture implements AutoCloseable {
    static final int DEVFN = 1 << 3 | 1;
    static final int PRIMARY = 0x1F0;
    static final int PRIMARY_CONTROL = 0x3F6;
    static final int SECONDARY = 0x170;
    static final int SECONDARY_CONTROL = 0x376;

    final PcMachine machine;
    final Piix3Ide ide;
    final QtestServer server;
    final QtestClient qt;
    final QPci pci;
    final int bmBase;
    private final Path dir;

    IdeFixture(Piix3Ide ide) throws IOException {
        this.ide = ide;
        machine = new PcMachine(MachineConfig.of("pc", 128L << 20));
        machine.plug(PciAddress.parse("00:01.1"), ide);
        dir = Files.createTempDirectory("ide");
        server = QtestServer.listen(machine, "unix:" + dir.resolve("q.sock"));
        qt = QtestClient.connect(server.address());
        pci = QPci.mechanism1(qt, QPci.Style.LIBQOS, 0xE000_0000L);
        bmBase = (int) pci.assignBar(DEVFN, 4);
        pci.enable(DEVFN);
        qt.irqInterceptIn("ioapic");
    }

    @Override
    public void close() throws IOException {
        qt.close();
        server.close();
        machine.close();
        Files.deleteIfExists(dir);
    }
}
