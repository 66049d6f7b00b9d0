package org.spindle.machine.core;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.spindle.machine.api.DeviceStateDTO;

/**
 * The 8259A pair driven through its ports as a BIOS and an OS drive it: initialization, masking,
 * nesting and priority, cascade, edge and level inputs (ICW1 and the ELCR), register reads, poll
 * mode, automatic EOI, rotation, spurious interrupts, and save/reset/restore.
 */
class PicPairTest {
    private final MappedSpace ports = new MappedSpace("port I/O", 0x10000);
    private final PicPair pic = new PicPair();

    @BeforeEach
    void init() {
        pic.mapInto(ports);
        // the BIOS's sequence: edge-triggered, cascade, vectors 0x08 and 0x70, 8086 mode
        out(0x20, 0x11);
        out(0x21, 0x08);
        out(0x21, 0x04);
        out(0x21, 0x01);
        out(0xA0, 0x11);
        out(0xA1, 0x70);
        out(0xA1, 0x02);
        out(0xA1, 0x01);
    }

    private void out(int port, int value) {
        ports.write(port, 1, value);
    }

    private int in(int port) {
        return (int) ports.read(port, 1);
    }

    private int isr(int base) {
        out(base, 0x0B);
        return in(base);
    }

    private int irr(int base) {
        out(base, 0x0A);
        return in(base);
    }

    @Test
    void anEdgeRequestIsServedOnceAndEndsWithTheEoi() {
        assertThat(pic.interruptPending()).isFalse();
        pic.line(1).raise();
        assertThat(pic.interruptPending()).isTrue();
        assertThat(irr(0x20)).isEqualTo(0x02);
        assertThat(pic.acknowledge()).isEqualTo(0x09);
        assertThat(isr(0x20)).isEqualTo(0x02);
        assertThat(irr(0x20)).as("the edge was consumed").isZero();
        assertThat(pic.interruptPending()).isFalse();
        out(0x20, 0x20); // non-specific EOI
        assertThat(isr(0x20)).isZero();
        assertThat(pic.interruptPending()).as("the line is still high, but an edge input needs a new edge").isFalse();
        pic.line(1).lower();
        pic.line(1).raise();
        assertThat(pic.interruptPending()).isTrue();
    }

    @Test
    void aSlaveRequestComesThroughTheCascade() {
        pic.line(12).raise();
        assertThat(pic.interruptPending()).isTrue();
        assertThat(pic.acknowledge()).isEqualTo(0x74);
        assertThat(isr(0x20)).isEqualTo(0x04);
        assertThat(isr(0xA0)).isEqualTo(0x10);
        out(0xA0, 0x20);
        out(0x20, 0x20);
        assertThat(isr(0x20)).isZero();
        assertThat(isr(0xA0)).isZero();
        // IRQ 15 then 9: the slave serves 9 first (IR1 before IR7)
        pic.line(15).raise();
        pic.line(9).raise();
        assertThat(pic.acknowledge()).isEqualTo(0x71);
        out(0xA0, 0x20);
        out(0x20, 0x20);
        assertThat(pic.acknowledge()).isEqualTo(0x77);
    }

    @Test
    void higherPriorityNestsAndLowerWaits() {
        pic.line(3).raise();
        assertThat(pic.acknowledge()).isEqualTo(0x0B);
        pic.line(4).raise();
        assertThat(pic.interruptPending()).as("IRQ 4 waits for IRQ 3's EOI").isFalse();
        pic.line(0).raise();
        assertThat(pic.interruptPending()).as("IRQ 0 preempts IRQ 3").isTrue();
        assertThat(pic.acknowledge()).isEqualTo(0x08);
        assertThat(isr(0x20)).isEqualTo(0x09);
        out(0x20, 0x20); // ends IRQ 0, the highest in service
        assertThat(isr(0x20)).isEqualTo(0x08);
        out(0x20, 0x63); // specific EOI for IRQ 3
        assertThat(pic.acknowledge()).isEqualTo(0x0C);
    }

    @Test
    void maskedRequestsWaitForTheMask() {
        out(0x21, 0xFF & ~0x04);
        assertThat(in(0x21)).isEqualTo(0xFB);
        pic.line(5).raise();
        assertThat(pic.interruptPending()).isFalse();
        assertThat(irr(0x20)).as("requested, but masked").isEqualTo(0x20);
        out(0x21, 0xFB & ~0x20);
        assertThat(pic.interruptPending()).isTrue();
        assertThat(pic.acknowledge()).isEqualTo(0x0D);
    }

    @Test
    void levelInputsRequestWhileHighThroughTheElcr() {
        ports.write(0x4D1, 1, 0x04); // IRQ 10 level-triggered
        assertThat(ports.read(0x4D0, 2)).isEqualTo(0x0400);
        ports.write(0x4D0, 1, 0x07); // IRQ 0-2 cannot be level
        assertThat(ports.read(0x4D0, 1)).isZero();
        pic.line(10).raise();
        assertThat(pic.acknowledge()).isEqualTo(0x72);
        out(0xA0, 0x20);
        out(0x20, 0x20);
        assertThat(pic.interruptPending()).as("still high: requested again").isTrue();
        pic.line(10).lower();
        assertThat(irr(0xA0)).as("the request ends with the line").isZero();
        // the master latched the cascade's edge; its acknowledge finds nothing on the slave: spurious IRQ 15
        assertThat(pic.acknowledge()).isEqualTo(0x77);
        assertThat(isr(0xA0)).isZero();
    }

    @Test
    void icw1CanMakeEveryInputLevelTriggered() {
        out(0x20, 0x19); // LTIM
        out(0x21, 0x08);
        out(0x21, 0x04);
        out(0x21, 0x01);
        pic.line(6).raise();
        assertThat(pic.acknowledge()).isEqualTo(0x0E);
        out(0x20, 0x20);
        assertThat(pic.acknowledge()).isEqualTo(0x0E);
    }

    @Test
    void aVanishedRequestIsSpurious() {
        pic.line(5).raise();
        assertThat(pic.interruptPending()).isTrue();
        out(0x21, 0x20); // masked before the CPU acknowledged
        assertThat(pic.acknowledge()).isEqualTo(0x0F);
        assertThat(isr(0x20)).as("no in-service bit for a spurious IRQ 7").isZero();
    }

    @Test
    void pollModeReadsAndAcknowledges() {
        pic.line(4).raise();
        out(0x20, 0x0C); // OCW3 poll
        assertThat(in(0x20)).isEqualTo(0x84);
        assertThat(isr(0x20)).isEqualTo(0x10);
        out(0x20, 0x0C);
        assertThat(in(0x20)).as("nothing pending above IRQ 4's level").isZero();
    }

    @Test
    void automaticEoiLeavesNothingInService() {
        out(0x20, 0x11);
        out(0x21, 0x08);
        out(0x21, 0x04);
        out(0x21, 0x03); // AEOI
        pic.line(1).raise();
        assertThat(pic.acknowledge()).isEqualTo(0x09);
        assertThat(isr(0x20)).isZero();
    }

    @Test
    void prioritiesRotate() {
        out(0x20, 0xC4); // set priority: IRQ 4 lowest, so IRQ 5 highest
        pic.line(3).raise();
        pic.line(6).raise();
        assertThat(pic.acknowledge()).isEqualTo(0x0E);
        out(0x20, 0xA0); // rotate on non-specific EOI: IRQ 6 becomes lowest
        assertThat(pic.acknowledge()).isEqualTo(0x0B);
    }

    @Test
    void saveResetRestoreGivesIdenticalRegisterReads() {
        ports.write(0x4D1, 1, 0x08);
        out(0x21, 0x10);
        pic.line(1).raise();
        pic.line(11).raise();
        pic.acknowledge();
        pic.line(3).raise();
        int[] before = {irr(0x20), isr(0x20), in(0x21), irr(0xA0), isr(0xA0), in(0xA1), (int) ports.read(0x4D0, 2)};
        boolean pending = pic.interruptPending();
        DeviceStateDTO state = pic.save();
        pic.reset();
        assertThat(in(0x21)).isZero();
        pic.restore(state);
        int[] after = {irr(0x20), isr(0x20), in(0x21), irr(0xA0), isr(0xA0), in(0xA1), (int) ports.read(0x4D0, 2)};
        assertThat(after).isEqualTo(before);
        assertThat(pic.interruptPending()).isEqualTo(pending);
        DeviceStateDTO other = new DeviceStateDTO();
        other.type = "something.Else";
        other.version = 1;
        assertThatThrownBy(() -> pic.restore(other)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("not something.Else version 1");
    }
}
