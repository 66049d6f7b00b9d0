package org.spindle.benchmarks;

import java.io.IOException;
import java.net.URI;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.Map;

import org.spindle.storage.api.OpenOptions;
import org.spindle.storage.api.VirtualDisk;
import org.spindle.storage.core.DiskOpener;
import org.spindle.storage.core.ServiceLoaderRegistry;
import org.spindle.testing.http.NginxOrigin;

/**
 * The remote benchmarks' origin: Debian's nginx on 127.0.0.1 serving the page-cached 1 GiB benchmark
 * image from a directory of its own (a hard link to the image, nothing else), and what its access log
 * says the readers cost.
 */
final class RemoteOrigin implements AutoCloseable {
    static final long SIZE = 1L << 30;

    private final NginxOrigin nginx;
    final URI image;

    private RemoteOrigin(NginxOrigin nginx) {
        this.nginx = nginx;
        this.image = nginx.uri("/disk.img");
    }

    static RemoteOrigin start() throws IOException {
        Path raw = Images.pageCached(SIZE);
        Path root = raw.resolveSibling("spindle-bench-http");
        Files.createDirectories(root);
        Path served = root.resolve("disk.img");
        if (!Files.exists(served) || !Files.isSameFile(served, raw)) {
            Files.deleteIfExists(served);
            Files.createLink(served, raw);
        }
        Path work = Files.createTempDirectory("spindle-bench-nginx");
        return new RemoteOrigin(NginxOrigin.start(root, work));
    }

    /**
     * An opener whose HTTP backend has a persistent cache in {@code cacheDir} (of {@code cacheSize}),
     * or none when {@code cacheDir} is {@code null}. Outside OSGi the backend reads its settings from
     * system properties when it is created, so each opener gets its own provider.
     */
    static DiskOpener opener(Path cacheDir, String cacheSize) {
        if (cacheDir == null) {
            System.setProperty("spindle.http.cache.size", "0");
        } else {
            System.setProperty("spindle.http.cache.dir", cacheDir.toString());
            System.setProperty("spindle.http.cache.size", cacheSize);
        }
        try {
            return new DiskOpener(ServiceLoaderRegistry.load(RemoteOrigin.class.getClassLoader()));
        } finally {
            System.clearProperty("spindle.http.cache.dir");
            System.clearProperty("spindle.http.cache.size");
        }
    }

    /** The image opened as a raw disk through Spindle's HTTP backend, with per-image settings. */
    VirtualDisk open(DiskOpener opener, Map<String, String> settings) throws Exception {
        StringBuilder fragment = new StringBuilder();
        settings.forEach((k, v) -> fragment.append(fragment.isEmpty() ? "#" : "&").append(k).append('=').append(v));
        return opener.open(URI.create(image + fragment.toString()), "raw", OpenOptions.defaults().withReadOnly(true))
                .disk();
    }

    /** {@code k=v&k=v} as a map; {@code default} (or empty) for none. */
    static Map<String, String> settings(String text) {
        Map<String, String> map = new java.util.LinkedHashMap<>();
        if (!text.isEmpty() && !text.equals("default")) {
            for (String pair : text.split("&")) {
                int eq = pair.indexOf('=');
                map.put(pair.substring(0, eq), pair.substring(eq + 1));
            }
        }
        return map;
    }

    void clearLog() throws IOException {
        nginx.clearLog();
    }

    /**
     * One line on what the readers cost since the log was cleared, per byte they read: range requests
     * per MiB and body bytes per byte (amplification), from nginx's side.
     */
    String cost(String what, long bytesRead) throws IOException {
        List<NginxOrigin.Logged> log = nginx.log();
        long gets = log.stream().filter(l -> l.method().equals("GET")).count();
        long bytes = log.stream().mapToLong(NginxOrigin.Logged::bodyBytes).sum();
        return String.format(Locale.ROOT, "%s: %d bytes read, %d GET requests (%.3f per MiB read), %d bytes"
                + " served (%.4f per byte read), %d other requests", what, bytesRead, gets,
                bytesRead == 0 ? 0 : gets * (double) (1 << 20) / bytesRead, bytes,
                bytesRead == 0 ? 0 : (double) bytes / bytesRead, log.size() - gets);
    }

    /**
     * Runs a command, failing with its output when it fails or takes more than two minutes (QEMU 7.2's
     * curl driver has been seen to hang at the end of a read here; a hung peer must fail the trial,
     * not stall the run).
     */
    static void run(List<String> command) throws IOException, InterruptedException {
        if (!runWithin(command, java.time.Duration.ofMinutes(2))) {
            throw new IOException(String.join(" ", command) + " did not finish within two minutes");
        }
    }

    /** How many times in a row a peer may hang before the trial fails. */
    static final int MOST_HANGS = 10;

    /**
     * Runs a command that may hang, killing it after {@code limit} and running it again (at most
     * {@link #MOST_HANGS} times in a row); each hang is counted in {@code hangs}, and the time of each
     * run that completed is added to {@code completed} (nanoseconds).
     */
    static void runAgainIfHung(List<String> command, java.time.Duration limit,
            java.util.concurrent.atomic.AtomicInteger hangs, List<Long> completed)
            throws IOException, InterruptedException {
        for (int attempt = 0; attempt < MOST_HANGS; attempt++) {
            long start = System.nanoTime();
            if (runWithin(command, limit)) {
                completed.add(System.nanoTime() - start);
                return;
            }
            hangs.incrementAndGet();
        }
        throw new IOException(String.join(" ", command) + " hung " + MOST_HANGS + " times in a row");
    }

    /** Runs a command; false if it was killed for taking longer than {@code limit}, an exception if it failed. */
    private static boolean runWithin(List<String> command, java.time.Duration limit)
            throws IOException, InterruptedException {
        Path log = Files.createTempFile("spindle-bench-peer", ".log");
        try {
            Process p = new ProcessBuilder(command).redirectErrorStream(true).redirectOutput(log.toFile()).start();
            if (!p.waitFor(limit.toMillis(), java.util.concurrent.TimeUnit.MILLISECONDS)) {
                p.destroyForcibly().waitFor();
                return false;
            }
            if (p.exitValue() != 0) {
                throw new IOException(String.join(" ", command) + " failed with exit code " + p.exitValue() + ": "
                        + Files.readString(log).strip());
            }
            return true;
        } finally {
            Files.deleteIfExists(log);
        }
    }

    /** Reads {@code length} bytes in pieces of {@code piece} from {@code offset}; returns a checksum-ish sum. */
    static long readSequentially(VirtualDisk disk, long offset, long length, int piece) throws Exception {
        ByteBuffer buffer = ByteBuffer.allocateDirect(piece);
        long sum = 0;
        for (long at = offset; at < offset + length; at += piece) {
            disk.read(at, buffer.clear().limit((int) Math.min(piece, offset + length - at)));
            sum += buffer.get(0);
        }
        return sum;
    }

    @Override
    public void close() {
        nginx.close();
    }
}
