package org.spindle.machine.qtest;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.ServerSocketChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;

import org.junit.jupiter.api.Test;
import org.spindle.machine.core.MachineConfig;
import org.spindle.machine.core.PcMachine;
import org.spindle.testing.qtest.QtestClient;
import org.spindle.testing.qtest.QtestException;

/** Both directions of connection, both socket kinds, several clients, and a client that vanishes. */
class QtestTransportTest {
    @Test
    void listensOnTcpForSeveralClients() throws Exception {
        try (PcMachine machine = new PcMachine(MachineConfig.of("pc", 64L << 20));
                QtestServer server = QtestServer.listen(machine, "tcp:127.0.0.1:0")) {
            assertThat(server.address()).startsWith("tcp:127.0.0.1:");
            try (QtestClient a = QtestClient.connect(server.address()); QtestClient b = QtestClient.connect(server.address())) {
                a.writel(0x1000, 0xABCD);
                assertThat(b.readl(0x1000)).isEqualTo(0xABCD);
                assertThatThrownBy(() -> a.command("nonsense")).isInstanceOf(QtestException.class)
                        .hasMessageContaining("FAIL Unknown command 'nonsense'");
                assertThat(a.inb(0x511)).isEqualTo(0x51); // fw_cfg selector 0 after reset: the signature
            }
        }
    }

    @Test
    void connectsToATestProgramThatListensAsLibqtestDoes() throws Exception {
        Path dir = Files.createTempDirectory("qt");
        Path sock = dir.resolve("qtest-1.sock");
        try (PcMachine machine = new PcMachine(MachineConfig.of("q35", 64L << 20));
                ServerSocketChannel listening = ServerSocketChannel.open(StandardProtocolFamily.UNIX)) {
            listening.bind(UnixDomainSocketAddress.of(sock));
            try (QtestServer server = QtestServer.connect(machine, "unix:" + sock);
                    QtestClient qt = QtestClient.accept(listening, Duration.ofSeconds(10))) {
                assertThat(server.address()).isNull();
                qt.outl(0xCF8, 0x8000_0000);
                assertThat(qt.inl(0xCFC)).isEqualTo(0x29C0_8086);
            }
        } finally {
            Files.deleteIfExists(sock);
            Files.deleteIfExists(dir);
        }
    }

    @Test
    void aClientThatVanishesMidSessionLeavesTheMachineServing() throws Exception {
        try (PcMachine machine = new PcMachine(MachineConfig.of("pc", 64L << 20));
                QtestServer server = QtestServer.listen(machine, "tcp:127.0.0.1:0")) {
            QtestClient gone = QtestClient.connect(server.address());
            gone.irqInterceptIn("ioapic");
            gone.close();
            // interrupts with nobody to tell are dropped, not thrown into the device raising them
            machine.call(() -> {
                machine.isaIrq(5).raise();
                return null;
            });
            try (QtestClient qt = QtestClient.connect(server.address())) {
                qt.irqInterceptIn("ioapic");
                assertThat(qt.getIrq(5)).as("only changes are reported; this session saw none").isFalse();
                machine.call(() -> {
                    machine.isaIrq(5).lower();
                    return null;
                });
                assertThat(qt.getIrq(5)).isFalse();
            }
            assertThatThrownBy(() -> QtestServer.listen(machine, "udp:1")).hasMessageContaining("unix:PATH or tcp:HOST:PORT");
            // a file that is not a socket is never taken for a stale one
            Path dir = Files.createTempDirectory("qt");
            Path precious = Files.writeString(dir.resolve("data"), "keep me");
            assertThatThrownBy(() -> QtestServer.listen(machine, "unix:" + precious)).hasMessageContaining("is not a socket");
            assertThat(Files.readString(precious)).isEqualTo("keep me");
            // a stale socket is replaced
            Path sock = dir.resolve("q.sock");
            QtestServer.listen(machine, "unix:" + sock).close();
            try (ServerSocketChannel stale = ServerSocketChannel.open(StandardProtocolFamily.UNIX)) {
                stale.bind(UnixDomainSocketAddress.of(sock));
            }
            assertThat(Files.exists(sock)).isTrue();
            try (QtestServer again = QtestServer.listen(machine, "unix:" + sock); QtestClient qt = QtestClient.connect(again.address())) {
                assertThat(qt.inb(0x511)).isEqualTo(0x51);
            }
            Files.delete(precious);
            Files.delete(dir);
        }
    }
}
