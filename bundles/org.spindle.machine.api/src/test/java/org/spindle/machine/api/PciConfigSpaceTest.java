package org.spindle.machine.api;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.Map;

import org.junit.jupiter.api.Test;

/** The register semantics of a configuration space, without a bus. */
class PciConfigSpaceTest {
    private static final IoHandler NONE = new IoHandler() {
        @Override
        public long read(long offset, int size) {
            return 0;
        }

        @Override
        public void write(long offset, int size, long value) {
        }
    };

    @Test
    void barsSizeThemselvesAndDecodeOnlyWhereTheyFit() {
        PciConfigSpace c = PciConfigSpace.builder(0x8086, 0x1234)
                .bar(0, PciBar.io(32, NONE))
                .bar(2, PciBar.memory64(1L << 33, true, NONE))
                .bar(4, PciBar.memory32(1 << 20, NONE)).build();
        c.write(0x10, 4, 0xFFFF_FFFFL);
        assertThat(c.read(0x10, 4)).isEqualTo(0xFFFF_FFE1L);
        c.write(0x18, 4, 0xFFFF_FFFFL);
        c.write(0x1C, 4, 0xFFFF_FFFFL);
        assertThat(c.read(0x18, 4)).isEqualTo(0x0000_000CL); // 8 GiB: no low address bits
        assertThat(c.read(0x1C, 4)).isEqualTo(0xFFFF_FFFEL);
        c.write(0x04, 2, 0x3);
        assertThat(c.decodedAddress(0)).as("sizing pattern past 64 KiB of ports").isEqualTo(PciConfigSpace.UNMAPPED);
        assertThat(c.decodedAddress(2)).isEqualTo(PciConfigSpace.UNMAPPED);
        c.write(0x10, 4, 0xC020);
        c.write(0x18, 4, 0);
        c.write(0x1C, 4, 0x4);
        c.write(0x20, 4, 0xFFF0_0000L);
        assertThat(c.decodedAddress(0)).isEqualTo(0xC020);
        assertThat(c.decodedAddress(2)).isEqualTo(0x4_0000_0000L);
        assertThat(c.decodedAddress(4)).as("a 32-bit BAR ending at 4 GiB - 1 is out").isEqualTo(PciConfigSpace.UNMAPPED);
        c.write(0x20, 4, 0xFEE0_0000L);
        assertThat(c.decodedAddress(4)).isEqualTo(0xFEE0_0000L);
        assertThat(c.bar(3)).as("the upper half of a 64-bit BAR").isNull();
        c.write(0x04, 2, 0x2);
        assertThat(c.decodedAddress(0)).isEqualTo(PciConfigSpace.UNMAPPED);
    }

    @Test
    void theBuilderRefusesWhatCannotBe() {
        assertThatThrownBy(() -> PciBar.io(12, NONE)).hasMessageContaining("power of two");
        assertThatThrownBy(() -> PciBar.memory32(8, NONE)).hasMessageContaining("from 16");
        assertThatThrownBy(() -> PciConfigSpace.builder(0xFFFF, 1)).hasMessageContaining("vendor");
        assertThatThrownBy(() -> PciConfigSpace.builder(1, 1).bar(5, PciBar.memory64(16, false, NONE)))
                .hasMessageContaining("a 64-bit one takes two");
        assertThatThrownBy(() -> PciConfigSpace.builder(1, 1).bar(0, PciBar.memory64(16, false, NONE)).bar(1, PciBar.io(4, NONE)))
                .hasMessageContaining("register 1 is taken");
        assertThatThrownBy(() -> PciConfigSpace.builder(1, 1).msix(4, 0, 0, 0, 64))
                .hasMessageContaining("not a memory BAR");
        assertThatThrownBy(() -> PciConfigSpace.builder(1, 1).bar(0, PciBar.memory32(64, NONE)).msix(4, 0, 0, 0, 32))
                .hasMessageContaining("overlap");
        assertThatThrownBy(() -> PciConfigSpace.builder(1, 1).msi(3, false, false)).hasMessageContaining("1, 2, 4");
        assertThatThrownBy(() -> PciConfigSpace.builder(1, 1).register(0x3C, 1, 0, 0xFF)).hasMessageContaining("0x40");
        assertThatThrownBy(() -> PciConfigSpace.builder(1, 1).interruptPin(5)).hasMessageContaining("INTA#");
    }

    @Test
    void restoreRefusesAStateOfAnotherShape() {
        PciConfigSpace small = PciConfigSpace.builder(1, 1).build();
        PciConfigSpace express = PciConfigSpace.builder(1, 1).extendedConfig().build();
        assertThat(express.read(0xFFC, 4)).isZero();
        assertThat(express.read(0x1000, 4)).isEqualTo(0xFFFF_FFFFL);
        Map<String, Object> state = express.save();
        assertThatThrownBy(() -> small.restore(state)).hasMessageContaining("256 bytes");
        assertThatThrownBy(() -> small.restore(Map.of())).hasMessageContaining("'config'");
    }

    @Test
    void deviceRegistersHonourTheirMasks() {
        PciConfigSpace c = PciConfigSpace.builder(1, 1).register(0x40, 2, 0x8001, 0x00F0).build();
        c.write(0x40, 2, 0xFFFF);
        assertThat(c.read(0x40, 2)).isEqualTo(0x80F1);
        c.set(0x40, 2, 0x1234);
        assertThat(c.get(0x40, 2)).isEqualTo(0x1234);
        c.reset();
        assertThat(c.read(0x40, 2)).isEqualTo(0x8001);
    }
}
