package org.spindle.machine.qtest;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

import org.spindle.machine.core.MachineConfig;
import org.spindle.machine.core.PcMachine;
import org.spindle.testing.qtest.QtestClient;

/** A machine with its qtest front door listening on a Unix socket, and a client connected to it. */
final class QtestFixture implements AutoCloseable {
    final PcMachine machine;
    final QtestServer server;
    final QtestClient qt;
    private final Path dir;

    QtestFixture(MachineConfig config) throws IOException {
        machine = new PcMachine(config);
        dir = Files.createTempDirectory("qt");
        server = QtestServer.listen(machine, "unix:" + dir.resolve("q.sock"));
        qt = QtestClient.connect(server.address());
    }

    static QtestFixture pc() throws IOException {
        return new QtestFixture(MachineConfig.of("pc", 128L << 20));
    }

    static QtestFixture q35() throws IOException {
        return new QtestFixture(MachineConfig.of("q35", 128L << 20));
    }

    /** Runs {@code work} on the machine thread (device-side actions, as a device model would do them). */
    void onMachine(Runnable work) throws Exception {
        machine.call(() -> {
            work.run();
            return null;
        });
    }

    @Override
    public void close() throws IOException {
        qt.close();
        server.close();
        machine.close();
        Files.deleteIfExists(dir);
    }
}
