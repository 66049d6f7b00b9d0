package org.spindle.format.iso;

import java.nio.charset.StandardCharsets;
import java.util.Arrays;

/**
 * Builds ISO 9660 images by hand, so that each test states exactly the descriptor fields it relies on
 * and can break one at a time. Descriptors go one after the other from sector 16; every other byte
 * holds a pattern derived from its offset, so that misplaced reads show.
 */
final class IsoImage {
    static final int SECTOR = 2048;

    private final byte[] bytes;
    private int next = 16;

    private IsoImage(int sectors) {
        bytes = new byte[sectors * SECTOR];
        for (int i = 0; i < bytes.length; i++) {
            bytes[i] = pattern(i);
        }
    }

    /** An image of {@code sectors} sectors with no descriptors yet. */
    static IsoImage ofSectors(int sectors) {
        return new IsoImage(sectors);
    }

    /** The usual image: a primary volume descriptor for the whole file, then a terminator. */
    static byte[] valid(int sectors) {
        return ofSectors(sectors).primary("SPINDLE", "TEST_VOLUME", sectors).terminator().bytes();
    }

    static byte pattern(long offset) {
        return (byte) (offset * 31 + (offset >>> 11) * 7 + 1);
    }

    /** A primary volume descriptor with 2048-byte blocks. */
    IsoImage primary(String systemId, String volumeId, long volumeSectors) {
        return primary(systemId, volumeId, volumeSectors, volumeSectors, SECTOR, SECTOR);
    }

    /** A primary volume descriptor whose both-endian fields may disagree. */
    IsoImage primary(String systemId, String volumeId, long sizeLittle, long sizeBig, int blockLittle,
            int blockBig) {
        int at = descriptor(1);
        text(at + 8, systemId, 32, (byte) ' ');
        text(at + 40, volumeId, 32, (byte) ' ');
        little32(at + 80, sizeLittle);
        big32(at + 84, sizeBig);
        bothEndian16(at + 120, 1); // volume set size
        bothEndian16(at + 124, 1); // volume sequence number
        little16(at + 128, blockLittle);
        big16(at + 130, blockBig);
        bytes[at + 881] = 1; // file structure version
        return this;
    }

    /** An El Torito boot record (its identifier padded with NULs, as the specification has it). */
    IsoImage bootRecord() {
        return bootRecord("EL TORITO SPECIFICATION");
    }

    IsoImage bootRecord(String bootSystemId) {
        int at = descriptor(0);
        text(at + 7, bootSystemId, 32, (byte) 0);
        return this;
    }

    /** A supplementary descriptor (type 2, as Joliet uses) with nothing in it: one more to walk past. */
    IsoImage supplementary() {
        descriptor(2);
        return this;
    }

    IsoImage terminator() {
        descriptor(255);
        return this;
    }

    byte[] bytes() {
        return bytes.clone();
    }

    private int descriptor(int type) {
        int at = next++ * SECTOR;
        Arrays.fill(bytes, at, at + SECTOR, (byte) 0);
        bytes[at] = (byte) type;
        System.arraycopy("CD001".getBytes(StandardCharsets.US_ASCII), 0, bytes, at + 1, 5);
        bytes[at + 6] = 1;
        return at;
    }

    private void text(int at, String value, int length, byte pad) {
        byte[] b = value.getBytes(StandardCharsets.US_ASCII);
        Arrays.fill(bytes, at, at + length, pad);
        System.arraycopy(b, 0, bytes, at, Math.min(length, b.length));
    }

    private void bothEndian16(int at, int value) {
        little16(at, value);
        big16(at + 2, value);
    }

    private void little16(int at, int value) {
        bytes[at] = (byte) value;
        bytes[at + 1] = (byte) (value >>> 8);
    }

    private void big16(int at, int value) {
        bytes[at] = (byte) (value >>> 8);
        bytes[at + 1] = (byte) value;
    }

    private void little32(int at, long value) {
        for (int i = 0; i < 4; i++) {
            bytes[at + i] = (byte) (value >>> (8 * i));
        }
    }

    private void big32(int at, long value) {
        for (int i = 0; i < 4; i++) {
            bytes[at + 3 - i] = (byte) (value >>> (8 * i));
        }
    }
}
