package org.spindle.device.ata;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.Random;

import org.junit.jupiter.api.Test;

/**
 * Checks raw sectors against ECMA-130 directly: the EDC as a CRC whose remainder over data and EDC is
 * zero, and every P and Q code word's two syndromes (the sum of its symbols, and their sum weighted by
 * powers of alpha) zero, with the code words laid out by the standard's word-index formulas rather than
 * the encoder's strides.
 */
class CdSectorTest {
    private static int mul(int a, int b) {
        int r = 0;
        while (b != 0) {
            if ((b & 1) != 0) {
                r ^= a;
            }
            a = (a << 1) ^ ((a & 0x80) != 0 ? 0x11D : 0);
            a &= 0xFF;
            b >>>= 1;
        }
        return r;
    }

    private static int pow(int e) {
        int r = 1;
        for (int i = 0; i < e; i++) {
            r = mul(r, 2);
        }
        return r;
    }

    private static byte[] sector(long lba, long seed) {
        byte[] s = new byte[CdSector.RAW_SIZE];
        byte[] user = new byte[2048];
        new Random(seed).nextBytes(user);
        System.arraycopy(user, 0, s, 16, 2048);
        CdSector.encodeMode1(s, lba);
        return s;
    }

    @Test
    void syncAndHeaderAreBcdAddressesAndModeOne() {
        byte[] s = sector(16, 1);
        assertThat(s[0]).isZero();
        for (int i = 1; i < 11; i++) {
            assertThat(s[i]).isEqualTo((byte) 0xFF);
        }
        assertThat(s[11]).isZero();
        // LBA 16 is 00:02:16
        assertThat(new byte[] {s[12], s[13], s[14], s[15]}).containsExactly(0x00, 0x02, 0x16, 0x01);
        byte[] far = sector(449_849, 2); // 99:59:74
        assertThat(new byte[] {far[12], far[13], far[14]}).containsExactly(0x99, 0x59, 0x74);
    }

    @Test
    void edcLeavesAZeroRemainder() {
        byte[] s = sector(1234, 3);
        assertThat(CdSector.edc(s, 0, 2064 + 4)).isZero();
        s[100] ^= 1;
        assertThat(CdSector.edc(s, 0, 2064 + 4)).isNotZero();
    }

    @Test
    void everyPAndQCodeWordHasZeroSyndromes() {
        for (long lba : new long[] {0, 17, 300_000}) {
            byte[] s = sector(lba, lba);
            // P: 43 columns x 2 planes; symbol r of column c is word 43r + c (r < 26 includes parity).
            for (int plane = 0; plane < 2; plane++) {
                for (int c = 0; c < 43; c++) {
                    int s0 = 0;
                    int s1 = 0;
                    for (int r = 0; r < 26; r++) {
                        int v = s[12 + 2 * (43 * r + c) + plane] & 0xFF;
                        s0 ^= v;
                        s1 ^= mul(v, pow(25 - r));
                    }
                    assertThat(s0).as("P column %d plane %d", c, plane).isZero();
                    assertThat(s1).as("P column %d plane %d", c, plane).isZero();
                }
                // Q: 26 diagonals; symbol k < 43 of diagonal d is word (44k + 43d) mod 1118, parity words 1118 + d and 1144 + d.
                for (int d = 0; d < 26; d++) {
                    int s0 = 0;
                    int s1 = 0;
                    for (int k = 0; k < 45; k++) {
                        int word = k < 43 ? (44 * k + 43 * d) % 1118 : (k == 43 ? 1118 + d : 1144 + d);
                        int v = s[12 + 2 * word + plane] & 0xFF;
                        s0 ^= v;
                        s1 ^= mul(v, pow(44 - k));
                    }
                    assertThat(s0).as("Q diagonal %d plane %d", d, plane).isZero();
                    assertThat(s1).as("Q diagonal %d plane %d", d, plane).isZero();
                }
            }
        }
    }
}
