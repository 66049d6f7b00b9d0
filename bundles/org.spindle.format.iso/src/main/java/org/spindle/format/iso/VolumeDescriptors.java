package org.spindle.format.iso;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;

import org.spindle.storage.api.StorageBackend;
import org.spindle.storage.api.StorageException;
import org.spindle.storage.api.StorageException.Kind;

/**
 * What opening an image learns from its ISO 9660 volume descriptor set (ECMA-119, clause 8): the
 * primary volume descriptor and whether an El Torito boot record is present.
 *
 * <p>Every field comes from an image that may be damaged or hostile, so a field is checked before it
 * is believed, and the walk through the set stops after {@link #MAX_DESCRIPTORS} descriptors whether or
 * not a terminator was found: a set never needs that many, and the bound keeps opening cheap.
 *
 * @param fileSystem whether sector 16 holds a volume descriptor at all
 * @param primary the first primary volume descriptor, or {@code null}
 * @param elTorito whether the set holds an El Torito boot record
 */
record VolumeDescriptors(boolean fileSystem, Primary primary, boolean elTorito) {
    /** The sector size of CD data tracks (mode 1), and the only logical block size supported. */
    static final int SECTOR = 2048;
    /** The set starts after the 16-sector system area, which is left to the image's author. */
    static final long FIRST_SECTOR = 16;
    /** Where the first descriptor's standard identifier lies in the image. */
    static final int FIRST_ID_OFFSET = (int) FIRST_SECTOR * SECTOR + 1;
    static final int MAX_DESCRIPTORS = 64;

    static final int TYPE_BOOT_RECORD = 0;
    static final int TYPE_PRIMARY = 1;
    static final int TYPE_TERMINATOR = 255;

    private static final byte[] STANDARD_ID = "CD001".getBytes(StandardCharsets.US_ASCII);
    private static final String EL_TORITO = "EL TORITO SPECIFICATION";
    private static final VolumeDescriptors NONE = new VolumeDescriptors(false, null, false);

    /**
     * The facts of a primary volume descriptor that opening relies on or shows.
     *
     * @param systemId the system identifier (a-characters), trimmed and made printable
     * @param volumeId the volume identifier (d-characters), trimmed and made printable
     * @param sectors the volume space size, in 2048-byte logical blocks
     */
    record Primary(String systemId, String volumeId, long sectors) {
    }

    /**
     * Reads the set of an image of {@code sectors} whole sectors.
     *
     * @throws StorageException {@code CORRUPT_IMAGE} if the primary volume descriptor contradicts itself
     *         or the set has neither a primary volume descriptor nor an end; {@code UNSUPPORTED_FEATURE}
     *         if the volume uses logical blocks other than 2048 bytes
     */
    static VolumeDescriptors read(StorageBackend backend, long sectors) throws StorageException {
        long available = sectors - FIRST_SECTOR;
        if (available <= 0) {
            return NONE;
        }
        int count = (int) Math.min(available, MAX_DESCRIPTORS);
        ByteBuffer set = ByteBuffer.allocate(count * SECTOR);
        backend.read(FIRST_SECTOR * SECTOR, set);
        Primary primary = null;
        boolean elTorito = false;
        boolean terminated = false;
        int seen = 0;
        for (; seen < count; seen++) {
            ByteBuffer descriptor = set.slice(seen * SECTOR, SECTOR);
            if (!hasStandardId(descriptor, 1)) {
                break;
            }
            int type = Byte.toUnsignedInt(descriptor.get(0));
            if (type == TYPE_TERMINATOR) {
                terminated = true;
                break;
            }
            if (type == TYPE_PRIMARY && descriptor.get(6) == 1 && primary == null) {
                primary = parsePrimary(descriptor);
            } else if (type == TYPE_BOOT_RECORD && EL_TORITO.equals(text(descriptor, 7, 32))) {
                elTorito = true;
            }
        }
        if (seen == 0) {
            return NONE;
        }
        if (!terminated && primary == null) {
            String where = seen == MAX_DESCRIPTORS ? "in its first " + seen + " descriptors"
                    : seen == available ? "before the end of the file"
                    : "before sector " + (FIRST_SECTOR + seen) + ", which is no volume descriptor";
            throw corrupt("the volume descriptor set at sector 16 has no primary volume descriptor and no"
                    + " terminator " + where);
        }
        return new VolumeDescriptors(true, primary, elTorito);
    }

    /** Whether {@code bytes} holds "CD001" at {@code at}; false when it is too short to tell. */
    static boolean hasStandardId(ByteBuffer bytes, int at) {
        if (at < 0 || bytes.limit() - at < STANDARD_ID.length) {
            return false;
        }
        for (int i = 0; i < STANDARD_ID.length; i++) {
            if (bytes.get(at + i) != STANDARD_ID[i]) {
                return false;
            }
        }
        return true;
    }

    private static Primary parsePrimary(ByteBuffer descriptor) throws StorageException {
        // both-endian fields (ECMA-119 7.2.3, 7.3.3): a little-endian copy, then a big-endian one
        ByteBuffer little = descriptor.duplicate().order(ByteOrder.LITTLE_ENDIAN);
        ByteBuffer big = descriptor.duplicate().order(ByteOrder.BIG_ENDIAN);
        int blockLittle = Short.toUnsignedInt(little.getShort(128));
        int blockBig = Short.toUnsignedInt(big.getShort(130));
        if (blockLittle != blockBig) {
            throw corrupt("the primary volume descriptor gives its logical block size as " + blockLittle
                    + " (little-endian) and " + blockBig + " (big-endian)");
        }
        if (blockLittle != SECTOR) {
            throw new StorageException(Kind.UNSUPPORTED_FEATURE, "the volume has " + blockLittle
                    + "-byte logical blocks; only 2048-byte blocks are supported");
        }
        long sizeLittle = Integer.toUnsignedLong(little.getInt(80));
        long sizeBig = Integer.toUnsignedLong(big.getInt(84));
        if (sizeLittle != sizeBig) {
            throw corrupt("the primary volume descriptor gives its volume space size as " + sizeLittle
                    + " (little-endian) and " + sizeBig + " (big-endian) blocks");
        }
        if (sizeLittle <= FIRST_SECTOR) {
            throw corrupt("the volume space size of " + sizeLittle
                    + " blocks ends before the primary volume descriptor at sector 16");
        }
        return new Primary(text(descriptor, 8, 32), text(descriptor, 40, 32), sizeLittle);
    }

    /**
     * A text field, trimmed of its padding (spaces; some tools pad with NULs). Bytes outside printable
     * ASCII become '?', so that a hostile image cannot put control sequences into what a person reads.
     */
    private static String text(ByteBuffer descriptor, int at, int length) {
        StringBuilder sb = new StringBuilder(length);
        for (int i = at; i < at + length; i++) {
            int c = Byte.toUnsignedInt(descriptor.get(i));
            sb.append(c == 0 ? ' ' : c >= 0x20 && c < 0x7f ? (char) c : '?');
        }
        return sb.toString().strip();
    }

    static StorageException corrupt(String detail) {
        return new StorageException(Kind.CORRUPT_IMAGE, detail);
    }
}
