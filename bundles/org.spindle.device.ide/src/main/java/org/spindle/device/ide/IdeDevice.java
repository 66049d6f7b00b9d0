package org.spindle.device.ide;

import org.spindle.device.ata.AtaDisk;
import org.spindle.device.ata.AtapiCdrom;
import org.spindle.device.ata.AutoPlacement;
import org.spindle.device.ata.Taskfile;
import org.spindle.device.ata.Chs;
import org.spindle.device.ata.Transfer;

/**
 * One device on an IDE channel, as its registers see it: the command block registers (each device
 * keeps its own copy of what the host writes to both), its status and error, and the data phase in
 * progress with the PIO buffer of the current DRQ block. The engine behind it is an ATA disk or an
 * ATAPI CD-ROM, or nothing for an empty position.
 */
final class IdeDevice {
    /** What the data register is doing. */
    enum Phase {
        /** No data: the status register decides. */
        IDLE,
        /** DRQ for data to the host (PIO). */
        PIO_IN,
        /** DRQ for data from the host (PIO). */
        PIO_OUT,
        /** DRQ for the 12 bytes of a PACKET command's CDB. */
        PACKET,
        /** A DMA command waits for the bus master to run, or runs (its data moving on an I/O thread). */
        DMA,
        /**
         * BSY while storage work runs on an I/O thread: a PIO block being read or written, a cache
         * flush, a verify. The register accesses of the guest meanwhile see only the status.
         */
        BUSY
    }

    static final int CDB_SIZE = 12;

    final AtaDisk disk;
    final AtapiCdrom cdrom;

    /** Registers 1 to 5 (features, count, LBA low, mid and high) as last written, by register number. */
    final int[] regs = new int[IdeChannel.LBA_HIGH + 1];
    /** What each of them held before its last write: a 48-bit command's high-order bytes, read back with HOB set. */
    final int[] hob = new int[IdeChannel.LBA_HIGH + 1];
    int device;
    int status;
    int error;

    /** Whether the device has an interrupt pending (INTRQ, before nIEN and selection). */
    boolean interrupt;

    Phase phase = Phase.IDLE;
    Transfer transfer;
    /** The PIO buffer: the current DRQ block (or CDB), of which [0, end) is valid and [pos, end) left. */
    byte[] buffer = new byte[0];
    int pos;
    int end;
    /** For a PACKET device's PIO data: the byte count limit the host gave with the command. */
    int byteCountLimit;
    /** For a PACKET command: whether its data phase is DMA (features bit 0). */
    boolean packetDma;
    /** Under {@code io = auto}: where this device's storage work runs now. */
    final AutoPlacement placement = new AutoPlacement();

    private IdeDevice(AtaDisk disk, AtapiCdrom cdrom) {
        this.disk = disk;
        this.cdrom = cdrom;
    }

    static IdeDevice disk(AtaDisk disk) {
        return new IdeDevice(disk, null);
    }

    static IdeDevice cdrom(AtapiCdrom cdrom) {
        return new IdeDevice(null, cdrom);
    }

    static IdeDevice absent() {
        return new IdeDevice(null, null);
    }

    boolean present() {
        return disk != null || cdrom != null;
    }

    boolean packet() {
        return cdrom != null;
    }

    /** The CHS translation ATA commands are parsed with (a PACKET device has none). */
    Chs geometry() {
        return disk != null ? disk.geometry() : new Chs(1, 1, 1);
    }

    /** Drops any data phase. */
    void idle() {
        phase = Phase.IDLE;
        transfer = null;
        pos = 0;
        end = 0;
    }

    /** Makes the PIO buffer hold {@code size} bytes. */
    void prepareBuffer(int size) {
        if (buffer.length < size) {
            buffer = new byte[Math.max(size, 512)];
        }
        pos = 0;
        end = size;
    }

    /** A write to register {@code reg} (1 to 5): the old value moves to the HOB side. */
    void write(int reg, int value) {
        hob[reg] = regs[reg];
        regs[reg] = value;
    }

    /** The command in the registers: each 16-bit and 48-bit field with its HOB half on top. */
    Taskfile taskfile(int opcode) {
        long lba = 0;
        for (int i = 2; i >= 0; i--) {
            lba = lba << 8 | hob[IdeChannel.LBA_LOW + i];
        }
        for (int i = 2; i >= 0; i--) {
            lba = lba << 8 | regs[IdeChannel.LBA_LOW + i];
        }
        return new Taskfile(opcode, hob[IdeChannel.ERROR_FEATURE] << 8 | regs[IdeChannel.ERROR_FEATURE],
                hob[IdeChannel.COUNT] << 8 | regs[IdeChannel.COUNT], lba, device);
    }

    /** Puts a command's outputs (or a signature) in the count and LBA registers, high-order bytes on the HOB side. */
    void load(Taskfile out) {
        regs[IdeChannel.COUNT] = out.count() & 0xFF;
        hob[IdeChannel.COUNT] = out.count() >> 8;
        for (int i = 0; i < 3; i++) {
            regs[IdeChannel.LBA_LOW + i] = out.lbaByte(i);
            hob[IdeChannel.LBA_LOW + i] = out.lbaByte(3 + i);
        }
    }

    /** A PACKET device's interrupt reason (CoD, IO, REL) in the low bits of the count register. */
    void reason(int bits) {
        regs[IdeChannel.COUNT] = regs[IdeChannel.COUNT] & ~0x07 | bits;
    }

    /** A PACKET device's byte count for the DRQ block, in the LBA mid and high registers. */
    void byteCount(int bytes) {
        regs[IdeChannel.LBA_MID] = bytes & 0xFF;
        regs[IdeChannel.LBA_HIGH] = bytes >> 8;
    }
}
