package org.spindle.benchmarks;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.SplittableRandom;
import java.util.concurrent.Callable;
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
 * write; {@code path=workers} on virtual threads, completions posted back to the machine thread (the
 * guest side then runs on the machine thread too, one hand-off per register access batch).
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
    private static final long ABAR = 0xE000_0000L;
    private static final long PORT = ABAR + 0x100;
    private static final long LIST = 0x10_0000;
    private static final long FIS = 0x10_0400;
    private static final long TABLES = 0x11_0000;
    private static final long BUFFERS = 0x100_0000;

    @Param({"raw", "inline", "workers"})
    public String path;

    private VirtualDisk disk;
    private PcMachine machine;
    private IoSpace mmio;
    private GuestMemory memory;
    private final ByteBuffer small = ByteBuffer.allocateDirect(SMALL);
    private final ByteBuffer large = ByteBuffer.allocateDirect(LARGE);
    private final SplittableRandom random = new SplittableRandom(42);
    private long cursor;

    @Setup(Level.Trial)
    public void open() throws Exception {
        Path image = Images.pageCached(SIZE);
        DiskOpener opener = new DiskOpener(ServiceLoaderRegistry.load(getClass().getClassLoader()));
        disk = opener.open(image.toUri(), "raw", OpenOptions.defaults().withReadOnly(true)).disk();
        if (path.equals("raw")) {
            return;
        }
        machine = new PcMachine(MachineConfig.of("pc", 64L << 20));
        AhciHba.Io io = path.equals("inline") ? AhciHba.Io.INLINE : AhciHba.Io.WORKERS;
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

    private <T> T guest(Callable<T> work) throws Exception {
        return path.equals("workers") ? machine.call(work) : work.call();
    }

    private void config(int offset, int size, long value) {
        machine.io().write(0xCF8, 4, 0x8000_0000L | 2 << 11 | offset & 0xFC);
        machine.io().write(0xCFC + (offset & 3), size, value);
    }

    /** One read of each size through the HBA must bring the image's bytes into guest RAM. */
    private void check() throws Exception {
        for (int bytes : new int[] {SMALL, LARGE}) {
            long offset = 12345L * SMALL;
            guest(() -> {
                prepare(3, offset, bytes);
                return null;
            });
            issueAndWait(1 << 3);
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
    public int random4kDepth1() throws Exception {
        long offset = random.nextLong(SIZE / SMALL) * SMALL;
        if (machine == null) {
            disk.read(offset, small.clear());
            return small.position();
        }
        guest(() -> {
            prepare(0, offset, SMALL);
            return null;
        });
        return issueAndWait(1);
    }

    @Benchmark
    @OperationsPerInvocation(DEPTH)
    public int random4kDepth32() throws Exception {
        if (machine == null) {
            int n = 0;
            for (int i = 0; i < DEPTH; i++) {
                disk.read(random.nextLong(SIZE / SMALL) * SMALL, small.clear());
                n += small.position();
            }
            return n;
        }
        guest(() -> {
            for (int tag = 0; tag < DEPTH; tag++) {
                prepare(tag, random.nextLong(SIZE / SMALL) * SMALL, SMALL);
            }
            return null;
        });
        return issueAndWait(-1);
    }

    @Benchmark
    public int sequential128k() throws Exception {
        long offset = cursor;
        cursor = (cursor + LARGE) % SIZE;
        if (machine == null) {
            disk.read(offset, large.clear());
            return large.position();
        }
        guest(() -> {
            prepare(0, offset, LARGE);
            return null;
        });
        return issueAndWait(1);
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

    /** SACT and CI for {@code tags}, then the wait in PxSACT (on the machine thread for workers, between posted completions). */
    private int issueAndWait(int tags) throws Exception {
        guest(() -> {
            mmio.write(PORT + 0x34, 4, tags & 0xFFFF_FFFFL);
            mmio.write(PORT + 0x38, 4, tags & 0xFFFF_FFFFL);
            return null;
        });
        // Inline, the reads are done; on workers the guest polls PxSACT while completions come back.
        for (int spins = 0; (guest(() -> mmio.read(PORT + 0x34, 4)) & tags) != 0; spins++) {
            if (spins > 10_000_000) {
                throw new IllegalStateException("tags outstanding: " + Long.toHexString(mmio.read(PORT + 0x34, 4)));
            }
        }
        return guest(this::complete);
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
