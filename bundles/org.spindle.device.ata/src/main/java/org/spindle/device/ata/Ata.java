package org.spindle.device.ata;

/**
 * Numbers of the ATA/ATAPI Command Set (ACS-3) that transports and engines share: status and error
 * register bits, opcodes, and the signatures a device leaves in its registers after a reset.
 */
public final class Ata {
    private Ata() {
    }

    // Status register.
    public static final int BSY = 0x80;
    public static final int DRDY = 0x40;
    /** Device fault. */
    public static final int DF = 0x20;
    /** Seek complete (obsolete; set by convenience, as drives do). */
    public static final int DSC = 0x10;
    public static final int DRQ = 0x08;
    public static final int ERR = 0x01;

    // Error register.
    /** Interface CRC error. */
    public static final int ICRC = 0x80;
    /** Uncorrectable data. */
    public static final int UNC = 0x40;
    /** ID not found: the address is outside the device. */
    public static final int IDNF = 0x10;
    /** Command aborted. */
    public static final int ABRT = 0x04;
    /** No medium. */
    public static final int NM = 0x02;

    // Interrupt reason (the count register during a PACKET command).
    /** Command or data: 1 while the device wants the CDB. */
    public static final int COD = 0x01;
    /** Direction: 1 for data to the host. */
    public static final int IO = 0x02;

    // Opcodes.
    public static final int NOP = 0x00;
    public static final int DATA_SET_MANAGEMENT = 0x06;
    public static final int DEVICE_RESET = 0x08;
    public static final int READ_SECTORS = 0x20;
    public static final int READ_SECTORS_NO_RETRY = 0x21;
    public static final int READ_SECTORS_EXT = 0x24;
    public static final int READ_DMA_EXT = 0x25;
    public static final int READ_NATIVE_MAX_EXT = 0x27;
    public static final int READ_LOG_EXT = 0x2F;
    public static final int READ_MULTIPLE_EXT = 0x29;
    public static final int WRITE_SECTORS = 0x30;
    public static final int WRITE_SECTORS_NO_RETRY = 0x31;
    public static final int WRITE_SECTORS_EXT = 0x34;
    public static final int WRITE_DMA_EXT = 0x35;
    public static final int WRITE_MULTIPLE_EXT = 0x39;
    public static final int WRITE_VERIFY = 0x3C;
    public static final int READ_VERIFY = 0x40;
    public static final int READ_VERIFY_NO_RETRY = 0x41;
    public static final int READ_VERIFY_EXT = 0x42;
    public static final int READ_LOG_DMA_EXT = 0x47;
    /** Native command queuing (SATA): the tag in count bits 7-3, the sector count in the feature registers. */
    public static final int READ_FPDMA_QUEUED = 0x60;
    public static final int WRITE_FPDMA_QUEUED = 0x61;
    public static final int EXECUTE_DEVICE_DIAGNOSTIC = 0x90;
    public static final int INITIALIZE_DEVICE_PARAMETERS = 0x91;
    public static final int PACKET = 0xA0;
    public static final int IDENTIFY_PACKET_DEVICE = 0xA1;
    public static final int READ_MULTIPLE = 0xC4;
    public static final int WRITE_MULTIPLE = 0xC5;
    public static final int SET_MULTIPLE_MODE = 0xC6;
    public static final int READ_DMA = 0xC8;
    public static final int READ_DMA_NO_RETRY = 0xC9;
    public static final int WRITE_DMA = 0xCA;
    public static final int WRITE_DMA_NO_RETRY = 0xCB;
    public static final int STANDBY_IMMEDIATE = 0xE0;
    public static final int IDLE_IMMEDIATE = 0xE1;
    public static final int STANDBY = 0xE2;
    public static final int IDLE = 0xE3;
    public static final int CHECK_POWER_MODE = 0xE5;
    public static final int FLUSH_CACHE = 0xE7;
    public static final int FLUSH_CACHE_EXT = 0xEA;
    public static final int IDENTIFY_DEVICE = 0xEC;
    public static final int SET_FEATURES = 0xEF;
    public static final int SECURITY_FREEZE_LOCK = 0xF5;
    public static final int READ_NATIVE_MAX_ADDRESS = 0xF8;

    // General purpose log addresses.
    public static final int LOG_DIRECTORY = 0x00;
    /** The NCQ command error log: which queued command failed, and how. */
    public static final int LOG_NCQ_ERROR = 0x10;

    /** The most commands a device queues (IDENTIFY word 75 plus one). */
    public static final int QUEUE_DEPTH = 32;

    // SET FEATURES subcommands.
    public static final int SF_ENABLE_WRITE_CACHE = 0x02;
    public static final int SF_SET_TRANSFER_MODE = 0x03;
    public static final int SF_DISABLE_READ_LOOK_AHEAD = 0x55;
    public static final int SF_DISABLE_REVERTING = 0x66;
    public static final int SF_DISABLE_WRITE_CACHE = 0x82;
    public static final int SF_ENABLE_READ_LOOK_AHEAD = 0xAA;
    public static final int SF_ENABLE_REVERTING = 0xCC;

    /**
     * The registers a device sets at power-on, after a reset and after EXECUTE DEVICE DIAGNOSTIC: count
     * 1, LBA low 1, and LBA mid/high 00/00 for an ATA device or 14/EB for a PACKET device.
     */
    public static Taskfile signature(boolean packetDevice) {
        return new Taskfile(0, 0, 1, packetDevice ? 0xEB1401L : 0x000001L, 0);
    }
}
