package org.spindle.device.ide;

import org.spindle.device.ata.AtaDisk;
import org.spindle.device.ata.AtapiCdrom;
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
        /** A DMA command waits for the bus master to run. */
        DMA
    }

    static final int CDB_SIZE = 12;

    final AtaDisk disk;
    final AtapiCdrom cdrom;

    int feature;
    int hobFeature;
    int count;
    int hobCount;
    int lbaLow;
    int lbaMid;
    int lbaHigh;
    int hobLbaLow;
    int hobLbaMid;
    int hobLbaHigh;
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
}
