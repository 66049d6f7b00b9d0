package org.spindle.format.vhd;

/**
 * A VHD's CHS geometry, and the specification's algorithm for choosing one for a size (Appendix:
 * "CHS Calculation"): at most 65535 cylinders, 16 heads, 255 sectors per track; smaller disks get 17,
 * 31 or 63 sectors per track and at least 4 heads, the first of those that keeps the cylinder count
 * below 1024 per head.
 */
record VhdGeometry(int cylinders, int heads, int sectorsPerTrack) {
    static final VhdGeometry MAXIMUM = new VhdGeometry(65535, 16, 255);

    long sectors() {
        return (long) cylinders * heads * sectorsPerTrack;
    }

    long bytes() {
        return sectors() * 512;
    }

    boolean isMaximum() {
        return equals(MAXIMUM);
    }

    /** The geometry the specification gives a disk of {@code totalSectors} sectors (capped at the maximum). */
    static VhdGeometry forSectors(long totalSectors) {
        long total = Math.min(totalSectors, MAXIMUM.sectors());
        int spt;
        long heads;
        long cylTimesHeads;
        if (total >= 65535L * 16 * 63) {
            spt = 255;
            heads = 16;
            cylTimesHeads = total / spt;
        } else {
            spt = 17;
            cylTimesHeads = total / spt;
            heads = Math.max(4, (cylTimesHeads + 1023) / 1024);
            if (cylTimesHeads >= heads * 1024 || heads > 16) {
                spt = 31;
                heads = 16;
                cylTimesHeads = total / spt;
            }
            if (cylTimesHeads >= heads * 1024) {
                spt = 63;
                heads = 16;
                cylTimesHeads = total / spt;
            }
        }
        return new VhdGeometry((int) (cylTimesHeads / heads), (int) heads, spt);
    }

    /**
     * The smallest size of at least {@code bytes} that a geometry describes exactly (what
     * {@code qemu-img create -f vpc} makes without {@code force_size}), or -1 if none does below the
     * maximum geometry.
     */
    static long chsSizeAtLeast(long bytes) {
        long sectors = (bytes + 511) / 512;
        for (long s = sectors; s <= MAXIMUM.sectors() && s < sectors + 65536; s++) {
            VhdGeometry g = forSectors(s);
            if (g.sectors() >= sectors) {
                return g.bytes();
            }
        }
        return -1;
    }
}
