package org.spindle.device.ata;

/**
 * The command block registers as a transport delivers them (IDE's shadow registers with their HOB
 * bytes, AHCI's host-to-device FIS): the input of {@link AtaParser}, and the shape of the registers a
 * device reports back.
 *
 * @param command the command register
 * @param features the feature register: bits 7-0 current, 15-8 the previous write (HOB, "features exp")
 * @param count the sector count register: bits 7-0 current, 15-8 previous
 * @param lba LBA low, mid, high in bits 23-0 (current) and 47-24 (previous); in CHS addressing, bits
 *        7-0 are the sector and 23-8 the cylinder
 * @param device the device register (bit 6 LBA, bit 4 DEV, bits 3-0 head or LBA 27-24)
 */
public record Taskfile(int command, int features, int count, long lba, int device) {
    public Taskfile {
        command &= 0xFF;
        features &= 0xFFFF;
        count &= 0xFFFF;
        lba &= 0xFFFF_FFFF_FFFFL;
        device &= 0xFF;
    }

    /** Whether the device register selects LBA addressing (bit 6) rather than CHS. */
    public boolean lbaMode() {
        return (device & 0x40) != 0;
    }

    /** The 28-bit LBA: LBA low/mid/high and the device register's low nibble. */
    public long lba28() {
        return (lba & 0xFF_FFFFL) | ((long) (device & 0x0F) << 24);
    }

    /** The 48-bit LBA. */
    public long lba48() {
        return lba;
    }

    /** The 8-bit count, where 0 means 256. */
    public int count28() {
        int c = count & 0xFF;
        return c == 0 ? 256 : c;
    }

    /** The 16-bit count, where 0 means 65536. */
    public int count48() {
        return count == 0 ? 65536 : count;
    }

    /** The byte of {@code lba} at {@code index} (0 = LBA low, 5 = LBA high of the previous write). */
    public int lbaByte(int index) {
        return (int) (lba >>> (8 * index)) & 0xFF;
    }
}
