package org.spindle.device.ata;

import org.spindle.device.ata.AtaCommand.ModeFamily;

/**
 * The DMA mode a device has selected (SET FEATURES 03h): what IDENTIFY data reports in words 63 and
 * 88, next to the modes it supports (PIO 3-4, multiword DMA 0-2, Ultra DMA 0-5). Choosing a PIO mode
 * leaves the DMA selection as it is. The parser has refused modes outside these already.
 *
 * @param family {@link ModeFamily#MWDMA} or {@link ModeFamily#UDMA}
 * @param mode the mode number
 */
record TransferMode(ModeFamily family, int mode) {
    /** The power-on selection: Ultra DMA 5. */
    static final TransferMode DEFAULT = new TransferMode(ModeFamily.UDMA, 5);

    /** The selection after {@code command}. */
    TransferMode apply(AtaCommand.SetTransferMode command) {
        return switch (command.family()) {
            case MWDMA, UDMA -> new TransferMode(command.family(), command.mode());
            case PIO, PIO_DEFAULT -> this;
        };
    }

    /** Writes words 63-68 and 88: the supported and selected modes and the cycle times. */
    void describe(IdentifyData id) {
        id.word(63, 0x0007 | (family == ModeFamily.MWDMA ? 0x0100 << mode : 0));
        id.word(64, 0x0003);
        id.word(65, 120);
        id.word(66, 120);
        id.word(67, 120);
        id.word(68, 120);
        id.word(88, 0x003F | (family == ModeFamily.UDMA ? 0x0100 << mode : 0));
    }

    String save() {
        return family.name() + ":" + mode;
    }

    /** @throws IllegalArgumentException for a value {@link #save} does not make */
    static TransferMode parse(String saved) {
        int colon = saved.indexOf(':');
        if (colon < 0) {
            throw new IllegalArgumentException("a saved transfer mode '" + saved + "'");
        }
        return new TransferMode(ModeFamily.valueOf(saved.substring(0, colon)),
                Integer.parseInt(saved.substring(colon + 1)));
    }
}
