package org.spindle.device.ata;

/**
 * A command from a 12-byte CDB of the MMC command set, parsed and checked for form. {@link AtapiParser}
 * makes them; {@link AtapiCdrom} runs them. Allocation lengths are the most bytes the host takes.
 */
public sealed interface AtapiCommand {

    record TestUnitReady() implements AtapiCommand {
    }

    record RequestSense(int allocation) implements AtapiCommand {
    }

    /** INQUIRY: the standard data, or the vital product data page {@code page} when {@code vpd}. */
    record Inquiry(boolean vpd, int page, int allocation) implements AtapiCommand {
    }

    /**
     * MODE SENSE (6) or (10).
     *
     * @param control 0 current, 1 changeable, 2 default, 3 saved values
     * @param page the page code, 3Fh for all
     */
    record ModeSense(boolean ten, int control, int page, int allocation) implements AtapiCommand {
    }

    /** MODE SELECT (6) or (10): {@code length} bytes of parameters follow. */
    record ModeSelect(boolean ten, boolean save, int length) implements AtapiCommand {
    }

    record ReadCapacity() implements AtapiCommand {
    }

    /** READ (10) or (12): {@code blocks} 2048-byte blocks from {@code lba}. */
    record Read(long lba, long blocks) implements AtapiCommand {
    }

    /**
     * READ CD.
     *
     * @param sectorType the expected sector type (0 any, 1 CD-DA, 2 Mode 1, 3 Mode 2, 4 Mode 2 Form 1,
     *        5 Mode 2 Form 2)
     * @param fields byte 9: sync (80h), header codes (60h), user data (10h), EDC and ECC (08h), C2
     *        error information (06h)
     * @param subchannel byte 10, bits 2-0: the sub-channel data selection
     */
    record ReadCd(long lba, long blocks, int sectorType, int fields, int subchannel) implements AtapiCommand {
    }

    /**
     * READ TOC/PMA/ATIP.
     *
     * @param format 0 TOC, 1 session information, 2 full TOC (others are refused)
     * @param msf addresses as minutes, seconds and frames rather than LBAs
     * @param track the starting track (format 0) or session (format 2)
     */
    record ReadToc(int format, boolean msf, int track, int allocation) implements AtapiCommand {
    }

    record ReadDiscInformation(int allocation) implements AtapiCommand {
    }

    /**
     * READ TRACK INFORMATION.
     *
     * @param addressType 0 an LBA, 1 a track number, 2 a session number
     */
    record ReadTrackInformation(int addressType, long address, int allocation) implements AtapiCommand {
    }

    /**
     * GET CONFIGURATION.
     *
     * @param requestType 0 all features from {@code start}, 1 the current ones, 2 only {@code start}
     */
    record GetConfiguration(int requestType, int start, int allocation) implements AtapiCommand {
    }

    /** GET EVENT STATUS NOTIFICATION, polled: {@code classes} is the notification class request byte. */
    record GetEventStatus(int classes, int allocation) implements AtapiCommand {
    }

    record MechanismStatus(int allocation) implements AtapiCommand {
    }

    /**
     * START STOP UNIT.
     *
     * @param loadEject load (with {@code start}) or eject (without)
     * @param powerCondition bits 7-4 of byte 4: when not 0, only the power condition changes
     */
    record StartStopUnit(boolean start, boolean loadEject, int powerCondition) implements AtapiCommand {
    }

    record PreventAllowMediumRemoval(boolean prevent) implements AtapiCommand {
    }

    /** SET CD SPEED in kB/s, FFFFh for the fastest. */
    record SetCdSpeed(int readSpeed, int writeSpeed) implements AtapiCommand {
    }

    record Seek(long lba) implements AtapiCommand {
    }

    /** A CDB the device refuses: an unknown opcode or a bad field. */
    record Rejected(Sense sense, String reason) implements AtapiCommand {
    }
}
