package org.spindle.benchmarks;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

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
import org.spindle.storage.api.OpenOptions;
import org.spindle.storage.api.VirtualDisk;
import org.spindle.storage.core.DiskOpener;
import org.spindle.storage.core.ServiceLoaderRegistry;

/**
 * Reads of a fully allocated 1 GiB qcow2 image (64 KiB clusters, made by {@code qemu-img convert} from
 * random data, in the page cache): 4 KiB requests scattered over the whole image and 64 KiB sequential
 * requests, at queue depth 1 and 16, by Spindle and by {@code qemu-img bench} on the same image in the
 * same run (the baseline: {@code -c COUNT -d DEPTH -s SIZE -S STEP -t writeback -i threads}).
 *
 * <p>Both walk the same offsets: request {@code k} reads at {@code k * STEP mod 1 GiB}. For the scattered
 * pattern STEP is 4 KiB times an odd prime, so one pass touches every 4 KiB block of the image once, in
 * an order without locality ({@code qemu-img bench} has no random mode; this is its nearest). For the
 * sequential pattern STEP is the request size. Spindle's queue depth is that many threads taking the
 * next offset from a shared counter; {@code qemu-img bench}'s is its AIO depth over its thread pool.
 *
 * <p>One operation is one request, so scores are requests per second. A {@code qemu-img} invocation is
 * a whole process, so its score includes the process start (a few milliseconds of runs of at least
 * half a second).
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Warmup(iterations = 2, time = 5)
@Measurement(iterations = 3, time = 10)
@Fork(value = 1, jvmArgsAppend = {"--sun-misc-unsafe-memory-access=allow", "--enable-native-access=ALL-UNNAMED"})
public class Qcow2ReadBenchmark {
    static final long SIZE = 1L << 30;
    /** Requests per benchmark invocation: one pass over the image for 4 KiB, four for 64 KiB. */
    static final int REQUESTS = 1 << 16;

    @Param({"qemu-img", "spindle"})
    public String path;

    @Param({"rand4k", "seq64k"})
    public String pattern;

    @Param({"1", "16"})
    public int depth;

    private Path image;
    private VirtualDisk disk;
    private ExecutorService pool;
    private int size;
    private long step;

    @Setup(Level.Trial)
    public void prepare() throws Exception {
        Path raw = Images.pageCached(SIZE);
        image = raw.resolveSibling("spindle-bench-1024m.qcow2");
        if (!Files.exists(image)) {
            Path partial = raw.resolveSibling("spindle-bench-1024m.qcow2.partial");
            Files.deleteIfExists(partial);
            run("qemu-img", "convert", "-f", "raw", "-O", "qcow2", "-o", "cluster_size=64k", raw.toString(),
                    partial.toString());
            Files.move(partial, image);
        }
        Images.readThrough(image);
        size = pattern.equals("rand4k") ? 4096 : 65536;
        step = pattern.equals("rand4k") ? 4096L * 104_729 : size;
        if (path.equals("spindle")) {
            DiskOpener opener = new DiskOpener(ServiceLoaderRegistry.load(getClass().getClassLoader()));
            disk = opener.open(image.toUri(), "qcow2", OpenOptions.defaults().withReadOnly(true)).disk();
            pool = Executors.newFixedThreadPool(depth);
        }
    }

    @TearDown(Level.Trial)
    public void close() throws Exception {
        if (disk != null) {
            disk.close();
        }
        if (pool != null) {
            pool.shutdownNow();
        }
    }

    @Benchmark
    @org.openjdk.jmh.annotations.OperationsPerInvocation(REQUESTS)
    public long read() throws Exception {
        if (path.equals("qemu-img")) {
            run("qemu-img", "bench", "-q", "-c", Integer.toString(REQUESTS), "-d", Integer.toString(depth),
                    "-s", Integer.toString(size), "-S", Long.toString(step), "-t", "writeback", "-i", "threads",
                    "-f", "qcow2", image.toString());
            return REQUESTS;
        }
        AtomicLong next = new AtomicLong();
        List<Future<Long>> workers = new ArrayList<>(depth);
        for (int t = 0; t < depth; t++) {
            workers.add(pool.submit(() -> {
                ByteBuffer buffer = ByteBuffer.allocateDirect(size);
                long sum = 0;
                for (long k; (k = next.getAndIncrement()) < REQUESTS; ) {
                    disk.read((k * step) % SIZE, buffer.clear());
                    sum += buffer.get(0);
                }
                return sum;
            }));
        }
        long sum = 0;
        for (Future<Long> w : workers) {
            sum += w.get();
        }
        return sum;
    }

    private static void run(String... command) throws IOException, InterruptedException {
        Process p = new ProcessBuilder(command).redirectErrorStream(true).redirectOutput(ProcessBuilder.Redirect.DISCARD)
                .start();
        if (p.waitFor() != 0) {
            throw new IOException(String.join(" ", command) + " failed with exit code " + p.exitValue());
        }
    }
}
