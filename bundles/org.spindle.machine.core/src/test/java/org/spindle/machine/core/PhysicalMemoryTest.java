package org.spindle.machine.core;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.constraints.IntRange;
import net.jqwik.api.constraints.LongRange;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.api.Test;
import org.spindle.machine.api.DmaMapping;
import org.spindle.machine.api.GuestMemoryException;
import org.spindle.machine.api.IoHandler;
import org.spindle.machine.api.IoSpace;
import org.spindle.machine.api.MsiMessage;
import org.spindle.machine.api.SgEntry;
import org.spindle.machine.api.SgList;

/**
 * Guest RAM and the physical address space: the PC layout around the PCI hole for 128 MiB to 8 GiB,
 * bounds (a range that is partly not RAM or MMIO changes nothing), DMA maps that stop where RAM stops,
 * MMIO dispatch of every width, and RAM that costs host memory only where it was written.
 */
class PhysicalMemoryTest {
    private static final long GIB = 1L << 30;
    private static final long PC_HOLE = 0xE000_0000L;
    private static final long Q35_HOLE = 0x8000_0000L;

    private static PhysicalMemory memory(long size, long hole) {
        return new PhysicalMemory(new GuestRam(size, hole), new MappedSpace("MMIO", PhysicalMemory.ADDRESS_LIMIT));
    }

    @ParameterizedTest(name = "{0} bytes, hole at {1}")
    @CsvSource({"134217728, 3758096384", "1073741824, 3758096384", "4294967296, 3758096384",
            "4294967296, 2147483648", "8589934592, 2147483648", "8589934592, 3758096384"})
    void ramSitsBelowTheHoleAndAbove4GiB(long size, long hole) throws Exception {
        try (GuestRam ram = new GuestRam(size, hole)) {
            PhysicalMemory m = new PhysicalMemory(ram, new MappedSpace("MMIO", PhysicalMemory.ADDRESS_LIMIT));
            long low = Math.min(size, hole);
            assertThat(ram.lowSize()).isEqualTo(low);
            assertThat(ram.highSize()).isEqualTo(size - low);
            assertThat(m.ramSize()).isEqualTo(size);
            m.write(low - 8, 8, 0x1122334455667788L);
            assertThat(m.read(low - 8, 8)).isEqualTo(0x1122334455667788L);
            assertThat(m.isRam(low - 8, 8)).isTrue();
            assertThat(m.isRam(low - 8, 9)).isFalse();
            assertThatThrownBy(() -> m.read(low, 1)).isInstanceOf(GuestMemoryException.class)
                    .hasMessageContaining("neither RAM nor a device's MMIO");
            long high = size - low;
            if (high > 0) {
                m.write((4 * GIB) + high - 4, 4, 0xCAFEBABEL);
                assertThat(m.read((4 * GIB) + high - 4, 4)).isEqualTo(0xCAFEBABEL);
                assertThat(m.read(4 * GIB, 4)).as("fresh RAM reads as zeros").isZero();
            }
            assertThatThrownBy(() -> m.write((4 * GIB) + high, 1, 1)).isInstanceOf(GuestMemoryException.class);
        }
    }

    @Test
    void eightGibOfRamCostsOnlyWhatIsWritten() throws Exception {
        try (GuestRam ram = new GuestRam(8 * GIB, Q35_HOLE)) {
            PhysicalMemory m = new PhysicalMemory(ram, new MappedSpace("MMIO", PhysicalMemory.ADDRESS_LIMIT));
            m.write(5 * GIB, 4, 7);
            assertThat(ram.touched(ram.offsetOf(5 * GIB, 4))).isTrue();
            assertThat(ram.touched(0)).isFalse();
            assertThat(m.read(3 * GIB + 5 * GIB, 8)).isZero();
            assertThat(ram.touched(ram.offsetOf(8 * GIB, 8))).as("reading does not allocate").isFalse();
        }
    }

    @Test
    void aWritePartlyOutsideRamChangesNothing() throws Exception {
        try (PhysicalMemoryHolder h = new PhysicalMemoryHolder(3 * GIB, Q35_HOLE)) {
            PhysicalMemory m = h.memory;
            long low = Q35_HOLE;
            byte[] data = new byte[8192];
            java.util.Arrays.fill(data, (byte) 0x5A);
            assertThatThrownBy(() -> m.write(low - 4096, ByteBuffer.wrap(data)))
                    .isInstanceOf(GuestMemoryException.class).hasMessageContaining("0x80000000");
            ByteBuffer back = ByteBuffer.allocate(4096);
            m.read(low - 4096, back);
            assertThat(back.array()).as("the RAM part was not written either").isEqualTo(new byte[4096]);
            assertThatThrownBy(() -> m.read(-1, ByteBuffer.allocate(2))).isInstanceOf(GuestMemoryException.class);
        }
    }

    @Test
    void dmaMapsStopWhereRamStops() throws Exception {
        try (PhysicalMemoryHolder h = new PhysicalMemoryHolder(128L << 20, PC_HOLE)) {
            PhysicalMemory m = h.memory;
            long end = 128L << 20;
            // three entries: fine, crossing the end of RAM, beyond it
            SgList list = SgList.of(new SgEntry(0x1000, 0x2000), new SgEntry(end - 0x800, 0x1000), new SgEntry(end + 0x1000, 0x200));
            DmaMapping mapping = m.map(list);
            assertThat(mapping.complete()).isFalse();
            assertThat(mapping.mappedBytes()).isEqualTo(0x2000 + 0x800);
            assertThat(mapping.buffers().stream().mapToLong(ByteBuffer::remaining).sum()).isEqualTo(0x2800);
            assertThat(mapping.failure().orElseThrow().address()).isEqualTo(end);
            // what a device writes through the views lands in RAM, and nowhere beyond
            for (ByteBuffer b : mapping.buffers()) {
                while (b.hasRemaining()) {
                    b.put((byte) 0x77);
                }
            }
            assertThat(m.read(0x1000, 1)).isEqualTo(0x77);
            assertThat(m.read(0x2FFF, 1)).isEqualTo(0x77);
            assertThat(m.read(0x3000, 1)).isZero();
            assertThat(m.read(end - 1, 1)).isEqualTo(0x77);
            assertThat(m.map(SgList.single(0, end)).complete()).isTrue();
        }
    }

    @Test
    void contiguousEntriesAreMappedAsOneBufferAndOthersApart() throws Exception {
        try (PhysicalMemoryHolder h = new PhysicalMemoryHolder(64L << 20, PC_HOLE)) {
            // two 64 KiB PRD entries over one buffer, then one elsewhere
            SgList list = SgList.of(new SgEntry(0x20_0000, 0x10000), new SgEntry(0x21_0000, 0x10000),
                    new SgEntry(0x40_0000, 0x1000));
            DmaMapping mapping = h.memory.map(list);
            assertThat(mapping.complete()).isTrue();
            assertThat(mapping.buffers()).extracting(ByteBuffer::remaining).containsExactly(0x20000, 0x1000);
            mapping.buffers().get(0).put(0x10000, (byte) 0x55);
            assertThat(h.memory.read(0x21_0000, 1)).isEqualTo(0x55);
        }
    }

    @Test
    void dmaStopsAtAnMmioWindowOverRam() throws Exception {
        try (PhysicalMemoryHolder h = new PhysicalMemoryHolder(64L << 20, PC_HOLE)) {
            Recorder vga = new Recorder();
            h.memory.mmio().map(0xA0000, 0x20000, vga, "vga");
            DmaMapping mapping = h.memory.map(SgList.single(0x9F000, 0x2000));
            assertThat(mapping.mappedBytes()).isEqualTo(0x1000);
            assertThat(mapping.failure().orElseThrow().getMessage()).contains("0xa0000");
            assertThat(h.memory.isRam(0xA0000, 1)).isFalse();
            assertThat(h.memory.isRam(0x9F000, 0x1000)).isTrue();
            assertThat(h.memory.map(SgList.single(0xC0000, 0x1000)).complete()).isTrue();
        }
    }

    @Test
    void mmioAccessesAreOneAccessOfTheirWidth() throws Exception {
        try (PhysicalMemoryHolder h = new PhysicalMemoryHolder(64L << 20, PC_HOLE)) {
            Recorder dev = new Recorder();
            IoSpace.Region region = h.memory.mmio().map(0xFEBF_0000L, 0x1000, dev, "dev");
            for (int size : new int[] {1, 2, 4, 8}) {
                h.memory.write(0xFEBF_0010L, size, 0x0102030405060708L);
                h.memory.read(0xFEBF_0010L, size);
            }
            assertThat(dev.log).containsExactly("w10/1=8", "r10/1", "w10/2=708", "r10/2", "w10/4=5060708", "r10/4",
                    "w10/8=102030405060708", "r10/8");
            dev.log.clear();
            // a bulk write is split into the widest aligned accesses
            h.memory.write(0xFEBF_0006L, ByteBuffer.wrap(new byte[] {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14}));
            assertThat(dev.log).containsExactly("w6/2=201", "w8/8=a09080706050403", "w10/4=e0d0c0b");
            // an MSI is a memory write: to RAM here
            new MsiMessage(0x1000, 0x4041).deliver(h.memory);
            assertThat(h.memory.readInt(0x1000)).isEqualTo(0x4041);
            region.move(0xFEBE_0000L);
            dev.log.clear();
            h.memory.read(0xFEBE_0004L, 4);
            assertThat(dev.log).containsExactly("r4/4");
            region.close();
            assertThatThrownBy(() -> h.memory.read(0xFEBE_0004L, 4)).isInstanceOf(GuestMemoryException.class);
        }
    }

    @Test
    void regionsMayNotOverlapAndUnmappedPortsReadAllOnes() {
        MappedSpace ports = new MappedSpace("port I/O", 0x10000);
        ports.map(0x1F0, 8, new Recorder(), "ide0");
        assertThatThrownBy(() -> ports.map(0x1F4, 8, new Recorder(), "other"))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("overlaps ide0");
        assertThatThrownBy(() -> ports.map(0xFFFC, 8, new Recorder(), "big"))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("outside the space");
        assertThat(ports.read(0x80, 1)).isEqualTo(0xFF);
        assertThat(ports.read(0x80, 2)).isEqualTo(0xFFFF);
        assertThat(ports.read(0x80, 4)).isEqualTo(0xFFFF_FFFFL);
        assertThatThrownBy(() -> ports.read(0x1F0, 3)).isInstanceOf(IllegalArgumentException.class);
    }

    /** Random writes and reads over low and high RAM against a sparse model. */
    @Property(tries = 60)
    void ramBehavesLikeTheModel(@ForAll @LongRange(min = 0, max = 1L << 40) long seed, @ForAll @IntRange(min = 1, max = 60) int ops)
            throws Exception {
        java.util.Random random = new java.util.Random(seed);
        try (PhysicalMemoryHolder h = new PhysicalMemoryHolder(5 * GIB, Q35_HOLE)) {
            Map<Long, Byte> model = new HashMap<>();
            long[][] ranges = {{0, Q35_HOLE}, {4 * GIB, 4 * GIB + (5 * GIB - Q35_HOLE)}};
            for (int i = 0; i < ops; i++) {
                long[] r = ranges[random.nextInt(2)];
                int length = 1 + random.nextInt(random.nextBoolean() ? 16 : 9000);
                // near chunk boundaries and the range ends now and then
                long address = random.nextInt(4) == 0
                        ? Math.max(r[0], Math.min(r[1] - length, (r[0] + random.nextLong((r[1] - r[0]) >> 21) * (1L << 21)) - length / 2))
                        : r[0] + random.nextLong(r[1] - r[0] - length);
                if (random.nextBoolean()) {
                    byte[] data = new byte[length];
                    random.nextBytes(data);
                    if (length <= 8 && Integer.bitCount(length) == 1) {
                        long v = ByteBuffer.wrap(java.util.Arrays.copyOf(data, 8)).order(java.nio.ByteOrder.LITTLE_ENDIAN).getLong();
                        h.memory.write(address, length, v);
                    } else {
                        h.memory.write(address, ByteBuffer.wrap(data));
                    }
                    for (int k = 0; k < length; k++) {
                        model.put(address + k, data[k]);
                    }
                } else {
                    byte[] got = new byte[length];
                    h.memory.read(address, ByteBuffer.wrap(got));
                    for (int k = 0; k < length; k++) {
                        assertThat(got[k]).as("byte at 0x%x", address + k).isEqualTo(model.getOrDefault(address + k, (byte) 0));
                    }
                }
            }
        }
    }

    /** Owns the RAM of a test. */
    private static final class PhysicalMemoryHolder implements AutoCloseable {
        final PhysicalMemory memory;

        PhysicalMemoryHolder(long size, long hole) {
            memory = memory(size, hole);
        }

        @Override
        public void close() {
            memory.ram().close();
        }
    }

    /** A device that logs its accesses: {@code w<offset hex>/<size>=<value hex>}, {@code r<offset hex>/<size>}. */
    static final class Recorder implements IoHandler {
        final List<String> log = new ArrayList<>();

        @Override
        public long read(long offset, int size) {
            log.add("r" + Long.toHexString(offset) + "/" + size);
            return 0;
        }

        @Override
        public void write(long offset, int size, long value) {
            log.add("w" + Long.toHexString(offset) + "/" + size + "=" + Long.toHexString(value));
        }
    }
}
