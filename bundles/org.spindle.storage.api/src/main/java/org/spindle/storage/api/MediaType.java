package org.spindle.storage.api;

import java.util.Locale;

/** What kind of medium a drive presents to the guest. */
public enum MediaType {
    /** A hard disk: 512- or 4096-byte sectors, usually writable. */
    DISK,
    /** An optical disc (CD/DVD): 2048-byte sectors, read-only, removable; ATAPI devices present it. */
    CDROM;

    /** The sector size a CD medium always has. */
    public static final int CD_SECTOR_SIZE = 2048;

    /** The name used in configuration: lower case. */
    public String configName() {
        return name().toLowerCase(Locale.ROOT);
    }

    /**
     * Parses a configuration value, ignoring case.
     *
     * @throws IllegalArgumentException naming the accepted values
     */
    public static MediaType parse(String value) {
        for (MediaType type : values()) {
            if (type.name().equalsIgnoreCase(value.strip())) {
                return type;
            }
        }
        throw new IllegalArgumentException("unknown media type '" + value + "' (use disk or cdrom)");
    }
}
