package org.spindle.format.vhdx;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.zip.CRC32C;

/** The CRC-32C checksums of headers, region tables and log entries: computed with the checksum field as zero. */
final class Crc {
    private Crc() {
    }

    /** The checksum of {@code b[from, from+length)} with the four bytes at {@code from + field} taken as zero. */
    static int of(byte[] b, int from, int length, int field) {
        CRC32C crc = new CRC32C();
        crc.update(b, from, field);
        crc.update(new byte[4]);
        crc.update(b, from + field + 4, length - field - 4);
        return (int) crc.getValue();
    }

    static int stored(byte[] b, int at) {
        return ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN).getInt(at);
    }

    /** Computes and stores the checksum of {@code b[from, from+length)} at {@code from + field}. */
    static void seal(byte[] b, int from, int length, int field) {
        ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN).putInt(from + field, of(b, from, length, field));
    }
}
