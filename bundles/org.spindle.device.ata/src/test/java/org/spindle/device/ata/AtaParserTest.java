package org.spindle.device.ata;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

import org.spindle.device.ata.AtaCommand.ModeFamily;
import org.spindle.device.ata.AtaCommand.Protocol;

class AtaParserTest {
    private static final Chs CHS = new Chs(1000, 16, 63);

    private static AtaCommand parse(int command, int features, int count, long lba, int device) {
        return AtaParser.parse(new Taskfile(command, features, count, lba, device), CHS);
    }

    @Test
    void lba28ReadTakesTheTopNibbleFromTheDeviceRegisterAndZeroCountIs256() {
        assertThat(parse(Ata.READ_SECTORS, 0, 0, 0x563412, 0xE7))
                .isEqualTo(new AtaCommand.ReadWrite(false, 0x7563412L, 256, Protocol.PIO, false, false));
        assertThat(parse(Ata.WRITE_DMA, 0, 5, 0x10, 0xE0))
                .isEqualTo(new AtaCommand.ReadWrite(true, 0x10, 5, Protocol.DMA, false, false));
        assertThat(parse(Ata.READ_MULTIPLE, 0, 8, 0, 0x40))
                .isEqualTo(new AtaCommand.ReadWrite(false, 0, 8, Protocol.PIO_MULTIPLE, false, false));
        assertThat(parse(Ata.WRITE_VERIFY, 0, 1, 3, 0x40))
                .isEqualTo(new AtaCommand.ReadWrite(true, 3, 1, Protocol.PIO, false, true));
    }

    @Test
    void lba48UsesTheHighOrderBytesAndZeroCountIs65536() {
        assertThat(parse(Ata.READ_DMA_EXT, 0, 0, 0xAABBCC_112233L, 0x4F))
                .isEqualTo(new AtaCommand.ReadWrite(false, 0xAABBCC_112233L, 65536, Protocol.DMA, true, false));
        assertThat(parse(Ata.WRITE_SECTORS_EXT, 0, 0x0102, 1, 0x40))
                .isEqualTo(new AtaCommand.ReadWrite(true, 1, 0x0102, Protocol.PIO, true, false));
        assertThat(parse(Ata.READ_VERIFY_EXT, 0, 0, 7, 0x40)).isEqualTo(new AtaCommand.ReadVerify(7, 65536, true));
    }

    @Test
    void chsAddressesGoThroughTheTranslationAndOutsideIsIdNotFound() {
        // cylinder 2, head 3, sector 4: (2 * 16 + 3) * 63 + 3
        assertThat(parse(Ata.READ_SECTORS, 0, 1, 0x000204, 0xA3))
                .isEqualTo(new AtaCommand.ReadWrite(false, (2 * 16 + 3) * 63 + 3, 1, Protocol.PIO, false, false));
        assertThat(parse(Ata.READ_SECTORS, 0, 1, 0x000200, 0xA0)).isInstanceOf(AtaCommand.Rejected.class)
                .extracting(c -> ((AtaCommand.Rejected) c).error()).isEqualTo(Ata.IDNF);
        assertThat(parse(Ata.READ_SECTORS, 0, 1, 0x000240, 0xA0)).isInstanceOf(AtaCommand.Rejected.class);
        assertThat(parse(Ata.READ_VERIFY, 0, 1, 0x03E801, 0xA0)).isInstanceOf(AtaCommand.Rejected.class);
    }

    @Test
    void setFeatures() {
        assertThat(parse(Ata.SET_FEATURES, 0x02, 0, 0, 0)).isEqualTo(new AtaCommand.SetWriteCache(true));
        assertThat(parse(Ata.SET_FEATURES, 0x82, 0, 0, 0)).isEqualTo(new AtaCommand.SetWriteCache(false));
        assertThat(parse(Ata.SET_FEATURES, 0x03, 0x45, 0, 0)).isEqualTo(new AtaCommand.SetTransferMode(ModeFamily.UDMA, 5));
        assertThat(parse(Ata.SET_FEATURES, 0x03, 0x22, 0, 0)).isEqualTo(new AtaCommand.SetTransferMode(ModeFamily.MWDMA, 2));
        assertThat(parse(Ata.SET_FEATURES, 0x03, 0x0C, 0, 0)).isEqualTo(new AtaCommand.SetTransferMode(ModeFamily.PIO, 4));
        assertThat(parse(Ata.SET_FEATURES, 0x03, 0x01, 0, 0)).isEqualTo(new AtaCommand.SetTransferMode(ModeFamily.PIO_DEFAULT, 0));
        assertThat(parse(Ata.SET_FEATURES, 0x03, 0x46, 0, 0)).isInstanceOf(AtaCommand.Rejected.class);
        assertThat(parse(Ata.SET_FEATURES, 0x03, 0x23, 0, 0)).isInstanceOf(AtaCommand.Rejected.class);
        assertThat(parse(Ata.SET_FEATURES, 0xAA, 0, 0, 0)).isEqualTo(new AtaCommand.SetFeatureAccepted(0xAA));
        assertThat(parse(Ata.SET_FEATURES, 0x05, 0, 0, 0)).isInstanceOf(AtaCommand.Rejected.class);
    }

    @Test
    void setMultipleTakesPowersOfTwoUpToTheMaximumOrZero() {
        assertThat(parse(Ata.SET_MULTIPLE_MODE, 0, 16, 0, 0)).isEqualTo(new AtaCommand.SetMultipleMode(16));
        assertThat(parse(Ata.SET_MULTIPLE_MODE, 0, 0, 0, 0)).isEqualTo(new AtaCommand.SetMultipleMode(0));
        assertThat(parse(Ata.SET_MULTIPLE_MODE, 0, 3, 0, 0)).isInstanceOf(AtaCommand.Rejected.class);
        assertThat(parse(Ata.SET_MULTIPLE_MODE, 0, 32, 0, 0)).isInstanceOf(AtaCommand.Rejected.class);
    }

    @Test
    void otherCommands() {
        assertThat(parse(Ata.DATA_SET_MANAGEMENT, 1, 2, 0, 0x40)).isEqualTo(new AtaCommand.Trim(2));
        assertThat(parse(Ata.DATA_SET_MANAGEMENT, 0, 2, 0, 0x40)).isInstanceOf(AtaCommand.Rejected.class);
        assertThat(parse(Ata.INITIALIZE_DEVICE_PARAMETERS, 0, 32, 0, 0x07))
                .isEqualTo(new AtaCommand.InitializeDeviceParameters(8, 32));
        assertThat(parse(Ata.INITIALIZE_DEVICE_PARAMETERS, 0, 0, 0, 0x07)).isInstanceOf(AtaCommand.Rejected.class);
        assertThat(parse(Ata.PACKET, 1, 0, 0xFE00, 0)).isEqualTo(new AtaCommand.Packet(true, 0xFE));
        assertThat(parse(Ata.PACKET, 0, 0, 0x080000, 0)).isEqualTo(new AtaCommand.Packet(false, 0x0800));
        assertThat(parse(Ata.READ_NATIVE_MAX_EXT, 0, 0, 0, 0)).isEqualTo(new AtaCommand.ReadNativeMax(true));
        assertThat(parse(0xB0, 0, 0, 0, 0)).isEqualTo(new AtaCommand.Rejected(Ata.ABRT, "unsupported command B0h"));
        assertThat(parse(Ata.NOP, 0, 0, 0, 0)).isInstanceOf(AtaCommand.Rejected.class);
    }
}
