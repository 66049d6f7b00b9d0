package org.spindle.machine.core;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;

import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** fw_cfg read through its ports as SeaBIOS reads it: select with a 16-bit write, read bytes one at a time. */
class FwCfgTest {
    private final MappedSpace ports = new MappedSpace("port I/O", 0x10000);
    private final FwCfg fwcfg = new FwCfg(3L << 30, 1);

    @BeforeEach
    void map() {
        ports.map(FwCfg.PORT, 2, fwcfg, "fw_cfg");
    }

    private byte[] item(int key, int length) {
        ports.write(0x510, 2, key);
        byte[] out = new byte[length];
        for (int i = 0; i < length; i++) {
            out[i] = (byte) ports.read(0x511, 1);
        }
        return out;
    }

    @Test
    void theSignatureIdAndRamSizeReadAsFirmwareExpects() {
        assertThat(new String(item(0x0000, 4), StandardCharsets.US_ASCII)).isEqualTo("QEMU");
        assertThat(item(0x0001, 4)).containsExactly(1, 0, 0, 0);
        assertThat(ByteBuffer.wrap(item(0x0003, 8)).order(java.nio.ByteOrder.LITTLE_ENDIAN).getLong()).isEqualTo(3L << 30);
        assertThat(item(0x0005, 2)).containsExactly(1, 0);
        assertThat(item(0x0000, 6)).as("past the end: zeros").containsExactly('Q', 'E', 'M', 'U', 0, 0);
        assertThat(item(0x0042, 2)).as("an item that does not exist reads zeros").containsExactly(0, 0);
    }

    @Test
    void theFileDirectoryListsFilesInNameOrder() {
        fwcfg.addFile("etc/boot-fail-wait", new byte[] {5, 0, 0, 0});
        fwcfg.addFile("bootorder", "/pci@i0cf8/ide@1,1/drive@0/disk@0\n".getBytes(StandardCharsets.US_ASCII));
        ByteBuffer dir = ByteBuffer.wrap(item(0x0019, 4 + 2 * 64));
        assertThat(dir.getInt()).isEqualTo(2);
        int size = dir.getInt();
        int select = dir.getShort() & 0xFFFF;
        dir.getShort();
        byte[] name = new byte[56];
        dir.get(name);
        assertThat(new String(name, StandardCharsets.US_ASCII).trim()).isEqualTo("bootorder");
        assertThat(select).isEqualTo(0x20).isEqualTo(fwcfg.selectorOf("bootorder"));
        assertThat(new String(item(select, size), StandardCharsets.US_ASCII)).startsWith("/pci@i0cf8/ide@1,1");
        assertThat(dir.getInt()).isEqualTo(4);
        assertThat(dir.getShort() & 0xFFFF).isEqualTo(0x21);
        assertThat(item(0x21, 4)).containsExactly(5, 0, 0, 0);
        assertThatThrownBy(() -> fwcfg.addFile("x".repeat(56), new byte[0])).isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    void selectingAgainRestartsTheItemAndStateSurvivesSaveAndRestore() {
        ports.write(0x510, 2, 0);
        ports.read(0x511, 1);
        ports.read(0x511, 1);
        var state = fwcfg.save();
        fwcfg.reset();
        fwcfg.restore(state);
        assertThat(ports.read(0x511, 1)).isEqualTo('M');
        ports.write(0x511, 1, 0x55); // ignored
        assertThat(ports.read(0x511, 1)).isEqualTo('U');
        assertThat(item(0, 1)).containsExactly('Q');
    }
}
