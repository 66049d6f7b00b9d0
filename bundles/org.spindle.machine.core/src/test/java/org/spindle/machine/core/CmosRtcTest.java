package org.spindle.machine.core;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.LocalDateTime;
import java.time.ZoneOffset;

import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.spindle.machine.api.DeviceStateDTO;

/** The CMOS/RTC through ports 0x70/0x71: memory fields, the running time, its formats, setting it, and IRQ 8. */
class CmosRtcTest {
    private static final long START = LocalDateTime.of(2026, 11, 25, 23, 59, 58).toEpochSecond(ZoneOffset.UTC);
    private final MappedSpace ports = new MappedSpace("port I/O", 0x10000);
    private final MachineClock clock = new MachineClock();
    private final PicPair pic = new PicPair();
    private CmosRtc rtc;

    @BeforeEach
    void setUp() {
        rtc = new CmosRtc(clock, pic.line(8), 0xB000_0000L, 0x1_4000_0000L, 2, START);
        ports.map(CmosRtc.PORT, 2, rtc, "CMOS/RTC");
    }

    private int cmos(int index) {
        ports.write(0x70, 1, index);
        return (int) ports.read(0x71, 1);
    }

    private void cmos(int index, int value) {
        ports.write(0x70, 1, index);
        ports.write(0x71, 1, value);
    }

    @Test
    void theMemoryFieldsDescribeTheRam() {
        assertThat(cmos(0x15) | cmos(0x16) << 8).isEqualTo(640);
        assertThat(cmos(0x17) | cmos(0x18) << 8).as("KiB above 1 MiB, capped").isEqualTo(0xFFFF);
        assertThat(cmos(0x30) | cmos(0x31) << 8).isEqualTo(0xFFFF);
        assertThat(cmos(0x34) | cmos(0x35) << 8).isEqualTo((0xB000_0000L - (16 << 20)) / 65536);
        assertThat(cmos(0x5B) | cmos(0x5C) << 8 | cmos(0x5D) << 16).isEqualTo(0x1_4000_0000L / 65536);
        assertThat(cmos(0x5F)).as("CPUs less one").isEqualTo(1);
        assertThat(cmos(0x0D)).as("valid RAM and time").isEqualTo(0x80);
    }

    @Test
    void theTimeRunsWithTheVirtualClockInBcdOrBinary() {
        assertThat(cmos(0x00)).isEqualTo(0x58);
        assertThat(cmos(0x04)).isEqualTo(0x23);
        assertThat(cmos(0x07)).isEqualTo(0x25);
        assertThat(cmos(0x09)).isEqualTo(0x26);
        assertThat(cmos(0x32)).isEqualTo(0x20);
        clock.step(2_000_000_000L);
        assertThat(cmos(0x00)).isZero();
        assertThat(cmos(0x04)).isZero();
        assertThat(cmos(0x07)).isEqualTo(0x26);
        assertThat(cmos(0x06)).as("Thursday is day 5").isEqualTo(0x05);
        cmos(0x0B, 0x06); // binary, 24-hour
        assertThat(cmos(0x07)).isEqualTo(26);
        cmos(0x0B, 0x04); // binary, 12-hour
        clock.step(13L * 3600 * 1_000_000_000L);
        assertThat(cmos(0x04)).as("1 PM").isEqualTo(0x81);
    }

    @Test
    void setStopsTheClockWhileSoftwareWritesTheTime() {
        cmos(0x0B, 0x82); // SET, 24-hour BCD
        cmos(0x04, 0x07);
        cmos(0x02, 0x30);
        cmos(0x00, 0x15);
        clock.step(5_000_000_000L);
        assertThat(cmos(0x00)).as("stopped").isEqualTo(0x15);
        cmos(0x0B, 0x02);
        clock.step(3_000_000_000L);
        assertThat(cmos(0x04)).isEqualTo(0x07);
        assertThat(cmos(0x02)).isEqualTo(0x30);
        assertThat(cmos(0x00)).isEqualTo(0x18);
    }

    @Test
    void periodicAndUpdateInterruptsArriveOnIrq8AndStatusCClearsThem() {
        // the BIOS's PIC set-up, so IRQ 8 reaches the CPU pin
        MappedSpace picPorts = new MappedSpace("port I/O", 0x10000);
        pic.mapInto(picPorts);
        int[][] init = {{0x20, 0x11}, {0x21, 0x08}, {0x21, 0x04}, {0x21, 0x01}, {0xA0, 0x11}, {0xA1, 0x70}, {0xA1, 0x02}, {0xA1, 0x01}};
        for (int[] w : init) {
            picPorts.write(w[0], 1, w[1]);
        }
        cmos(0x0A, 0x26); // 1024 Hz
        cmos(0x0B, 0x42); // PIE
        clock.step(976_563); // one period (1/1024 s, rounded up)
        assertThat(pic.interruptPending()).isTrue();
        assertThat(pic.acknowledge()).isEqualTo(0x70);
        assertThat(cmos(0x0C)).as("IRQF and PF").isEqualTo(0xC0);
        assertThat(pic.line(8).isRaised()).isFalse();
        assertThat(cmos(0x0C)).as("reading C cleared it").isZero();
        cmos(0x0B, 0x12); // UIE only
        cmos(0x0C);
        clock.step(1_000_000_000L);
        assertThat(cmos(0x0C) & 0x90).as("IRQF and UF after a second").isEqualTo(0x90);
    }

    @Test
    void theAlarmFiresAtItsTimeWithDontCareFields() {
        cmos(0x01, 0x00);
        cmos(0x03, 0xC0); // any minute
        cmos(0x05, 0xC0); // any hour
        cmos(0x0B, 0x22); // AIE
        cmos(0x0C);
        clock.step(1_000_000_000L); // 23:59:59
        assertThat(cmos(0x0C) & 0x20).isZero();
        clock.step(1_000_000_000L); // 00:00:00
        assertThat(cmos(0x0C) & 0xA0).isEqualTo(0xA0);
    }

    @Test
    void saveResetRestoreGivesIdenticalReads() {
        cmos(0x40, 0x5A);
        cmos(0x0B, 0x06);
        clock.step(1_500_000_000L);
        DeviceStateDTO state = rtc.save();
        int[] before = {cmos(0x00), cmos(0x02), cmos(0x04), cmos(0x40), cmos(0x0A), cmos(0x0B)};
        rtc.reset();
        assertThat(cmos(0x0B)).isEqualTo(0x02);
        rtc.restore(state);
        int[] after = {cmos(0x00), cmos(0x02), cmos(0x04), cmos(0x40), cmos(0x0A), cmos(0x0B)};
        assertThat(after).isEqualTo(before);
        clock.step(500_000_000L);
        assertThat(cmos(0x00)).as("the second ticks over where it would have").isEqualTo((before[0] + 1) % 60);
    }
}
