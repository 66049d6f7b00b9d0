package org.spindle.device.ahci;

import java.util.LinkedHashMap;
import java.util.Map;

import org.spindle.device.ata.Ata;
import org.spindle.device.ata.AtaCommand;
import org.spindle.device.ata.AtaDisk;
import org.spindle.device.ata.AtaParser;
import org.spindle.device.ata.AtapiCdrom;
import org.spindle.device.ata.Chs;
import org.spindle.device.ata.Taskfile;
import org.spindle.device.ata.Transfer;

/**
 * What sits at the far end of a SATA link: an ATA disk or an ATAPI CD-ROM, with the signature and
 * status it reports after a reset. Commands reach it as the registers of a host-to-device FIS (and,
 * for PACKET, the CDB from the command table).
 */
final class SataDevice {
    /** PxSIG of an ATA device: LBA high, LBA mid, LBA low, count (AHCI 1.3.1, 3.3.9). */
    static final int SIGNATURE_ATA = 0x0000_0101;
    static final int SIGNATURE_ATAPI = 0xEB14_0101;
    private static final Chs NO_GEOMETRY = new Chs(1, 1, 1);

    final AtaDisk disk;
    final AtapiCdrom cdrom;

    private SataDevice(AtaDisk disk, AtapiCdrom cdrom) {
        this.disk = disk;
        this.cdrom = cdrom;
    }

    /**
     * @throws IllegalArgumentException for an engine that is not on a serial link
     */
    static SataDevice of(Object engine) {
        return switch (engine) {
            case AtaDisk d when d.serial() -> new SataDevice(d, null);
            case AtapiCdrom c -> new SataDevice(null, c);
            case AtaDisk d -> throw new IllegalArgumentException("a SATA port takes a serial AtaDisk (new AtaDisk(disk, identity, true))");
            default -> throw new IllegalArgumentException("a SATA device is an AtaDisk or an AtapiCdrom, not " + engine);
        };
    }

    boolean packet() {
        return cdrom != null;
    }

    int signature() {
        return packet() ? SIGNATURE_ATAPI : SIGNATURE_ATA;
    }

    /** The status after a reset: ready for an ATA device; 00h for a PACKET device. */
    int resetStatus() {
        return packet() ? 0 : Ata.DRDY | Ata.DSC;
    }

    /** The registers of the signature FIS after a reset. */
    Taskfile signatureRegisters() {
        return Ata.signature(packet());
    }

    /** Power-on settings again (a COMRESET is a hard reset of the device). */
    void reset() {
        if (disk != null) {
            disk.reset();
        } else {
            cdrom.reset();
        }
    }

    /** Parses the registers; a queued command comes back as {@link AtaCommand.Queued}. */
    AtaCommand parse(Taskfile tf) {
        return AtaParser.parse(tf, disk != null ? disk.geometry() : NO_GEOMETRY);
    }

    /** Starts {@code command} (parsed from {@code tf}); {@code cdb} is the command table's ATAPI command for PACKET. */
    Transfer execute(AtaCommand command, Taskfile tf, byte[] cdb) {
        if (disk != null) {
            return disk.execute(command, tf);
        }
        if (command instanceof AtaCommand.Packet p) {
            return cdrom.execute(cdb, p.dma());
        }
        return cdrom.executeAta(command, tf);
    }

    Map<String, Object> save() {
        Map<String, Object> s = new LinkedHashMap<>();
        s.put("kind", packet() ? "cdrom" : "disk");
        s.put("engine", packet() ? cdrom.save() : disk.save());
        return s;
    }

    @SuppressWarnings("unchecked")
    void restore(Map<String, Object> s) {
        String kind = String.valueOf(s.get("kind"));
        if (!kind.equals(packet() ? "cdrom" : "disk")) {
            throw new IllegalArgumentException("a saved " + kind + " for a port that holds a " + (packet() ? "cdrom" : "disk"));
        }
        Object engine = s.get("engine");
        if (!(engine instanceof Map<?, ?> m)) {
            throw new IllegalArgumentException("a saved SATA device without its engine's state");
        }
        if (packet()) {
            cdrom.restore((Map<String, Object>) m);
        } else {
            disk.restore((Map<String, Object>) m);
        }
    }
}
