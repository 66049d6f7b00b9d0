package org.spindle.device.ata;

/**
 * A cylinder-head-sector translation: the geometry a device reports in IDENTIFY and uses for commands
 * that address sectors by CHS (device register bit 6 clear).
 *
 * @param cylinders 1 to 65535
 * @param heads 1 to 16
 * @param sectors sectors per track, 1 to 255
 */
public record Chs(int cylinders, int heads, int sectors) {
    /** The largest cylinder count IDENTIFY's default geometry reports (ATA's 8.4 GB limit). */
    public static final int MAX_DEFAULT_CYLINDERS = 16383;

    public Chs {
        if (cylinders < 1 || cylinders > 65535 || heads < 1 || heads > 16 || sectors < 1 || sectors > 255) {
            throw new IllegalArgumentException("no such geometry: " + cylinders + "/" + heads + "/" + sectors);
        }
    }

    /**
     * The default translation for {@code totalSectors}: 16 heads and 63 sectors per track, and as many
     * cylinders as fit (at least 1, at most {@link #MAX_DEFAULT_CYLINDERS}).
     */
    public static Chs defaultFor(long totalSectors) {
        long cylinders = Math.min(totalSectors / (16 * 63), MAX_DEFAULT_CYLINDERS);
        return new Chs((int) Math.max(1, cylinders), 16, 63);
    }

    /**
     * The translation INITIALIZE DEVICE PARAMETERS asks for: {@code heads} and {@code sectors} per
     * track, with as many cylinders as fit in {@code totalSectors} (at most 65535).
     */
    public static Chs withHeadsAndSectors(long totalSectors, int heads, int sectors) {
        long cylinders = Math.min(totalSectors / ((long) heads * sectors), 65535);
        return new Chs((int) Math.max(1, cylinders), heads, sectors);
    }

    /** The sectors the translation covers. */
    public long capacity() {
        return (long) cylinders * heads * sectors;
    }

    /**
     * The LBA of a CHS address, or -1 when the address is outside the geometry (sector 0, a head or
     * sector beyond it, a cylinder past the last).
     */
    public long toLba(int cylinder, int head, int sector) {
        if (sector < 1 || sector > sectors || head >= heads || cylinder >= cylinders) {
            return -1;
        }
        return ((long) cylinder * heads + head) * sectors + (sector - 1);
    }
}
