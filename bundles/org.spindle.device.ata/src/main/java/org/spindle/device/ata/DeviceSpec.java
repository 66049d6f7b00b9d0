package org.spindle.device.ata;

import java.util.regex.Pattern;

/**
 * What a controller's configuration puts in one of its places (an IDE position, a SATA port): nothing,
 * {@code disk:ID} (an ATA disk over drive ID), {@code cdrom:ID} (a CD-ROM whose disc is drive ID while
 * it is attached) or {@code cdrom} (a CD-ROM whose disc the operator inserts).
 *
 * @param kind what sits there
 * @param drive the drive id it follows, or {@code null}
 * @since 1.2
 */
public record DeviceSpec(Kind kind, String drive) {
    private static final Pattern DRIVE_ID = Pattern.compile("[A-Za-z0-9][A-Za-z0-9._-]{0,63}");

    public enum Kind {
        NONE, DISK, CDROM
    }

    public static final DeviceSpec NONE = new DeviceSpec(Kind.NONE, null);

    /**
     * Reads the value of configuration property {@code key}.
     *
     * @throws IllegalArgumentException naming the property and what is wrong with its value
     */
    public static DeviceSpec parse(String key, String value) {
        String text = value == null ? "" : value.trim();
        if (text.isEmpty()) {
            return NONE;
        }
        if (text.equals("cdrom")) {
            return new DeviceSpec(Kind.CDROM, null);
        }
        int colon = text.indexOf(':');
        String kind = colon < 0 ? text : text.substring(0, colon);
        String id = colon < 0 ? "" : text.substring(colon + 1);
        Kind k = switch (kind) {
            case "disk" -> Kind.DISK;
            case "cdrom" -> Kind.CDROM;
            default -> throw new IllegalArgumentException(key + " = " + text
                    + ": not a device (disk:ID, cdrom:ID, cdrom, or empty for none)");
        };
        if (!DRIVE_ID.matcher(id).matches()) {
            throw new IllegalArgumentException(key + " = " + text + ": '" + id
                    + "' is not a drive id (1 to 64 letters, digits, '.', '_' or '-')");
        }
        return new DeviceSpec(k, id);
    }

    /** A drive id as an ATA serial number: its last 20 characters. */
    public static String serial(String text) {
        return text.length() <= 20 ? text : text.substring(text.length() - 20);
    }
}
