package org.spindle.testing.machine;

import java.util.ArrayList;
import java.util.List;

import org.spindle.machine.api.DeviceLifecycle;
import org.spindle.machine.api.DeviceStateDTO;
import org.spindle.machine.api.IoHandler;
import org.spindle.machine.api.PciBar;
import org.spindle.machine.api.PciConfigSpace;
import org.spindle.machine.api.PciFunction;
import org.spindle.machine.api.PciSlot;

/**
 * A PCI function for testing machines: one of every kind of BAR, INTx, MSI and MSI-X, and registers
 * that remember every access, so a test sees exactly what reached the device. Its IDs are those of
 * QEMU's {@code pci-testdev} (1b36:0005, class 00/ff/00).
 *
 * <ul>
 * <li>BAR0: 16 ports of I/O;</li>
 * <li>BAR1: 4 KiB of 32-bit memory;</li>
 * <li>BAR2-3: 16 KiB of 64-bit prefetchable memory, holding the MSI-X table at 0x2000 and the pending
 * bits at 0x3000;</li>
 * <li>INTA#; MSI with 4 vectors, a 64-bit address and per-vector masking; MSI-X with 4 vectors.</li>
 * </ul>
 * Every BAR is a 64-byte register file, repeated across the BAR: a write stores its bytes, a read
 * returns them. Each access is logged as {@code "BARn read|write OFFSET SIZE"}.
 */
public final class ProbeFunction implements PciFunction, DeviceLifecycle {
    public static final int VENDOR_ID = 0x1B36;
    public static final int DEVICE_ID = 0x0005;
    public static final int CLASS_CODE = 0x00FF00;
    public static final int MSIX_TABLE = 0x2000;
    public static final int MSIX_PBA = 0x3000;
    public static final int VECTORS = 4;

    private final PciConfigSpace config;
    private final byte[][] registers = new byte[3][64];
    private final List<String> accesses = new ArrayList<>();
    private PciSlot slot;

    public ProbeFunction() {
        this(false);
    }

    /** @param multifunction whether the header says multi-function (for function 0 of a device with more) */
    public ProbeFunction(boolean multifunction) {
        config = PciConfigSpace.builder(VENDOR_ID, DEVICE_ID).revision(1).classCode(0x00, 0xFF, 0x00)
                .subsystem(0x1AF4, 0x1100).multifunction(multifunction).interruptPin(1)
                .bar(0, PciBar.io(16, handler(0)))
                .bar(1, PciBar.memory32(4096, handler(1)))
                .bar(2, PciBar.memory64(16384, true, handler(2)))
                .msi(VECTORS, true, true)
                .msix(VECTORS, 2, MSIX_TABLE, 2, MSIX_PBA)
                .build();
    }

    private IoHandler handler(int bar) {
        return new IoHandler() {
            @Override
            public long read(long offset, int size) {
                accesses.add("BAR" + bar + " read " + offset + " " + size);
                long v = 0;
                for (int i = 0; i < size; i++) {
                    v |= (registers[bar][(int) (offset + i) & 63] & 0xFFL) << (8 * i);
                }
                return v;
            }

            @Override
            public void write(long offset, int size, long value) {
                accesses.add("BAR" + bar + " write " + offset + " " + size);
                for (int i = 0; i < size; i++) {
                    registers[bar][(int) (offset + i) & 63] = (byte) (value >>> (8 * i));
                }
            }
        };
    }

    @Override
    public PciConfigSpace config() {
        return config;
    }

    @Override
    public void plugged(PciSlot slot) {
        this.slot = slot;
    }

    @Override
    public void unplugged() {
        this.slot = null;
    }

    /** The slot it is plugged into, or null. */
    public PciSlot slot() {
        return slot;
    }

    /** The accesses that reached the BARs since the last call, oldest first; the log is emptied. */
    public List<String> takeAccesses() {
        List<String> all = List.copyOf(accesses);
        accesses.clear();
        return all;
    }

    /** Drives INTA# (through the command register's Interrupt Disable). */
    public void setIntx(boolean level) {
        config.setIntx(level);
    }

    /** Signals MSI vector {@code vector}. */
    public void signalMsi(int vector) {
        config.msi().signal(vector);
    }

    /** Signals MSI-X vector {@code vector}. */
    public void signalMsix(int vector) {
        config.msix().signal(vector);
    }

    @Override
    public void reset() {
        for (byte[] r : registers) {
            java.util.Arrays.fill(r, (byte) 0);
        }
    }

    @Override
    public DeviceStateDTO save() {
        DeviceStateDTO dto = new DeviceStateDTO();
        dto.type = ProbeFunction.class.getName();
        dto.version = 1;
        dto.values = java.util.Map.of("bar0", registers[0].clone(), "bar1", registers[1].clone(), "bar2", registers[2].clone());
        return dto;
    }

    @Override
    public void restore(DeviceStateDTO state) {
        if (state == null || !ProbeFunction.class.getName().equals(state.type) || state.version != 1) {
            throw new IllegalArgumentException("ProbeFunction restores its own version 1 state");
        }
        for (int i = 0; i < 3; i++) {
            registers[i] = ((byte[]) state.values.get("bar" + i)).clone();
        }
    }
}
