package org.spindle.machine.qtest;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.Map;

import org.junit.jupiter.api.Test;
import org.spindle.machine.api.DeviceContext;
import org.spindle.machine.api.DeviceLifecycle;
import org.spindle.machine.api.DeviceStateDTO;
import org.spindle.machine.api.InterruptLine;
import org.spindle.machine.api.IoHandler;
import org.spindle.machine.api.IoSpace;
import org.spindle.machine.api.IsaDevice;

/** An ISA device maps its own ports and takes its IRQ line; it is reset, saved and restored with the machine. */
class IsaDeviceTest {
    /** One byte register at a port; writing 1 raises its IRQ, 0 lowers it. */
    static final class Latch implements IsaDevice, DeviceLifecycle, IoHandler {
        final int port;
        final int irq;
        int value;
        IoSpace.Region region;
        InterruptLine line;

        Latch(int port, int irq) {
            this.port = port;
            this.irq = irq;
        }

        @Override
        public void plugged(DeviceContext context) {
            region = context.io().map(port, 1, this, "latch");
            line = context.isaIrq(irq);
        }

        @Override
        public void unplugged() {
            region.close();
            line.lower();
        }

        @Override
        public long read(long offset, int size) {
            return value;
        }

        @Override
        public void write(long offset, int size, long v) {
            value = (int) v & 0xFF;
            line.set(value == 1);
        }

        @Override
        public void reset() {
            write(0, 1, 0);
        }

        @Override
        public DeviceStateDTO save() {
            DeviceStateDTO dto = new DeviceStateDTO();
            dto.type = "latch";
            dto.version = 1;
            dto.values = Map.of("value", value);
            return dto;
        }

        @Override
        public void restore(DeviceStateDTO state) {
            write(0, 1, ((Number) state.values.get("value")).intValue());
        }
    }

    @Test
    void anIsaDeviceLivesInTheMachine() throws Exception {
        try (QtestFixture f = QtestFixture.pc()) {
            Latch a = new Latch(0x2E0, 5);
            Latch b = new Latch(0x2E1, 5);
            f.onMachine(() -> {
                f.machine.plugIsa("a", a);
                f.machine.plugIsa("b", b);
            });
            f.qt.irqInterceptIn("ioapic");
            f.qt.outb(0x2E0, 1);
            f.qt.outb(0x2E1, 1);
            assertThat(f.qt.getIrq(5)).isTrue();
            f.qt.outb(0x2E0, 0);
            assertThat(f.qt.getIrq(5)).as("two devices on IRQ 5: wired OR").isTrue();
            Map<String, DeviceStateDTO> saved = f.machine.call(f.machine::save);
            assertThat(saved).containsKeys("isa a", "isa b");
            f.onMachine(f.machine::reset);
            assertThat(f.qt.inb(0x2E1)).isZero();
            assertThat(f.qt.getIrq(5)).isFalse();
            f.onMachine(() -> f.machine.restore(saved));
            assertThat(f.qt.inb(0x2E1)).isEqualTo(1);
            assertThat(f.qt.getIrq(5)).isTrue();
            f.onMachine(() -> f.machine.unplugIsa("b"));
            assertThat(f.qt.inb(0x2E1)).as("its port is gone").isEqualTo(0xFF);
            assertThat(f.qt.getIrq(5)).isFalse();
            assertThatThrownBy(() -> f.machine.plugIsa("a", new Latch(0x2E2, 3))).hasMessageContaining("'a' is in the machine");
            assertThatThrownBy(() -> f.machine.plugIsa("c", new Latch(0x70, 3))).hasMessageContaining("CMOS/RTC");
        }
    }
}
