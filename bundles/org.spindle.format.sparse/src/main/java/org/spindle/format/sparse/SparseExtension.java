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
 * 8   4  version = 1 (little-endian, as all fields)
 * 12  4  total length L, checksum included
 * 16  2  length n of the base location (UTF-8)
 * 18  2  length m of the base format name (UTF-8; 0 = probe)
 * 20  n  base location
 * 20+n m base format
 * L-4 4  CRC-32C of bytes 0 .. L-4
 * </pre>
 */
record SparseExtension(BackingReference base) {
    static final byte[] MAGIC = "SPNDLEXT".getBytes(StandardCharsets.US_ASCII);
    private static final int VERSION = 1;
    private static final int FIXED = 24;
    /** Room the extension can have at most: a location is limited to a few KiB. */
    static final int MAX_LENGTH = 8192;

    /** The encoded extension, or an {@code INVALID_CONFIG} if it does not fit in {@code room} bytes. */
    ByteBuffer encode(long room) throws StorageException {
        byte[] location = base.location().getBytes(StandardCharsets.UTF_8);
        byte[] format = base.format() == null ? new byte[0] : base.format().getBytes(StandardCharsets.UTF_8);
        int length = FIXED + location.length + format.length;
        if (location.length > 0xFFFF || format.length > 0xFFFF || length > MAX_LENGTH) {
            throw new StorageException(Kind.INVALID_CONFIG, "the base location is too long to record ("
                    + location.length + " bytes)");
        }
        if (length > room) {
            throw new StorageException(Kind.INVALID_CONFIG, "this block size leaves only " + room
                    + " bytes after the block table, and the base's name needs " + length
                    + "; choose another block size or a shorter base path");
        }
        ByteBuffer b = ByteBuffer.allocate(length).order(ByteOrder.LITTLE_ENDIAN);
        b.put(MAGIC).putInt(VERSION).putInt(length).putShort((short) location.length)
                .putShort((short) format.length).put(location).put(format);
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
        if (b.remaining() < FIXED) {
            throw damaged("it is cut off by the data area");
        }
        int version = b.getInt(8);
        if (version != VERSION) {
            throw new StorageException(Kind.UNSUPPORTED_FEATURE, "the Spindle extension has version "
                    + Integer.toUnsignedString(version) + " (only 1 is known)");
        }
        int length = b.getInt(12);
        int n = Short.toUnsignedInt(b.getShort(16));
        int m = Short.toUnsignedInt(b.getShort(18));
        if (length < FIXED || length > Math.min(MAX_LENGTH, b.remaining()) || length != FIXED + n + m) {
            throw damaged("its length field " + Integer.toUnsignedString(length) + " does not fit its contents");
        }
        CRC32C crc = new CRC32C();
        crc.update(b.duplicate().position(0).limit(length - 4));
        if ((int) crc.getValue() != b.getInt(length - 4)) {
            throw damaged("its checksum does not match");
        }
        byte[] location = new byte[n];
        b.get(20, location);
        byte[] format = new byte[m];
        b.get(20 + n, format);
        String locationText = new String(location, StandardCharsets.UTF_8);
        if (locationText.isBlank()) {
            throw damaged("it names an empty base location");
        }
        return new SparseExtension(new BackingReference(locationText,
                m == 0 ? null : new String(format, StandardCharsets.UTF_8)));
    }

    private static StorageException damaged(String why) {
        return new StorageException(Kind.CORRUPT_IMAGE, "the Spindle extension (the overlay's base) is damaged: " + why);
    }
}
