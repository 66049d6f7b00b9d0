package org.spindle.benchmarks;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.SplittableRandom;
import java.util.concurrent.Callable;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

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
import org.spindle.device.ahci.AhciHba;
import org.spindle.device.ata.AtaDisk;
import org.spindle.device.ata.AtaIdentity;
import org.spindle.device.ata.IoMode;
import org.spindle.device.ata.SlotThread;
import org.spindle.machine.api.GuestMemory;
import org.spindle.machine.api.IoSpace;
import org.spindle.machine.api.PciAddress;
import org.spindle.machine.core.MachineConfig;
import org.spindle.machine.core.PcMachine;
import org.spindle.storage.api.OpenOptions;
import org.spindle.storage.api.VirtualDisk;
import org.spindle.storage.core.DiskOpener;
import org.spindle.storage.core.ServiceLoaderRegistry;

/**
 * Queued reads through the ICH9 AHCI HBA, the whole way a guest driver goes: the FPDMA QUEUED command
 * FISes (a new LBA written into each command table), PxSACT and PxCI written, the completion awaited
 * in PxSACT, PxIS and IS cleared; the data lands in guest RAM through each slot's PRDT. Every
 * operation is one command (throughput is commands per second): {@code random4kDepth1} issues one
 * at a time, {@code random4kDepth32} 32 at once (one PxCI write) and waits for all,
 * {@code sequential128k} one 128 KiB read at a time. Against them, in the same run,
 * {@code path=raw}: the same reads of the same page-cached raw image straight from its
 * {@code VirtualDisk} into a direct buffer. {@code path=inline} runs the data phases in the register
 * write; {@code path=workers} on the HBA's I/O threads, completions posted back to the machine thread;
 * {@code path=auto} (the default) starts on the I/O threads and runs inline once a window of quick data
 * phases has shown the storage quick, as it is here. With workers and auto the guest runs on the
 * machine thread, as a vCPU does: it writes the tables, issues, and reads PxSACT; while tags are
 * outstanding it reads again between the machine's other work (each poll goes to the back of the
 * machine thread's queue). An invocation is
 * {@link #RUN} batches of 32, or {@link #SINGLE_RUN} single commands, back to back, so the benchmark
 * thread's hand-off to the machine is not what is measured.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(value = 1, jvmArgsAppend = {"--sun-misc-unsafe-memory-access=allow"})
public class AhciNcqBenchmark {
    static final long SIZE = 1L << 30;
    static final int SMALL = 4096;
    static final int LARGE = 128 * 1024;
    static final int DEPTH = 32;
    /** Batches of 32 commands per benchmark invocation. */
    static final int RUN = 16;
    /** Single commands per benchmark invocation: as many as in {@link #RUN} batches of 32. */
    static final int SINGLE_RUN = RUN * DEPTH;
    private static final long ABAR = 0xE000_0000L;
    private static final long PORT = ABAR + 0x100;
    private static final long LIST = 0x10_0000;
    private static final long FIS = 0x10_0400;
    private static final long TABLES = 0x11_0000;
    private static final long BUFFERS = 0x100_0000;

    @Param({"raw", "auto", "inline", "workers"})
    public String path;

    private VirtualDisk disk;
    private PcMachine machine;
    private IoSpace mmio;
    private GuestMemory memory;
    private final ByteBuffer small = ByteBuffer.allocateDirect(SMALL);
    private final ByteBuffer large = ByteBuffer.allocateDirect(LARGE);
    private final SplittableRandom random = new SplittableRandom(42);
    private long cursor;
    /** The batches a workers run has still to issue, and how it ends (machine thread only). */
    private Run current;

    @Setup(Level.Trial)
    public void open() throws Exception {
        Path image = Images.pageCached(SIZE);
        DiskOpener opener = new DiskOpener(ServiceLoaderRegistry.load(getClass().getClassLoader()));
        disk = opener.open(image.toUri(), "raw", OpenOptions.defaults().withReadOnly(true)).disk();
        if (path.equals("raw")) {
            return;
        }
        machine = new PcMachine(MachineConfig.of("pc", 64L << 20));
        IoMode io = IoMode.parse(path);
        machine.plug(PciAddress.parse("00:02.0"), new AhciHba(1, io, 0, new SlotThread(),
                new AtaDisk(disk, AtaIdentity.disk("BENCH"), true)));
        mmio = machine.mmio();
        memory = machine.memory();
        guest(() -> {
            // What firmware and the driver do: ABAR placed, memory and bus mastering on, the port started.
            config(0x24, 4, ABAR);
            config(0x04, 2, 0x06);
            mmio.write(PORT, 4, LIST);
            mmio.write(PORT + 0x08, 4, FIS);
            mmio.write(PORT + 0x18, 4, 0x12); // FRE, SUD: the link comes up at once (no delay)
            mmio.write(PORT + 0x30, 4, -1);
            mmio.write(PORT + 0x18, 4, 0x13); // ST
            for (int slot = 0; slot < DEPTH; slot++) {
                long table = TABLES + 0x100L * slot;
                memory.writeInt(LIST + 32L * slot, 1 << 16 | 5); // one PRD, a 5-dword FIS
                memory.writeLong(LIST + 32L * slot + 8, table);
                memory.writeInt(table, 0x60 << 16 | 0x80 << 8 | 0x27); // READ FPDMA QUEUED
                memory.writeLong(table + 0x80, BUFFERS + (long) LARGE * slot);
            }
            return null;
        });
        check();
    }

    /**
     * Whether the guest runs on the machine thread. Only {@code inline} is sure to end every command
     * inside the register write; {@code auto} may move a port to workers (the first data phases, before
     * the JIT has compiled them, can look slow), so its guest waits as a vCPU would.
     */
    private boolean onMachine() {
        return !path.equals("inline");
    }

    private <T> T guest(Callable<T> work) throws Exception {
        return onMachine() ? machine.call(work) : work.call();
    }

    private void config(int offset, int size, long value) {
        machine.io().write(0xCF8, 4, 0x8000_0000L | 2 << 11 | offset & 0xFC);
        machine.io().write(0xCFC + (offset & 3), size, value);
    }

    /** One read of each size through the HBA must bring the image's bytes into guest RAM. */
    private void check() throws Exception {
        for (int bytes : new int[] {SMALL, LARGE}) {
            long offset = 12345L * SMALL;
            run(1, 1 << 3, i -> prepare(3, offset, bytes));
            ByteBuffer want = ByteBuffer.allocate(bytes);
            disk.read(offset, want);
            ByteBuffer got = ByteBuffer.allocate(bytes);
            memory.read(BUFFERS + (long) LARGE * 3, got);
            if (!want.flip().equals(got.flip())) {
                throw new IllegalStateException("the AHCI read of " + bytes + " bytes brought the wrong data");
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
    @OperationsPerInvocation(SINGLE_RUN)
    public int random4kDepth1() throws Exception {
        long[] offsets = randomOffsets(SINGLE_RUN);
        if (machine == null) {
            return rawReads(offsets, small);
        }
        return run(SINGLE_RUN, 1, i -> prepare(0, offsets[i], SMALL));
    }

    @Benchmark
    @OperationsPerInvocation(RUN * DEPTH)
    public int random4kDepth32() throws Exception {
        long[] offsets = randomOffsets(RUN * DEPTH);
        if (machine == null) {
            return rawReads(offsets, small);
        }
        return run(RUN, -1, i -> {
            for (int tag = 0; tag < DEPTH; tag++) {
                prepare(tag, offsets[i * DEPTH + tag], SMALL);
            }
        });
    }

    @Benchmark
    @OperationsPerInvocation(SINGLE_RUN)
    public int sequential128k() throws Exception {
        long[] offsets = new long[SINGLE_RUN];
        for (int i = 0; i < SINGLE_RUN; i++) {
            offsets[i] = cursor;
            cursor = (cursor + LARGE) % SIZE;
        }
        if (machine == null) {
            return rawReads(offsets, large);
        }
        return run(SINGLE_RUN, 1, i -> prepare(0, offsets[i], LARGE));
    }

    private long[] randomOffsets(int n) {
        long[] offsets = new long[n];
        for (int i = 0; i < n; i++) {
            offsets[i] = random.nextLong(SIZE / SMALL) * SMALL;
        }
        return offsets;
    }

    private int rawReads(long[] offsets, ByteBuffer buffer) throws IOException {
        int n = 0;
        for (long offset : offsets) {
            disk.read(offset, buffer.clear());
            n += buffer.position();
        }
        return n;
    }

    /** What a guest driver writes before it issues batch {@code i}: the command tables. */
    private interface Tables {
        void write(int i) throws Exception;
    }

    /**
     * {@code batches} batches in a row, each: the tables written, {@code tags} issued, their end awaited
     * and acknowledged. With workers and auto the guest runs on the machine thread, as a vCPU would, issuing
     * the next batch as soon as one ends (a guest with a steady stream of I/O).
     */
    private int run(int batches, int tags, Tables tables) throws Exception {
        if (!onMachine()) {
            int n = 0;
            for (int i = 0; i < batches; i++) {
                tables.write(i);
                n += issueAndWait(tags);
            }
            return n;
        }
        Run r = new Run(batches, tags, tables);
        machine.post(() -> {
            current = r;
            r.next();
        });
        return r.done.get(30, TimeUnit.SECONDS);
    }

    /** A run of batches on the machine thread, each issued when the one before has ended. */
    private final class Run {
        final int batches;
        final int tags;
        final Tables tables;
        final CompletableFuture<Integer> done = new CompletableFuture<>();
        int issued;

        Run(int batches, int tags, Tables tables) {
            this.batches = batches;
            this.tags = tags;
            this.tables = tables;
        }

        /**
         * Issues batches while each has ended by the time the guest first reads PxSACT (data moved
         * inline); once one has not, the guest polls between the machine's other work.
         */
        void next() {
            try {
                while (true) {
                    tables.write(issued++);
                    issue(tags);
                    if ((mmio.read(PORT + 0x34, 4) & tags) != 0) {
                        machine.post(AhciNcqBenchmark.this::poll);
                        return;
                    }
                    int is = complete();
                    if (issued >= batches) {
                        current = null;
                        done.complete(is);
                        return;
                    }
                }
            } catch (Exception e) {
                fail(e);
            }
        }

        void fail(Exception e) {
            current = null;
            done.completeExceptionally(e);
        }
    }

    /**
     * The guest's wait on the machine thread: it reads PxSACT, and while the batch's tags are not all
     * clear it reads again after whatever else the machine thread has queued (the workers'
     * completions among it); then it acknowledges PxIS and issues the next batch, or ends the run.
     */
    private void poll() {
        Run r = current;
        try {
            if ((mmio.read(PORT + 0x34, 4) & r.tags) != 0) {
                machine.post(this::poll);
                return;
            }
            int is = complete();
            if (r.issued < r.batches) {
                r.next();
            } else {
                current = null;
                r.done.complete(is);
            }
        } catch (RuntimeException e) {
            r.fail(e);
        }
    }

    /** Tag {@code tag}'s FIS and PRD for {@code bytes} at {@code offset}. */
    private void prepare(int tag, long offset, int bytes) throws Exception {
        long table = TABLES + 0x100L * tag;
        long lba = offset / 512;
        int sectors = bytes / 512;
        memory.writeInt(table, 0x60 << 16 | 0x80 << 8 | 0x27 | sectors << 24); // features 7:0 = count
        memory.writeInt(table + 4, (int) (lba & 0xFF_FFFF) | 0x40 << 24);
        memory.writeInt(table + 8, (int) (lba >>> 24 & 0xFF_FFFF) | (sectors >>> 8) << 24);
        memory.writeInt(table + 12, tag << 3);
        memory.writeInt(table + 0x8C, bytes - 1);
    }

    private void issue(int tags) {
        mmio.write(PORT + 0x34, 4, tags & 0xFFFF_FFFFL);
        mmio.write(PORT + 0x38, 4, tags & 0xFFFF_FFFFL);
    }

    /** SACT and CI for {@code tags}, then the wait in PxSACT: inline, the reads are done by then. */
    private int issueAndWait(int tags) {
        issue(tags);
        if ((mmio.read(PORT + 0x34, 4) & tags) != 0) {
            throw new IllegalStateException("tags outstanding after an inline issue: "
                    + Long.toHexString(mmio.read(PORT + 0x34, 4)));
        }
        return complete();
    }

    private int complete() {
        long is = mmio.read(PORT + 0x10, 4);
        if ((is & 0x7D80_0000L) != 0) {
            throw new IllegalStateException("port IS " + Long.toHexString(is));
        }
        mmio.write(PORT + 0x10, 4, is);
        return (int) is;
    }
}
