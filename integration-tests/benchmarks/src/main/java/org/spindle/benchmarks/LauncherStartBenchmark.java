package org.spindle.benchmarks;

import java.io.IOException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;

import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

/**
 * From starting an emulator to the end of the qtest handshake, as libqtest starts one: two listening
 * Unix sockets, {@code /bin/sh -c "exec BINARY …"}, accept the qtest connection, then the QMP one,
 * send {@code endianness} and read {@code OK little}. Each of 20 measured starts is timed alone
 * ({@code SingleShotTime}) and {@link BenchmarkMain} scores the median, as starts per second.
 *
 * <ul>
 * <li>{@code qemu} (the baseline): {@code qemu-system-x86_64 -M pc -S} (Debian's QEMU 7.2, whose
 * build has no qtest accelerator) until its QMP greeting arrives: the least a native emulator takes.
 * <li>{@code jvm}: a JVM that does nothing but connect to both sockets and answer {@code endianness}
 * ({@link JvmFloor}, with the launcher's JVM options): the least any JVM-based emulator takes.
 * <li>{@code spindle}: {@code spindle-system-x86_64 -M pc} with a warm class-data archive.
 * </ul>
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.SingleShotTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Warmup(iterations = 3, batchSize = 1)
@Measurement(iterations = 20, batchSize = 1)
@Fork(1)
public class LauncherStartBenchmark {
    @Param({"qemu", "jvm", "spindle"})
    public String path;

    private Path dir;
    private ServerSocketChannel qtest;
    private ServerSocketChannel qmp;
    private Process process;

    /** The repository's root: {@code -Dspindle.root}, else found from this jar's place in it. */
    static Path root() throws Exception {
        String given = System.getProperty("spindle.root");
        if (given != null) {
            return Path.of(given);
        }
        Path jar = Path.of(LauncherStartBenchmark.class.getProtectionDomain().getCodeSource().getLocation().toURI());
        // integration-tests/benchmarks/target/benchmarks.jar
        return jar.getParent().getParent().getParent().getParent();
    }

    @Setup(Level.Invocation)
    public void listen() throws IOException {
        dir = Files.createTempDirectory(Path.of("/tmp"), "lsb");
        qtest = ServerSocketChannel.open(StandardProtocolFamily.UNIX).bind(UnixDomainSocketAddress.of(dir.resolve("q.sock")), 1);
        qmp = ServerSocketChannel.open(StandardProtocolFamily.UNIX).bind(UnixDomainSocketAddress.of(dir.resolve("q.qmp")), 1);
    }

    @Benchmark
    public String start() throws Exception {
        String sock = dir.resolve("q.sock").toString();
        String mon = dir.resolve("q.qmp").toString();
        String command = switch (path) {
            case "qemu" -> "exec qemu-system-x86_64 -M pc -S -display none -chardev socket,path=" + mon
                    + ",id=char0 -mon chardev=char0,mode=control -accel tcg";
            case "jvm" -> "exec " + Path.of(System.getProperty("java.home"), "bin", "java") + " -XX:+UseSerialGC"
                    + " -XX:TieredStopAtLevel=1 -cp " + Path.of(LauncherStartBenchmark.class.getProtectionDomain()
                            .getCodeSource().getLocation().toURI()) + " '" + JvmFloor.class.getName() + "' " + sock + " " + mon;
            default -> "exec " + root().resolve("spindle-system-x86_64") + " -qtest unix:" + sock
                    + " -qtest-log /dev/null -chardev socket,path=" + mon + ",id=char0 -mon chardev=char0,mode=control"
                    + " -display none -audio none -M pc -accel qtest";
        };
        process = new ProcessBuilder(List.of("/bin/sh", "-c", command)).redirectOutput(ProcessBuilder.Redirect.DISCARD)
                .redirectError(ProcessBuilder.Redirect.INHERIT).start();
        if (path.equals("qemu")) {
            try (SocketChannel m = accept(qmp)) {
                return readLine(m);
            }
        }
        try (SocketChannel q = accept(qtest); SocketChannel m = accept(qmp)) {
            q.write(ByteBuffer.wrap("endianness\n".getBytes(StandardCharsets.US_ASCII)));
            String reply = readLine(q);
            if (!reply.equals("OK little")) {
                throw new IllegalStateException("endianness answered with '" + reply + "'");
            }
            return reply;
        }
    }

    /** The next connection; an emulator that exits before it connects fails the benchmark. */
    private SocketChannel accept(ServerSocketChannel server) throws IOException, InterruptedException {
        server.configureBlocking(false);
        while (true) {
            SocketChannel c = server.accept();
            if (c != null) {
                c.configureBlocking(true);
                return c;
            }
            if (!process.isAlive()) {
                throw new IllegalStateException(path + " exited with status " + process.exitValue() + " before connecting");
            }
            Thread.sleep(0, 100_000);
        }
    }

    static String readLine(SocketChannel c) throws IOException {
        ByteBuffer b = ByteBuffer.allocate(4096);
        StringBuilder line = new StringBuilder();
        while (true) {
            b.clear();
            if (c.read(b) < 0) {
                throw new IOException("closed before a line: '" + line + "'");
            }
            b.flip();
            while (b.hasRemaining()) {
                char ch = (char) b.get();
                if (ch == '\n') {
                    return line.toString();
                }
                line.append(ch);
            }
        }
    }

    @TearDown(Level.Invocation)
    public void stop() throws Exception {
        if (process != null) {
            process.destroy();
            if (!process.waitFor(30, TimeUnit.SECONDS)) {
                process.destroyForcibly().waitFor();
            }
        }
        qtest.close();
        qmp.close();
        try (var files = Files.list(dir)) {
            for (Path p : files.toList()) {
                Files.deleteIfExists(p);
            }
        }
        Files.delete(dir);
    }

    /** The least a JVM-based emulator does before the handshake: connect to both sockets, answer. */
    public static final class JvmFloor {
        public static void main(String[] args) throws IOException {
            try (SocketChannel q = SocketChannel.open(UnixDomainSocketAddress.of(args[0]));
                    SocketChannel m = SocketChannel.open(UnixDomainSocketAddress.of(args[1]))) {
                readLine(q);
                q.write(ByteBuffer.wrap("OK little\n".getBytes(StandardCharsets.US_ASCII)));
                m.write(ByteBuffer.wrap("{\"QMP\": {}}\n".getBytes(StandardCharsets.US_ASCII)));
                // stays until the test program ends it, as an emulator does
                readLine(q);
            } catch (IOException e) {
                // ended
            }
        }
    }
}
