package org.spindle.benchmarks;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
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
import org.openjdk.jmh.annotations.Warmup;
import org.spindle.storage.api.CreateOptions;
import org.spindle.storage.api.OpenOptions;
import org.spindle.storage.api.VirtualDisk;
import org.spindle.storage.core.DiskOpener;
import org.spindle.storage.core.ImageOps;
import org.spindle.storage.core.Progress;
import org.spindle.storage.core.ServiceLoaderRegistry;

/**
 * The sparse format against raw on the same data, in the same run: a fully allocated 1 GiB sparse
 * image (1 MiB blocks) made from the page-cached raw benchmark image. {@code path=raw} is the baseline.
 * Writes land inside allocated blocks (no allocation, no flush), so they measure the mapping.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(value = 1, jvmArgsAppend = {"--sun-misc-unsafe-memory-access=allow"})
public class SparseBenchmark {
    static final long SIZE = 1L << 30;
    static final int SMALL = 4096;
    static final int LARGE = 1 << 20;

    @Param({"raw", "sparse"})
    public String path;

    private VirtualDisk disk;
    private final ByteBuffer small = ByteBuffer.allocateDirect(SMALL);
    private final ByteBuffer large = ByteBuffer.allocateDirect(LARGE);
    private final ByteBuffer data = ByteBuffer.allocateDirect(SMALL);
    private final SplittableRandom random = new SplittableRandom(42);
    private long cursor;

    @Setup(Level.Trial)
    public void open() throws IOException {
        DiskOpener opener = new DiskOpener(ServiceLoaderRegistry.load(getClass().getClassLoader()));
        Path raw = Images.pageCached(SIZE);
        Path image = raw;
        if (path.equals("sparse")) {
            image = raw.resolveSibling("spindle-bench-1024m.sparse");
            if (!Files.exists(image)) {
                Path partial = raw.resolveSibling("spindle-bench-1024m.sparse.partial");
                Files.deleteIfExists(partial);
                try (VirtualDisk src = opener.open(raw.toUri(), "raw", OpenOptions.defaults().withReadOnly(true)).disk();
                        VirtualDisk dst = opener.create(partial.toUri(), "sparse", CreateOptions.ofCapacity(SIZE)
                                .withParameters(Map.of("block_size", "1M"))).disk()) {
                    ImageOps.copy(src, dst, Progress.NONE);
                }
                Files.move(partial, image);
            }
            Images.readThrough(image);
        }
        disk = opener.open(image.toUri(), path, OpenOptions.defaults()).disk();
        for (int i = 0; i < SMALL; i++) {
            data.put(i, (byte) i);
        }
    }

    @TearDown(Level.Trial)
    public void close() throws IOException {
        disk.close();
    }

    @Benchmark
    public ByteBuffer random4kRead() throws IOException {
        ByteBuffer dst = small.clear();
        disk.read(random.nextLong(SIZE / SMALL) * SMALL, dst);
        return dst;
    }

    @Benchmark
    public void random4kWrite() throws IOException {
        disk.write(random.nextLong(SIZE / SMALL) * SMALL, data.clear());
    }

    @Benchmark
    public ByteBuffer sequential1mRead() throws IOException {
        long offset = cursor;
        cursor = (cursor + LARGE) % SIZE;
        ByteBuffer dst = large.clear();
        disk.read(offset, dst);
        return dst;
    }
}
