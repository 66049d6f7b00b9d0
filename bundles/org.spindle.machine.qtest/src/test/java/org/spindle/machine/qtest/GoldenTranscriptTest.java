package org.spindle.machine.qtest;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.BufferedReader;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.Channels;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.spindle.machine.core.MachineConfig;
import org.spindle.machine.core.PcMachine;

/**
 * Replays the golden transcripts in {@code src/test/resources/transcripts} over a socket, against a
 * fresh pc machine with 128 MiB of RAM, and compares every reply line, IRQ lines included, in order.
 */
class GoldenTranscriptTest {
    @ParameterizedTest
    @ValueSource(strings = {"basics", "malformed", "irq"})
    void transcript(String name) throws Exception {
        List<String> lines;
        try (InputStream in = getClass().getResourceAsStream("/transcripts/" + name + ".qtest")) {
            lines = new String(in.readAllBytes(), StandardCharsets.US_ASCII).lines().toList();
        }
        Path dir = Files.createTempDirectory("qt");
        try (PcMachine machine = new PcMachine(MachineConfig.of("pc", 128L << 20));
                QtestServer server = QtestServer.listen(machine, "unix:" + dir.resolve("q.sock"));
                SocketChannel channel = SocketChannel.open(StandardProtocolFamily.UNIX)) {
            channel.connect(UnixDomainSocketAddress.of(dir.resolve("q.sock")));
            BufferedReader in = new BufferedReader(new InputStreamReader(Channels.newInputStream(channel), StandardCharsets.ISO_8859_1));
            OutputStream out = Channels.newOutputStream(channel);
            List<String> expected = new ArrayList<>();
            List<String> actual = new ArrayList<>();
            for (String line : lines) {
                if (line.startsWith(">")) {
                    String request = line.length() > 1 ? line.substring(2) : "";
                    expected.add("> " + request);
                    actual.add("> " + request);
                    out.write((request + "\n").getBytes(StandardCharsets.ISO_8859_1));
                    out.flush();
                    String reply;
                    do {
                        reply = in.readLine();
                        actual.add("< " + reply);
                    } while (reply != null && reply.startsWith("IRQ "));
                } else if (line.startsWith("<")) {
                    expected.add(line);
                }
            }
            assertThat(actual).containsExactlyElementsOf(expected);
        } finally {
            Files.deleteIfExists(dir.resolve("q.sock"));
            Files.deleteIfExists(dir);
        }
    }
}
