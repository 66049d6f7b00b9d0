package org.spindle.device.ata;

/**
 * The 2352 bytes of a Mode 1 CD sector (ECMA-130, clause 14), made from its 2048 bytes of user data:
 * the sync pattern, the header (the address as minutes, seconds and frames in BCD, and the mode), the
 * user data, the EDC (a 32-bit CRC over sync, header and data), eight zero bytes, and the P and Q
 * parity of the Reed-Solomon product code over header, data, EDC and zeros.
 */
public final class CdSector {
    public static final int RAW_SIZE = 2352;
    public static final int SYNC_SIZE = 12;
    public static final int HEADER_SIZE = 4;
    public static final int USER_SIZE = 2048;
    /** EDC (4), zeros (8), P parity (172), Q parity (104). */
    public static final int EDC_ECC_SIZE = 288;

    private static final int USER_OFFSET = SYNC_SIZE + HEADER_SIZE;
    private static final int EDC_OFFSET = USER_OFFSET + USER_SIZE;
    private static final int P_OFFSET = EDC_OFFSET + 12;
    private static final int Q_OFFSET = P_OFFSET + 172;

    /** The CRC table for the EDC polynomial (x^16 + x^15 + x^2 + 1)(x^16 + x^2 + x + 1), bit-reversed. */
    private static final int[] EDC_TABLE = new int[256];
    /** Multiplication by alpha in GF(2^8) with the field polynomial x^8 + x^4 + x^3 + x^2 + 1. */
    private static final int[] TIMES_ALPHA = new int[256];
    /** The inverse of x -> x * (alpha + 1), to solve for the second parity symbol. */
    private static final int[] DIV_ALPHA_PLUS_ONE = new int[256];

    static {
        for (int i = 0; i < 256; i++) {
            int crc = i;
            for (int bit = 0; bit < 8; bit++) {
                crc = (crc >>> 1) ^ ((crc & 1) != 0 ? 0xD8018001 : 0);
            }
            EDC_TABLE[i] = crc;
        }
        for (int i = 0; i < 256; i++) {
            TIMES_ALPHA[i] = ((i << 1) ^ ((i & 0x80) != 0 ? 0x11D : 0)) & 0xFF;
        }
        for (int i = 0; i < 256; i++) {
            DIV_ALPHA_PLUS_ONE[i ^ TIMES_ALPHA[i]] = i;
        }
    }

    private CdSector() {
    }

    /** Converts a logical block address to the physical address on the disc (LBA 0 is 00:02:00). */
    public static int[] msf(long lba) {
        long a = lba + 150;
        return new int[] {(int) (a / (60 * 75)), (int) (a / 75 % 60), (int) (a % 75)};
    }

    /**
     * Fills {@code sector} (2352 bytes) with the raw Mode 1 sector at {@code lba} around the user data
     * already at offset 16.
     */
    public static void encodeMode1(byte[] sector, long lba) {
        sector[0] = 0;
        for (int i = 1; i < 11; i++) {
            sector[i] = (byte) 0xFF;
        }
        sector[11] = 0;
        int[] msf = msf(lba);
        sector[12] = bcd(msf[0]);
        sector[13] = bcd(msf[1]);
        sector[14] = bcd(msf[2]);
        sector[15] = 1;
        int edc = edc(sector, 0, EDC_OFFSET);
        sector[EDC_OFFSET] = (byte) edc;
        sector[EDC_OFFSET + 1] = (byte) (edc >>> 8);
        sector[EDC_OFFSET + 2] = (byte) (edc >>> 16);
        sector[EDC_OFFSET + 3] = (byte) (edc >>> 24);
        for (int i = EDC_OFFSET + 4; i < P_OFFSET; i++) {
            sector[i] = 0;
        }
        // P: 86 columns of 24 symbols (the 2064 bytes from the header on, as 1032 words split in two
        // byte planes); Q: 52 diagonals of 43 symbols over those bytes and P.
        parity(sector, 86, 24, 2, 86, P_OFFSET);
        parity(sector, 52, 43, 86, 88, Q_OFFSET);
    }

    /** The EDC of {@code length} bytes at {@code offset}. */
    public static int edc(byte[] data, int offset, int length) {
        int crc = 0;
        for (int i = offset; i < offset + length; i++) {
            crc = (crc >>> 8) ^ EDC_TABLE[(crc ^ data[i]) & 0xFF];
        }
        return crc;
    }

    /**
     * Computes one of the two parity sets over the bytes from the header (offset 12) on. There are
     * {@code vectors} code words, each of {@code length} data symbols of one byte plane; the symbol
     * after index {@code i} is {@code step} further on, wrapping around the {@code vectors * length}
     * symbols. Each code word gets two parity symbols, written {@code vectors} apart at {@code out}.
     */
    private static void parity(byte[] sector, int vectors, int length, int startStride, int step, int out) {
        int size = vectors * length;
        for (int v = 0; v < vectors; v++) {
            int index = (v >> 1) * startStride + (v & 1);
            int sum = 0;
            int weighted = 0;
            for (int k = 0; k < length; k++) {
                int symbol = sector[12 + index] & 0xFF;
                index += step;
                if (index >= size) {
                    index -= size;
                }
                sum ^= symbol;
                weighted = TIMES_ALPHA[weighted ^ symbol];
            }
            // Two parity symbols p0, p1 make the syndromes vanish: p0 + p1 = sum, and the weighted sum
            // with them appended is zero.
            int p0 = DIV_ALPHA_PLUS_ONE[TIMES_ALPHA[weighted] ^ sum];
            sector[out + v] = (byte) p0;
            sector[out + v + vectors] = (byte) (p0 ^ sum);
        }
    }

    private static byte bcd(int value) {
        return (byte) ((value / 10) << 4 | value % 10);
    }
}
