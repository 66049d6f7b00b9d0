package org.spindle.machine.core;

import org.spindle.machine.api.IoHandler;

/**
 * PCI configuration mechanism #1: the address register at 0xCF8 and the data window at 0xCFC-0xCFF,
 * mapped as one 8-port region, plus the reset control register the PIIX3 and ICH9 keep at 0xCF9.
 *
 * <p>A 32-bit write to 0xCF8 sets the address (bit 31 enable, bus, device, function, register); other
 * widths there are not address accesses (0xCF9 as a byte is the reset control register). A data access
 * reaches register {@code (address & 0xFF) | (port & 3)}: as in QEMU the two low bits written to 0xCF8
 * are kept and combined with the data port's, which libqos relies on ({@code outl 0xcf8 0x80000902},
 * then {@code inw 0xcfc} reads the device ID). With the enable bit clear, data reads are all ones and
 * writes are dropped.
 */
final class ConfigMechanism1 implements IoHandler {
    static final int PORT = 0xCF8;

    private final PciBus bus;
    private final Runnable resetRequest;
    private int address;
    private int resetControl;

    ConfigMechanism1(PciBus bus, Runnable resetRequest) {
        this.bus = bus;
        this.resetRequest = resetRequest;
    }

    int address() {
        return address;
    }

    void setAddress(int value) {
        address = value;
    }

    int resetControl() {
        return resetControl;
    }

    void setResetControl(int value) {
        resetControl = value;
    }

    void reset() {
        address = 0;
        resetControl = 0;
    }

    @Override
    public long read(long offset, int size) {
        if (offset < 4) {
            if (size == 4 && offset == 0) {
                return Integer.toUnsignedLong(address);
            }
            if (size == 1 && offset == 1) {
                return resetControl;
            }
            return (Integer.toUnsignedLong(address) >>> (8 * offset)) & ((1L << (8 * size)) - 1);
        }
        if (address >= 0) {
            return (1L << (8 * size)) - 1;
        }
        return bus.configRead(address >>> 16 & 0xFF, address >>> 8 & 0xFF, (int) (address & 0xFF | offset & 3), size);
    }

    @Override
    public void write(long offset, int size, long value) {
        if (offset < 4) {
            if (size == 4 && offset == 0) {
                address = (int) value;
            } else if (size == 1 && offset == 1) {
                // reset control: bit 2 starts a reset of the kind bit 1 (system reset) chooses
                if ((value & 4) != 0) {
                    resetRequest.run();
                } else {
                    resetControl = (int) value & 0x0A;
                }
            }
            return;
        }
        if (address >= 0) {
            return;
        }
        bus.configWrite(address >>> 16 & 0xFF, address >>> 8 & 0xFF, (int) (address & 0xFF | offset & 3), size, value);
    }
}
