package org.spindle.testing.qtest;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.Channels;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Base64;
import java.util.HexFormat;

/**
 * A test program's end of the qtest protocol, with the calls of QEMU's libqtest: port I/O, memory
 * values and byte streams, memset, the clock, and interrupt interception. Spindle's device tests use
 * it to play guest driver against a machine, over the same socket protocol QEMU's own tests speak.
 *
 * <p>Unsolicited {@code IRQ raise N} and {@code IRQ lower N} lines are consumed while a reply is
 * awaited, and remembered: {@link #getIrq} sends a harmless {@code inb 0x0} first so that every
 * change the machine reported before now is seen. A {@code FAIL} or {@code ERR} reply throws
 * {@link QtestException}. Not for concurrent use.
 */
public final class QtestClient implements AutoCloseable {
    private final SocketChannel channel;
    private final BufferedReader in;
    private final OutputStream out;
    private final boolean[] irqs = new boolean[256];

    private QtestClient(SocketChannel channel) {
        this.channel = channel;
        this.in = new BufferedReader(new InputStreamReader(Channels.newInputStream(channel), StandardCharsets.ISO_8859_1));
        this.out = Channels.newOutputStream(channel);
    }

    private static SocketAddress address(String text) {
        if (text.startsWith("unix:")) {
            return UnixDomainSocketAddress.of(text.substring(5));
        }
        if (text.startsWith("tcp:")) {
            int colon = text.lastIndexOf(':');
            return new InetSocketAddress(text.substring(4, colon), Integer.parseInt(text.substring(colon + 1)));
        }
        throw new IllegalArgumentException("qtest address '" + text + "': unix:PATH or tcp:HOST:PORT");
    }

    /** Connects to a machine whose qtest front door listens at {@code address} ({@code unix:PATH}, {@code tcp:HOST:PORT}). */
    public static QtestClient connect(String address) throws IOException {
        SocketAddress a = address(address);
        SocketChannel c = SocketChannel.open(a instanceof UnixDomainSocketAddress ? StandardProtocolFamily.UNIX : StandardProtocolFamily.INET);
        c.connect(a);
        QtestClient client = new QtestClient(c);
        client.command("endianness");
        return client;
    }

    /**
     * Waits on a listening socket for the machine to connect, as libqtest does for QEMU's
     * {@code -qtest unix:PATH}, for at most {@code timeout}.
     */
    public static QtestClient accept(ServerSocketChannel listening, Duration timeout) throws IOException {
        listening.configureBlocking(false);
        long end = System.nanoTime() + timeout.toNanos();
        SocketChannel c;
        while ((c = listening.accept()) == null) {
            if (System.nanoTime() > end) {
                throw new IOException("no machine connected within " + timeout);
            }
            try {
                Thread.sleep(5);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IOException("interrupted while waiting for the machine", e);
            }
        }
        c.configureBlocking(true);
        QtestClient client = new QtestClient(c);
        client.command("endianness");
        return client;
    }

    /**
     * Sends one request line and returns the reply line as it came ({@code OK ...}, {@code FAIL ...},
     * {@code ERR ...}), after consuming the IRQ lines before it: for protocol tests.
     */
    public String raw(String request) {
        try {
            out.write((request + "\n").getBytes(StandardCharsets.ISO_8859_1));
            out.flush();
            while (true) {
                String line = in.readLine();
                if (line == null) {
                    throw new QtestException("the machine closed the qtest connection after '" + request + "'");
                }
                if (line.startsWith("IRQ ")) {
                    String[] w = line.split(" ");
                    irqs[Integer.parseInt(w[2])] = w[1].equals("raise");
                    continue;
                }
                return line;
            }
        } catch (IOException e) {
            throw new QtestException("qtest connection: " + e.getMessage(), e);
        }
    }

    /** Sends a request and returns the words of its OK reply after {@code OK}. */
    public String command(String request) {
        String reply = raw(request);
        if (!reply.equals("OK") && !reply.startsWith("OK ")) {
            throw new QtestException("'" + request + "' got " + reply);
        }
        return reply.length() > 3 ? reply.substring(3) : "";
    }

    private static long value(String word) {
        return Long.parseUnsignedLong(word.substring(2), 16);
    }

    public void outb(int port, int value) {
        command(String.format("outb 0x%x 0x%x", port, value & 0xFF));
    }

    public void outw(int port, int value) {
        command(String.format("outw 0x%x 0x%x", port, value & 0xFFFF));
    }

    public void outl(int port, int value) {
        command(String.format("outl 0x%x 0x%x", port, value));
    }

    public int inb(int port) {
        return (int) value(command(String.format("inb 0x%x", port)));
    }

    public int inw(int port) {
        return (int) value(command(String.format("inw 0x%x", port)));
    }

    public int inl(int port) {
        return (int) value(command(String.format("inl 0x%x", port)));
    }

    public void writeb(long address, int value) {
        command(String.format("writeb 0x%x 0x%x", address, value & 0xFF));
    }

    public void writew(long address, int value) {
        command(String.format("writew 0x%x 0x%x", address, value & 0xFFFF));
    }

    public void writel(long address, int value) {
        command(String.format("writel 0x%x 0x%x", address, value));
    }

    public void writeq(long address, long value) {
        command(String.format("writeq 0x%x 0x%x", address, value));
    }

    public int readb(long address) {
        return (int) value(command(String.format("readb 0x%x", address)));
    }

    public int readw(long address) {
        return (int) value(command(String.format("readw 0x%x", address)));
    }

    public int readl(long address) {
        return (int) value(command(String.format("readl 0x%x", address)));
    }

    public long readq(long address) {
        return value(command(String.format("readq 0x%x", address)));
    }

    /** {@code read}: the bytes at {@code address}; 1, 2, 4 or 8 bytes of MMIO are one access of that width. */
    public byte[] memread(long address, int length) {
        return HexFormat.of().parseHex(command(String.format("read 0x%x 0x%x", address, length)).substring(2));
    }

    /** {@code write}: the bytes to {@code address}; 1, 2, 4 or 8 bytes of MMIO are one access of that width. */
    public void memwrite(long address, byte[] data) {
        command(String.format("write 0x%x 0x%x 0x%s", address, data.length, HexFormat.of().formatHex(data)));
    }

    /** {@code b64read}. */
    public byte[] bufread(long address, int length) {
        return Base64.getDecoder().decode(command(String.format("b64read 0x%x 0x%x", address, length)));
    }

    /** {@code b64write}. */
    public void bufwrite(long address, byte[] data) {
        command(String.format("b64write 0x%x 0x%x %s", address, data.length, Base64.getEncoder().encodeToString(data)));
    }

    public void memset(long address, int length, int value) {
        command(String.format("memset 0x%x 0x%x 0x%x", address, length, value & 0xFF));
    }

    /** Moves the clock to the next timer deadline; returns the clock. */
    public long clockStep() {
        return Long.parseLong(command("clock_step"));
    }

    /** Moves the clock forward by {@code nanos}; returns the clock. */
    public long clockStep(long nanos) {
        return Long.parseLong(command("clock_step " + nanos));
    }

    /** Sets the clock to {@code nanos} (not back); returns the clock. */
    public long clockSet(long nanos) {
        return Long.parseLong(command("clock_set " + nanos));
    }

    /** Intercepts the inputs of {@code path} ({@code ioapic}): their changes come as IRQ lines. */
    public void irqInterceptIn(String path) {
        command("irq_intercept_in " + path);
    }

    /** Whether intercepted input {@code n} is raised, after every change reported so far. */
    public boolean getIrq(int n) {
        inb(0);
        return irqs[n];
    }

    @Override
    public void close() throws IOException {
        channel.close();
    }
}
