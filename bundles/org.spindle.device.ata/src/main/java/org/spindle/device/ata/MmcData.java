package org.spindle.device.ata;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;

/**
 * The data of MMC responses, made from the facts of one drive and disc: INQUIRY, mode pages, the TOC
 * formats, disc and track information, feature descriptors, mechanism status. Pure functions; every
 * multi-byte field is big-endian, as SCSI's are.
 */
final class MmcData {
    /** The most blocks a CD holds (80 minutes); a bigger medium is presented as a DVD-ROM. */
    static final long CD_MAX_BLOCKS = 80L * 60 * 75;
    static final int PROFILE_CD_ROM = 0x0008;
    static final int PROFILE_DVD_ROM = 0x0010;

    static final int PAGE_ERROR_RECOVERY = 0x01;
    static final int PAGE_CD_PARAMETERS = 0x0D;
    static final int PAGE_CAPABILITIES = 0x2A;
    static final int PAGE_ALL = 0x3F;

    /** The fastest read speed the drive reports, in kB/s (48x). */
    static final int MAX_READ_SPEED = 8448;

    private MmcData() {
    }

    static byte[] inquiry(AtaIdentity identity) {
        byte[] b = new byte[36];
        b[0] = 0x05; // CD/DVD device
        b[1] = (byte) 0x80; // removable
        b[2] = 0x05; // SPC-3
        b[3] = 0x32; // ATAPI transport version 3, response data format 2
        b[4] = 31;
        ascii(b, 8, 8, "SPINDLE");
        ascii(b, 16, 16, identity.model());
        ascii(b, 32, 4, identity.firmware());
        return b;
    }

    static byte[] supportedVpdPages() {
        return new byte[] {0x05, 0x00, 0x00, 0x02, 0x00, (byte) 0x80};
    }

    static byte[] serialNumberPage(AtaIdentity identity) {
        byte[] serial = identity.serial().getBytes(StandardCharsets.US_ASCII);
        byte[] b = new byte[4 + serial.length];
        b[0] = 0x05;
        b[1] = (byte) 0x80;
        b[3] = (byte) serial.length;
        System.arraycopy(serial, 0, b, 4, serial.length);
        return b;
    }

    /** Page 01h: the read retry count (byte 3) is the only field a host may change. */
    static byte[] errorRecoveryPage(int retryCount) {
        return new byte[] {PAGE_ERROR_RECOVERY, 0x0A, 0, (byte) retryCount, 0, 0, 0, 0, 0, 0, 0, 0};
    }

    static byte[] errorRecoveryChangeable() {
        return new byte[] {PAGE_ERROR_RECOVERY, 0x0A, 0, (byte) 0xFF, 0, 0, 0, 0, 0, 0, 0, 0};
    }

    /** Page 0Dh: the inactivity timer multiplier (byte 3, bits 3-0) may change; 60 seconds per minute, 75 frames per second. */
    static byte[] cdParametersPage(int inactivity) {
        return new byte[] {PAGE_CD_PARAMETERS, 0x06, 0, (byte) (inactivity & 0x0F), 0, 60, 0, 75};
    }

    static byte[] cdParametersChangeable() {
        return new byte[] {PAGE_CD_PARAMETERS, 0x06, 0, 0x0F, 0, 0, 0, 0};
    }

    /** Page 2Ah, the capabilities and mechanical status page (MMC-3 layout, 20 bytes of parameters). */
    static byte[] capabilitiesPage(boolean locked, int readSpeed) {
        byte[] b = new byte[22];
        b[0] = PAGE_CAPABILITIES;
        b[1] = 0x14;
        b[2] = 0x0B; // reads CD-R, CD-RW and DVD-ROM media
        b[6] = (byte) (0x20 | 0x08 | 0x01 | (locked ? 0x02 : 0)); // tray loader, eject, lock, lock state
        put16(b, 8, MAX_READ_SPEED);
        put16(b, 12, 512); // buffer size in kB
        put16(b, 14, readSpeed);
        return b;
    }

    static byte[] capabilitiesChangeable() {
        byte[] b = new byte[22];
        b[0] = PAGE_CAPABILITIES;
        b[1] = 0x14;
        return b;
    }

    /** The header of MODE SENSE data around {@code pages}. */
    static byte[] modeSense(boolean ten, byte[] pages) {
        int header = ten ? 8 : 4;
        byte[] b = new byte[header + pages.length];
        if (ten) {
            put16(b, 0, b.length - 2);
        } else {
            b[0] = (byte) (b.length - 1);
        }
        System.arraycopy(pages, 0, b, header, pages.length);
        return b;
    }

    /** An address in a TOC: an LBA, or 0, minutes, seconds and frames (saturating at FF:3B:4A). */
    static void address(byte[] b, int offset, long lba, boolean msf) {
        if (!msf) {
            put32(b, offset, lba);
            return;
        }
        int[] m = CdSector.msf(lba);
        boolean fits = m[0] <= 0xFF;
        b[offset] = 0;
        b[offset + 1] = (byte) (fits ? m[0] : 0xFF);
        b[offset + 2] = (byte) (fits ? m[1] : 59);
        b[offset + 3] = (byte) (fits ? m[2] : 74);
    }

    /**
     * Format 0: track 1 (data, starting at LBA 0) and the lead-out (track AAh) at {@code blocks}, from
     * {@code startTrack} on; {@code null} when {@code startTrack} is past the lead-out.
     */
    static byte[] toc(long blocks, boolean msf, int startTrack) {
        if (startTrack > 0xAA) {
            return null;
        }
        boolean withTrack1 = startTrack <= 1;
        int descriptors = withTrack1 ? 2 : 1;
        byte[] b = new byte[4 + 8 * descriptors];
        put16(b, 0, b.length - 2);
        b[2] = 1;
        b[3] = 1;
        int at = 4;
        if (withTrack1) {
            trackDescriptor(b, at, 1, 0, msf);
            at += 8;
        }
        trackDescriptor(b, at, 0xAA, blocks, msf);
        return b;
    }

    private static void trackDescriptor(byte[] b, int at, int track, long lba, boolean msf) {
        b[at + 1] = 0x14; // ADR 1 (position), control 4 (data track)
        b[at + 2] = (byte) track;
        address(b, at + 4, lba, msf);
    }

    /** Format 1: one complete session whose first track (1) starts at LBA 0. */
    static byte[] sessionInfo(boolean msf) {
        byte[] b = new byte[12];
        put16(b, 0, 10);
        b[2] = 1;
        b[3] = 1;
        b[5] = 0x14;
        b[6] = 1;
        address(b, 8, 0, msf);
        return b;
    }

    /** Format 2: the session's Q sub-channel entries A0h (first track), A1h (last), A2h (lead-out) and track 1. */
    static byte[] fullToc(long blocks) {
        byte[] b = new byte[4 + 11 * 4];
        put16(b, 0, b.length - 2);
        b[2] = 1;
        b[3] = 1;
        int at = 4;
        at = fullTocEntry(b, at, 0xA0, new int[] {1, 0x00, 0}); // first track 1, disc type CD-ROM
        at = fullTocEntry(b, at, 0xA1, new int[] {1, 0, 0}); // last track 1
        at = fullTocEntry(b, at, 0xA2, clampedMsf(blocks)); // lead-out
        fullTocEntry(b, at, 0x01, CdSector.msf(0));
        return b;
    }

    private static int fullTocEntry(byte[] b, int at, int point, int[] p) {
        b[at] = 1; // session
        b[at + 1] = 0x14;
        b[at + 3] = (byte) point;
        b[at + 8] = (byte) p[0];
        b[at + 9] = (byte) p[1];
        b[at + 10] = (byte) p[2];
        return at + 11;
    }

    private static int[] clampedMsf(long lba) {
        int[] m = CdSector.msf(lba);
        return m[0] <= 0xFF ? m : new int[] {0xFF, 59, 74};
    }

    /** READ DISC INFORMATION: a complete disc with one complete session of one track. */
    static byte[] discInformation() {
        byte[] b = new byte[34];
        put16(b, 0, 32);
        b[2] = 0x0E; // last session complete, disc complete, not erasable
        b[3] = 1; // first track
        b[4] = 1; // sessions
        b[5] = 1; // first track of the last session
        b[6] = 1; // last track of the last session
        b[7] = 0x20; // unrestricted use
        b[8] = 0x00; // CD-DA or CD-ROM
        put32(b, 16, 0xFFFF_FFFFL); // no next session
        put32(b, 20, 0xFFFF_FFFFL);
        return b;
    }

    /** READ TRACK INFORMATION for track 1: a data track of {@code blocks} from LBA 0. */
    static byte[] trackInformation(long blocks) {
        byte[] b = new byte[36];
        put16(b, 0, 34);
        b[2] = 1; // track
        b[3] = 1; // session
        b[5] = 0x04; // data track, recorded uninterrupted
        b[6] = 0x01; // data mode 1
        put32(b, 24, blocks); // track size
        put32(b, 28, blocks - 1); // last recorded address
        return b;
    }

    /** The current profile: CD-ROM or DVD-ROM by the medium's size, 0 without a medium. */
    static int profile(long blocks, boolean ready) {
        if (!ready) {
            return 0;
        }
        return blocks > CD_MAX_BLOCKS ? PROFILE_DVD_ROM : PROFILE_CD_ROM;
    }

    /**
     * GET CONFIGURATION data: the header with the current profile, then the features of the drive
     * (profile list, core, morphing, removable medium, random readable, CD read, DVD read, power
     * management) that the request type selects.
     */
    static byte[] configuration(int profile, int requestType, int start) {
        ByteArrayOutputStream features = new ByteArrayOutputStream();
        boolean cd = profile == PROFILE_CD_ROM;
        boolean dvd = profile == PROFILE_DVD_ROM;
        feature(features, requestType, start, 0x0000, 0, true, true, new byte[] {
            0x00, 0x10, (byte) (dvd ? 1 : 0), 0, // DVD-ROM
            0x00, 0x08, (byte) (cd ? 1 : 0), 0}); // CD-ROM
        feature(features, requestType, start, 0x0001, 2, true, true, new byte[] {0, 0, 0, 2, 0, 0, 0, 0}); // ATAPI
        feature(features, requestType, start, 0x0002, 1, true, true, new byte[] {0x02, 0, 0, 0}); // OCEvent
        // Tray loader, eject, lock (the lock's state is in mode page 2Ah, not here).
        feature(features, requestType, start, 0x0003, 0, true, true, new byte[] {0x29, 0, 0, 0});
        feature(features, requestType, start, 0x0010, 0, false, profile != 0,
                new byte[] {0, 0, 0x08, 0x00, 0, (byte) (dvd ? 16 : 1), 0, 0});
        feature(features, requestType, start, 0x001E, 2, false, cd, new byte[] {0, 0, 0, 0});
        feature(features, requestType, start, 0x001F, 0, false, dvd, new byte[0]);
        feature(features, requestType, start, 0x0100, 0, true, true, new byte[0]);
        byte[] body = features.toByteArray();
        byte[] b = new byte[8 + body.length];
        put32(b, 0, b.length - 4);
        put16(b, 6, profile);
        System.arraycopy(body, 0, b, 8, body.length);
        return b;
    }

    private static void feature(ByteArrayOutputStream out, int requestType, int start, int code, int version,
            boolean persistent, boolean current, byte[] data) {
        boolean wanted = switch (requestType) {
            case 0 -> code >= start;
            case 1 -> code >= start && current;
            default -> code == start;
        };
        if (!wanted) {
            return;
        }
        out.write(code >> 8);
        out.write(code);
        out.write(version << 2 | (persistent ? 0x02 : 0) | (current ? 0x01 : 0));
        out.write(data.length);
        out.writeBytes(data);
    }

    /** GET EVENT STATUS NOTIFICATION data for the media class, or the header alone when it was not asked for. */
    static byte[] eventStatus(boolean mediaClass, int event, boolean trayOpen, boolean present) {
        if (!mediaClass) {
            return new byte[] {0, 2, (byte) 0x80, 0x10}; // no event available; media class supported
        }
        return new byte[] {0, 6, 0x04, 0x10, (byte) event, (byte) ((trayOpen ? 0x01 : 0) | (present ? 0x02 : 0)), 0, 0};
    }

    /** MECHANISM STATUS: no changer, idle, the door's state. */
    static byte[] mechanismStatus(boolean trayOpen) {
        return new byte[] {0, (byte) (trayOpen ? 0x10 : 0), 0, 0, 0, 0, 0, 0};
    }

    static void put16(byte[] b, int at, int v) {
        b[at] = (byte) (v >>> 8);
        b[at + 1] = (byte) v;
    }

    static void put32(byte[] b, int at, long v) {
        b[at] = (byte) (v >>> 24);
        b[at + 1] = (byte) (v >>> 16);
        b[at + 2] = (byte) (v >>> 8);
        b[at + 3] = (byte) v;
    }

    private static void ascii(byte[] b, int at, int width, String s) {
        byte[] chars = s.getBytes(StandardCharsets.US_ASCII);
        for (int i = 0; i < width; i++) {
            b[at + i] = i < chars.length ? chars[i] : (byte) ' ';
        }
    }
}
