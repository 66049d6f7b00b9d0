package org.spindle.machine.core;

import org.spindle.machine.api.IoHandler;

/**
 * PCI Express enhanced configuration access (memory-mapped configuration, ECAM): 4 KiB of
 * configuration space per function at {@code base + (bus << 20 | device << 15 | function << 12)}.
 * Accesses of 1, 2 and 4 bytes reach the function as they are; an 8-byte access is two 4-byte ones, as
 * QEMU splits it. A function that is not there, and offsets past a function's space (a conventional
 * function's 256 bytes), read all ones.
 */
final class Ecam implements IoHandler {
    private final PciBus bus;

    Ecam(PciBus bus) {
        this.bus = bus;
    }

    @Override
    public long read(long offset, int size) {
        if (size == 8) {
            return read(offset, 4) | read(offset + 4, 4) << 32;
        }
        return bus.configRead((int) (offset >>> 20), (int) (offset >>> 12) & 0xFF, (int) offset & 0xFFF, size);
    }

    @Override
    public void write(long offset, int size, long value) {
        if (size == 8) {
            write(offset, 4, value & 0xFFFF_FFFFL);
            write(offset + 4, 4, value >>> 32);
            return;
        }
        bus.configWrite((int) (offset >>> 20), (int) (offset >>> 12) & 0xFF, (int) offset & 0xFFF, size, value);
    }
}
