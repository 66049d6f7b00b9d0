package org.spindle.device.ata;

/**
 * A command from an ATA taskfile, parsed and checked for form (not against the disk's size: that is
 * the executor's). {@link AtaParser} makes them; {@link AtaDisk} and {@link AtapiCdrom} run them.
 */
public sealed interface AtaCommand {

    /** How the data of a read or write moves. */
    enum Protocol {
        /** PIO, one sector per DRQ block. */
        PIO,
        /** PIO, the SET MULTIPLE MODE count of sectors per DRQ block. */
        PIO_MULTIPLE,
        /** Direct memory access. */
        DMA
    }

    /**
     * READ/WRITE SECTORS, MULTIPLE, DMA (and their EXT forms), WRITE VERIFY.
     *
     * @param write whether data goes to the disk
     * @param lba the first logical sector
     * @param sectors how many, 1 to 65536
     * @param protocol how the data moves
     * @param ext whether it is a 48-bit command
     * @param verify WRITE VERIFY: the data is on the medium before the command completes
     */
    record ReadWrite(boolean write, long lba, int sectors, Protocol protocol, boolean ext, boolean verify)
            implements AtaCommand {
    }

    /**
     * READ/WRITE FPDMA QUEUED: a native queued command (SATA), whose data moves by DMA whenever the
     * device chooses and which completes by its tag.
     *
     * @param tag the queue tag, 0 to 31
     * @param sectors 1 to 65536
     * @param fua forced unit access: a write is on the medium before the command completes
     */
    record Queued(boolean write, int tag, long lba, int sectors, boolean fua) implements AtaCommand {
    }

    /**
     * READ LOG EXT / READ LOG DMA EXT: {@code pages} 512-byte pages of general purpose log
     * {@code log} from page {@code page}.
     */
    record ReadLog(int log, int page, int pages, boolean dma) implements AtaCommand {
    }

    /** READ VERIFY SECTORS (EXT): read and check sectors, transferring nothing. */
    record ReadVerify(long lba, int sectors, boolean ext) implements AtaCommand {
    }

    record FlushCache(boolean ext) implements AtaCommand {
    }

    record Identify() implements AtaCommand {
    }

    record IdentifyPacket() implements AtaCommand {
    }

    /** SET FEATURES 02h/82h. */
    record SetWriteCache(boolean enabled) implements AtaCommand {
    }

    /** The transfer mode families of SET FEATURES 03h. */
    enum ModeFamily {
        /** PIO default mode (count 00h or 01h). */
        PIO_DEFAULT,
        /** PIO flow control mode n (count 08h | n). */
        PIO,
        /** Multiword DMA mode n (count 20h | n). */
        MWDMA,
        /** Ultra DMA mode n (count 40h | n). */
        UDMA
    }

    /** SET FEATURES 03h: select a transfer mode. */
    record SetTransferMode(ModeFamily family, int mode) implements AtaCommand {
    }

    /** A SET FEATURES subcommand a device accepts without anything to change (read look-ahead, reverting). */
    record SetFeatureAccepted(int subcommand) implements AtaCommand {
    }

    /** SET MULTIPLE MODE: sectors per DRQ block for READ/WRITE MULTIPLE, 0 to disable. */
    record SetMultipleMode(int sectors) implements AtaCommand {
    }

    /** DATA SET MANAGEMENT with the TRIM bit: {@code blocks} 512-byte blocks of range entries follow by DMA. */
    record Trim(int blocks) implements AtaCommand {
    }

    record SecurityFreezeLock() implements AtaCommand {
    }

    /** The power-management commands. */
    enum PowerCommand {
        IDLE, IDLE_IMMEDIATE, STANDBY, STANDBY_IMMEDIATE
    }

    record PowerMode(PowerCommand command) implements AtaCommand {
    }

    record CheckPowerMode() implements AtaCommand {
    }

    /** INITIALIZE DEVICE PARAMETERS: the CHS translation's heads (1-16) and sectors per track (1-255). */
    record InitializeDeviceParameters(int heads, int sectorsPerTrack) implements AtaCommand {
    }

    record ReadNativeMax(boolean ext) implements AtaCommand {
    }

    /** DEVICE RESET: for PACKET devices only. */
    record DeviceReset() implements AtaCommand {
    }

    record ExecuteDiagnostic() implements AtaCommand {
    }

    /**
     * PACKET: a 12-byte CDB follows.
     *
     * @param dma whether the data phase is DMA (features bit 0)
     * @param byteCountLimit the most bytes per PIO DRQ block the host asks for (LBA mid/high; 0 is
     *        taken as 65534, as drives do)
     */
    record Packet(boolean dma, int byteCountLimit) implements AtaCommand {
    }

    /**
     * A command the device refuses before starting: an unknown opcode, a bad argument or an address the
     * CHS translation does not have.
     *
     * @param error the error register bits to report ({@link Ata#ABRT} or {@link Ata#IDNF})
     * @param reason what was wrong, for logs and tests
     */
    record Rejected(int error, String reason) implements AtaCommand {
    }
}
