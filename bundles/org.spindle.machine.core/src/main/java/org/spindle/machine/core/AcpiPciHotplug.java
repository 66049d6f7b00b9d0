package org.spindle.machine.core;

import java.util.Map;
import java.util.function.IntConsumer;
import java.util.function.IntPredicate;

import org.spindle.machine.api.DeviceLifecycle;
import org.spindle.machine.api.DeviceStateDTO;
import org.spindle.machine.api.InterruptLine;
import org.spindle.machine.api.IoHandler;

/**
 * The PIIX4-style ACPI PCI hot-plug interface of bus 0, as QEMU defines it for its ACPI tables
 * (docs/specs/acpi_pci_hotplug): registers of 32 bits, one bit per slot, at 0xAE00, and GPE bit 1 in
 * the general-purpose event block at 0xAFE0, which raises the SCI (ISA IRQ 9).
 *
 * <ul>
 * <li>0xAE00 up: slots with a device added the guest has not yet been told of (read-only; a read
 * reports and clears them);</li>
 * <li>0xAE04 down: slots whose device the operator asked to remove (read-only; cleared by the eject);</li>
 * <li>0xAE08 eject: a write ejects the device in each slot whose bit is set, if that slot is removable;
 * reads give the feature set (0);</li>
 * <li>0xAE0C removable: slots whose devices may be removed (read-only);</li>
 * <li>0xAE10 bus select: 0 is bus 0, the only bus.</li>
 * </ul>
 * GPE0 status (0xAFE0-0xAFE1, write 1 to clear) and enable (0xAFE2-0xAFE3), byte access; the SCI is
 * raised while an enabled status bit is set.
 */
final class AcpiPciHotplug implements DeviceLifecycle {
    static final int PORT = 0xAE00;
    static final int LENGTH = 0x14;
    static final int GPE_PORT = 0xAFE0;
    static final int GPE_LENGTH = 4;
    static final int GPE_PCI_HOTPLUG = 1 << 1;
    static final String STATE_TYPE = "org.spindle.machine.core.AcpiPciHotplug";
    static final int STATE_VERSION = 1;

    private final InterruptLine sci;
    private final IntPredicate removable;
    private final IntConsumer eject;
    private int up;
    private int down;
    private int select;
    private int gpeStatus;
    private int gpeEnable;

    /**
     * @param sci the SCI line (ISA IRQ 9)
     * @param removable whether the device in a slot may be removed (not a chipset device, not empty)
     * @param eject takes every function of a slot off the bus
     */
    AcpiPciHotplug(InterruptLine sci, IntPredicate removable, IntConsumer eject) {
        this.sci = sci;
        this.removable = removable;
        this.eject = eject;
    }

    /** A device was added in {@code slot}: the guest is told through GPE bit 1. */
    void added(int slot) {
        up |= 1 << slot;
        down &= ~(1 << slot);
        event();
    }

    /** The operator asks the guest to give up the device in {@code slot} (it ejects it when ready). */
    void removalRequested(int slot) {
        down |= 1 << slot;
        event();
    }

    /** Whether the guest has been asked to remove the device in {@code slot} and has not yet ejected it. */
    boolean removalPending(int slot) {
        return (down & 1 << slot) != 0;
    }

    private void event() {
        gpeStatus |= GPE_PCI_HOTPLUG;
        updateSci();
    }

    private void updateSci() {
        sci.set((gpeStatus & gpeEnable) != 0);
    }

    private int removableSlots() {
        int bits = 0;
        for (int s = 0; s < 32; s++) {
            if (removable.test(s)) {
                bits |= 1 << s;
            }
        }
        return bits;
    }

    final IoHandler registers = new IoHandler() {
        @Override
        public long read(long offset, int size) {
            long value = 0;
            for (int i = 0; i < size; i++) {
                value |= (long) readByte((int) offset + i) << (8 * i);
            }
            if (offset == 0) {
                up = 0; // reported: the guest's GPE handler has seen the additions
            }
            return value;
        }

        private int readByte(int at) {
            int reg = switch (at & ~3) {
                case 0x00 -> up;
                case 0x04 -> down;
                case 0x08 -> 0;
                case 0x0C -> removableSlots();
                case 0x10 -> select;
                default -> -1;
            };
            return reg >>> (8 * (at & 3)) & 0xFF;
        }

        @Override
        public void write(long offset, int size, long value) {
            if (offset == 0x08 && size == 4) {
                int slots = (int) value;
                for (int s = 0; s < 32; s++) {
                    if ((slots & 1 << s) != 0 && removable.test(s)) {
                        down &= ~(1 << s);
                        eject.accept(s);
                    }
                }
            } else if (offset == 0x10 && size == 4) {
                select = (int) value;
            }
        }
    };

    final IoHandler gpe = new ByteRegisters() {
        @Override
        public int readByte(int port) {
            return switch (port) {
                case 0 -> gpeStatus & 0xFF;
                case 1 -> gpeStatus >>> 8;
                case 2 -> gpeEnable & 0xFF;
                case 3 -> gpeEnable >>> 8;
                default -> 0xFF;
            };
        }

        @Override
        public void writeByte(int port, int value) {
            switch (port) {
                case 0 -> gpeStatus &= ~value;
                case 1 -> gpeStatus &= ~(value << 8);
                case 2 -> gpeEnable = gpeEnable & 0xFF00 | value;
                case 3 -> gpeEnable = gpeEnable & 0x00FF | value << 8;
                default -> {
                }
            }
            updateSci();
        }
    };

    @Override
    public void reset() {
        up = 0;
        down = 0;
        select = 0;
        gpeStatus = 0;
        gpeEnable = 0;
        updateSci();
    }

    @Override
    public DeviceStateDTO save() {
        return DeviceStates.of(STATE_TYPE, STATE_VERSION,
                Map.of("up", up, "down", down, "select", select, "gpeStatus", gpeStatus, "gpeEnable", gpeEnable));
    }

    @Override
    public void restore(DeviceStateDTO state) {
        Map<String, Object> v = DeviceStates.values(state, "ACPI PCI hot-plug", STATE_TYPE, STATE_VERSION);
        up = ((Number) v.get("up")).intValue();
        down = ((Number) v.get("down")).intValue();
        select = ((Number) v.get("select")).intValue();
        gpeStatus = ((Number) v.get("gpeStatus")).intValue();
        gpeEnable = ((Number) v.get("gpeEnable")).intValue();
        updateSci();
    }
}
