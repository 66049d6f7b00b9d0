package org.spindle.benchmarks;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
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
 * {@code img convert} of a 1 GiB raw image that is half allocated (every other MiB holds random data,
 * the rest are holes), to raw and to sparse, against {@code cp --sparse=always} of the same file in
 * the same run (the baseline). One operation copies the whole GiB, so the score in ops/s times 1024 is
 * MB/s (MiB/s).
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Warmup(iterations = 1, time = 5)
@Measurement(iterations = 3, time = 10)
@Fork(value = 1, jvmArgsAppend = {"--sun-misc-unsafe-memory-access=allow"})
public class ConvertBenchmark {
    static final long SIZE = 1L << 30;

    @Param({"cp", "convert-raw", "convert-sparse"})
    public String path;

    private Path source;
    private Path target;
    private DiskOpener opener;

    @Setup(Level.Trial)
    public void prepare() throws IOException {
        Path dir = Path.of(System.getProperty("spindle.bench.dir", System.getProperty("java.io.tmpdir")));
        source = dir.resolve("spindle-bench-half-1024m.img");
        if (!Files.exists(source) || Files.size(source) != SIZE) {
            Path partial = dir.resolve("spindle-bench-half-1024m.img.partial");
            try (FileChannel out = FileChannel.open(partial, StandardOpenOption.CREATE, StandardOpenOption.WRITE,
                    StandardOpenOption.TRUNCATE_EXISTING)) {
                ByteBuffer chunk = ByteBuffer.allocateDirect(1 << 20);
                SplittableRandom random = new SplittableRandom(3);
                for (long at = 0; at < SIZE; at += 2L << 20) {
                    chunk.clear();
                    while (chunk.hasRemaining()) {
                        chunk.putLong(random.nextLong());
                    }
                    out.write(chunk.flip(), at);
                }
                out.truncate(SIZE);
                if (out.size() < SIZE) {
                    out.write(ByteBuffer.allocate(1), SIZE - 1);
                }
            }
            Files.move(partial, source, java.nio.file.StandardCopyOption.REPLACE_EXISTING);
        }
        Images.readThrough(source);
        target = dir.resolve("spindle-bench-convert.out");
        opener = new DiskOpener(ServiceLoaderRegistry.load(getClass().getClassLoader()));
    }

    @TearDown(Level.Invocation)
    public void removeTarget() throws IOException {
        Files.deleteIfExists(target);
    }

    @Benchmark
    public void convert() throws Exception {
        if (path.equals("cp")) {
            Process cp = new ProcessBuilder("cp", "--sparse=always", source.toString(), target.toString())
                    .inheritIO().start();
            if (cp.waitFor() != 0) {
                throw new IOException("cp failed");
            }
            return;
        }
        String format = path.substring("convert-".length());
        try (VirtualDisk src = opener.open(source.toUri(), "raw", OpenOptions.defaults().withReadOnly(true)).disk();
                VirtualDisk dst = opener.create(target.toUri(), format, CreateOptions.ofCapacity(SIZE)
                        .withParameters(format.equals("sparse") ? Map.of("block_size", "1M") : Map.of())).disk()) {
            ImageOps.copy(src, dst, Progress.NONE);
        }
    }
}
