package org.spindle.benchmarks;

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
import org.spindle.machine.api.GuestMemoryException;
import org.spindle.machine.api.IoHandler;
import org.spindle.machine.core.GuestRam;
import org.spindle.machine.core.MappedSpace;
import org.spindle.machine.core.PhysicalMemory;

/**
 * MMIO dispatch: 4-byte register reads and writes through {@code GuestMemory} to a device's handler
 * (alternating among four devices' regions, so the last-hit shortcut does not carry it), beside calls
 * straight to the handler ({@code path=direct}, the baseline: the device's own cost) in the same run.
 * The target is an absolute one: at least 20 million accesses a second (an operation here is two
 * accesses, a write and a read).
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(value = 1, jvmArgsAppend = {"--sun-misc-unsafe-memory-access=allow"})
public class MmioDispatchBenchmark {
    @Param({"direct", "spindle"})
    public String path;

    /** A device with a few registers, as cheap as a register can be. */
    static final class Registers implements IoHandler {
        final int[] values = new int[1024];

        @Override
        public long read(long offset, int size) {
            return Integer.toUnsignedLong(values[(int) (offset >>> 2) & 1023]);
        }

        @Override
        public void write(long offset, int size, long value) {
            values[(int) (offset >>> 2) & 1023] = (int) value;
        }
    }

    private GuestRam ram;
    private PhysicalMemory memory;
    private final Registers[] devices = new Registers[4];
    private final long[] bases = new long[4];
    private int next;

    @Setup(Level.Trial)
    public void open() {
        ram = new GuestRam(64L << 20, 0xE000_0000L);
        memory = new PhysicalMemory(ram, new MappedSpace("MMIO", PhysicalMemory.ADDRESS_LIMIT));
        for (int i = 0; i < 4; i++) {
            devices[i] = new Registers();
            bases[i] = 0xFEB0_0000L + i * 0x1_0000L;
            memory.mmio().map(bases[i], 0x1000, devices[i], "device " + i);
        }
    }

    @TearDown(Level.Trial)
    public void close() {
        ram.close();
    }

    @Benchmark
    public long readWrite() throws GuestMemoryException {
        int d = next++ & 3;
        long offset = (next & 255) << 2;
        if (path.equals("direct")) {
            devices[d].write(offset, 4, next);
            return devices[d].read(offset, 4);
        }
        memory.write(bases[d] + offset, 4, next);
        return memory.read(bases[d] + offset, 4);
    }
}
