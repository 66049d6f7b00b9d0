package org.spindle.testing.http;

import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.function.LongSupplier;

/**
 * A real nginx (Debian's package) serving a directory on 127.0.0.1, started with a generated
 * configuration in a directory of its own, for tests and benchmarks that must meet a production web
 * server rather than a test double. Every request is written to an access log that {@link #log()}
 * parses, so what crossed the network is measured on the server's side.
 *
 * <p>nginx runs in the foreground without a master process, as the user running the test, so it reads
 * the files that user can read and leaves nothing behind when it is stopped.
 */
public final class NginxOrigin implements AutoCloseable {
    /** One line of the access log; {@code protocol} is {@code HTTP/1.1} or {@code HTTP/2.0}. */
    public record Logged(String method, String uri, String protocol, int status, long bodyBytes, String range,
            String ifRange) {
    }

    /**
     * A certificate and its private key (PEM files) for TLS; nginx then speaks HTTPS with HTTP/2 (by
     * ALPN) and HTTP/1.1.
     */
    public record Tls(Path certificate, Path key) {
        /**
         * A self-signed certificate for 127.0.0.1 (EC P-256, valid two days), made with Debian's
         * {@code openssl} in {@code dir}; the certificate file is also what a client must trust.
         */
        public static Tls selfSigned(Path dir) throws IOException {
            Path cert = dir.resolve("cert.pem");
            Path key = dir.resolve("key.pem");
            Process p = new ProcessBuilder("openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:P-256", "-nodes", "-subj", "/CN=127.0.0.1", "-addext",
                    "subjectAltName=IP:127.0.0.1", "-days", "2", "-keyout", key.toString(), "-out", cert.toString())
                    .redirectErrorStream(true).start();
            String output = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            try {
                if (p.waitFor() != 0) {
                    throw new IOException("openssl could not make a certificate: " + output.strip());
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IOException("interrupted while making a certificate", e);
            }
            return new Tls(cert, key);
        }
    }

    private static final List<Path> CANDIDATES = List.of(Path.of("/usr/sbin/nginx"), Path.of("/usr/bin/nginx"),
            Path.of("/usr/local/sbin/nginx"));

    private final Process process;
    private final Path prefix;
    private final int port;
    private final boolean tls;

    private NginxOrigin(Process process, Path prefix, int port, boolean tls) {
        this.process = process;
        this.prefix = prefix;
        this.port = port;
        this.tls = tls;
    }

    /** The nginx executable, if one is installed. */
    public static Optional<Path> binary() {
        return CANDIDATES.stream().filter(Files::isExecutable).findFirst();
    }

    /**
     * Starts nginx serving {@code root} (its files by name, with ranges, strong ETags and
     * {@code Last-Modified}, no compression) and waits until it accepts connections.
     *
     * @param work an empty directory for the configuration, logs, pid file and temporary files
     * @throws IOException when nginx is not installed or does not start (its error log is included)
     */
    public static NginxOrigin start(Path root, Path work) throws IOException {
        return start(root, work, null);
    }

    /** As {@link #start(Path, Path)}, over HTTPS with {@code tls} (HTTP/2 and HTTP/1.1) when it is given. */
    public static NginxOrigin start(Path root, Path work, Tls tls) throws IOException {
        Path nginx = binary().orElseThrow(() -> new IOException("nginx is not installed (Debian: nginx-light)"));
        IOException last = null;
        // the port is picked free, but another process may take it before nginx binds: try again
        for (int attempt = 0; attempt < 3; attempt++) {
            int port = freePort();
            Path prefix = Files.createDirectories(work.resolve("nginx-" + port));
            Files.createDirectories(prefix.resolve("temp"));
            Path conf = prefix.resolve("nginx.conf");
            Files.writeString(conf, config(root.toAbsolutePath(), prefix, port, tls));
            Process p = new ProcessBuilder(nginx.toString(), "-p", prefix.toString(), "-c", conf.toString(),
                    "-e", prefix.resolve("error.log").toString())
                    .redirectErrorStream(true).redirectOutput(prefix.resolve("stdout.log").toFile()).start();
            NginxOrigin origin = new NginxOrigin(p, prefix, port, tls != null);
            try {
                origin.awaitReady(Duration.ofSeconds(10));
                return origin;
            } catch (IOException e) {
                origin.close();
                last = e;
            }
        }
        throw last;
    }

    private static String config(Path root, Path prefix, int port, Tls tls) {
        String temp = prefix.resolve("temp").toString();
        return String.join("\n",
                "daemon off;",
                "master_process off;",
                "pid " + prefix.resolve("nginx.pid") + ";",
                "error_log " + prefix.resolve("error.log") + " warn;",
                "events { worker_connections 512; }",
                "http {",
                "  log_format spindle '$request_method $uri $server_protocol $status $body_bytes_sent \"$http_range\" \"$http_if_range\"';",
                "  access_log " + prefix.resolve("access.log") + " spindle;",
                "  client_body_temp_path " + temp + "/body;",
                "  proxy_temp_path " + temp + "/proxy;",
                "  fastcgi_temp_path " + temp + "/fastcgi;",
                "  uwsgi_temp_path " + temp + "/uwsgi;",
                "  scgi_temp_path " + temp + "/scgi;",
                "  sendfile on;",
                "  tcp_nopush on;",
                "  keepalive_requests 1000000;",
                "  keepalive_timeout 120s;",
                "  default_type application/octet-stream;",
                "  server {",
                tls == null ? "    listen 127.0.0.1:" + port + ";"
                        : "    listen 127.0.0.1:" + port + " ssl http2;\n    ssl_certificate " + tls.certificate()
                                + ";\n    ssl_certificate_key " + tls.key() + ";\n    ssl_protocols TLSv1.2 TLSv1.3;",
                "    root " + root + ";",
                "    location / { }",
                "  }",
                "}",
                "");
    }

    private static int freePort() throws IOException {
        try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            return s.getLocalPort();
        }
    }

    private void awaitReady(Duration limit) throws IOException {
        long deadline = System.nanoTime() + limit.toNanos();
        while (System.nanoTime() < deadline) {
            if (!process.isAlive()) {
                throw new IOException("nginx exited with status " + process.exitValue() + ": " + errors());
            }
            try (Socket s = new Socket()) {
                s.connect(new InetSocketAddress(InetAddress.getLoopbackAddress(), port), 200);
                return;
            } catch (IOException notYet) {
                sleep(20);
            }
        }
        throw new IOException("nginx did not accept connections on port " + port + " within " + limit + ": "
                + errors());
    }

    /** What nginx wrote to its error log and standard output. */
    public String errors() {
        StringBuilder sb = new StringBuilder();
        for (String name : List.of("error.log", "stdout.log")) {
            try {
                sb.append(Files.readString(prefix.resolve(name), StandardCharsets.UTF_8));
            } catch (IOException absent) {
                // not written yet
            }
        }
        return sb.toString().strip();
    }

    public int port() {
        return port;
    }

    /** The URL of {@code path} (relative to the served directory, with or without a leading slash). */
    public URI uri(String path) {
        return URI.create((tls ? "https" : "http") + "://127.0.0.1:" + port
                + (path.startsWith("/") ? path : "/" + path));
    }

    /** The access log so far, oldest first. */
    public List<Logged> log() throws IOException {
        Path file = prefix.resolve("access.log");
        if (!Files.exists(file)) {
            return List.of();
        }
        List<Logged> lines = new ArrayList<>();
        for (String line : Files.readAllLines(file, StandardCharsets.UTF_8)) {
            lines.add(parse(line));
        }
        return lines;
    }

    /**
     * The access log once it has at least {@code expected} lines: nginx writes a line after the
     * response is sent, so the last one may lag the client by a moment.
     */
    public List<Logged> log(LongSupplier expected, Duration limit) throws IOException {
        long deadline = System.nanoTime() + limit.toNanos();
        List<Logged> lines = log();
        while (lines.size() < expected.getAsLong() && System.nanoTime() < deadline) {
            sleep(10);
            lines = log();
        }
        return lines;
    }

    /** Empties the access log (nginx appends, so later lines start at the beginning again). */
    public void clearLog() throws IOException {
        Path file = prefix.resolve("access.log");
        if (Files.exists(file)) {
            try (var ch = java.nio.channels.FileChannel.open(file, java.nio.file.StandardOpenOption.WRITE)) {
                ch.truncate(0);
            }
        }
    }

    static Logged parse(String line) {
        // METHOD URI PROTOCOL STATUS BYTES "RANGE" "IF-RANGE"; the quoted fields are "-" when absent
        int q1 = line.indexOf('"');
        String[] head = line.substring(0, q1).strip().split(" ");
        String[] quoted = line.substring(q1).split("\" \"", -1);
        String range = quoted[0].substring(1);
        String ifRange = quoted.length > 1 ? quoted[1].substring(0, quoted[1].length() - 1) : "-";
        return new Logged(head[0], head[1], head[2], Integer.parseInt(head[3]), Long.parseLong(head[4]),
                "-".equals(range) ? null : unescape(range), "-".equals(ifRange) ? null : unescape(ifRange));
    }

    /** nginx writes a quote, a backslash or a control character of a header as {@code \xHH}. */
    private static String unescape(String logged) {
        StringBuilder sb = new StringBuilder(logged.length());
        for (int i = 0; i < logged.length(); i++) {
            char c = logged.charAt(i);
            if (c == '\\' && i + 3 < logged.length() && logged.charAt(i + 1) == 'x') {
                sb.append((char) Integer.parseInt(logged.substring(i + 2, i + 4), 16));
                i += 3;
            } else {
                sb.append(c);
            }
        }
        return sb.toString();
    }

    private static void sleep(long millis) {
        try {
            Thread.sleep(millis);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /** Stops nginx (SIGTERM: a fast shutdown) and waits for it. */
    @Override
    public void close() {
        process.destroy();
        try {
            if (!process.waitFor(10, TimeUnit.SECONDS)) {
                process.destroyForcibly().waitFor(5, TimeUnit.SECONDS);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            process.destroyForcibly();
        }
    }
}
