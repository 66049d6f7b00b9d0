package org.spindle.device.ata;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.List;
import java.util.Map;

import org.junit.jupiter.api.Test;

class AtaDiskTest {
    private final ArrayDisk image = ArrayDisk.disk(20_000);
    private final AtaDisk disk = new AtaDisk(image, new AtaIdentity("Model M", "SER123", "FW1"));

    private Transfer run(int command, int features, int count, long lba, int device) {
        return disk.execute(new Taskfile(command, features, count, lba, device));
    }

    private static int word(byte[] id, int w) {
        return (id[w * 2] & 0xFF) | (id[w * 2 + 1] & 0xFF) << 8;
    }

    @Test
    void identifyReportsTheIdentityCapacityAndSettings() {
        Transfer t = run(Ata.IDENTIFY_DEVICE, 0, 0, 0, 0);
        assertThat(t.direction()).isEqualTo(Transfer.Direction.IN);
        assertThat(t.dma()).isFalse();
        byte[] id = Drain.pio(t, 2);
        assertThat(t.finish()).isEqualTo(AtaResult.OK);
        assertThat(IdentifyData.readString(id, 27, 20)).isEqualTo("Model M");
        assertThat(IdentifyData.readString(id, 10, 10)).isEqualTo("SER123");
        assertThat(IdentifyData.readString(id, 23, 4)).isEqualTo("FW1");
        assertThat(word(id, 60) | word(id, 61) << 16).isEqualTo(20_000);
        assertThat(word(id, 100)).isEqualTo(20_000);
        assertThat(word(id, 83) & 0x0400).as("48-bit").isNotZero();
        assertThat(word(id, 85) & 0x0020).as("write cache on").isNotZero();
        assertThat(word(id, 88)).isEqualTo(0x203F);
        assertThat(word(id, 169) & 1).as("TRIM").isEqualTo(1);
        assertThat(word(id, 1)).isEqualTo(19); // 20000 / (16 * 63)
        int sum = 0;
        for (byte b : id) {
            sum += b & 0xFF;
        }
        assertThat(sum & 0xFF).as("checksum").isZero();
        assertThat(id[510] & 0xFF).isEqualTo(0xA5);
    }

    @Test
    void lba28CountIsCappedAndLba48CountIsFull() {
        AtaDisk big = new AtaDisk(new ArrayDisk(512, 512, false) {
            @Override
            public long capacity() {
                return 300_000_000L * 512;
            }
        }, AtaIdentity.disk("X"));
        byte[] id = big.identify();
        assertThat(word(id, 60) | word(id, 61) << 16).isEqualTo(0x0FFFFFFF);
        assertThat(word(id, 100) | (long) word(id, 101) << 16).isEqualTo(300_000_000L);
        assertThat(word(id, 1)).isEqualTo(16383);
    }

    @Test
    void pioReadInSectorBlocksAndMultipleBlocks() {
        Transfer t = run(Ata.READ_SECTORS, 0, 3, 10, 0xE0);
        assertThat(t.drqBlock()).isEqualTo(512);
        assertThat(Drain.pio(t, 512)).isEqualTo(image.slice(10 * 512, 3 * 512));
        assertThat(t.finish()).isEqualTo(AtaResult.OK);

        Transfer m = run(Ata.READ_MULTIPLE_EXT, 0, 40, 100, 0x40);
        assertThat(m.drqBlock()).isEqualTo(16 * 512);
        assertThat(Drain.pio(m, 4)).isEqualTo(image.slice(100 * 512, 40 * 512));
    }

    @Test
    void readMultipleAbortsWhenMultipleModeIsOff() {
        assertThat(run(Ata.SET_MULTIPLE_MODE, 0, 0, 0, 0).result()).isEqualTo(AtaResult.OK);
        assertThat(run(Ata.READ_MULTIPLE, 0, 1, 0, 0x40).result()).isEqualTo(AtaResult.aborted());
        assertThat(word(disk.identify(), 59)).isZero();
        run(Ata.SET_MULTIPLE_MODE, 0, 4, 0, 0);
        assertThat(word(disk.identify(), 59)).isEqualTo(0x0104);
        assertThat(run(Ata.READ_MULTIPLE, 0, 1, 0, 0x40).drqBlock()).isEqualTo(2048);
    }

    @Test
    void dmaReadIntoLargeAndScatteredLists() {
        Transfer big = run(Ata.READ_DMA_EXT, 0, 256, 1000, 0x40);
        assertThat(big.dma()).isTrue();
        assertThat(Drain.dma(big, 65536, 65536)).isEqualTo(image.slice(1000 * 512, 256 * 512));
        assertThat(big.finish()).isEqualTo(AtaResult.OK);

        int readsBefore = image.reads;
        Transfer scattered = run(Ata.READ_DMA, 0, 64, 7, 0xE0);
        // 32 pieces of 1 KiB: one disk read through the bounce buffer.
        assertThat(Drain.dma(scattered, Drain.repeat(1024, 32))).isEqualTo(image.slice(7 * 512, 64 * 512));
        assertThat(image.reads - readsBefore).isEqualTo(1);
        assertThat(scattered.finish()).isEqualTo(AtaResult.OK);
    }

    @Test
    void dmaWriteGathersScatteredPieces() {
        Transfer t = run(Ata.WRITE_DMA_EXT, 0, 4, 50, 0x40);
        List<ByteBuffer> pieces = new java.util.ArrayList<>();
        for (int i = 0; i < 8; i++) {
            ByteBuffer b = ByteBuffer.allocateDirect(256);
            while (b.hasRemaining()) {
                b.put((byte) (i + 1));
            }
            pieces.add(b.flip());
        }
        assertThat(t.fromHost(pieces)).isTrue();
        assertThat(t.finish()).isEqualTo(AtaResult.OK);
        for (int i = 0; i < 8; i++) {
            assertThat(image.data[50 * 512 + i * 256]).isEqualTo((byte) (i + 1));
            assertThat(image.data[50 * 512 + i * 256 + 255]).isEqualTo((byte) (i + 1));
        }
    }

    @Test
    void writeCacheOffWritesThroughAndTurningItOffFlushes() {
        Transfer w = run(Ata.WRITE_SECTORS, 0, 1, 0, 0xE0);
        w.fromHost(ByteBuffer.allocate(512));
        w.finish();
        assertThat(image.flushes).as("write-back: no flush").isZero();

        run(Ata.SET_FEATURES, Ata.SF_DISABLE_WRITE_CACHE, 0, 0, 0);
        assertThat(image.flushes).as("disabling flushes what was cached").isEqualTo(1);
        assertThat(word(disk.identify(), 85) & 0x20).isZero();
        Transfer w2 = run(Ata.WRITE_SECTORS, 0, 1, 0, 0xE0);
        w2.fromHost(ByteBuffer.allocate(512));
        assertThat(image.flushes).as("not before the command ends").isEqualTo(1);
        assertThat(w2.finish()).isEqualTo(AtaResult.OK);
        assertThat(image.flushes).isEqualTo(2);

        run(Ata.SET_FEATURES, Ata.SF_ENABLE_WRITE_CACHE, 0, 0, 0);
        Transfer flush = run(Ata.FLUSH_CACHE_EXT, 0, 0, 0, 0);
        assertThat(flush.direction()).isEqualTo(Transfer.Direction.NONE);
        assertThat(flush.usesStorage()).as("a controller may move the flush off its thread").isTrue();
        assertThat(flush.result()).as("not flushed yet").isNull();
        assertThat(image.flushes).isEqualTo(2);
        assertThat(flush.finish()).isEqualTo(AtaResult.OK);
        assertThat(image.flushes).isEqualTo(3);
    }

    @Test
    void readVerifyReadsTheSectorsWhenItFinishesAndReportsTheFirstBadOne() {
        assertThat(run(Ata.READ_VERIFY_EXT, 0, 2, 19_999, 0x40).result())
                .as("past the end: refused at once").isEqualTo(AtaResult.error(Ata.IDNF));
        image.failAt = 700L * 512 + 9;
        Transfer bad = run(Ata.READ_VERIFY_EXT, 0, 1000, 100, 0x40);
        assertThat(bad.direction()).isEqualTo(Transfer.Direction.NONE);
        assertThat(bad.usesStorage()).isTrue();
        assertThat(bad.result()).isNull();
        AtaResult r = bad.finish();
        assertThat(r.error()).isEqualTo(Ata.UNC);
        assertThat(r.outputs().lba48()).as("the first sector that failed").isEqualTo(700);
        image.failAt = -1;
        assertThat(run(Ata.READ_VERIFY_EXT, 0, 1000, 100, 0x40).finish()).isEqualTo(AtaResult.OK);
    }

    @Test
    void aFlushOrVerifySavedBeforeItRanRunsAfterTheRestore() {
        Transfer flush = run(Ata.FLUSH_CACHE, 0, 0, 0, 0);
        Transfer verify = run(Ata.READ_VERIFY, 0, 8, 40, 0xE0);
        AtaDisk other = new AtaDisk(image, new AtaIdentity("Model M", "SER123", "FW1"));
        int flushes = image.flushes;
        assertThat(other.resume(flush.save()).finish()).isEqualTo(AtaResult.OK);
        assertThat(image.flushes).isEqualTo(flushes + 1);
        image.failAt = 45L * 512;
        AtaResult r = other.resume(verify.save()).finish();
        assertThat(r.error()).isEqualTo(Ata.UNC);
        assertThat(r.outputs().lba28()).isEqualTo(45);
        Map<String, Object> beyond = new java.util.HashMap<>(verify.save());
        beyond.put("lba", 19_995L);
        org.assertj.core.api.Assertions.assertThatIllegalArgumentException().isThrownBy(() -> other.resume(beyond))
                .withMessageContaining("beyond");
    }

    @Test
    void addressesPastTheEndAreIdNotFoundAndReadFailuresAreUncorrectable() {
        assertThat(run(Ata.READ_SECTORS_EXT, 0, 2, 19_999, 0x40).result()).isEqualTo(AtaResult.error(Ata.IDNF));
        image.failAt = 5 * 512 + 3;
        Transfer t = run(Ata.READ_SECTORS, 0, 8, 2, 0xE0);
        byte[] got = Drain.pio(t, 512);
        assertThat(got).hasSize(3 * 512).isEqualTo(image.slice(2 * 512, 3 * 512));
        assertThat(t.result().status() & Ata.ERR).isNotZero();
        assertThat(t.result().error()).isEqualTo(Ata.UNC);
        assertThat(t.result().outputs().lba28()).isEqualTo(5);
        assertThat(t.finish()).isSameAs(t.result());
    }

    /**
     * A DMA read fails inside a 256 KiB request: the outputs name the first sector that cannot be read,
     * found in a handful of reads (halving), not one read per sector; whether the request went in one
     * piece or through the bounce buffer (a list of small pieces).
     */
    @Test
    void aFailedDmaReadNamesTheFirstBadSectorFoundByHalving() {
        for (int[] pieces : new int[][] {{512 * 512}, Drain.repeat(4096, 64)}) {
            image.failAt = 437L * 512 + 100;
            Transfer t = run(Ata.READ_DMA_EXT, 0, 512, 100, 0x40);
            int before = image.reads;
            Drain.dma(t, pieces);
            assertThat(t.result().error()).isEqualTo(Ata.UNC);
            assertThat(t.result().outputs().lba48()).as("the first sector that failed").isEqualTo(437);
            assertThat(image.reads - before).as("reads to find it").isLessThanOrEqualTo(12);
        }
        image.failAt = -1;
    }

    /** A failure no single sector repeats (it passed): the request's start is named. */
    @Test
    void aFailureThatDoesNotRepeatNamesTheRequestStart() {
        ArrayDisk flaky = new ArrayDisk(20_000 * 512, 512, false) {
            private boolean failed;

            @Override
            public void read(long offset, java.nio.ByteBuffer dst) throws org.spindle.storage.api.StorageException {
                if (!failed && dst.remaining() > 512) {
                    failed = true;
                    throw new org.spindle.storage.api.StorageException(
                            org.spindle.storage.api.StorageException.Kind.IO, "a passing fault");
                }
                super.read(offset, dst);
            }
        };
        AtaDisk disk = new AtaDisk(flaky, AtaIdentity.disk("F"));
        Transfer t = disk.execute(new Taskfile(Ata.READ_DMA_EXT, 0, 64, 3000, 0x40));
        Drain.dma(t, 64 * 512);
        assertThat(t.result().error()).isEqualTo(Ata.UNC);
        assertThat(t.result().outputs().lba48()).isEqualTo(3000);
    }

    @Test
    void readOnlyDisksAbortWritesAndOfferNoTrim() {
        AtaDisk ro = new AtaDisk(new ArrayDisk(64 * 512, 512, true), AtaIdentity.disk("RO"));
        assertThat(ro.execute(new Taskfile(Ata.WRITE_DMA, 0, 1, 0, 0x40)).result()).isEqualTo(AtaResult.aborted());
        assertThat(ro.execute(new Taskfile(Ata.DATA_SET_MANAGEMENT, 1, 1, 0, 0x40)).result()).isEqualTo(AtaResult.aborted());
        assertThat(word(ro.identify(), 169)).isZero();
    }

    @Test
    void trimDiscardsEveryRangeAfterCheckingThemAll() {
        ByteBuffer ranges = ByteBuffer.allocate(512).order(ByteOrder.LITTLE_ENDIAN);
        ranges.putLong(10L | 8L << 48).putLong(0).putLong(100L | 2L << 48);
        Transfer t = run(Ata.DATA_SET_MANAGEMENT, 1, 1, 0, 0x40);
        assertThat(t.dma()).isTrue();
        t.fromHost(ranges.rewind());
        assertThat(t.finish()).isEqualTo(AtaResult.OK);
        assertThat(image.discards).containsExactly(new long[] {10 * 512, 8 * 512}, new long[] {100 * 512, 2 * 512});

        image.discards.clear();
        ByteBuffer bad = ByteBuffer.allocate(512).order(ByteOrder.LITTLE_ENDIAN);
        bad.putLong(10L | 8L << 48).putLong(19_999L | 2L << 48);
        Transfer t2 = run(Ata.DATA_SET_MANAGEMENT, 1, 1, 0, 0x40);
        t2.fromHost(bad.rewind());
        assertThat(t2.finish()).isEqualTo(AtaResult.aborted());
        assertThat(image.discards).isEmpty();
        assertThat(run(Ata.DATA_SET_MANAGEMENT, 1, 9, 0, 0x40).result()).isEqualTo(AtaResult.aborted());
    }

    @Test
    void powerModesAndCheckPowerMode() {
        assertThat(run(Ata.CHECK_POWER_MODE, 0, 0, 0, 0).result().outputs().count()).isEqualTo(0xFF);
        run(Ata.STANDBY_IMMEDIATE, 0, 0, 0, 0);
        assertThat(image.flushes).isEqualTo(1);
        assertThat(run(Ata.CHECK_POWER_MODE, 0, 0, 0, 0).result().outputs().count()).isZero();
        Drain.pio(run(Ata.READ_SECTORS, 0, 1, 0, 0x40), 512);
        assertThat(run(Ata.CHECK_POWER_MODE, 0, 0, 0, 0).result().outputs().count()).isEqualTo(0xFF);
        assertThat(run(Ata.SECURITY_FREEZE_LOCK, 0, 0, 0, 0).result()).isEqualTo(AtaResult.OK);
        assertThat(word(disk.identify(), 128) & 0x08).isNotZero();
    }

    @Test
    void initializeDeviceParametersChangesTheChsTranslation() {
        run(Ata.INITIALIZE_DEVICE_PARAMETERS, 0, 32, 0, 0xA7); // 8 heads, 32 sectors per track
        byte[] id = disk.identify();
        assertThat(word(id, 55)).isEqualTo(8);
        assertThat(word(id, 56)).isEqualTo(32);
        assertThat(word(id, 54)).isEqualTo(20_000 / (8 * 32));
        // cylinder 1, head 2, sector 3 -> (1 * 8 + 2) * 32 + 2
        Transfer t = run(Ata.READ_SECTORS, 0, 1, 0x000103, 0xA2);
        assertThat(Drain.pio(t, 512)).isEqualTo(image.slice(((1 * 8 + 2) * 32 + 2) * 512L, 512));
    }

    @Test
    void readNativeMax() {
        AtaResult r28 = run(Ata.READ_NATIVE_MAX_ADDRESS, 0, 0, 0, 0xE0).result();
        assertThat(r28.outputs().lba28()).isEqualTo(19_999);
        assertThat(r28.outputs().device() & 0xF0).isEqualTo(0xE0);
        assertThat(run(Ata.READ_NATIVE_MAX_EXT, 0, 0, 0, 0x40).result().outputs().lba48()).isEqualTo(19_999);
    }

    @Test
    void diagnosticsLeaveTheSignatureAndPacketCommandsAbort() {
        AtaResult diag = run(Ata.EXECUTE_DEVICE_DIAGNOSTIC, 0, 0, 0, 0).result();
        assertThat(diag.error()).isEqualTo(1);
        assertThat(diag.outputs()).isEqualTo(Ata.signature(false));
        assertThat(run(Ata.IDENTIFY_PACKET_DEVICE, 0, 0, 0, 0).result()).isEqualTo(AtaResult.aborted());
        assertThat(run(Ata.PACKET, 0, 0, 0, 0).result()).isEqualTo(AtaResult.aborted());
        assertThat(run(Ata.DEVICE_RESET, 0, 0, 0, 0).result()).isEqualTo(AtaResult.aborted());
    }

    @Test
    void transferModesShowInIdentify() {
        run(Ata.SET_FEATURES, Ata.SF_SET_TRANSFER_MODE, 0x22, 0, 0);
        byte[] id = disk.identify();
        assertThat(word(id, 63)).isEqualTo(0x0407);
        assertThat(word(id, 88)).isEqualTo(0x003F);
        run(Ata.SET_FEATURES, Ata.SF_SET_TRANSFER_MODE, 0x42, 0, 0);
        assertThat(word(disk.identify(), 88)).isEqualTo(0x043F);
        assertThat(word(disk.identify(), 63)).isEqualTo(0x0007);
    }

    @Test
    void aTransferSavedMidwayResumesOnAFreshEngine() {
        run(Ata.SET_FEATURES, Ata.SF_DISABLE_WRITE_CACHE, 0, 0, 0);
        Transfer t = run(Ata.READ_SECTORS, 0, 4, 30, 0xE0);
        byte[] first = new byte[700];
        ByteBuffer b = ByteBuffer.wrap(first);
        t.toHost(b);
        Map<String, Object> saved = t.save();
        Map<String, Object> settings = disk.save();

        AtaDisk again = new AtaDisk(image, AtaIdentity.disk("X"));
        again.restore(settings);
        assertThat(again.writeCacheEnabled()).isFalse();
        Transfer resumed = again.resume(saved);
        assertThat(resumed.done()).isEqualTo(700);
        byte[] rest = Drain.pio(resumed, 512);
        byte[] all = new byte[4 * 512];
        System.arraycopy(first, 0, all, 0, 700);
        System.arraycopy(rest, 0, all, 700, rest.length);
        assertThat(all).isEqualTo(image.slice(30 * 512, 4 * 512));

        Transfer w = again.execute(new Taskfile(Ata.WRITE_SECTORS, 0, 2, 0, 0xE0));
        w.fromHost(ByteBuffer.allocate(512));
        Transfer w2 = again.resume(w.save());
        w2.fromHost(ByteBuffer.allocate(512));
        int flushes = image.flushes;
        assertThat(w2.finish()).isEqualTo(AtaResult.OK);
        assertThat(image.flushes).as("the resumed write still writes through").isEqualTo(flushes + 1);
    }

    @Test
    void abortStopsAWriteAndTheRestNeverReachesTheDisk() {
        byte before = image.data[512];
        Transfer t = run(Ata.WRITE_DMA, 0, 2, 0, 0xE0);
        assertThat(t.abort(Ata.ABRT)).isEqualTo(AtaResult.aborted());
        assertThat(t.fromHost(ByteBuffer.allocate(1024))).isFalse();
        assertThat(image.data[512]).isEqualTo(before);
    }

    @Test
    void fourKilobyteSectorDisksReportTheirSectorSize() {
        AtaDisk d = new AtaDisk(new ArrayDisk(64 * 4096, 4096, false), AtaIdentity.disk("4K"));
        byte[] id = d.identify();
        assertThat(word(id, 106)).isEqualTo(0x5000);
        assertThat(word(id, 117) | word(id, 118) << 16).isEqualTo(2048);
        assertThat(word(id, 100)).isEqualTo(64);
        assertThat(d.execute(new Taskfile(Ata.READ_DMA, 0, 2, 0, 0x40)).length()).isEqualTo(8192);
    }
}
