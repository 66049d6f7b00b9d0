package org.spindle.device.ahci;

import org.spindle.device.ata.Taskfile;

/**
 * The frame information structures a device sends to the host, as the HBA copies them into the
 * received-FIS area (Serial ATA 3.x, 10.5; AHCI 1.3.1, 4.2.1), and the one the host sends: the
 * register host-to-device FIS read from a command table.
 */
final class Fis {
    private Fis() {
    }

    static final int REGISTER_H2D = 0x27;
    static final int REGISTER_D2H = 0x34;
    static final int DMA_SETUP = 0x41;
    static final int PIO_SETUP = 0x5F;
    static final int SET_DEVICE_BITS = 0xA1;

    // Where each kind lands in the 256-byte received-FIS area.
    static final int AREA_DMA_SETUP = 0x00;
    static final int AREA_PIO_SETUP = 0x20;
    static final int AREA_D2H = 0x40;
    static final int AREA_SET_DEVICE_BITS = 0x58;
    static final int AREA_SIZE = 0x100;

    private static final int INTERRUPT = 0x40;
    private static final int TO_HOST = 0x20;

    /** Whether a register host-to-device FIS carries a command (C bit) rather than the device control register. */
    static boolean isCommand(byte[] h2d) {
        return (h2d[1] & 0x80) != 0;
    }

    /** The device control register of a register host-to-device FIS. */
    static int control(byte[] h2d) {
        return h2d[15] & 0xFF;
    }

    /** The command block registers of a register host-to-device FIS. */
    static Taskfile taskfile(byte[] h2d) {
        long lba = u8(h2d, 4) | u8(h2d, 5) << 8 | u8(h2d, 6) << 16 | (long) u8(h2d, 8) << 24 | (long) u8(h2d, 9) << 32
                | (long) u8(h2d, 10) << 40;
        return new Taskfile(u8(h2d, 2), u8(h2d, 3) | u8(h2d, 11) << 8, u8(h2d, 12) | u8(h2d, 13) << 8, lba, u8(h2d, 7));
    }

    private static int u8(byte[] b, int i) {
        return b[i] & 0xFF;
    }

    /** A register device-to-host FIS: status, error, and the registers (or those of {@code regs}). */
    static byte[] d2h(boolean interrupt, int status, int error, Taskfile regs) {
        byte[] f = new byte[20];
        f[0] = (byte) REGISTER_D2H;
        f[1] = (byte) (interrupt ? INTERRUPT : 0);
        f[2] = (byte) status;
        f[3] = (byte) error;
        registers(f, regs);
        return f;
    }

    /**
     * A PIO setup FIS: the device is about to move {@code count} bytes, in the direction given, and
     * will end with {@code endStatus}.
     */
    static byte[] pioSetup(boolean toHost, boolean interrupt, int status, int error, Taskfile regs, int endStatus,
            int count) {
        byte[] f = new byte[20];
        f[0] = (byte) PIO_SETUP;
        f[1] = (byte) ((interrupt ? INTERRUPT : 0) | (toHost ? TO_HOST : 0));
        f[2] = (byte) status;
        f[3] = (byte) error;
        registers(f, regs);
        f[15] = (byte) endStatus;
        f[16] = (byte) count;
        f[17] = (byte) (count >>> 8);
        return f;
    }

    /** A DMA setup FIS for a queued command: its tag as the buffer identifier, the bytes and direction. */
    static byte[] dmaSetup(boolean toHost, int tag, long count) {
        byte[] f = new byte[28];
        f[0] = (byte) DMA_SETUP;
        f[1] = (byte) (toHost ? TO_HOST : 0);
        f[4] = (byte) tag;
        for (int i = 0; i < 4; i++) {
            f[20 + i] = (byte) (count >>> (8 * i));
        }
        return f;
    }

    /** A set device bits FIS: status bits 6-4 and 2-0, the error register, and the tags completed. */
    static byte[] setDeviceBits(boolean interrupt, int status, int error, int completed) {
        byte[] f = new byte[8];
        f[0] = (byte) SET_DEVICE_BITS;
        f[1] = (byte) (interrupt ? INTERRUPT : 0);
        f[2] = (byte) (status & 0x77);
        f[3] = (byte) error;
        for (int i = 0; i < 4; i++) {
            f[4 + i] = (byte) (completed >>> (8 * i));
        }
        return f;
    }

    private static void registers(byte[] f, Taskfile t) {
        if (t == null) {
            return;
        }
        f[4] = (byte) t.lbaByte(0);
        f[5] = (byte) t.lbaByte(1);
        f[6] = (byte) t.lbaByte(2);
        f[7] = (byte) t.device();
        f[8] = (byte) t.lbaByte(3);
        f[9] = (byte) t.lbaByte(4);
        f[10] = (byte) t.lbaByte(5);
        f[12] = (byte) t.count();
        f[13] = (byte) (t.count() >>> 8);
    }
}
