package org.spindle.device.ide;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.ByteBuffer;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

import org.junit.jupiter.api.Test;

import org.spindle.device.ata.Ata;
import org.spindle.device.ata.ArrayDisk;
import org.spindle.device.ata.IoMode;
import org.spindle.machine.api.DeviceStateDTO;
import org.spindle.storage.api.StorageException;

/**
 * Every {@link IdeTest} again with the controller's storage work on I/O threads, and what only that
 * shows: a command in flight (BSY for PIO and non-data commands, the bus master active for DMA) while
 * the storage has not answered, and what a reset, the bus master's stop and a save do to such a command.
 */
class IdeWorkersTest extends IdeTest {
    /** How long a test lets the storage hold a request before it answers. */
    private static final long HOLD_MILLIS = 200;

    /**
     * A disk whose reads, writes and flushes wait while its gate is closed, recording the threads they
     * ran on and how many have come through.
     */
    static final class GatedDisk extends ArrayDisk {
        final Set<String> threads = ConcurrentHashMap.newKeySet();
        final AtomicInteger passed = new AtomicInteger();
        private volatile CountDownLatch gate = new CountDownLatch(0);

        GatedDisk(int sectors) {
            super(sectors * 512, 512, false);
        }

        /** Requests from now on wait until {@link #open()}. */
        void shut() {
            gate = new CountDownLatch(1);
        }

        void open() {
            gate.countDown();
        }

        /** Opens the gate from another thread after {@code millis}. */
        void openAfter(long millis) {
            Thread.ofPlatform().daemon().start(() -> {
                try {
                    Thread.sleep(millis);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
                open();
            });
        }

        private void pass() {
            threads.add(Thread.currentThread().getName());
            try {
                if (!gate.await(30, TimeUnit.SECONDS)) {
                    throw new IllegalStateException("the gate stayed shut");
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }

        @Override
        public void read(long offset, ByteBuffer dst) throws StorageException {
            pass();
            super.read(offset, dst);
            passed.incrementAndGet();
        }

        @Override
        public void write(long offset, ByteBuffer src) throws StorageException {
            pass();
            super.write(offset, src);
            passed.incrementAndGet();
        }

        @Override
        public void flush() {
            pass();
            super.flush();
            passed.incrementAndGet();
        }
    }

    @Override
    IoMode io() {
        return IoMode.WORKERS;
    }

    @Override
    ArrayDisk disk() {
        return new GatedDisk(SECTORS);
    }

    private GatedDisk gated() {
        return (GatedDisk) image;
    }

    @Test
    void storageWorkRunsOnTheControllersIoThreads() {
        hd.command28(0, Ata.READ_SECTORS, 0, 2, 10);
        assertThat(hd.pioIn(2, 512)).isEqualTo(image.slice(10 * 512, 1024));
        assertThat(gated().threads).isNotEmpty().allMatch(t -> t.startsWith("spindle-ide-"));
    }

    @Test
    void dataFromMemoryMovesAtOnceWithoutAnIoThread() {
        gated().shut(); // IDENTIFY never reaches the storage
        hd.select(0);
        f.qt.outb(IdeFixture.PRIMARY + 7, Ata.IDENTIFY_DEVICE);
        assertThat(hd.irq()).as("the interrupt came with the command").isTrue();
        assertThat(hd.altStatus() & (Ata.BSY | Ata.DRQ)).isEqualTo(Ata.DRQ);
        gated().open();
        assertThat(gated().threads).isEmpty();
    }

    @Test
    void aFlushIsInFlightWithBsyUntilTheStorageAnswers() {
        gated().shut();
        hd.select(0);
        f.qt.outb(IdeFixture.PRIMARY + 7, Ata.FLUSH_CACHE);
        assertThat(hd.altStatus()).as("BSY and DRDY while the flush runs").isEqualTo(Ata.BSY | Ata.DRDY);
        assertThat(hd.irq()).isFalse();
        assertThat(image.flushes).isZero();
        f.qt.outb(IdeFixture.PRIMARY + 7, Ata.READ_SECTORS);
        assertThat(hd.altStatus()).as("a command while BSY is ignored").isEqualTo(Ata.BSY | Ata.DRDY);
        gated().open();
        assertThat(hd.waitNotBusy() & (Ata.DRDY | Ata.DRQ | Ata.ERR | Ata.DF)).isEqualTo(Ata.DRDY);
        assertThat(hd.irq()).isTrue();
        assertThat(image.flushes).isEqualTo(1);
        assertThat(hd.status() & Ata.DRQ).as("the ignored READ SECTORS never started").isZero();
    }

    @Test
    void aDmaReadIsInFlightWithTheBusMasterActiveUntilTheStorageAnswers() {
        gated().shut();
        hd.prd(0x10000, new long[][] {{0x40000, 0x400}});
        hd.command28(0, Ata.READ_DMA, 0, 2, 30);
        f.qt.outb(hd.bm, 0x09);
        assertThat(hd.bmStatus() & 0x07).as("active, no interrupt yet").isEqualTo(0x01);
        assertThat(hd.altStatus() & (Ata.BSY | Ata.DRQ)).isEqualTo(Ata.DRQ);
        assertThat(hd.irq()).isFalse();
        gated().open();
        assertThat(hd.waitDma() & 0x07).isEqualTo(0x04);
        assertThat(hd.irq()).isTrue();
        assertThat(f.qt.memread(0x40000, 0x400)).isEqualTo(image.slice(30 * 512, 0x400));
        assertThat(hd.status() & (Ata.BSY | Ata.DRQ | Ata.ERR)).isZero();
    }

    @Test
    void stoppingTheBusMasterWaitsForTheTransferToEnd() {
        gated().shut();
        hd.prd(0x10000, new long[][] {{0x50000, 0x1000}}); // longer than the transfer
        hd.command28(0, Ata.READ_DMA, 0, 1, 70);
        f.qt.outb(hd.bm, 0x09);
        gated().openAfter(HOLD_MILLIS);
        hd.stopDma(); // returns once the transfer has ended
        assertThat(hd.bmStatus() & 0x07).as("interrupt, no longer active").isEqualTo(0x04);
        assertThat(hd.irq()).isTrue();
        assertThat(f.qt.memread(0x50000, 512)).isEqualTo(image.slice(70 * 512, 512));
        assertThat(hd.status() & (Ata.BSY | Ata.DRQ | Ata.ERR)).isZero();
    }

    @Test
    void aPioWriteBlockIsInFlightWithBsyUntilTheStorageTakesIt() {
        byte[] data = new byte[1024];
        Arrays.fill(data, (byte) 0x3C);
        hd.command28(0, Ata.WRITE_SECTORS, 0, 2, 40);
        gated().shut();
        for (int i = 0; i < 512; i += 2) {
            f.qt.outw(IdeFixture.PRIMARY, 0x3C3C);
        }
        assertThat(hd.altStatus()).as("BSY while the block is written").isEqualTo(Ata.BSY | Ata.DRDY | Ata.DSC);
        assertThat(hd.irq()).isFalse();
        gated().open();
        assertThat(hd.waitNotBusy() & (Ata.DRQ | Ata.ERR)).as("the second block asked for").isEqualTo(Ata.DRQ);
        assertThat(hd.irq()).isTrue();
        hd.status();
        hd.pioOut(Arrays.copyOfRange(data, 512, 1024), 512);
        assertThat(hd.irq()).isTrue();
        assertThat(hd.status() & (Ata.BSY | Ata.DRQ | Ata.ERR)).isZero();
        assertThat(image.slice(40 * 512, 1024)).isEqualTo(data);
    }

    @Test
    void aDiskIgnoresDeviceResetWhileBusy() {
        gated().shut();
        f.qt.outb(IdeFixture.PRIMARY + 6, 0xE0);
        f.qt.outb(IdeFixture.PRIMARY + 2, 1);
        f.qt.outb(IdeFixture.PRIMARY + 3, 8);
        f.qt.outb(IdeFixture.PRIMARY + 4, 0);
        f.qt.outb(IdeFixture.PRIMARY + 5, 0);
        f.qt.outb(IdeFixture.PRIMARY + 7, Ata.READ_SECTORS);
        f.qt.outb(IdeFixture.PRIMARY + 7, Ata.DEVICE_RESET);
        assertThat(hd.altStatus() & Ata.BSY).as("still busy with the read").isNotZero();
        gated().open();
        assertThat(hd.pioIn(1, 512)).isEqualTo(image.slice(8 * 512, 512));
        assertThat(hd.status() & (Ata.BSY | Ata.DRQ | Ata.ERR)).isZero();
    }

    @Test
    void aSoftwareResetWaitsForStorageWorkAndDropsItsCommand() throws Exception {
        gated().shut();
        hd.select(0);
        f.qt.outb(IdeFixture.PRIMARY + 2, 4);
        f.qt.outb(IdeFixture.PRIMARY + 3, 0);
        f.qt.outb(IdeFixture.PRIMARY + 4, 0);
        f.qt.outb(IdeFixture.PRIMARY + 5, 0);
        f.qt.outb(IdeFixture.PRIMARY + 6, 0xE0);
        f.qt.outb(IdeFixture.PRIMARY + 7, Ata.READ_SECTORS);
        assertThat(hd.altStatus() & Ata.BSY).isNotZero();
        gated().openAfter(HOLD_MILLIS);
        f.qt.outb(IdeFixture.PRIMARY_CONTROL, 0x04);
        assertThat(gated().passed.get()).as("the read had ended when SRST took effect").isEqualTo(1);
        f.qt.outb(IdeFixture.PRIMARY_CONTROL, 0x00);
        f.machine.call(() -> null); // the read's completion, posted, has had its turn
        assertThat(hd.altStatus()).isEqualTo(Ata.DRDY | Ata.DSC);
        assertThat(f.qt.inb(IdeFixture.PRIMARY + 2) | f.qt.inb(IdeFixture.PRIMARY + 3) << 8).isEqualTo(0x0101);
        assertThat(hd.irq()).as("the dropped read never interrupts").isFalse();
        hd.command28(0, Ata.READ_SECTORS, 0, 1, 5);
        assertThat(hd.pioIn(1, 512)).isEqualTo(image.slice(5 * 512, 512));
    }

    @Test
    void aSoftwareResetDuringADmaTransferLeavesTheBusMasterStopped() throws Exception {
        gated().shut();
        hd.prd(0x10000, new long[][] {{0x40000, 0x200}});
        hd.command28(0, Ata.READ_DMA, 0, 1, 12);
        f.qt.outb(hd.bm, 0x09);
        gated().openAfter(HOLD_MILLIS);
        f.qt.outb(IdeFixture.PRIMARY_CONTROL, 0x04);
        f.qt.outb(IdeFixture.PRIMARY_CONTROL, 0x00);
        f.machine.call(() -> null);
        assertThat(hd.bmStatus() & 0x07).as("the transfer over: not active, its interrupt bit").isEqualTo(0x04);
        assertThat(hd.irq()).as("the device's interrupt went with the reset").isFalse();
        assertThat(hd.altStatus()).isEqualTo(Ata.DRDY | Ata.DSC);
        hd.stopDma();
        hd.prd(0x10000, new long[][] {{0x48000, 0x200}});
        hd.command28(0, Ata.READ_DMA, 0, 1, 13);
        hd.startDma(true);
        assertThat(f.qt.memread(0x48000, 512)).isEqualTo(image.slice(13 * 512, 512));
    }

    /** A one-sector DMA read of {@code lba} to 0x60000, started while the gate is shut, which opens a little later. */
    private void dmaReadHeldAWhile(long lba) {
        gated().shut();
        hd.prd(0x10000, new long[][] {{0x60000, 0x200}});
        hd.command28(0, Ata.READ_DMA, 0, 1, lba);
        f.qt.outb(hd.bm, 0x09);
        gated().openAfter(HOLD_MILLIS);
    }

    /** The guest sees that read completed: interrupt, bus master done, no error, the sector in memory. */
    private void assertDmaReadDone(long lba) {
        assertThat(hd.irq()).isTrue();
        assertThat(hd.bmStatus() & 0x07).isEqualTo(0x04);
        assertThat(hd.status() & (Ata.BSY | Ata.DRQ | Ata.ERR)).isZero();
        assertThat(f.qt.memread(0x60000, 512)).isEqualTo(image.slice(lba * 512, 512));
    }

    @Test
    void aSaveWaitsForStorageWorkSoTheCommandIsSavedFinished() throws Exception {
        dmaReadHeldAWhile(90);
        Map<String, DeviceStateDTO> saved = f.machine.call(() -> f.machine.save());
        f.machine.call(() -> {
            f.machine.reset();
            f.machine.restore(saved);
            return null;
        });
        assertDmaReadDone(90);
    }

    @Test
    void theInterruptOfWorkASaveFinishesIsInTheSavedInterruptControllersToo() throws Exception {
        dmaReadHeldAWhile(91);
        // restored at once, without a reset: IRQ 14 stays up throughout, so the guest still sees it
        // only if the saved I/O APIC has it up as well
        f.machine.call(() -> {
            f.machine.restore(f.machine.save());
            return null;
        });
        assertDmaReadDone(91);
    }

    @Test
    @SuppressWarnings("unchecked")
    void aSavedStateClaimingStorageWorkInFlightIsRefused() {
        DeviceStateDTO state = f.ide.save();
        Map<String, Object> primary = (Map<String, Object>) state.values.get("primary");
        ((Map<String, Object>) ((List<Object>) primary.get("devices")).get(0)).put("phase", "BUSY");
        assertThatThrownBy(() -> f.ide.restore(state)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("busy with storage work");
    }

    @Test
    void aMediumErrorOnAnIoThreadIsTheCommandsError() {
        image.failAt = 200L * 512;
        hd.prd(0x10000, new long[][] {{0x40000, 0x800}});
        hd.command28(0, Ata.READ_DMA, 0, 4, 198);
        hd.startDma(true);
        assertThat(hd.irq()).isTrue();
        assertThat(hd.status() & Ata.ERR).isNotZero();
        assertThat(hd.error()).isEqualTo(Ata.UNC);
        hd.command28(0, Ata.READ_SECTORS, 0, 1, 199);
        assertThat(hd.pioIn(1, 512)).as("a block before the bad one").isEqualTo(image.slice(199 * 512, 512));
    }
}
