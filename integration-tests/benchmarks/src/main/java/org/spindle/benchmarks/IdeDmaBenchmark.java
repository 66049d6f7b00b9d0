package org.spindle.benchmarks;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.SplittableRandom;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.LongSupplier;

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
import org.spindle.device.ata.AtaDisk;
import org.spindle.device.ata.AtaIdentity;
import org.spindle.device.ata.IoMode;
import org.spindle.device.ata.SlotThread;
import org.spindle.device.ide.Piix3Ide;
import org.spindle.machine.api.IoSpace;
import org.spindle.machine.api.PciAddress;
import org.spindle.machine.core.MachineConfig;
import org.spindle.machine.core.PcMachine;
import org.spindle.storage.api.OpenOptions;
import org.spindle.storage.api.VirtualDisk;
import org.spindle.storage.core.DiskOpener;
import org.spindle.storage.core.ServiceLoaderRegistry;

/**
 * Bus-master DMA reads through the PIIX3 IDE controller, the whole way a guest driver goes: the PRD
 * table pointer, the task file, the start bit, the interrupt seen in the bus-master status, the stop,
 * the interrupt cleared and the status read that acknowledges it; the data lands in guest RAM through
 * the PRD table (64 KiB entries). Against it, in the same run, {@code path=raw}: the same reads of the
 * same page-cached raw image straight from its {@code VirtualDisk} into a direct buffer, which is
 * what the controller's path costs on top of.
 *
 * <p>{@code path=ide} makes its register accesses straight from the benchmark thread, the controller
 * running storage work inline. {@code path=inline}, {@code workers} and {@code auto} (the controller's
 * {@code io} setting) run the guest on the machine thread, as a vCPU would: it programs the command and
 * starts the bus master, reads the bus master's status, and while the transfer is still moving reads it
 * again after whatever else the machine thread has queued (the I/O thread's completion among it); then
 * it stops the bus master, acknowledges and goes on with the next read. Each invocation is a run of
 * {@link #RUN} reads, so the hand-over of the run itself to the machine thread weighs little.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(value = 1, jvmArgsAppend = {"--sun-misc-unsafe-memory-access=allow"})
public class IdeDmaBenchmark {
    static final long SIZE = 1L << 30;
    static final int SMALL = 4096;
    static final int LARGE = 128 * 1024;
    private static final int BASE = 0x1F0;
    private static final int BM = 0xC000;
    private static final long PRD = 0x10_0000;
    private static final long BUFFER = 0x20_0000;
    private static final int READ_DMA = 0xC8;

    /** Reads per invocation. */
    static final int RUN = 64;

    /**
     * raw: the baseline, the disk read alone; ide: the guest's DMA read through the controller;
     * inline, workers and auto: the guest on the machine thread, the controller's io setting so.
     */
    @Param({"raw", "ide", "inline", "workers", "auto"})
    public String path;

    private VirtualDisk disk;
    private PcMachine machine;
    private IoSpace io;
    private final ByteBuffer small = ByteBuffer.allocateDirect(SMALL);
    private final ByteBuffer large = ByteBuffer.allocateDirect(LARGE);
    private final SplittableRandom random = new SplittableRandom(42);
    private long cursor;

    @Setup(Level.Trial)
    public void open() throws Exception {
        Path image = Images.pageCached(SIZE);
        DiskOpener opener = new DiskOpener(ServiceLoaderRegistry.load(getClass().getClassLoader()));
        disk = opener.open(image.toUri(), "raw", OpenOptions.defaults().withReadOnly(true)).disk();
        if (!path.equals("raw")) {
            machine = new PcMachine(MachineConfig.of("pc", 64L << 20));
            IoMode mode = path.equals("ide") ? IoMode.INLINE : IoMode.parse(path);
            machine.plug(PciAddress.parse("00:01.1"), new Piix3Ide(Piix3Ide.Mode.COMPATIBILITY, mode, new SlotThread(),
                    new AtaDisk(disk, AtaIdentity.disk("BENCH")), null, null, null));
            io = machine.io();
            // What firmware does: BAR4 placed, I/O and bus mastering on.
            machine.call(() -> {
                config(0x20, 4, BM);
                config(0x04, 2, 0x05);
                return null;
            });
            check();
        }
    }

    private void config(int offset, int size, long value) {
        io.write(0xCF8, 4, 0x8000_0000L | 1 << 11 | 1 << 8 | offset & 0xFC);
        io.write(0xCFC + (offset & 3), size, value);
    }

    /** One read of each size through the controller must bring the image's bytes into guest RAM. */
    private void check() throws Exception {
        for (int bytes : new int[] {SMALL, LARGE}) {
            long offset = 12345L * SMALL;
            ideRead(offset, bytes);
            ByteBuffer want = ByteBuffer.allocate(bytes);
            disk.read(offset, want);
            ByteBuffer got = ByteBuffer.allocate(bytes);
            machine.memory().read(BUFFER, got);
            if (!want.flip().equals(got.flip())) {
                throw new IllegalStateException("the IDE DMA read of " + bytes + " bytes brought the wrong data");
            }
        }
    }

    @TearDown(Level.Trial)
    public void close() throws IOException {
        if (machine != null) {
            machine.close();
        }
        disk.close();
    }

    @Benchmark
    @OperationsPerInvocation(RUN)
    public int random4k() throws Exception {
        return run(small, () -> random.nextLong(SIZE / SMALL) * SMALL);
    }

    @Benchmark
    @OperationsPerInvocation(RUN)
    public int sequential128k() throws Exception {
        return run(large, () -> {
            long offset = cursor;
            cursor = (cursor + LARGE) % SIZE;
            return offset;
        });
    }

    /** {@link #RUN} reads of {@code buffer}'s capacity at the offsets given. */
    private int run(ByteBuffer buffer, LongSupplier offsets) throws Exception {
        int n = 0;
        if (machine == null) {
            for (int i = 0; i < RUN; i++) {
                disk.read(offsets.getAsLong(), buffer.clear());
                n += buffer.position();
            }
            return n;
        }
        if (path.equals("ide")) {
            for (int i = 0; i < RUN; i++) {
                n += ideRead(offsets.getAsLong(), buffer.capacity());
            }
            return n;
        }
        GuestRun r = new GuestRun(buffer.capacity(), offsets);
        machine.post(r::next);
        return r.done.get(30, TimeUnit.SECONDS);
    }

    /** A run of reads by a guest on the machine thread, each started when the one before has ended. */
    private final class GuestRun {
        final int bytes;
        final LongSupplier offsets;
        final CompletableFuture<Integer> done = new CompletableFuture<>();
        int left = RUN;
        int statuses;

        GuestRun(int bytes, LongSupplier offsets) {
            this.bytes = bytes;
            this.offsets = offsets;
        }

        /** Starts reads while each has ended by the time the guest first reads the status (data moved inline). */
        void next() {
            try {
                while (left > 0) {
                    start(offsets.getAsLong(), bytes);
                    if (!ended()) {
                        machine.post(this::poll);
                        return;
                    }
                }
                done.complete(statuses);
            } catch (Exception | Error e) {
                done.completeExceptionally(e);
            }
        }

        /** The guest's wait: the status read again after what else the machine thread had queued. */
        void poll() {
            try {
                if (!ended()) {
                    machine.post(this::poll);
                    return;
                }
                next();
            } catch (RuntimeException | Error e) {
                done.completeExceptionally(e);
            }
        }

        /** Whether the read in progress has ended; if so, it is acknowledged and counted. */
        private boolean ended() {
            long bmStatus = io.read(BM + 2, 1);
            if ((bmStatus & 0x05) == 0x01) {
                return false; // active, no interrupt yet: the data is moving
            }
            statuses += finish(bmStatus);
            left--;
            return true;
        }
    }

    /** A guest driver's READ DMA of {@code bytes} at {@code offset}, from this thread: returns the final status. */
    private int ideRead(long offset, int bytes) throws Exception {
        if (path.equals("ide")) {
            start(offset, bytes);
            return finish(io.read(BM + 2, 1));
        }
        machine.call(() -> {
            start(offset, bytes);
            return null;
        });
        long bmStatus;
        while (((bmStatus = machine.call(() -> io.read(BM + 2, 1))) & 0x05) == 0x01) {
            Thread.onSpinWait(); // active, no interrupt yet: the data is moving
        }
        long seen = bmStatus;
        return machine.call(() -> finish(seen));
    }

    /** The PRD table, the task file, READ DMA and the bus master's start. */
    private void start(long offset, int bytes) throws Exception {
        // The PRD table: 64 KiB entries over one contiguous buffer, the last with end-of-table.
        int entries = Math.max(1, bytes / 65536);
        for (int i = 0; i < entries; i++) {
            int count = Math.min(bytes - i * 65536, 65536);
            long eot = i == entries - 1 ? 1L << 63 : 0;
            machine.memory().writeLong(PRD + 8L * i, BUFFER + 65536L * i | (long) (count & 0xFFFF) << 32 | eot);
        }
        long lba = offset / 512;
        io.write(BM + 4, 4, PRD);
        io.write(BASE + 6, 1, 0xE0 | lba >>> 24 & 0x0F);
        io.write(BASE + 2, 1, bytes / 512 & 0xFF);
        io.write(BASE + 3, 1, lba & 0xFF);
        io.write(BASE + 4, 1, lba >>> 8 & 0xFF);
        io.write(BASE + 5, 1, lba >>> 16 & 0xFF);
        io.write(BASE + 7, 1, READ_DMA);
        io.write(BM, 1, 0x09); // start, toward memory
    }

    /** After the interrupt: the bus master stopped, its interrupt cleared, the status read that acknowledges. */
    private int finish(long bmStatus) {
        if ((bmStatus & 0x06) != 0x04) {
            throw new IllegalStateException("bus master status " + Long.toHexString(bmStatus) + " after a DMA read");
        }
        io.write(BM, 1, 0x00);
        io.write(BM + 2, 1, 0x04);
        return (int) io.read(BASE + 7, 1);
    }
}
