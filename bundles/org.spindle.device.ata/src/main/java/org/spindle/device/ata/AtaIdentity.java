package org.spindle.device.ata;

/**
 * The strings a device reports in IDENTIFY data and INQUIRY: printable ASCII, at most 40 characters
 * of model, 20 of serial number and 8 of firmware revision.
 *
 * @param model the model number (IDENTIFY words 27-46)
 * @param serial the serial number (words 10-19)
 * @param firmware the firmware revision (words 23-26)
 */
public record AtaIdentity(String model, String serial, String firmware) {
    public AtaIdentity {
        check("model", model, 40);
        check("serial", serial, 20);
        check("firmware", firmware, 8);
    }

    /** A disk's identity with Spindle's model and firmware and the given serial number. */
    public static AtaIdentity disk(String serial) {
        return new AtaIdentity("Spindle ATA Disk", serial, "1.0");
    }

    /** A CD-ROM's identity with Spindle's model and firmware and the given serial number. */
    public static AtaIdentity cdrom(String serial) {
        return new AtaIdentity("Spindle ATAPI CD-ROM", serial, "1.0");
    }

    /**
     * This identity with what a controller's configuration sets for the place {@code key}:
     * {@code KEY.serial}, {@code KEY.firmware} and {@code KEY.model} (as QEMU's {@code serial},
     * {@code ver} and {@code model} device properties).
     *
     * @throws IllegalArgumentException naming the property whose value cannot be an IDENTIFY string
     * @since 1.5
     */
    public AtaIdentity configured(String key, java.util.Map<String, ?> props) {
        String m = text(props, key + ".model", model);
        String s = text(props, key + ".serial", serial);
        String f = text(props, key + ".firmware", firmware);
        try {
            return new AtaIdentity(m, s, f);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException(key + ": " + e.getMessage(), e);
        }
    }

    private static String text(java.util.Map<String, ?> props, String key, String otherwise) {
        Object v = props.get(key);
        return v == null ? otherwise : v.toString();
    }

    private static void check(String what, String value, int max) {
        if (value == null || value.isBlank()) {
            throw new IllegalArgumentException("the " + what + " string is empty");
        }
        if (value.length() > max) {
            throw new IllegalArgumentException("the " + what + " string '" + value + "' is longer than " + max
                    + " characters");
        }
        for (int i = 0; i < value.length(); i++) {
            char c = value.charAt(i);
            if (c < 0x20 || c > 0x7E) {
                throw new IllegalArgumentException("the " + what + " string '" + value
                        + "' has a character that is not printable ASCII at " + i);
            }
        }
    }
}
