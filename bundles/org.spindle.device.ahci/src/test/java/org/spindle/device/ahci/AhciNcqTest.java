package org.spindle.device.ahci;

import static org.assertj.core.api.Assertions.assertThat;
import static org.spindle.device.ahci.AhciDriver.*;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.List;
import java.util.Map;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import org.spindle.device.ata.ArrayDisk;
import org.spindle.device.ata.AtaDisk;
import org.spindle.device.ata.AtaIdentity;
import org.spindle.device.ata.AutoPlacement;
import org.spindle.device.ata.IoMode;
import org.spindle.device.ata.SlotThread;
import org.spindle.machine.api.DeviceStateDTO;

/** Native command queuing: 32 tags outstanding, completion out of order, NCQ error recovery, save and restore in flight. */
class AhciNcqTest {
    private static final int WRITE = 0x40;
    private static final int BLOCK = 8; // sectors per command

    private AhciFixture f;
    private AhciDriver d;

    private void start(ArrayDisk image, IoMode io) throws Exception {
        f = new AhciFixture(new AhciHba(6, io, 10_000, new SlotThread(), new AtaDisk(image, AtaIdentity.disk("Q"), true)));
        d = f.driver;
        d.startPort(0);
    }

    @AfterEach
    void close() throws Exception {
        if (f != null) {
            f.close();
        }
    }

    /** READ/WRITE FPDMA QUEUED: the count in the features, the tag in count bits 7-3. */
    static byte[] fpdma(boolean write, int tag, long lba, int sectors) {
        return h2d(write ? 0x61 : 0x60, sectors, tag << 3, lba, 0x40);
    }

    private static long buffer(int tag) {
        return DATA + 0x1_0000L * tag;
    }

    /** Prepares tag's command in its own slot, with SACT set first as the specification asks. */
    private void queue(int tags, boolean write) {
        for (int tag = 0; tag < 32; tag++) {
            if ((tags & 1 << tag) != 0) {
                d.prepare(0, tag, fpdma(write, tag, lba(tag), BLOCK), null, write ? WRITE : 0,
                        List.of(new Prd(buffer(tag), BLOCK * 512)));
            }
        }
        d.port(0, PxSACT, tags);
        d.port(0, PxCI, tags);
    }

    private static long lba(int tag) {
        return 64 + 37L * tag;
    }

    @ParameterizedTest
    @EnumSource(IoMode.class)
    void thirtyTwoQueuedWritesAndReadsComplete(IoMode io) throws Exception {
        ArrayDisk image = ArrayDisk.disk(4096);
        start(image, io);
        for (int tag = 0; tag < 32; tag++) {
            f.qt.memset(buffer(tag), BLOCK * 512, 0x10 + tag);
        }
        queue(-1, true);
        int is = d.awaitTags(0, -1);
        assertThat(is & FATAL).isZero();
        assertThat(is & SDBS).isNotZero();
        assertThat(d.port(0, PxCI)).isZero();
        for (int tag = 0; tag < 32; tag++) {
            assertThat(image.slice(lba(tag) * 512, BLOCK * 512)).as("tag " + tag).containsOnly(0x10 + tag);
            f.qt.memset(buffer(tag), BLOCK * 512, 0);
        }
        d.port(0, PxIS, -1);
        queue(-1, false);
        assertThat(d.awaitTags(0, -1) & FATAL).isZero();
        for (int tag = 0; tag < 32; tag++) {
            assertThat(f.qt.memread(buffer(tag), BLOCK * 512)).as("tag " + tag).containsOnly(0x10 + tag);
        }
        assertThat(d.port(0, PxTFD) & 0xFF).isEqualTo(0x50);
    }

    @Test
    void queuedReadsCompleteInTheOrderTheDiskFinishesThem() throws Exception {
        GatedDisk image = new GatedDisk(4096);
        start(image, IoMode.WORKERS);
        for (int tag = 0; tag < 32; tag++) {
            image.gate(lba(tag));
        }
        queue(-1, false);
        image.awaitWaiting(32);
        assertThat(d.port(0, PxCI)).as("every command accepted: the device cleared BSY for each").isZero();
        assertThat(d.port(0, PxSACT)).isEqualTo(-1);
        assertThat(d.port(0, PxTFD) & 0x80).isZero();
        byte[] accepted = d.receivedFis(0, RX_D2H, 20);
        assertThat(accepted[1] & 0x40).as("acceptance without an interrupt").isZero();
        int remaining = -1;
        for (int tag = 31; tag >= 0; tag--) {
            image.release(lba(tag));
            d.awaitTags(0, 1 << tag);
            remaining &= ~(1 << tag);
            assertThat(d.port(0, PxSACT)).as("after tag " + tag).isEqualTo(remaining);
            byte[] sdb = d.receivedFis(0, RX_SDB, 8);
            assertThat(sdb[0]).isEqualTo((byte) 0xA1);
            assertThat(ByteBuffer.wrap(sdb, 4, 4).order(ByteOrder.LITTLE_ENDIAN).getInt()).isEqualTo(1 << tag);
            byte[] dma = d.receivedFis(0, RX_DMA_SETUP, 28);
            assertThat(dma[0]).isEqualTo((byte) 0x41);
            assertThat(dma[4]).as("the DMA setup FIS names the tag").isEqualTo((byte) tag);
            assertThat(f.qt.memread(buffer(tag), BLOCK * 512)).isEqualTo(image.slice(lba(tag) * 512, BLOCK * 512));
        }
        assertThat(d.port(0, PxIS) & SDBS).isNotZero();
    }

    @Test
    void severalPortsAreInFlightAtOnce() throws Exception {
        GatedDisk a = new GatedDisk(4096);
        GatedDisk b = new GatedDisk(4096);
        f = new AhciFixture(new AhciHba(6, IoMode.WORKERS, 10_000, new SlotThread(),
                new AtaDisk(a, AtaIdentity.disk("A"), true), new AtaDisk(b, AtaIdentity.disk("B"), true)));
        d = f.driver;
        d.startPort(0);
        d.startPort(1);
        a.gate(0);
        b.gate(0);
        d.issue(0, 0, h2d(0x25, 0, 8, 0, 0x40), null, 0, List.of(new Prd(DATA, 4096)));
        d.issue(1, 0, h2d(0x25, 0, 8, 0, 0x40), null, 0, List.of(new Prd(DATA + 0x10000, 4096)));
        a.awaitWaiting(1);
        b.awaitWaiting(1);
        assertThat(d.port(0, PxTFD) & 0x80).as("port 0 busy").isNotZero();
        assertThat(d.port(1, PxTFD) & 0x80).as("port 1 busy at the same time").isNotZero();
        b.release(0);
        d.await(1, 0);
        assertThat(d.port(0, PxCI)).as("port 0 still waits").isEqualTo(1);
        a.release(0);
        d.await(0, 0);
        assertThat(f.qt.memread(DATA, 4096)).isEqualTo(a.slice(0, 4096));
        assertThat(f.qt.memread(DATA + 0x10000, 4096)).isEqualTo(b.slice(0, 4096));
    }

    @Test
    void aQueuedErrorStopsThePortAndTheErrorLogNamesTheTag() throws Exception {
        ArrayDisk image = ArrayDisk.disk(4096);
        start(image, IoMode.INLINE);
        d.port(0, PxIE, TFES | SDBS);
        d.hba(GHC, 0x8000_0002);
        // Tags 0-3 fine, tag 4 past the end, tags 5-6 after it.
        for (int tag = 0; tag < 7; tag++) {
            long lba = tag == 4 ? 4090 : lba(tag);
            d.prepare(0, tag, fpdma(false, tag, lba, BLOCK), null, 0, List.of(new Prd(buffer(tag), BLOCK * 512)));
        }
        d.port(0, PxSACT, 0x7F);
        d.port(0, PxCI, 0x7F);
        int is = d.port(0, PxIS);
        assertThat(is & TFES).isNotZero();
        assertThat(d.port(0, PxSACT)).as("tags 0-3 completed; 4 failed; the rest never ran").isEqualTo(0x70);
        assertThat(d.port(0, PxTFD) & 0x01).isNotZero();
        byte[] sdb = d.receivedFis(0, RX_SDB, 8);
        assertThat(sdb[2] & 0x01).as("SDB with ERR").isEqualTo(1);
        assertThat(f.qt.getIrq(AhciFixture.IRQ)).isTrue();
        // Recovery as a driver does it: stop, clear, start, read log 10h.
        d.recover(0);
        assertThat(d.port(0, PxSACT)).isZero();
        f.qt.memset(DATA, 512, 0xEE);
        d.run(0, 0, h2d(0x2F, 0, 1, 0x10, 0x40), 0, List.of(new Prd(DATA, 512))); // READ LOG EXT, log 10h
        byte[] log = f.qt.memread(DATA, 512);
        assertThat(log[0] & 0xFF).as("NQ clear, tag 4").isEqualTo(4);
        assertThat(log[2] & 0x01).as("status ERR").isEqualTo(1);
        assertThat(log[3] & 0x10).as("IDNF").isNotZero();
        int sum = 0;
        for (byte b : log) {
            sum += b;
        }
        assertThat(sum & 0xFF).as("checksum").isZero();
        // The queue runs again.
        d.port(0, PxIS, -1);
        queue(0x3, false);
        assertThat(d.awaitTags(0, 0x3) & FATAL).isZero();
    }

    @Test
    void queuedCommandsAbortUntilTheLogIsReadAndANonQueuedCommandAbortsTheQueue() throws Exception {
        GatedDisk image = new GatedDisk(4096);
        start(image, IoMode.WORKERS);
        image.gate(lba(1));
        image.gate(lba(2));
        queue(0x6, false);
        image.awaitWaiting(2);
        // A non-queued command while tags 1 and 2 are outstanding: the device aborts all.
        d.issue(0, 0, h2d(0xE7, 0, 0, 0, 0), null, 0, List.of());
        assertThat(d.await(0, 0) & TFES).isNotZero();
        image.releaseAll();
        d.recover(0);
        queue(0x8, false);
        assertThat(d.await(0, 3) & TFES).as("queue halted until log 10h is read").isNotZero();
        d.recover(0);
        d.run(0, 0, h2d(0x2F, 0, 1, 0x10, 0x40), 0, List.of(new Prd(DATA, 512)));
        assertThat(f.qt.readb(DATA) & 0x80).as("NQ: a non-queued command caused it").isEqualTo(0x80);
        queue(0x8, false);
        assertThat(d.awaitTags(0, 0x8) & FATAL).isZero();
        // A tag used twice aborts as well.
        image.gate(lba(5));
        queue(1 << 5, false);
        image.awaitWaiting(1);
        d.prepare(0, 6, fpdma(false, 5, lba(6), BLOCK), null, 0, List.of(new Prd(buffer(6), BLOCK * 512)));
        d.port(0, PxCI, 1 << 6);
        assertThat(d.await(0, 6) & TFES).isNotZero();
        image.releaseAll();
    }

    @Test
    void queuedCommandsInFlightAtASaveCompleteAfterTheRestoreWithTheRightData() throws Exception {
        GatedDisk image = new GatedDisk(4096);
        start(image, IoMode.WORKERS);
        int tags = 0xFF00;
        for (int tag = 8; tag < 16; tag++) {
            image.gate(lba(tag));
            f.qt.memset(buffer(tag), BLOCK * 512, 0);
        }
        queue(tags, false);
        image.awaitWaiting(8);
        image.release(lba(8));
        d.awaitTags(0, 1 << 8);
        Map<String, DeviceStateDTO> saved = f.machine.save();
        // What the guest's memory held at the save, carried to a new machine.
        byte[] list = f.qt.memread(commandList(0), 0x1000 + 0x1000 * 16);
        f.close();
        image.releaseAll();

        ArrayDisk copy = ArrayDisk.disk(4096);
        f = new AhciFixture(new AhciHba(6, IoMode.WORKERS, 10_000, new SlotThread(),
                new AtaDisk(copy, AtaIdentity.disk("Q"), true)));
        d = f.driver;
        f.qt.memwrite(commandList(0), list);
        f.machine.call(() -> {
            f.machine.restore(saved);
            return null;
        });
        assertThat(d.awaitTags(0, tags) & FATAL).isZero();
        assertThat(d.port(0, PxSACT)).isZero();
        for (int tag = 9; tag < 16; tag++) {
            assertThat(f.qt.memread(buffer(tag), BLOCK * 512)).as("tag " + tag).isEqualTo(copy.slice(lba(tag) * 512, BLOCK * 512));
        }
    }

    @Test
    void onWorkersDataFromTheEngineMovesAtOnceAndDiskDataOnAWorker() throws Exception {
        GatedDisk image = new GatedDisk(4096);
        start(image, IoMode.WORKERS);
        // IDENTIFY and READ LOG EXT (the log directory, by DMA) come from the engine's memory: done in the PxCI write.
        d.prepare(0, 0, h2d(0xEC, 0, 0, 0, 0), null, 0, List.of(new Prd(buffer(0), 512)));
        assertThat(issueAndReadCi(1)).as("IDENTIFY ended inside the write").isZero();
        d.prepare(0, 1, h2d(0x47, 0, 1, 0, 0x40), null, 0, List.of(new Prd(buffer(1), 512)));
        assertThat(issueAndReadCi(1 << 1)).as("READ LOG DMA EXT ended inside the write").isZero();
        assertThat(f.qt.readb(buffer(1))).as("general purpose logging version 1").isEqualTo(1);
        // A read of the medium waits on its worker while the machine goes on.
        image.gate(lba(2));
        d.prepare(0, 2, h2d(0x25, 0, BLOCK, lba(2), 0x40), null, 0, List.of(new Prd(buffer(2), BLOCK * 512)));
        d.port(0, PxCI, 1 << 2);
        image.awaitWaiting(1);
        assertThat(d.port(0, PxCI)).as("READ DMA EXT still issued").isEqualTo(1 << 2);
        image.releaseAll();
        assertThat(d.await(0, 2) & FATAL).isZero();
        assertThat(f.qt.memread(buffer(2), BLOCK * 512)).isEqualTo(image.slice(lba(2) * 512, BLOCK * 512));
    }

    /**
     * Unplugging the HBA while a read waits on its I/O thread: the unplug waits for it (the machine's
     * RAM must outlive what writes into it) and its completion is dropped.
     */
    @Test
    void unpluggingWaitsForADataPhaseInFlight() throws Exception {
        GatedDisk image = new GatedDisk(4096);
        start(image, IoMode.WORKERS);
        image.gate(lba(2));
        d.prepare(0, 2, h2d(0x25, 0, BLOCK, lba(2), 0x40), null, 0, List.of(new Prd(buffer(2), BLOCK * 512)));
        d.port(0, PxCI, 1 << 2);
        image.awaitWaiting(1);
        Thread release = Thread.ofPlatform().start(() -> {
            java.util.concurrent.locks.LockSupport.parkNanos(200_000_000L);
            image.releaseAll();
        });
        long start = System.nanoTime();
        f.machine.unplug(org.spindle.machine.api.PciAddress.parse("00:02.0"));
        assertThat(System.nanoTime() - start).as("the unplug waited for the read").isGreaterThan(150_000_000L);
        release.join();
        assertThat(f.hba.port(0).inFlight()).isZero();
    }

    @Test
    void onWorkersFlushAndReadVerifyWaitOnAWorkerWhileTheMachineGoesOn() throws Exception {
        GatedDisk image = new GatedDisk(4096);
        start(image, IoMode.WORKERS);
        image.gateFlush();
        d.prepare(0, 0, h2d(0xEA, 0, 0, 0, 0x40), null, 0, List.of()); // FLUSH CACHE EXT
        d.port(0, PxCI, 1);
        image.awaitWaiting(1);
        assertThat(d.port(0, PxCI)).as("the machine answers while the flush waits").isEqualTo(1);
        assertThat(image.flushes).isZero();
        image.releaseAll();
        assertThat(d.await(0, 0) & FATAL).isZero();
        assertThat(image.flushes).isEqualTo(1);
        assertThat(d.port(0, PxIS) & 1).as("a register FIS ended it").isEqualTo(1);
        d.port(0, PxIS, -1);

        image.gate(lba(1));
        d.prepare(0, 1, h2d(0x42, 0, BLOCK, lba(1), 0x40), null, 0, List.of()); // READ VERIFY SECTORS EXT
        d.port(0, PxCI, 1 << 1);
        image.awaitWaiting(1);
        assertThat(d.port(0, PxCI)).as("the verify waits on its worker").isEqualTo(1 << 1);
        image.releaseAll();
        assertThat(d.await(0, 1) & FATAL).isZero();
        assertThat(d.port(0, PxTFD) & 0xFF).isEqualTo(0x50);
    }

    @Test
    void underAutoAPortStartsOnWorkersRunsInlineWhileItsStorageIsQuickAndLeavesWhenItIsSlow() throws Exception {
        GatedDisk image = new GatedDisk(4096);
        start(image, IoMode.AUTO);
        // Nothing is known about the storage yet: the first read waits on a worker, the machine answering.
        assertThat(onWorkers()).isTrue();
        image.gate(lba(0));
        d.prepare(0, 0, h2d(0x25, 0, BLOCK, lba(0), 0x40), null, 0, List.of(new Prd(buffer(0), BLOCK * 512)));
        d.port(0, PxCI, 1);
        image.awaitWaiting(1);
        assertThat(d.port(0, PxCI)).as("the first read waits on its worker").isEqualTo(1);
        image.releaseAll();
        assertThat(d.await(0, 0) & FATAL).isZero();
        // Quick data phases on workers: after a window of them the port runs inline.
        int reads = 1;
        while (onWorkers() && reads++ < 2000) {
            d.port(0, PxIS, -1);
            d.port(0, PxCI, 1);
            assertThat(d.await(0, 0) & FATAL).isZero();
        }
        assertThat(onWorkers()).as("inline after " + reads + " quick reads").isFalse();
        assertThat(reads).isGreaterThanOrEqualTo(AutoPlacement.FIRST_WINDOW);
        assertThat(issueAndReadCi(1)).as("inline: the read ends inside the PxCI write").isZero();
        // The storage slows down: the next reads still run inline (one slow phase may be the host's
        // scheduler), and a run of them takes the port to workers.
        image.readMillis = 2;
        for (int i = 0; i < AutoPlacement.SLOW_TO_WORKERS; i++) {
            assertThat(onWorkers()).isFalse();
            assertThat(issueAndReadCi(1)).isZero();
        }
        assertThat(onWorkers()).as("after " + AutoPlacement.SLOW_TO_WORKERS + " data phases of 2 ms").isTrue();
        assertThat(f.machine.call(() -> f.hba.port(0).placement().window())).isEqualTo(2 * AutoPlacement.FIRST_WINDOW);
        image.readMillis = 0;
        // On workers: 32 queued reads waiting on the disk at once, the machine answering meanwhile.
        for (int tag = 0; tag < 32; tag++) {
            image.gate(lba(tag));
        }
        d.port(0, PxIS, -1);
        queue(-1, false);
        image.awaitWaiting(32);
        assertThat(d.port(0, PxSACT)).isEqualTo(-1);
        image.releaseAll();
        assertThat(d.awaitTags(0, -1) & FATAL).isZero();
        for (int tag = 0; tag < 32; tag++) {
            assertThat(f.qt.memread(buffer(tag), BLOCK * 512)).isEqualTo(image.slice(lba(tag) * 512, BLOCK * 512));
        }
        // Quick again: after the (now doubled) window of quick data phases the port comes back inline.
        int batches = 0;
        while (onWorkers() && batches++ < 200) {
            d.port(0, PxIS, -1);
            queue(-1, false);
            assertThat(d.awaitTags(0, -1) & FATAL).isZero();
        }
        assertThat(onWorkers()).as("back inline after " + batches + " batches of 32").isFalse();
        // the window of 512 phases on workers, the 32 that waited at the gates among them
        assertThat(batches).isGreaterThanOrEqualTo((2 * AutoPlacement.FIRST_WINDOW - 32) / 32);
        d.port(0, PxIS, -1);
        assertThat(issueAndReadCi(1)).as("inline again").isZero();
        // One very slow read is enough to leave.
        image.readMillis = 15;
        assertThat(issueAndReadCi(1)).isZero();
        assertThat(onWorkers()).as("after one read of 15 ms").isTrue();
    }

    private boolean onWorkers() throws Exception {
        return f.machine.call(() -> f.hba.port(0).placement().onWorkers());
    }

    /** PxCI written and read back in one go on the machine thread: no worker's completion can land in between. */
    private long issueAndReadCi(int slots) throws Exception {
        long ci = d.abar + 0x100 + PxCI;
        return f.machine.call(() -> {
            f.machine.mmio().write(ci, 4, slots);
            return f.machine.mmio().read(ci, 4);
        });
    }
}
