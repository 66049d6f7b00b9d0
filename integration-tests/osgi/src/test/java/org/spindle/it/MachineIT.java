package org.spindle.it;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertNotNull;
import static org.junit.Assert.assertTrue;
import static org.ops4j.pax.exam.CoreOptions.options;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.Channels;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

import org.junit.Test;
import org.junit.runner.RunWith;
import org.ops4j.pax.exam.Configuration;
import org.ops4j.pax.exam.Option;
import org.ops4j.pax.exam.junit.PaxExam;
import org.ops4j.pax.exam.spi.reactors.ExamReactorStrategy;
import org.ops4j.pax.exam.spi.reactors.PerClass;
import org.osgi.framework.ServiceReference;
import org.osgi.framework.ServiceRegistration;
import org.spindle.machine.api.IoHandler;
import org.spindle.machine.api.Machine;
import org.spindle.machine.api.PciAddress;
import org.spindle.machine.api.PciBar;
import org.spindle.machine.api.PciConfigSpace;
import org.spindle.machine.api.PciFunction;

/**
 * A machine assembled from configuration in the container: the machine configuration builds it, a
 * device bundle's PciFunction service lands at its address and leaves with its service, and the qtest
 * front door, configured too, drives it over a socket.
 */
@RunWith(PaxExam.class)
@ExamReactorStrategy(PerClass.class)
public class MachineIT extends SpindleTestSupport {
    @Configuration
    public Option[] config() {
        return options(spindleBundles());
    }

    private Machine machine(String name) throws Exception {
        var refs = context.getServiceReferences(Machine.class, "(" + Machine.NAME + "=" + name + ")");
        return refs.isEmpty() ? null : context.getService(refs.iterator().next());
    }

    @Test
    public void aConfiguredMachineTakesFunctionsByAddressAndAnswersQtest() throws Exception {
        org.osgi.service.cm.Configuration machineConfig = configAdmin.getConfiguration("org.spindle.machine", "?");
        machineConfig.update(props("name", "it", "type", "q35", "ram", "256M"));
        await("the machine service", () -> {
            try {
                return machine("it") != null;
            } catch (Exception e) {
                return false;
            }
        });
        Machine m = machine("it");
        assertEquals("q35", m.type());
        assertEquals(256L << 20, m.memory().ramSize());

        PciConfigSpace space = PciConfigSpace.builder(0x1234, 0x5678).classCode(0x01, 0x80, 0x00)
                .bar(0, PciBar.memory32(4096, new IoHandler() {
                    @Override
                    public long read(long offset, int size) {
                        return 0x42;
                    }

                    @Override
                    public void write(long offset, int size, long value) {
                    }
                })).build();
        PciFunction function = () -> space;
        ServiceRegistration<PciFunction> reg = context.registerService(PciFunction.class, function,
                props(PciFunction.ADDRESS, "00:05.0", PciFunction.MACHINE, "it"));
        PciAddress at = PciAddress.parse("00:05.0");
        await("the function plugged", () -> m.pciFunctions().get(at) == function);

        Path dir = Files.createTempDirectory("qt");
        Path sock = dir.resolve("q.sock");
        org.osgi.service.cm.Configuration qtestConfig = configAdmin.getConfiguration("org.spindle.machine.qtest", "?");
        qtestConfig.update(props("address", "unix:" + sock, "mode", "listen", "machine.target", "(spindle.machine=it)"));
        await("the qtest socket", () -> Files.exists(sock));
        // The socket file appears when it is bound, a moment before it listens: connect until it does.
        SocketChannel channel = null;
        for (int tries = 0; channel == null; tries++) {
            SocketChannel attempt = SocketChannel.open(StandardProtocolFamily.UNIX);
            try {
                attempt.connect(UnixDomainSocketAddress.of(sock));
                channel = attempt;
            } catch (java.net.ConnectException refused) {
                attempt.close();
                if (tries > 250) {
                    throw refused;
                }
                Thread.sleep(20);
            }
        }
        try (SocketChannel c = channel) {
            BufferedReader in = new BufferedReader(new InputStreamReader(Channels.newInputStream(c), StandardCharsets.US_ASCII));
            OutputStream out = Channels.newOutputStream(c);
            assertEquals("OK little", ask(in, out, "endianness"));
            assertEquals("OK", ask(in, out, "outl 0xcf8 0x80002800"));
            assertEquals("OK 0x56781234", ask(in, out, "inl 0xcfc"));

            reg.unregister();
            await("the function gone", () -> !m.pciFunctions().containsKey(at));
            assertEquals("OK 0xffffffff", ask(in, out, "inl 0xcfc"));
        }
        qtestConfig.delete();
        machineConfig.delete();
        await("the machine gone", () -> {
            try {
                return machine("it") == null;
            } catch (Exception e) {
                return false;
            }
        });
        Files.deleteIfExists(sock);
        Files.deleteIfExists(dir);
        ServiceReference<?>[] left = context.getServiceReferences(Machine.class.getName(), null);
        assertTrue(left == null || left.length == 0);
        assertNotNull(space.slot() == null ? "unplugged" : null);
    }

    private static String ask(BufferedReader in, OutputStream out, String request) throws Exception {
        out.write((request + "\n").getBytes(StandardCharsets.US_ASCII));
        out.flush();
        return in.readLine();
    }
}
