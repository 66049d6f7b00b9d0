package org.spindle.benchmarks;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
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
import org.openjdk.jmh.annotations.Warmup;
import org.spindle.backend.file.FileBackend;
import org.spindle.storage.api.AccessMode;
import org.spindle.storage.api.OpenOptions;
import org.spindle.storage.api.StorageBackend;
import org.spindle.storage.api.StorageException;
import org.spindle.storage.api.VirtualDisk;
import org.spindle.storage.core.DiskOpener;
import org.spindle.storage.core.ServiceLoaderRegistry;

/**
 * Reads of a page-cached 1 GiB raw image: through Spindle (raw format over the file backend, as a
 * controller reads a drive) and, in the same run, through a plain {@link FileChannel} on the same file
 * (one pread per read) and a plain memory mapping of it (one copy per read). {@code path=spindle}
 * against {@code path=mapping} is the cost of the storage layers; {@code backend} against
 * {@code backend-pread} what the file backend's mapped reads save.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(value = 1, jvmArgsAppend = {"--sun-misc-unsafe-memory-access=allow"})
public class RawFileReadBenchmark {
    static final long SIZE = 1L << 30;
    static final int SMALL = 4096;
    static final int LARGE = 1 << 20;

    /**
     * filechannel and mapping: the baselines; backend: Spindle's file backend alone (mapped reads);
     * backend-pread: the same with mapped reads off; spindle: raw format over the backend.
     */
    @Param({"filechannel", "mapping", "backend", "backend-pread", "spindle"})
    public String path;

    private FileChannel channel;
    private Arena arena;
    private MemorySegment mapping;
    private StorageBackend backend;
    private VirtualDisk disk;
    private final ByteBuffer small = ByteBuffer.allocateDirect(SMALL);
    private final ByteBuffer large = ByteBuffer.allocateDirect(LARGE);
    private final SplittableRandom random = new SplittableRandom(42);
    private long cursor;

    @Setup(Level.Trial)
    public void open() throws IOException {
        Path image = Images.pageCached(SIZE);
        if (path.equals("filechannel") || path.equals("mapping")) {
            channel = FileChannel.open(image, StandardOpenOption.READ);
            if (path.equals("mapping")) {
                arena = Arena.ofShared();
                mapping = channel.map(FileChannel.MapMode.READ_ONLY, 0, SIZE, arena);
            }
        } else if (path.startsWith("backend")) {
            backend = FileBackend.open(image, AccessMode.READ_ONLY, path.equals("backend"));
        } else {
            DiskOpener opener = new DiskOpener(ServiceLoaderRegistry.load(getClass().getClassLoader()));
            disk = opener.open(image.toUri(), "raw", OpenOptions.defaults().withReadOnly(true)).disk();
        }
    }

    @TearDown(Level.Trial)
    public void close() throws IOException {
        if (arena != null) {
            arena.close();
        }
        if (channel != null) {
            channel.close();
        }
        if (disk != null) {
            disk.close();
        }
        if (backend != null) {
            backend.close();
        }
    }

    @Benchmark
    public ByteBuffer random4k() throws IOException {
        long offset = random.nextLong(SIZE / SMALL) * SMALL;
        return read(offset, small.clear());
    }

    @Benchmark
    public ByteBuffer sequential1m() throws IOException {
        long offset = cursor;
        cursor = (cursor + LARGE) % SIZE;
        return read(offset, large.clear());
    }

    private ByteBuffer read(long offset, ByteBuffer dst) throws IOException {
        if (disk != null) {
            disk.read(offset, dst);
            return dst;
        }
        if (backend != null) {
            backend.read(offset, dst);
            return dst;
        }
        if (mapping != null) {
            MemorySegment.copy(mapping, offset, MemorySegment.ofBuffer(dst), 0, dst.remaining());
            return dst.position(dst.limit());
        }
        long position = offset;
        while (dst.hasRemaining()) {
            int n = channel.read(dst, position);
            if (n < 0) {
                throw new StorageException(StorageException.Kind.OUT_OF_BOUNDS, "end of file");
            }
            position += n;
        }
        return dst;
    }
}
