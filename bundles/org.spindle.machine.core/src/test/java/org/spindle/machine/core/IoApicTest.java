package org.spindle.machine.core;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.spindle.machine.api.DeviceStateDTO;

/**
 * The I/O APIC driven through IOREGSEL/IOWIN as an OS drives it: its registers, edge and level
 * inputs, masking, polarity, remote IRR and EOI, and interrupts that leave as memory writes into the
 * APIC window (where a recorder stands in for the local APIC).
 */
class IoApicTest {
    private PhysicalMemory memory;
    private final PhysicalMemoryTest.Recorder lapic = new PhysicalMemoryTest.Recorder();
    private IoApic ioapic;

    @BeforeEach
    void setUp() {
        memory = new PhysicalMemory(new GuestRam(64L << 20, 0xE000_0000L), new MappedSpace("MMIO", PhysicalMemory.ADDRESS_LIMIT));
        memory.mmio().map(0xFEE0_0000L, 0x10_0000, lapic, "local APIC window");
        ioapic = new IoApic(memory);
        memory.mmio().map(IoApic.DEFAULT_BASE, 0x1000, ioapic, "I/O APIC");
    }

    @AfterEach
    void tearDown() {
        memory.ram().close();
    }

    private long reg(int index) throws Exception {
        memory.writeInt(IoApic.DEFAULT_BASE, index);
        return Integer.toUnsignedLong(memory.readInt(IoApic.DEFAULT_BASE + 0x10));
    }

    private void reg(int index, long value) throws Exception {
        memory.writeInt(IoApic.DEFAULT_BASE, index);
        memory.writeInt(IoApic.DEFAULT_BASE + 0x10, (int) value);
    }

    private void entry(int pin, long low, long high) throws Exception {
        reg(0x10 + 2 * pin + 1, high);
        reg(0x10 + 2 * pin, low);
    }

    @Test
    void registersReadAsTheSpecificationSays() throws Exception {
        assertThat(reg(0x01)).as("version 0x20, 24 entries").isEqualTo(0x0017_0020L);
        reg(0x00, 0x0500_0000L);
        assertThat(reg(0x00)).isEqualTo(0x0500_0000L);
        assertThat(reg(0x10)).as("entries start masked").isEqualTo(0x1_0000L);
        reg(0x01, 0);
        assertThat(reg(0x01)).as("read-only").isEqualTo(0x0017_0020L);
    }

    @Test
    void anEdgeInputSendsItsVectorOnTheRisingEdge() throws Exception {
        entry(4, 0x34, 0);
        ioapic.input(4).raise();
        assertThat(lapic.log).containsExactly("w0/4=34");
        ioapic.input(4).raise();
        assertThat(lapic.log).as("no new edge").hasSize(1);
        ioapic.input(4).lower();
        ioapic.input(4).raise();
        assertThat(lapic.log).hasSize(2);
    }

    @Test
    void maskedInputsSendNothingAndEdgesAreNotRemembered() throws Exception {
        entry(5, 0x1_0035, 0);
        ioapic.input(5).raise();
        entry(5, 0x35, 0);
        assertThat(lapic.log).isEmpty();
    }

    @Test
    void aLevelInputWaitsForTheEoiWhileItsRemoteIrrIsSet() throws Exception {
        entry(10, 0x8000 | 0x4A, 0x0300_0000L); // level, vector 0x4A, destination 3
        ioapic.input(10).raise();
        assertThat(lapic.log).containsExactly("w3000/4=c04a");
        assertThat(reg(0x10 + 20) & (1 << 14)).as("remote IRR").isNotZero();
        ioapic.endOfInterrupt(0x4A);
        assertThat(lapic.log).as("still asserted: sent again").hasSize(2);
        ioapic.input(10).lower();
        memory.writeInt(IoApic.DEFAULT_BASE + 0x40, 0x4A); // the EOI register
        assertThat(lapic.log).hasSize(2);
        assertThat(reg(0x10 + 20) & (1 << 14)).isZero();
        reg(0x10 + 20, 0x8000 | 0x4A | (1 << 14));
        assertThat(reg(0x10 + 20) & (1 << 14)).as("remote IRR is read-only").isZero();
    }

    @Test
    void polarityIsKeptAndLogicalDestinationsGoInTheAddress() throws Exception {
        entry(16, (1 << 13) | (1 << 11) | 0x8000 | 0x61, 0x0100_0000L); // active low, logical, level
        assertThat(reg(0x10 + 32) & (1 << 13)).as("the polarity reads back").isNotZero();
        assertThat(lapic.log).as("a line that is not raised is not asserted, whatever the polarity").isEmpty();
        ioapic.input(16).raise();
        assertThat(lapic.log).containsExactly("w1004/4=c061");
    }

    @Test
    void aMissingApicWindowIsNotedNotThrown() throws Exception {
        PhysicalMemory bare = new PhysicalMemory(new GuestRam(16L << 20, 0xE000_0000L), new MappedSpace("MMIO", PhysicalMemory.ADDRESS_LIMIT));
        try {
            IoApic lonely = new IoApic(bare);
            lonely.write(0, 4, 0x10);
            lonely.write(0x10, 4, 0x20);
            lonely.input(0).raise();
            assertThat(lonely.problems()).singleElement().asString().contains("input 0").contains("0xfee00000");
        } finally {
            bare.ram().close();
        }
    }

    @Test
    void saveResetRestoreGivesIdenticalRegisterReads() throws Exception {
        reg(0x00, 0x0200_0000L);
        entry(3, 0x8000 | 0x33, 0x0200_0000L);
        entry(9, 0x1_0049, 0x0100_0000L);
        ioapic.input(3).raise();
        List<Long> before = new java.util.ArrayList<>();
        for (int i = 0; i < 0x10 + 48; i++) {
            before.add(reg(i));
        }
        DeviceStateDTO state = ioapic.save();
        ioapic.reset();
        assertThat(reg(0x10 + 6)).isEqualTo(0x1_0000L);
        ioapic.restore(state);
        List<Long> after = new java.util.ArrayList<>();
        for (int i = 0; i < 0x10 + 48; i++) {
            after.add(reg(i));
        }
        assertThat(after).isEqualTo(before);
        ioapic.endOfInterrupt(0x33);
        assertThat(lapic.log).as("the restored remote IRR and line behave as before").hasSize(2);
    }
}
