package org.spindle.benchmarks;

import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OperationsPerInvocation;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;
import org.spindle.storage.api.VirtualDisk;
import org.spindle.storage.core.DiskOpener;

/**
 * 4 KiB reads scattered over a 1 GiB image on nginx on loopback, at queue depth 1: request k at
 * k × 4 KiB × 104729 mod 1 GiB, {@value #READS} per invocation. {@code cache=cold}: every invocation
 * opens the image anew with nothing cached; {@code cache=warm}: Spindle's persistent chunk cache holds
 * the chunks already (filled once per trial) and the new disk's memory is empty. The peers have no
 * cache that outlives their process, so for them both rows measure the same thing: {@code qemu-io}
 * through QEMU's curl block driver ({@code path=qemu}, the baseline) and {@code qemu-io} through
 * nbdkit's curl plugin over NBD ({@code path=nbdkit}). Spindle's chunk size is a parameter: a miss
 * fetches one whole chunk (1 MiB by default), which a cache keeps; the peers fetch the read and, for
 * QEMU, its 256 KiB read-ahead. One operation is one read, so scores are reads/s; the process start
 * of a peer, and Spindle's opening of the image, are timed too.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Warmup(iterations = 1, time = 5)
@Measurement(iterations = 3, time = 8)
// the JDK HttpClient's read buffer as ./spindle sets it
@Fork(value = 1, jvmArgsAppend = {"--sun-misc-unsafe-memory-access=allow", "--enable-native-access=ALL-UNNAMED",
        "-Djdk.httpclient.bufsize=1048576"})
public class RemoteRandomBenchmark {
    static final int READS = 256;
    static final long STEP = 4096L * 104_729;

    @Param({"qemu", "nbdkit", "spindle"})
    public String path;

    @Param({"cold", "warm"})
    public String cache;

    /** Spindle's chunk size. */
    @Param({"1M", "64K"})
    public String chunk;

    private RemoteOrigin origin;
    private DiskOpener opener;
    private Path script;
    private Path cacheDir;
    private final AtomicLong bytesRead = new AtomicLong();

    @Setup(Level.Trial)
    public void start() throws Exception {
        origin = RemoteOrigin.start();
        // the peers read the same offsets, from one qemu-io process per invocation
        StringBuilder sh = new StringBuilder("exec qemu-io -r -f raw");
        for (int k = 0; k < READS; k++) {
            sh.append(" -c 'read -q ").append(offset(k)).append(" 4096'");
        }
        script = Files.createTempFile("spindle-bench-reads", ".sh");
        Files.writeString(script, sh.append(" \"$1\"\n").toString());
        if (cache.equals("warm") && path.equals("spindle")) {
            cacheDir = Files.createTempDirectory("spindle-bench-chunk-cache");
            opener = RemoteOrigin.opener(cacheDir, "2G");
            readAll();
        } else {
            opener = RemoteOrigin.opener(null, null);
        }
        origin.clearLog();
        bytesRead.set(0);
    }

    static long offset(int k) {
        return (k * STEP) % RemoteOrigin.SIZE;
    }

    @TearDown(Level.Trial)
    public void stop() throws Exception {
        System.out.println();
        System.out.println("# cost " + origin.cost("random path=" + path + " cache=" + cache + " chunk=" + chunk,
                bytesRead.get()));
        origin.close();
        Files.deleteIfExists(script);
        if (cacheDir != null) {
            try (var files = Files.walk(cacheDir)) {
                files.sorted(java.util.Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
            }
        }
    }

    private long readAll() throws Exception {
        long sum = 0;
        try (VirtualDisk disk = origin.open(opener, Map.of("chunk.size", chunk, "memory.cache", "0"))) {
            ByteBuffer buffer = ByteBuffer.allocateDirect(4096);
            for (int k = 0; k < READS; k++) {
                disk.read(offset(k), buffer.clear());
                sum += buffer.get(0);
            }
        }
        return sum;
    }

    @Benchmark
    @OperationsPerInvocation(READS)
    public long read() throws Exception {
        long sum = 0;
        switch (path) {
            case "qemu" -> RemoteOrigin.run(List.of("sh", script.toString(), origin.image.toString()));
            case "nbdkit" -> RemoteOrigin.run(List.of("nbdkit", "-U", "-", "curl", "url=" + origin.image,
                    "--run", "sh " + script + " \"$uri\""));
            default -> sum = readAll();
        }
        bytesRead.addAndGet(4096L * READS);
        return sum;
    }
}
