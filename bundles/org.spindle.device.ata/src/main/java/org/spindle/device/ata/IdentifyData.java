package org.spindle.device.ata;

import java.nio.charset.StandardCharsets;

/**
 * The 256 words of IDENTIFY DEVICE and IDENTIFY PACKET DEVICE data, little-endian, with ATA's
 * byte-swapped strings and the integrity word.
 */
final class IdentifyData {
    private final byte[] bytes = new byte[512];

    void word(int index, int value) {
        bytes[index * 2] = (byte) value;
        bytes[index * 2 + 1] = (byte) (value >>> 8);
    }

    /** Words {@code index} and {@code index + 1}: the low word first. */
    void dword(int index, long value) {
        word(index, (int) value & 0xFFFF);
        word(index + 1, (int) (value >>> 16) & 0xFFFF);
    }

    /** Words {@code index} to {@code index + 3}. */
    void qword(int index, long value) {
        dword(index, value & 0xFFFF_FFFFL);
        dword(index + 2, value >>> 32);
    }

    /**
     * An ASCII field of {@code words} words, space padded; each word holds its two characters with the
     * first in the high byte, as ATA strings are.
     */
    void string(int index, int words, String text) {
        byte[] chars = text.getBytes(StandardCharsets.US_ASCII);
        for (int i = 0; i < words * 2; i++) {
            byte c = i < chars.length ? chars[i] : (byte) ' ';
            bytes[index * 2 + (i ^ 1)] = c;
        }
    }

    /** The data, with word 255 holding the signature A5h and the checksum that makes all bytes sum to 0. */
    byte[] build() {
        bytes[510] = (byte) 0xA5;
        int sum = 0;
        for (int i = 0; i < 511; i++) {
            sum += bytes[i] & 0xFF;
        }
        bytes[511] = (byte) -sum;
        return bytes.clone();
    }

    /** A string field's text from IDENTIFY data (for tests and logs). */
    static String readString(byte[] data, int index, int words) {
        byte[] chars = new byte[words * 2];
        for (int i = 0; i < chars.length; i++) {
            chars[i] = data[index * 2 + (i ^ 1)];
        }
        return new String(chars, StandardCharsets.US_ASCII).strip();
    }
}
