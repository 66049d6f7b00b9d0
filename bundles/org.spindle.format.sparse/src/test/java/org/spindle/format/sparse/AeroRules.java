package org.spindle.format.sparse;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.HashSet;
import java.util.Set;

/**
 * The open checks of the strictest other reader of the AEROSPAR layout, written out again from its
 * description, independently of {@link TableScan}: Spindle's images at rest must pass them.
 */
final class AeroRules {
    private AeroRules() {
    }

    static void assertStrictlyValid(byte[] file) {
        ByteBuffer b = ByteBuffer.wrap(file).order(ByteOrder.LITTLE_ENDIAN);
        assertThat(file.length).as("file length").isGreaterThanOrEqualTo(64);
        assertThat(new String(file, 0, 8, java.nio.charset.StandardCharsets.US_ASCII)).isEqualTo("AEROSPAR");
        assertThat(b.getInt(8)).as("version").isEqualTo(1);
        assertThat(b.getInt(12)).as("header_size").isEqualTo(64);
        long blockSize = Integer.toUnsignedLong(b.getInt(16));
        assertThat(Long.bitCount(blockSize)).as("block size is a power of two").isEqualTo(1);
        assertThat(blockSize).isBetween(512L, 16L << 20);
        assertThat(b.getInt(20)).as("reserved").isZero();
        long diskSize = b.getLong(24);
        assertThat(diskSize % 512).isZero();
        assertThat(b.getLong(32)).as("table_offset").isEqualTo(64);
        long entries = b.getLong(40);
        assertThat(entries).isEqualTo((diskSize + blockSize - 1) / blockSize);
        long dataOffset = b.getLong(48);
        assertThat(dataOffset).isEqualTo((64 + 8 * entries + blockSize - 1) / blockSize * blockSize);
        long allocated = b.getLong(56);
        assertThat(allocated).isLessThanOrEqualTo(entries);
        assertThat((long) file.length).as("file covers the allocated blocks")
                .isGreaterThanOrEqualTo(dataOffset + allocated * blockSize);
        Set<Long> seen = new HashSet<>();
        for (long i = 0; i < entries; i++) {
            long phys = b.getLong((int) (64 + 8 * i));
            if (phys == 0) {
                continue;
            }
            assertThat(phys).as("entry %d", i).isGreaterThanOrEqualTo(dataOffset);
            assertThat((phys - dataOffset) % blockSize).as("entry %d aligned", i).isZero();
            assertThat((phys - dataOffset) / blockSize).as("entry %d below allocated_blocks", i).isLessThan(allocated);
            assertThat(seen.add(phys)).as("entry %d unique", i).isTrue();
        }
        assertThat((long) seen.size()).as("allocated_blocks equals the entries in use").isEqualTo(allocated);
    }
}
