package org.spindle.benchmarks;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.SplittableRandom;
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
import org.openjdk.jmh.annotations.Threads;
import org.openjdk.jmh.annotations.Warmup;
import org.spindle.storage.api.CacheMode;
import org.spindle.storage.api.OpenOptions;
import org.spindle.storage.api.VirtualDisk;
import org.spindle.storage.core.CachedDisk;
import org.spindle.storage.core.DiskOpener;
import org.spindle.storage.core.ServiceLoaderRegistry;

/**
 * The block cache's hit path on one thread: random 4 KiB reads of a region held wholly in the cache
 * (64 KiB blocks), against a plain {@link FileChannel} reading the same page-cached region in the same
 * run (the baseline). A 4 MiB region stays in the processor's caches, so it measures the cache's own
 * cost (the target is at least 2 million reads a second); a 64 MiB region adds main-memory bandwidth,
 * which bounds any copy of 4 KiB from a random place.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Threads(1)
@Fork(value = 1, jvmArgsAppend = {"--sun-misc-unsafe-memory-access=allow"})
public class CacheHitBenchmark {
    static final int SMALL = 4096;

    @Param({"filechannel", "cache"})
    public String path;

    /** The hot region in MiB. */
    @Param({"4", "64"})
    public int regionMiB;

    private long region;

    private FileChannel channel;
    private VirtualDisk disk;
    private final ByteBuffer small = ByteBuffer.allocateDirect(SMALL);
    private final SplittableRandom random = new SplittableRandom(42);

    @Setup(Level.Trial)
    public void open() throws IOException {
        region = (long) regionMiB << 20;
        Path image = Images.pageCached(RawFileReadBenchmark.SIZE);
        if (path.equals("filechannel")) {
            channel = FileChannel.open(image, StandardOpenOption.READ);
            return;
        }
        DiskOpener opener = new DiskOpener(ServiceLoaderRegistry.load(getClass().getClassLoader()));
        VirtualDisk raw = opener.open(image.toUri(), "raw", OpenOptions.defaults().withReadOnly(true)).disk();
        disk = new CachedDisk(raw, CacheMode.WRITEBACK, 2 * region, 64 * 1024);
        ByteBuffer warm = ByteBuffer.allocateDirect(1 << 20);
        for (long at = 0; at < region; at += warm.capacity()) {
            disk.read(at, warm.clear());
        }
    }

    @TearDown(Level.Trial)
    public void close() throws IOException {
        if (channel != null) {
            channel.close();
        }
        if (disk != null) {
            disk.close();
        }
    }

    @Benchmark
    public ByteBuffer random4kHit() throws IOException {
        long offset = random.nextLong(region / SMALL) * SMALL;
        ByteBuffer dst = small.clear();
        if (disk != null) {
            disk.read(offset, dst);
        } else {
            while (dst.hasRemaining()) {
                channel.read(dst, offset + dst.position());
            }
        }
        return dst;
    }
}
