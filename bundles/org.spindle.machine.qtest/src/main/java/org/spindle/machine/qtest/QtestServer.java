package org.spindle.machine.qtest;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.Channels;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

import org.spindle.machine.api.Machine;

/**
 * The qtest front door's transport: sessions over Unix-domain or TCP stream sockets, as a server that
 * accepts test programs ({@link #listen}) or as a client that connects to one ({@link #connect}, what
 * QEMU's {@code -qtest unix:PATH} does for libqtest, which listens). Each connection has its own
 * {@link QtestSession} and thread; a line longer than {@link #MAX_LINE} characters is answered with
 * {@code ERR} and skipped.
 *
 * <p>Addresses: {@code unix:PATH}, or {@code tcp:HOST:PORT} (port 0 picks a free one when listening).
 */
public final class QtestServer implements AutoCloseable {
    /** The longest request line read (a 64 MiB {@code write} in hexadecimal, and some). */
    public static final int MAX_LINE = (int) (2 * QtestSession.MAX_TRANSFER + 4096);

    private final Machine machine;
    private final ServerSocketChannel server;
    private final Path socketFile;
    private final Set<SocketChannel> connections = ConcurrentHashMap.newKeySet();
    private final TrafficLog log;
    private volatile boolean closed;

    /**
     * Hears every line of every session, as QEMU's {@code -qtest-log} records them.
     *
     * @since 1.2
     */
    @FunctionalInterface
    public interface TrafficLog {
        /**
         * @param received whether the line came from the test program (a request) rather than went to it
         * @param line the line, without its newline
         */
        void line(boolean received, String line);
    }

    private QtestServer(Machine machine, ServerSocketChannel server, Path socketFile, TrafficLog log) {
        this.machine = machine;
        this.server = server;
        this.socketFile = socketFile;
        this.log = log;
    }

    /**
     * Parses {@code unix:PATH} or {@code tcp:HOST:PORT}.
     *
     * @throws IllegalArgumentException naming the address and the forms taken
     */
    public static SocketAddress address(String text) {
        if (text.startsWith("unix:") && text.length() > 5) {
            return UnixDomainSocketAddress.of(text.substring(5));
        }
        if (text.startsWith("tcp:")) {
            int colon = text.lastIndexOf(':');
            try {
                return new InetSocketAddress(text.substring(4, colon), Integer.parseInt(text.substring(colon + 1)));
            } catch (RuntimeException e) {
                // fall through to the message
            }
        }
        throw new IllegalArgumentException("qtest address '" + text + "': unix:PATH or tcp:HOST:PORT");
    }

    /**
     * Listens at {@code address} and serves every test program that connects, each on its own thread.
     * A Unix socket file left by an earlier run is replaced; any other file at the path is refused.
     */
    public static QtestServer listen(Machine machine, String address) throws IOException {
        SocketAddress a = address(address);
        ServerSocketChannel server;
        Path file = null;
        if (a instanceof UnixDomainSocketAddress u) {
            file = u.getPath();
            removeStaleSocket(file);
            server = ServerSocketChannel.open(StandardProtocolFamily.UNIX);
        } else {
            server = ServerSocketChannel.open();
        }
        server.bind(a);
        QtestServer s = new QtestServer(machine, server, file, null);
        Thread t = new Thread(s::acceptLoop, "spindle-qtest-accept");
        t.setDaemon(true);
        t.start();
        return s;
    }

    /**
     * Deletes a socket file an earlier run left; anything else at the path is refused, never deleted.
     *
     * @since 1.2
     */
    public static void removeStaleSocket(Path file) throws IOException {
        if (!Files.exists(file, java.nio.file.LinkOption.NOFOLLOW_LINKS)) {
            return;
        }
        int mode;
        try {
            mode = (Integer) Files.getAttribute(file, "unix:mode", java.nio.file.LinkOption.NOFOLLOW_LINKS);
        } catch (UnsupportedOperationException | IllegalArgumentException e) {
            throw new IOException("qtest socket " + file + " exists, and this system cannot tell whether it is a socket");
        }
        if ((mode & 0170000) != 0140000) {
            throw new IOException("qtest socket " + file + " exists and is not a socket; not replacing it");
        }
        Files.delete(file);
    }

    /**
     * Connects to a test program listening at {@code address} and serves that one connection on a
     * thread of its own until it closes.
     */
    public static QtestServer connect(Machine machine, String address) throws IOException {
        return connect(machine, address, null);
    }

    /**
     * As {@link #connect(Machine, String)}, with every line of the session told to {@code log} (which
     * may be {@code null}).
     *
     * @since 1.2
     */
    public static QtestServer connect(Machine machine, String address, TrafficLog log) throws IOException {
        SocketAddress a = address(address);
        SocketChannel channel = SocketChannel.open(a instanceof UnixDomainSocketAddress ? StandardProtocolFamily.UNIX
                : ((InetSocketAddress) a).getAddress() instanceof java.net.Inet6Address ? StandardProtocolFamily.INET6
                        : StandardProtocolFamily.INET);
        channel.connect(a);
        QtestServer s = new QtestServer(machine, null, null, log);
        s.start(channel);
        return s;
    }

    /** Where the server listens ({@code unix:PATH} or {@code tcp:HOST:PORT}); null for a connected one. */
    public String address() throws IOException {
        if (server == null) {
            return null;
        }
        SocketAddress a = server.getLocalAddress();
        if (a instanceof UnixDomainSocketAddress u) {
            return "unix:" + u.getPath();
        }
        InetSocketAddress i = (InetSocketAddress) a;
        return "tcp:" + i.getHostString() + ":" + i.getPort();
    }

    private void acceptLoop() {
        while (!closed) {
            try {
                start(server.accept());
            } catch (IOException e) {
                if (!closed) {
                    System.err.println("spindle qtest: accept failed: " + e.getMessage());
                }
                return;
            }
        }
    }

    private void start(SocketChannel channel) {
        connections.add(channel);
        Thread t = new Thread(() -> serve(channel), "spindle-qtest");
        t.setDaemon(true);
        t.start();
    }

    private void serve(SocketChannel channel) {
        OutputStream os = Channels.newOutputStream(channel);
        try (channel; InputStream in = Channels.newInputStream(channel);
                QtestSession session = new QtestSession(machine, line -> {
                    if (log != null) {
                        log.line(false, line);
                    }
                    try {
                        os.write((line + "\n").getBytes(StandardCharsets.US_ASCII));
                        os.flush();
                    } catch (IOException e) {
                        throw new java.io.UncheckedIOException(e);
                    }
                })) {
            LineReader reader = new LineReader(in);
            String line;
            while ((line = reader.next()) != null) {
                if (reader.overlong) {
                    session.handleError("ERR line longer than " + MAX_LINE + " characters");
                    continue;
                }
                if (log != null) {
                    log.line(true, line);
                }
                session.handle(line);
            }
        } catch (IOException | java.io.UncheckedIOException e) {
            // the peer went away
        } finally {
            connections.remove(channel);
        }
    }

    /** Lines of ASCII up to {@link #MAX_LINE}; a longer line is skipped whole and flagged. */
    private static final class LineReader {
        private final InputStream in;
        private final byte[] buffer = new byte[65536];
        private int pos;
        private int limit;
        boolean overlong;

        LineReader(InputStream in) {
            this.in = in;
        }

        String next() throws IOException {
            ByteArrayOutputStream line = new ByteArrayOutputStream();
            overlong = false;
            while (true) {
                if (pos == limit) {
                    limit = in.read(buffer);
                    pos = 0;
                    if (limit <= 0) {
                        limit = 0;
                        return line.size() > 0 || overlong ? finish(line) : null;
                    }
                }
                int start = pos;
                while (pos < limit && buffer[pos] != '\n') {
                    pos++;
                }
                if (!overlong) {
                    line.write(buffer, start, pos - start);
                    if (line.size() > MAX_LINE) {
                        overlong = true;
                        line.reset();
                    }
                }
                if (pos < limit) {
                    pos++;
                    return finish(line);
                }
            }
        }

        private String finish(ByteArrayOutputStream line) {
            String s = line.toString(StandardCharsets.ISO_8859_1);
            return s.endsWith("\r") ? s.substring(0, s.length() - 1) : s;
        }
    }

    @Override
    public void close() throws IOException {
        closed = true;
        if (server != null) {
            server.close();
        }
        for (SocketChannel c : connections) {
            c.close();
        }
        if (socketFile != null) {
            Files.deleteIfExists(socketFile);
        }
    }
}
