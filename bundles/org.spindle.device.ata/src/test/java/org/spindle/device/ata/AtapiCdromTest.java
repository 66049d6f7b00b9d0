package org.spindle.device.ata;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.ArrayList;
import java.util.List;

import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import org.spindle.storage.api.RemovableMedia;
import org.spindle.storage.api.StorageException;

class AtapiCdromTest {
    private final AtapiCdrom cd = new AtapiCdrom(AtaIdentity.cdrom("CD0001"), "ide0.1.0", DeviceThread.DIRECT);
    private final ArrayDisk disc = ArrayDisk.cd(1000);
    private final List<RemovableMedia.MediaEvent> events = new ArrayList<>();

    @BeforeEach
    void insertAndSettle() throws Exception {
        cd.insert(disc, "disc.iso", false);
        cd.addListener(events::add);
        // One attention (the medium change took the power-on reset's place), then ready.
        assertThat(sense(cmd(0x00))).isEqualTo(Sense.MEDIUM_CHANGED);
        assertThat(cmd(0x00).finish()).isEqualTo(AtaResult.OK);
    }

    private Transfer cmd(int... bytes) {
        byte[] cdb = new byte[12];
        for (int i = 0; i < bytes.length; i++) {
            cdb[i] = (byte) bytes[i];
        }
        return cd.execute(cdb, false);
    }

    /** Runs the command and returns its data (failing the test on CHECK CONDITION). */
    private byte[] data(int... bytes) {
        Transfer t = cmd(bytes);
        byte[] d = t.direction() == Transfer.Direction.IN ? Drain.pio(t, 4096) : new byte[0];
        assertThat(t.finish()).as("%s", cd.sense()).isEqualTo(AtaResult.OK);
        return d;
    }

    /** The sense of a command that must end in CHECK CONDITION. */
    private Sense sense(Transfer t) {
        AtaResult r = t.finish();
        assertThat(r.status() & Ata.ERR).as("CHECK CONDITION").isNotZero();
        assertThat(r.error() >> 4).isEqualTo(cd.sense().key());
        return cd.sense();
    }

    private Sense requestSense() {
        byte[] s = data(0x03, 0, 0, 0, 18);
        return new Sense(s[2], s[12], s[13]);
    }

    private static int u16(byte[] b, int at) {
        return (b[at] & 0xFF) << 8 | (b[at + 1] & 0xFF);
    }

    private static long u32(byte[] b, int at) {
        return (long) u16(b, at) << 16 | u16(b, at + 2);
    }

    @Test
    void ejectAndInsertGiveNotReadyThenUnitAttentionThenReady() throws Exception {
        cd.remove(false);
        assertThat(sense(cmd(0x00))).isEqualTo(Sense.NO_MEDIUM_TRAY_OPEN);
        assertThat(requestSense()).isEqualTo(Sense.NO_MEDIUM_TRAY_OPEN);
        cd.closeTray();
        assertThat(sense(cmd(0x00))).isEqualTo(Sense.NO_MEDIUM_TRAY_CLOSED);

        cd.insert(ArrayDisk.cd(50), "other.iso", false);
        assertThat(sense(cmd(0x25))).as("READ CAPACITY reports the change first").isEqualTo(Sense.MEDIUM_CHANGED);
        assertThat(requestSense()).isEqualTo(Sense.MEDIUM_CHANGED);
        byte[] cap = data(0x25);
        assertThat(u32(cap, 0)).isEqualTo(49);
        assertThat(u32(cap, 4)).isEqualTo(2048);
        assertThat(cmd(0x00).finish()).isEqualTo(AtaResult.OK);
        assertThat(events).extracting(RemovableMedia.MediaEvent::kind).containsExactly(RemovableMedia.Kind.TRAY_OPENED,
                RemovableMedia.Kind.REMOVED, RemovableMedia.Kind.TRAY_CLOSED, RemovableMedia.Kind.TRAY_OPENED,
                RemovableMedia.Kind.INSERTED, RemovableMedia.Kind.TRAY_CLOSED);
        assertThat(cd.status().changes).isEqualTo(2);
    }

    @Test
    void aDriveWithoutADiscReportsThePowerOnResetFirst() {
        AtapiCdrom empty = new AtapiCdrom(AtaIdentity.cdrom("E"), "e", DeviceThread.DIRECT);
        assertThat(empty.execute(new byte[12], false).finish().error() >> 4).isEqualTo(Sense.KEY_UNIT_ATTENTION);
        assertThat(empty.sense()).isEqualTo(Sense.POWER_ON_RESET);
        empty.execute(new byte[12], false);
        assertThat(empty.sense()).isEqualTo(Sense.NO_MEDIUM_TRAY_CLOSED);
    }

    @Test
    void requestSenseReportsAPendingAttentionAndClearsIt() throws Exception {
        cd.insert(ArrayDisk.cd(10), "b.iso", false);
        assertThat(requestSense()).isEqualTo(Sense.MEDIUM_CHANGED);
        assertThat(cmd(0x00).finish()).isEqualTo(AtaResult.OK);
        assertThat(requestSense()).isEqualTo(Sense.NONE);
    }

    @Test
    void inquiryAndGetConfigurationDoNotReportOrClearUnitAttention() throws Exception {
        cd.insert(ArrayDisk.cd(10), "b.iso", false);
        byte[] inq = data(0x12, 0, 0, 0, 36);
        assertThat(inq[0]).isEqualTo((byte) 0x05);
        assertThat(inq[1] & 0x80).isNotZero();
        assertThat(new String(inq, 8, 8).strip()).isEqualTo("SPINDLE");
        data(0x46, 0, 0, 0, 0, 0, 0, 0, 64);
        assertThat(sense(cmd(0x00))).isEqualTo(Sense.MEDIUM_CHANGED);
    }

    @Test
    void aLockedTrayRefusesAnEjectUnlessForcedAndTellsTheGuest() throws Exception {
        data(0x1E, 0, 0, 0, 1);
        assertThat(cd.status().locked).isTrue();
        assertThatThrownBy(() -> cd.openTray(false)).isInstanceOf(StorageException.class)
                .extracting(e -> ((StorageException) e).kind()).isEqualTo(StorageException.Kind.IN_USE);
        assertThatThrownBy(() -> cd.insert(ArrayDisk.cd(5), "x.iso", false)).isInstanceOf(StorageException.class);
        assertThat(cd.status().trayOpen).isFalse();
        assertThat(cmd(0x00).finish()).isEqualTo(AtaResult.OK);
        byte[] ev = data(0x4A, 1, 0, 0, 0x10, 0, 0, 0, 8);
        assertThat(ev[4]).as("eject request").isEqualTo((byte) 1);
        assertThat(ev[5]).as("tray closed, medium present").isEqualTo((byte) 0x02);
        assertThat(data(0x4A, 1, 0, 0, 0x10, 0, 0, 0, 8)[4]).as("reported once").isZero();

        // The guest cannot eject its own locked tray either.
        assertThat(sense(cmd(0x1B, 0, 0, 0, 0x02))).isEqualTo(Sense.REMOVAL_PREVENTED);

        assertThat(cd.remove(true)).containsSame(disc);
        assertThat(cd.status().trayOpen).isTrue();
        assertThat(sense(cmd(0x00))).isEqualTo(Sense.NO_MEDIUM_TRAY_OPEN);
        assertThat(events).extracting(RemovableMedia.MediaEvent::kind).containsExactly(RemovableMedia.Kind.LOCKED,
                RemovableMedia.Kind.EJECT_REQUESTED, RemovableMedia.Kind.EJECT_REQUESTED, RemovableMedia.Kind.TRAY_OPENED,
                RemovableMedia.Kind.REMOVED);
        assertThat(events.get(0).byGuest()).isTrue();
    }

    @Test
    void theGuestOpensAndClosesTheTray() {
        data(0x1B, 0, 0, 0, 0x02);
        assertThat(cd.status().trayOpen).isTrue();
        assertThat(cd.status().present).isTrue();
        assertThat(sense(cmd(0x00))).isEqualTo(Sense.NO_MEDIUM_TRAY_OPEN);
        byte[] mech = data(0xBD, 0, 0, 0, 0, 0, 0, 0, 0, 8);
        assertThat(mech[1] & 0x10).as("door open").isNotZero();
        data(0x1B, 0, 0, 0, 0x03);
        assertThat(sense(cmd(0x00))).isEqualTo(Sense.MEDIUM_CHANGED);
        assertThat(cmd(0x00).finish()).isEqualTo(AtaResult.OK);
        assertThat(events).allMatch(RemovableMedia.MediaEvent::byGuest);
    }

    @Test
    void getEventStatusReportsNewMediaOnceAfterAChange() throws Exception {
        cd.remove(false);
        byte[] removal = data(0x4A, 1, 0, 0, 0x10, 0, 0, 0, 8);
        assertThat(removal[2]).isEqualTo((byte) 0x04);
        assertThat(removal[4]).as("media removal").isEqualTo((byte) 3);
        assertThat(removal[5]).as("tray open, no medium").isEqualTo((byte) 0x01);
        cd.insert(ArrayDisk.cd(10), "b.iso", false);
        byte[] arrival = data(0x4A, 1, 0, 0, 0x10, 0, 0, 0, 8);
        assertThat(arrival[4]).as("new media").isEqualTo((byte) 2);
        assertThat(arrival[5]).isEqualTo((byte) 0x02);
        assertThat(data(0x4A, 1, 0, 0, 0x10, 0, 0, 0, 8)[4]).isZero();
        byte[] otherClass = data(0x4A, 1, 0, 0, 0x02, 0, 0, 0, 8);
        assertThat(otherClass[2] & 0x80).as("no event available").isNotZero();
        assertThat(sense(cmd(0x00))).as("the change is still to report").isEqualTo(Sense.MEDIUM_CHANGED);
        assertThat(sense(cmd(0x4A, 0, 0, 0, 0x10, 0, 0, 0, 8))).as("asynchronous").isEqualTo(Sense.INVALID_FIELD_IN_CDB);
    }

    @Test
    void readsOfBlocksAndRangeErrors() {
        byte[] got = data(0x28, 0, 0, 0, 0, 10, 0, 0, 3);
        assertThat(got).isEqualTo(disc.slice(10 * 2048, 3 * 2048));
        byte[] twelve = data(0xA8, 0, 0, 0, 3, 0xE6, 0, 0, 0, 2);
        assertThat(twelve).isEqualTo(disc.slice(998 * 2048, 2 * 2048));
        assertThat(sense(cmd(0x28, 0, 0, 0, 3, 0xE7, 0, 0, 2))).isEqualTo(Sense.LBA_OUT_OF_RANGE);
        assertThat(cmd(0x28, 0, 0, 0, 0, 0, 0, 0, 0).finish()).as("0 blocks").isEqualTo(AtaResult.OK);
        assertThat(sense(cmd(0x2B, 0, 0, 0, 3, 0xE8))).isEqualTo(Sense.LBA_OUT_OF_RANGE);
        assertThat(cmd(0x2B, 0, 0, 0, 3, 0xE7).finish()).isEqualTo(AtaResult.OK);
        Transfer dma = cd.execute(new byte[] {0x28, 0, 0, 0, 0, 1, 0, 0, 1, 0, 0, 0}, true);
        assertThat(dma.dma()).isTrue();
        assertThat(Drain.dma(dma, 512, 512, 1024)).isEqualTo(disc.slice(2048, 2048));
    }

    @Test
    void mediumErrorsBecomeSense() {
        disc.failAt = 5 * 2048;
        Transfer t = cmd(0x28, 0, 0, 0, 0, 4, 0, 0, 2);
        assertThat(Drain.pio(t, 2048)).hasSize(2048);
        assertThat(sense(t)).isEqualTo(Sense.UNRECOVERED_READ_ERROR);
    }

    @Test
    void readCdRawSectorsCarrySyncHeaderUserDataAndEdc() {
        byte[] raw = data(0xBE, 0, 0, 0, 0, 20, 0, 0, 2, 0xF8, 0, 0);
        assertThat(raw).hasSize(2 * 2352);
        for (int i = 0; i < 2; i++) {
            byte[] s = java.util.Arrays.copyOfRange(raw, i * 2352, (i + 1) * 2352);
            assertThat(s[1]).isEqualTo((byte) 0xFF);
            assertThat(new byte[] {s[12], s[13], s[14], s[15]}).containsExactly(0x00, 0x02, 0x20 + i, 0x01);
            assertThat(java.util.Arrays.copyOfRange(s, 16, 2064)).isEqualTo(disc.slice((20 + i) * 2048L, 2048));
            assertThat(CdSector.edc(s, 0, 2068)).isZero();
        }
        assertThat(data(0xBE, 0, 0, 0, 0, 20, 0, 0, 1, 0x10, 0, 0)).isEqualTo(disc.slice(20 * 2048, 2048));
        assertThat(data(0xBE, 0, 0, 0, 0, 20, 0, 0, 1, 0x30, 0, 0)).hasSize(2052);
        assertThat(data(0xBE, 0, 0, 0, 0, 20, 0, 0, 1, 0xA0, 0, 0)).hasSize(16);
        assertThat(sense(cmd(0xBE, 0, 0, 0, 0, 20, 0, 0, 1, 0x90, 0, 0))).as("sync without header")
                .isEqualTo(Sense.INVALID_FIELD_IN_CDB);
        assertThat(sense(cmd(0xBE, 0, 0, 0, 0, 20, 0, 0, 1, 0x10, 1, 0))).as("sub-channel").isEqualTo(Sense.INVALID_FIELD_IN_CDB);
        assertThat(sense(cmd(0xBE, 1 << 2, 0, 0, 0, 20, 0, 0, 1, 0x10, 0, 0))).as("CD-DA")
                .isEqualTo(Sense.ILLEGAL_MODE_FOR_TRACK);
        // Through a resume, mid-sector.
        Transfer t = cmd(0xBE, 0, 0, 0, 0, 7, 0, 0, 2, 0xF8, 0, 0);
        java.nio.ByteBuffer first = java.nio.ByteBuffer.allocate(3000);
        t.toHost(first);
        Transfer again = cd.resume(t.save());
        byte[] rest = Drain.pio(again, 1000);
        byte[] all = new byte[2 * 2352];
        System.arraycopy(first.array(), 0, all, 0, 3000);
        System.arraycopy(rest, 0, all, 3000, rest.length);
        assertThat(java.util.Arrays.copyOfRange(all, 2352 + 16, 2352 + 2064)).isEqualTo(disc.slice(8 * 2048, 2048));
    }

    private ArrayDisk bigDisc(long bytes) {
        return new ArrayDisk(2048 * 4, 2048, true) {
            @Override
            public long capacity() {
                return bytes;
            }
        };
    }

    @Test
    void tocOf700MbCdAnd4GbDvd() throws Exception {
        long cdBlocks = 700L * 1024 * 1024 / 2048; // 358400
        cd.insert(bigDisc(cdBlocks * 2048), "700.iso", false);
        cmd(0x00);
        byte[] toc = data(0x43, 0, 0, 0, 0, 0, 0, 0, 100);
        assertThat(u16(toc, 0)).isEqualTo(18);
        assertThat(toc[2]).isEqualTo((byte) 1);
        assertThat(toc[3]).isEqualTo((byte) 1);
        assertThat(toc[5]).isEqualTo((byte) 0x14);
        assertThat(toc[6]).isEqualTo((byte) 1);
        assertThat(u32(toc, 8)).isZero();
        assertThat(toc[14]).isEqualTo((byte) 0xAA);
        assertThat(u32(toc, 16)).isEqualTo(cdBlocks);
        byte[] msf = data(0x43, 0x02, 0, 0, 0, 0, 0, 0, 100);
        // 358400 + 150 = 79:40:50
        assertThat(new byte[] {msf[17], msf[18], msf[19]}).containsExactly(79, 40, 50);
        assertThat(new byte[] {msf[9], msf[10], msf[11]}).containsExactly(0, 2, 0);
        byte[] session = data(0x43, 0, 1, 0, 0, 0, 0, 0, 12);
        assertThat(u16(session, 0)).isEqualTo(10);
        assertThat(session[6]).isEqualTo((byte) 1);
        byte[] full = data(0x43, 0x02, 2, 0, 0, 0, 1, 0, 100);
        assertThat(u16(full, 0)).isEqualTo(46);
        assertThat(full[4 + 2 * 11 + 3]).as("A2").isEqualTo((byte) 0xA2);
        assertThat(new byte[] {full[4 + 2 * 11 + 8], full[4 + 2 * 11 + 9], full[4 + 2 * 11 + 10]}).containsExactly(79, 40, 50);
        assertThat(u16(data(0x46, 0, 0, 0, 0, 0, 0, 0, 8), 6)).as("CD-ROM profile").isEqualTo(0x0008);
        byte[] track = data(0x52, 1, 0, 0, 0, 1, 0, 0, 36);
        assertThat(u32(track, 24)).isEqualTo(cdBlocks);

        long dvdBlocks = 4L * 1024 * 1024 * 1024 / 2048;
        cd.insert(bigDisc(dvdBlocks * 2048), "4g.iso", false);
        cmd(0x00);
        byte[] dvdToc = data(0x43, 0, 0, 0, 0, 0, 0, 0, 100);
        assertThat(u32(dvdToc, 16)).isEqualTo(dvdBlocks);
        byte[] dvdMsf = data(0x43, 0x02, 0, 0, 0, 0, 0, 0, 100);
        assertThat(new byte[] {dvdMsf[17], dvdMsf[18], dvdMsf[19]}).as("saturated").containsExactly(0xFF, 59, 74);
        assertThat(u32(data(0x25), 0)).isEqualTo(dvdBlocks - 1);
        assertThat(u16(data(0x46, 0, 0, 0, 0, 0, 0, 0, 8), 6)).as("DVD-ROM profile").isEqualTo(0x0010);
        assertThat(sense(cmd(0x43, 0x02, 2, 0, 0, 0, 1, 0, 100))).as("no full TOC on a DVD")
                .isEqualTo(Sense.INVALID_FIELD_IN_CDB);
    }

    @Test
    void tocFromAStartingTrackAndAllocationCut() {
        byte[] leadOut = data(0x43, 0, 0, 0, 0, 0, 2, 0, 100);
        assertThat(u16(leadOut, 0)).isEqualTo(10);
        assertThat(leadOut[6]).isEqualTo((byte) 0xAA);
        assertThat(sense(cmd(0x43, 0, 0, 0, 0, 0, 0xAB, 0, 100))).isEqualTo(Sense.INVALID_FIELD_IN_CDB);
        assertThat(data(0x43, 0, 0, 0, 0, 0, 0, 0, 4)).hasSize(4);
    }

    @Test
    void getConfigurationListsProfilesAndCoreFeatures() {
        byte[] all = data(0x46, 0, 0, 0, 0, 0, 0, 0x01, 0);
        assertThat(u32(all, 0)).isEqualTo(all.length - 4);
        List<Integer> codes = new ArrayList<>();
        for (int at = 8; at < all.length; at += 4 + (all[at + 3] & 0xFF)) {
            codes.add(u16(all, at));
        }
        assertThat(codes).containsExactly(0x0000, 0x0001, 0x0002, 0x0003, 0x0010, 0x001E, 0x001F, 0x0100);
        // Profile list: DVD-ROM not current, CD-ROM current.
        assertThat(u16(all, 12)).isEqualTo(0x0010);
        assertThat(all[14] & 1).isZero();
        assertThat(u16(all, 16)).isEqualTo(0x0008);
        assertThat(all[18] & 1).isEqualTo(1);
        byte[] core = data(0x46, 2, 0, 1, 0, 0, 0, 0, 100);
        assertThat(u16(core, 8)).isEqualTo(1);
        assertThat(u32(core, 12)).as("ATAPI").isEqualTo(2);
        assertThat(core.length).isEqualTo(8 + 12);
        byte[] current = data(0x46, 1, 0, 0, 0, 0, 0, 0x01, 0);
        assertThat(current.length).as("DVD Read is not current").isLessThan(all.length);
    }

    @Test
    void modeSenseAndSelect() {
        byte[] caps = data(0x5A, 0, 0x2A, 0, 0, 0, 0, 0, 64);
        assertThat(u16(caps, 0)).isEqualTo(caps.length - 2);
        assertThat(caps[8]).isEqualTo((byte) 0x2A);
        assertThat(caps[8 + 6] & 0x08).as("eject").isNotZero();
        byte[] all = data(0x1A, 0, 0x3F, 0, 255);
        assertThat(all[0] & 0xFF).isEqualTo(all.length - 1);
        assertThat(all.length).isEqualTo(4 + 12 + 8 + 22);
        assertThat(sense(cmd(0x5A, 0, 0x05, 0, 0, 0, 0, 0, 64))).isEqualTo(Sense.INVALID_FIELD_IN_CDB);
        assertThat(sense(cmd(0x5A, 0, 0xC1, 0, 0, 0, 0, 0, 64))).isEqualTo(Sense.SAVING_NOT_SUPPORTED);

        // MODE SELECT (10) of page 01h with a new retry count.
        byte[] params = new byte[8 + 12];
        byte[] page = MmcData.errorRecoveryPage(9);
        System.arraycopy(page, 0, params, 8, 12);
        Transfer sel = cmd(0x55, 0x10, 0, 0, 0, 0, 0, 0, params.length);
        assertThat(sel.direction()).isEqualTo(Transfer.Direction.OUT);
        sel.fromHost(java.nio.ByteBuffer.wrap(params));
        assertThat(sel.finish()).isEqualTo(AtaResult.OK);
        byte[] now = data(0x5A, 0, 0x01, 0, 0, 0, 0, 0, 64);
        assertThat(now[8 + 3]).isEqualTo((byte) 9);
        // A field that cannot change is refused, and nothing changes.
        params[8 + 3] = 7;
        params[8 + 2] = 1;
        Transfer bad = cmd(0x55, 0x10, 0, 0, 0, 0, 0, 0, params.length);
        bad.fromHost(java.nio.ByteBuffer.wrap(params));
        assertThat(sense(bad)).isEqualTo(Sense.INVALID_FIELD_IN_PARAMETERS);
        assertThat(data(0x5A, 0, 0x01, 0, 0, 0, 0, 0, 64)[8 + 3]).isEqualTo((byte) 9);
        assertThat(data(0x5A, 0, 0x81, 0, 0, 0, 0, 0, 64)[8 + 3]).as("default").isEqualTo((byte) 5);
    }

    @Test
    void packetDeviceAnswersAtaCommandsWithItsSignature() {
        Taskfile tf = new Taskfile(Ata.IDENTIFY_DEVICE, 0, 0, 0, 0);
        AtaResult r = cd.executeAta(AtaParser.parse(tf, new Chs(1, 1, 1)), tf).result();
        assertThat(r.error()).isEqualTo(Ata.ABRT);
        assertThat(r.outputs()).isEqualTo(Ata.signature(true));
        Taskfile ip = new Taskfile(Ata.IDENTIFY_PACKET_DEVICE, 0, 0, 0, 0);
        byte[] id = Drain.pio(cd.executeAta(AtaParser.parse(ip, new Chs(1, 1, 1)), ip), 512);
        assertThat((id[0] & 0xFF) | (id[1] & 0xFF) << 8).isEqualTo(0x85C0);
        assertThat(IdentifyData.readString(id, 27, 20)).isEqualTo("Spindle ATAPI CD-ROM");
        Taskfile read = new Taskfile(Ata.READ_SECTORS, 0, 1, 0, 0x40);
        assertThat(cd.executeAta(AtaParser.parse(read, new Chs(1, 1, 1)), read).result()).isEqualTo(AtaResult.aborted());
    }

    @Test
    void unknownOpcodesAreIllegalRequests() {
        assertThat(sense(cmd(0xAD))).isEqualTo(Sense.INVALID_OPCODE);
        assertThat(requestSense()).isEqualTo(Sense.INVALID_OPCODE);
        assertThat(requestSense()).isEqualTo(Sense.NONE);
    }

    @Test
    void stateSurvivesSaveAndRestoreAndAChangedDiscIsReported() throws Exception {
        data(0x1E, 0, 0, 0, 1);
        var saved = cd.save();
        AtapiCdrom other = new AtapiCdrom(AtaIdentity.cdrom("C"), "x", DeviceThread.DIRECT);
        other.insert(disc, "disc.iso", false);
        other.restore(saved);
        assertThat(other.status().locked).isTrue();
        assertThat(other.execute(new byte[12], false).finish()).as("same disc: ready").isEqualTo(AtaResult.OK);

        AtapiCdrom third = new AtapiCdrom(AtaIdentity.cdrom("C"), "x", DeviceThread.DIRECT);
        third.insert(ArrayDisk.cd(3), "another.iso", false);
        third.restore(saved);
        assertThat(third.execute(new byte[12], false).finish().status() & Ata.ERR).isNotZero();
        assertThat(third.sense()).isEqualTo(Sense.MEDIUM_CHANGED);
    }
}
