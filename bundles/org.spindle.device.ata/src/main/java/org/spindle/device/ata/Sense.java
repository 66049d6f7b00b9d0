package org.spindle.device.ata;

/**
 * SCSI sense: the key and additional sense code (and qualifier) a PACKET device reports for a command
 * that ended in CHECK CONDITION, as MMC and SPC define them.
 *
 * @param key the sense key (bits 3-0)
 * @param asc the additional sense code
 * @param ascq its qualifier
 */
public record Sense(int key, int asc, int ascq) {
    public static final int KEY_NO_SENSE = 0x0;
    public static final int KEY_NOT_READY = 0x2;
    public static final int KEY_MEDIUM_ERROR = 0x3;
    public static final int KEY_ILLEGAL_REQUEST = 0x5;
    public static final int KEY_UNIT_ATTENTION = 0x6;

    public static final Sense NONE = new Sense(KEY_NO_SENSE, 0, 0);
    /** NOT READY, medium not present, tray closed. */
    public static final Sense NO_MEDIUM_TRAY_CLOSED = new Sense(KEY_NOT_READY, 0x3A, 0x01);
    /** NOT READY, medium not present, tray open. */
    public static final Sense NO_MEDIUM_TRAY_OPEN = new Sense(KEY_NOT_READY, 0x3A, 0x02);
    /** MEDIUM ERROR, unrecovered read error. */
    public static final Sense UNRECOVERED_READ_ERROR = new Sense(KEY_MEDIUM_ERROR, 0x11, 0x00);
    public static final Sense INVALID_OPCODE = new Sense(KEY_ILLEGAL_REQUEST, 0x20, 0x00);
    public static final Sense LBA_OUT_OF_RANGE = new Sense(KEY_ILLEGAL_REQUEST, 0x21, 0x00);
    public static final Sense INVALID_FIELD_IN_CDB = new Sense(KEY_ILLEGAL_REQUEST, 0x24, 0x00);
    public static final Sense INVALID_FIELD_IN_PARAMETERS = new Sense(KEY_ILLEGAL_REQUEST, 0x26, 0x00);
    public static final Sense PARAMETER_LIST_LENGTH = new Sense(KEY_ILLEGAL_REQUEST, 0x1A, 0x00);
    public static final Sense SAVING_NOT_SUPPORTED = new Sense(KEY_ILLEGAL_REQUEST, 0x39, 0x00);
    /** ILLEGAL REQUEST, medium removal prevented: an eject while the tray is locked. */
    public static final Sense REMOVAL_PREVENTED = new Sense(KEY_ILLEGAL_REQUEST, 0x53, 0x02);
    /** ILLEGAL REQUEST, illegal mode for this track: READ CD asking for a sector type the disc does not have. */
    public static final Sense ILLEGAL_MODE_FOR_TRACK = new Sense(KEY_ILLEGAL_REQUEST, 0x64, 0x00);
    /** UNIT ATTENTION, not ready to ready change: the medium may have changed. */
    public static final Sense MEDIUM_CHANGED = new Sense(KEY_UNIT_ATTENTION, 0x28, 0x00);
    /** UNIT ATTENTION, power on or reset occurred. */
    public static final Sense POWER_ON_RESET = new Sense(KEY_UNIT_ATTENTION, 0x29, 0x00);

    public Sense {
        key &= 0x0F;
        asc &= 0xFF;
        ascq &= 0xFF;
    }

    /** The 18 bytes of fixed-format sense data (response code 70h), as REQUEST SENSE returns them. */
    public byte[] fixedFormat() {
        byte[] b = new byte[18];
        b[0] = 0x70;
        b[2] = (byte) key;
        b[7] = 10;
        b[12] = (byte) asc;
        b[13] = (byte) ascq;
        return b;
    }

    @Override
    public String toString() {
        return String.format("sense %X/%02X/%02X", key, asc, ascq);
    }
}
