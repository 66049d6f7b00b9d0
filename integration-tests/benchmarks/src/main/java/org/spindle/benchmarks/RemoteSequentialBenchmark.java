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
 * plugin to {@code null:} ({@code path=nbdkit}). One operation is one MiB, so scores are MiB/s. Each
 * invocation opens the image anew (Spindle) or starts the tool (the peers), and that is timed too.
 * What the readers cost on the network (requests and bytes per byte read) is printed per trial from
 * nginx's access log.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
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

    private RemoteOrigin origin;
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
        origin.close();
    }

    @Benchmark
    @OperationsPerInvocation(1024)
    public long read() throws Exception {
        long sum = 0;
        switch (path) {
            case "qemu" -> RemoteOrigin.run(List.of("qemu-img", "convert", "-f", "raw", "-n", origin.image.toString(),
                    "--target-image-opts", "driver=null-co,size=" + RemoteOrigin.SIZE));
            case "nbdkit" -> RemoteOrigin.run(List.of("nbdkit", "-U", "-", "curl", "url=" + origin.image,
                    "--run", "nbdcopy \"$uri\" null:"));
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
