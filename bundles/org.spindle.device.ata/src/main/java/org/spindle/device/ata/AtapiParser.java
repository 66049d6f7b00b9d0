package org.spindle.device.ata;

/**
 * Turns a 12-byte CDB into an {@link AtapiCommand}: a pure function that checks form (known opcodes,
 * reserved bits of the fields it uses, values inside their ranges) and never throws. Shorter input is
 * taken as padded with zeros.
 */
public final class AtapiParser {
    public static final int TEST_UNIT_READY = 0x00;
    public static final int REQUEST_SENSE = 0x03;
    public static final int INQUIRY = 0x12;
    public static final int MODE_SELECT_6 = 0x15;
    public static final int MODE_SENSE_6 = 0x1A;
    public static final int START_STOP_UNIT = 0x1B;
    public static final int PREVENT_ALLOW_MEDIUM_REMOVAL = 0x1E;
    public static final int READ_CAPACITY = 0x25;
    public static final int READ_10 = 0x28;
    public static final int SEEK_10 = 0x2B;
    public static final int READ_TOC = 0x43;
    public static final int GET_CONFIGURATION = 0x46;
    public static final int GET_EVENT_STATUS_NOTIFICATION = 0x4A;
    public static final int READ_DISC_INFORMATION = 0x51;
    public static final int READ_TRACK_INFORMATION = 0x52;
    public static final int MODE_SELECT_10 = 0x55;
    public static final int MODE_SENSE_10 = 0x5A;
    public static final int READ_12 = 0xA8;
    public static final int SET_CD_SPEED = 0xBB;
    public static final int MECHANISM_STATUS = 0xBD;
    public static final int READ_CD = 0xBE;

    private AtapiParser() {
    }

    public static AtapiCommand parse(byte[] cdb) {
        byte[] c = new byte[12];
        System.arraycopy(cdb, 0, c, 0, Math.min(cdb.length, 12));
        int op = u8(c, 0);
        return switch (op) {
            case TEST_UNIT_READY -> new AtapiCommand.TestUnitReady();
            case REQUEST_SENSE -> (c[1] & 0x01) != 0
                    ? invalid("REQUEST SENSE for descriptor-format sense")
                    : new AtapiCommand.RequestSense(u8(c, 4));
            case INQUIRY -> {
                boolean vpd = (c[1] & 0x01) != 0;
                int page = u8(c, 2);
                yield !vpd && page != 0 ? invalid("INQUIRY for page " + page + " without EVPD")
                        : new AtapiCommand.Inquiry(vpd, page, u16(c, 3));
            }
            case MODE_SENSE_6 -> new AtapiCommand.ModeSense(false, u8(c, 2) >> 6, u8(c, 2) & 0x3F, u8(c, 4));
            case MODE_SENSE_10 -> new AtapiCommand.ModeSense(true, u8(c, 2) >> 6, u8(c, 2) & 0x3F, u16(c, 7));
            case MODE_SELECT_6 -> modeSelect(false, c, u8(c, 4));
            case MODE_SELECT_10 -> modeSelect(true, c, u16(c, 7));
            case READ_CAPACITY -> new AtapiCommand.ReadCapacity();
            case READ_10 -> new AtapiCommand.Read(u32(c, 2), u16(c, 7));
            case READ_12 -> new AtapiCommand.Read(u32(c, 2), u32(c, 6));
            case READ_CD -> readCd(c);
            case READ_TOC -> readToc(c);
            case READ_DISC_INFORMATION -> (c[1] & 0x07) != 0
                    ? invalid("READ DISC INFORMATION data type " + (c[1] & 0x07))
                    : new AtapiCommand.ReadDiscInformation(u16(c, 7));
            case READ_TRACK_INFORMATION -> (c[1] & 0x03) == 3
                    ? invalid("READ TRACK INFORMATION address type 3")
                    : new AtapiCommand.ReadTrackInformation(c[1] & 0x03, u32(c, 2), u16(c, 7));
            case GET_CONFIGURATION -> (c[1] & 0x03) == 3
                    ? invalid("GET CONFIGURATION request type 3")
                    : new AtapiCommand.GetConfiguration(c[1] & 0x03, u16(c, 2), u16(c, 7));
            case GET_EVENT_STATUS_NOTIFICATION -> (c[1] & 0x01) == 0
                    ? invalid("GET EVENT STATUS NOTIFICATION asynchronous (only polled is supported)")
                    : new AtapiCommand.GetEventStatus(u8(c, 4), u16(c, 7));
            case MECHANISM_STATUS -> new AtapiCommand.MechanismStatus(u16(c, 8));
            case START_STOP_UNIT -> new AtapiCommand.StartStopUnit((c[4] & 0x01) != 0, (c[4] & 0x02) != 0,
                    u8(c, 4) >> 4);
            case PREVENT_ALLOW_MEDIUM_REMOVAL -> new AtapiCommand.PreventAllowMediumRemoval((c[4] & 0x01) != 0);
            case SET_CD_SPEED -> new AtapiCommand.SetCdSpeed(u16(c, 2), u16(c, 4));
            case SEEK_10 -> new AtapiCommand.Seek(u32(c, 2));
            default -> new AtapiCommand.Rejected(Sense.INVALID_OPCODE, String.format("unsupported opcode %02Xh", op));
        };
    }

    private static AtapiCommand modeSelect(boolean ten, byte[] c, int length) {
        if ((c[1] & 0x10) == 0) {
            return invalid("MODE SELECT without the page format bit");
        }
        return new AtapiCommand.ModeSelect(ten, (c[1] & 0x01) != 0, length);
    }

    private static AtapiCommand readCd(byte[] c) {
        int type = (c[1] >> 2) & 0x07;
        if (type > 5) {
            return invalid("READ CD sector type " + type);
        }
        int fields = u8(c, 9);
        int subchannel = c[10] & 0x07;
        long blocks = (long) u8(c, 6) << 16 | u16(c, 7);
        return new AtapiCommand.ReadCd(u32(c, 2), blocks, type, fields, subchannel);
    }

    private static AtapiCommand readToc(byte[] c) {
        int format = c[2] & 0x0F;
        if (format == 0) {
            // Drives before MMC took the format from the top bits of the control byte.
            format = u8(c, 9) >> 6;
        }
        if (format > 2) {
            return invalid("READ TOC format " + format);
        }
        return new AtapiCommand.ReadToc(format, (c[1] & 0x02) != 0, u8(c, 6), u16(c, 7));
    }

    private static AtapiCommand invalid(String reason) {
        return new AtapiCommand.Rejected(Sense.INVALID_FIELD_IN_CDB, reason);
    }

    static int u8(byte[] c, int i) {
        return c[i] & 0xFF;
    }

    static int u16(byte[] c, int i) {
        return (c[i] & 0xFF) << 8 | (c[i + 1] & 0xFF);
    }

    static long u32(byte[] c, int i) {
        return ((long) u16(c, i) << 16) | u16(c, i + 2);
    }
}
