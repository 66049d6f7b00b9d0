package org.spindle.benchmarks;

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
 * A whole 1 GiB image read in order from nginx on loopback (the file in the page cache), cold: by
 * Spindle's HTTP backend (raw format, default settings: 1 MiB chunks, 16 read ahead in runs of 4, 4 fetches at once,
 * no persistent cache), by {@code qemu-img convert} through QEMU's curl block driver into the
 * {@code null-co} driver ({@code path=qemu}, the baseline), and by {@code nbdcopy} from nbdkit's curl
 * plugin to {@code null:} ({@code path=nbdkit}). One operation is one MiB. Each invocation opens the
 * image anew (Spindle) or starts the tool (the peers), and that is timed too. What the readers cost on
 * the network (requests and bytes per byte read) is printed per trial from nginx's access log.
 *
 * <p>Every invocation's time is sampled and {@link BenchmarkMain} scores the median, as MiB/s.
 * {@code qemu-img convert} of QEMU 7.2 hangs in some reads here, at times several in a row (its
 * curl driver stops hearing from libcurl; later QEMU reworked the driver's use of libcurl's event
 * API). Such a run is killed after {@link #HUNG} and run again, and the trial prints how often that
 * happened and the median of the runs that completed. The hung invocation is one slow sample, which
 * the median passes over while fewer than half the invocations hang; a mean would charge QEMU with
 * the hang, and the run would say more about the bug than about QEMU's speed.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.SampleTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Warmup(iterations = 1, time = 5)
@Measurement(iterations = 3, time = 8)
// the JDK HttpClient's read buffer as ./spindle sets it
@Fork(value = 1, jvmArgsAppend = {"--sun-misc-unsafe-memory-access=allow", "--enable-native-access=ALL-UNNAMED",
        "-Djdk.httpclient.bufsize=1048576"})
public class RemoteSequentialBenchmark {
    @Param({"qemu", "nbdkit", "spindle"})
    public String path;

    /** How much a reader asks for at a time (Spindle only; the peers read as they do). */
    @Param({"256K"})
    public String piece;

    /** Spindle's HTTP settings for the image ({@code k=v&k=v}, as in a URL fragment), or {@code default}. */
    @Param({"default"})
    public String settings;

    /** How long a peer's read of the whole image may take before it is taken to have hung. */
    static final java.time.Duration HUNG = java.time.Duration.ofSeconds(10);

    private RemoteOrigin origin;
    private final java.util.concurrent.atomic.AtomicInteger hangs = new java.util.concurrent.atomic.AtomicInteger();
    private final List<Long> completed = new java.util.concurrent.CopyOnWriteArrayList<>();
    private DiskOpener opener;
    private final AtomicLong bytesRead = new AtomicLong();

    @Setup(Level.Trial)
    public void start() throws Exception {
        origin = RemoteOrigin.start();
        opener = RemoteOrigin.opener(null, null);
        origin.clearLog();
    }

    @TearDown(Level.Trial)
    public void stop() throws Exception {
        System.out.println();
        System.out.println("# cost " + origin.cost("sequential path=" + path, bytesRead.get()));
        if (!path.equals("spindle")) {
            long[] times = completed.stream().mapToLong(Long::longValue).sorted().toArray();
            System.out.printf(java.util.Locale.ROOT, "# %s: %d runs killed as hung after %d s and run again; %d runs"
                    + " completed, median %.0f ms (%.1f MiB/s)%n", path, hangs.get(), HUNG.toSeconds(), times.length,
                    times.length == 0 ? 0.0 : times[times.length / 2] / 1e6,
                    times.length == 0 ? 0.0 : 1024 / (times[times.length / 2] / 1e9));
        }
        origin.close();
    }

    @Benchmark
    @OperationsPerInvocation(1024)
    public long read() throws Exception {
        long sum = 0;
        switch (path) {
            case "qemu" -> RemoteOrigin.runAgainIfHung(List.of("qemu-img", "convert", "-f", "raw", "-n",
                    origin.image.toString(), "--target-image-opts", "driver=null-co,size=" + RemoteOrigin.SIZE), HUNG,
                    hangs, completed);
            case "nbdkit" -> RemoteOrigin.runAgainIfHung(List.of("nbdkit", "-U", "-", "curl", "url=" + origin.image,
                    "--run", "nbdcopy \"$uri\" null:"), HUNG, hangs, completed);
            default -> {
                try (VirtualDisk disk = origin.open(opener, RemoteOrigin.settings(settings))) {
                    sum = RemoteOrigin.readSequentially(disk, 0, RemoteOrigin.SIZE,
                            (int) org.spindle.storage.api.ByteSize.parse(piece));
                }
            }
        }
        bytesRead.addAndGet(RemoteOrigin.SIZE);
        return sum;
    }
}
