package org.spindle.format.sparse;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.zip.CRC32C;

import org.spindle.storage.api.BackingReference;
import org.spindle.storage.api.StorageException;
import org.spindle.storage.api.StorageException.Kind;

/**
 * Spindle's addition to the AEROSPAR layout: the base image of an overlay, stored in the padding
 * between the end of the block table and the data offset. That padding belongs to no field of the
 * layout and is never written by it, so an image with the extension stays a valid AEROSPAR v1 image
 * for implementations that do not know it (they see a plain sparse image without its base).
 *
 * <pre>
 * 0   8  magic "SPNDLEXT"
 * 8   4  version: 1, or 2 when the base's size and version are recorded (little-endian, as all fields)
 * 12  4  total length L, checksum included
 * 16  2  length n of the base location (UTF-8)
 * 18  2  length m of the base format name (UTF-8; 0 = probe)
 * version 1:
 * 20  n  base location
 * 20+n m base format
 * version 2:
 * 20  2  length k of the base's version (UTF-8; 0 = not recorded)
 * 22  2  zero
 * 24  8  the base's size in bytes, or -1 when not recorded
 * 32  n  base location
 * 32+n m base format
 * 32+n+m k base version
 * both:
 * L-4 4  CRC-32C of bytes 0 .. L-4
 * </pre>
 *
 * Version 1 is written whenever there is nothing to pin, so such overlays stay readable by Spindle
 * releases that know only version 1.
 */
record SparseExtension(BackingReference base) {
    static final byte[] MAGIC = "SPNDLEXT".getBytes(StandardCharsets.US_ASCII);
    private static final int FIXED_V1 = 24;
    private static final int FIXED_V2 = 36;
    /** Room the extension can have at most: a location is limited to a few KiB. */
    static final int MAX_LENGTH = 8192;

    /** The encoded extension, or an {@code INVALID_CONFIG} if it does not fit in {@code room} bytes. */
    ByteBuffer encode(long room) throws StorageException {
        byte[] location = base.location().getBytes(StandardCharsets.UTF_8);
        byte[] format = base.format() == null ? new byte[0] : base.format().getBytes(StandardCharsets.UTF_8);
        byte[] version = base.version() == null ? new byte[0] : base.version().getBytes(StandardCharsets.UTF_8);
        boolean pinned = base.size() >= 0 || base.version() != null;
        int length = (pinned ? FIXED_V2 + version.length : FIXED_V1) + location.length + format.length;
        if (location.length > 0xFFFF || format.length > 0xFFFF || version.length > 0xFFFF || length > MAX_LENGTH) {
            throw new StorageException(Kind.INVALID_CONFIG, "the base location is too long to record ("
                    + location.length + " bytes)");
        }
        if (length > room) {
            throw new StorageException(Kind.INVALID_CONFIG, "this block size leaves only " + room
                    + " bytes after the block table, and the base's name needs " + length
                    + "; choose another block size or a shorter base path");
        }
        ByteBuffer b = ByteBuffer.allocate(length).order(ByteOrder.LITTLE_ENDIAN);
        b.put(MAGIC).putInt(pinned ? 2 : 1).putInt(length).putShort((short) location.length)
                .putShort((short) format.length);
        if (pinned) {
            b.putShort((short) version.length).putShort((short) 0).putLong(base.size());
        }
        b.put(location).put(format);
        if (pinned) {
            b.put(version);
        }
        CRC32C crc = new CRC32C();
        crc.update(b.array(), 0, length - 4);
        b.putInt((int) crc.getValue());
        return b.flip();
    }

    /**
     * Reads the extension from the bytes between the table and the data offset.
     *
     * @return {@code null} when there is none (the padding does not start with the magic)
     * @throws StorageException {@code CORRUPT_IMAGE} when the magic is there but the rest is damaged:
     *         an overlay without its base would show the guest wrong data, so it must not open
     */
    static SparseExtension parse(ByteBuffer padding) throws StorageException {
        ByteBuffer b = padding.slice().order(ByteOrder.LITTLE_ENDIAN);
        if (b.remaining() < MAGIC.length) {
            return null;
        }
        byte[] magic = new byte[MAGIC.length];
        b.get(0, magic);
        if (!Arrays.equals(magic, MAGIC)) {
            return null;
        }
        if (b.remaining() < FIXED_V1) {
            throw damaged("it is cut off by the data area");
        }
        int layout = b.getInt(8);
        if (layout != 1 && layout != 2) {
            throw new StorageException(Kind.UNSUPPORTED_FEATURE, "the Spindle extension has version "
                    + Integer.toUnsignedString(layout) + " (1 and 2 are known)");
        }
        int fixed = layout == 1 ? FIXED_V1 : FIXED_V2;
        if (b.remaining() < fixed) {
            throw damaged("it is cut off by the data area");
        }
        int length = b.getInt(12);
        int n = Short.toUnsignedInt(b.getShort(16));
        int m = Short.toUnsignedInt(b.getShort(18));
        int k = layout == 1 ? 0 : Short.toUnsignedInt(b.getShort(20));
        if (length < fixed || length > Math.min(MAX_LENGTH, b.remaining()) || length != fixed + n + m + k) {
            throw damaged("its length field " + Integer.toUnsignedString(length) + " does not fit its contents");
        }
        CRC32C crc = new CRC32C();
        crc.update(b.duplicate().position(0).limit(length - 4));
        if ((int) crc.getValue() != b.getInt(length - 4)) {
            throw damaged("its checksum does not match");
        }
        int at = fixed - 4;
        byte[] location = new byte[n];
        b.get(at, location);
        byte[] format = new byte[m];
        b.get(at + n, format);
        byte[] version = new byte[k];
        b.get(at + n + m, version);
        String locationText = new String(location, StandardCharsets.UTF_8);
        if (locationText.isBlank()) {
            throw damaged("it names an empty base location");
        }
        long size = layout == 1 ? -1 : b.getLong(24);
        String versionText = k == 0 ? null : new String(version, StandardCharsets.UTF_8);
        if (size < -1 || (versionText != null && (versionText.isBlank()
                || versionText.length() > BackingReference.MAX_VERSION_LENGTH))) {
            throw damaged("it records a base size of " + size + " or an unusable base version");
        }
        return new SparseExtension(new BackingReference(locationText,
                m == 0 ? null : new String(format, StandardCharsets.UTF_8), size, versionText));
    }

    private static StorageException damaged(String why) {
        return new StorageException(Kind.CORRUPT_IMAGE, "the Spindle extension (the overlay's base) is damaged: " + why);
    }
}
