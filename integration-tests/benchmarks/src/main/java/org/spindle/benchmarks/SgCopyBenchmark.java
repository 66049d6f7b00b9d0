package org.spindle.benchmarks;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
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
import org.spindle.machine.api.DmaMapping;
import org.spindle.machine.api.SgEntry;
import org.spindle.machine.api.SgList;
import org.spindle.machine.core.GuestRam;
import org.spindle.machine.core.MappedSpace;
import org.spindle.machine.core.PhysicalMemory;
import org.spindle.storage.api.OpenOptions;
import org.spindle.storage.api.StorageException;
import org.spindle.storage.api.VirtualDisk;
import org.spindle.storage.core.DiskOpener;
import org.spindle.storage.core.ServiceLoaderRegistry;

/**
 * A controller's DMA of a 128 KiB read: from a page-cached raw image through a {@code VirtualDisk}
 * into guest RAM through a scatter-gather list mapped by {@code GuestMemory.map} (the mapping made
 * per request, as a controller makes it), beside a plain {@link FileChannel} read of 128 KiB into a
 * direct buffer ({@code path=filechannel}, the baseline) in the same run. Two lists: one entry of
 * 128 KiB, and 32 scattered 4 KiB pages (an OS's page cache). The target: within 1.2 times
 * the baseline, that is a ratio of at least 0.83.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(value = 1, jvmArgsAppend = {"--sun-misc-unsafe-memory-access=allow"})
public class SgCopyBenchmark {
    static final long SIZE = 1L << 30;
    static final int TRANSFER = 128 << 10;

    @Param({"filechannel", "spindle"})
    public String path;

    @Param({"1x128k", "32x4k"})
    public String sg;

    private FileChannel channel;
    private VirtualDisk disk;
    private GuestRam ram;
    private PhysicalMemory memory;
    private SgList list;
    private final ByteBuffer direct = ByteBuffer.allocateDirect(TRANSFER);
    private final SplittableRandom random = new SplittableRandom(42);

    @Setup(Level.Trial)
    public void open() throws IOException {
        Path image = Images.pageCached(SIZE);
        if (path.equals("filechannel")) {
            channel = FileChannel.open(image, StandardOpenOption.READ);
            return;
        }
        DiskOpener opener = new DiskOpener(ServiceLoaderRegistry.load(getClass().getClassLoader()));
        disk = opener.open(image.toUri(), "raw", OpenOptions.defaults().withReadOnly(true)).disk();
        ram = new GuestRam(256L << 20, 0xE000_0000L);
        memory = new PhysicalMemory(ram, new MappedSpace("MMIO", PhysicalMemory.ADDRESS_LIMIT));
        List<SgEntry> entries = new ArrayList<>();
        if (sg.equals("1x128k")) {
            entries.add(new SgEntry(16L << 20, TRANSFER));
        } else {
            SplittableRandom pages = new SplittableRandom(7);
            for (int i = 0; i < TRANSFER / 4096; i++) {
                entries.add(new SgEntry((16L << 20) + pages.nextLong(60_000) * 4096, 4096));
            }
        }
        list = SgList.of(entries);
        // commit the guest pages once, as a running guest's are
        DmaMapping warm = memory.map(list);
        for (ByteBuffer b : warm.buffers()) {
            b.put(0, (byte) 1);
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
        if (ram != null) {
            ram.close();
        }
    }

    @Benchmark
    public long read128k() throws IOException {
        long offset = random.nextLong(SIZE / TRANSFER) * TRANSFER;
        if (channel != null) {
            ByteBuffer dst = direct.clear();
            long position = offset;
            while (dst.hasRemaining()) {
                int n = channel.read(dst, position);
                if (n < 0) {
                    throw new StorageException(StorageException.Kind.OUT_OF_BOUNDS, "end of file");
                }
                position += n;
            }
            return position;
        }
        DmaMapping mapping = memory.map(list);
        long position = offset;
        for (ByteBuffer b : mapping.buffers()) {
            int n = b.remaining();
            disk.read(position, b);
            position += n;
        }
        return position;
    }
}
