package org.spindle.device.ide;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

import org.spindle.device.ata.Ata;
import org.spindle.device.ata.ArrayDisk;
import org.spindle.device.ata.AutoPlacement;
import org.spindle.device.ata.IoMode;

/**
 * Every {@link IdeTest} again under {@code io = auto} (the runtime's default), and the placement
 * itself: a disk starts on the I/O threads and runs inline once a window of its data phases has shown
 * the storage quick.
 */
class IdeAutoTest extends IdeTest {
    @Override
    IoMode io() {
        return IoMode.AUTO;
    }

    @Override
    ArrayDisk disk() {
        return new IdeWorkersTest.GatedDisk(SECTORS);
    }

    @Test
    void aDiskWhoseStorageIsQuickComesInlineAfterItsFirstWindow() {
        IdeWorkersTest.GatedDisk disk = (IdeWorkersTest.GatedDisk) image;
        for (int i = 0; i < AutoPlacement.FIRST_WINDOW; i++) {
            hd.prd(0x10000, new long[][] {{0x40000, 0x200}});
            hd.command28(0, Ata.READ_DMA, 0, 1, i);
            hd.startDma(true);
            assertThat(hd.status() & Ata.ERR).isZero();
            hd.stopDma();
        }
        assertThat(disk.threads).as("the first window on the I/O threads").isNotEmpty()
                .allMatch(t -> t.startsWith("spindle-ide-"));
        disk.threads.clear();
        hd.prd(0x10000, new long[][] {{0x40000, 0x200}});
        hd.command28(0, Ata.READ_DMA, 0, 1, 500);
        hd.startDma(true);
        assertThat(f.qt.memread(0x40000, 512)).isEqualTo(image.slice(500 * 512, 512));
        assertThat(disk.threads).as("then inline, on the machine thread").hasSize(1)
                .noneMatch(t -> t.startsWith("spindle-ide-"));
    }
}
