package org.spindle.device.ata;

import org.spindle.device.ata.AtaCommand.ModeFamily;
import org.spindle.device.ata.AtaCommand.PowerCommand;
import org.spindle.device.ata.AtaCommand.Protocol;

/**
 * Turns a taskfile into an {@link AtaCommand}: a pure function of the registers and the current CHS
 * translation. It checks the form of a command (a subcommand it knows, a CHS address inside the
 * translation, a power of two for SET MULTIPLE MODE); whether an address is on the disk is the
 * executor's question. It never throws.
 */
public final class AtaParser {
    /** The most sectors per DRQ block SET MULTIPLE MODE accepts (IDENTIFY word 47). */
    public static final int MAX_MULTIPLE = 16;

    private AtaParser() {
    }

    /**
     * Parses {@code tf}.
     *
     * @param geometry the CHS translation in effect, for commands addressed by CHS
     */
    public static AtaCommand parse(Taskfile tf, Chs geometry) {
        int op = tf.command();
        return switch (op) {
            case Ata.READ_SECTORS, Ata.READ_SECTORS_NO_RETRY -> rw28(tf, geometry, false, Protocol.PIO, false);
            case Ata.WRITE_SECTORS, Ata.WRITE_SECTORS_NO_RETRY -> rw28(tf, geometry, true, Protocol.PIO, false);
            case Ata.WRITE_VERIFY -> rw28(tf, geometry, true, Protocol.PIO, true);
            case Ata.READ_MULTIPLE -> rw28(tf, geometry, false, Protocol.PIO_MULTIPLE, false);
            case Ata.WRITE_MULTIPLE -> rw28(tf, geometry, true, Protocol.PIO_MULTIPLE, false);
            case Ata.READ_DMA, Ata.READ_DMA_NO_RETRY -> rw28(tf, geometry, false, Protocol.DMA, false);
            case Ata.WRITE_DMA, Ata.WRITE_DMA_NO_RETRY -> rw28(tf, geometry, true, Protocol.DMA, false);
            case Ata.READ_SECTORS_EXT -> rw48(tf, false, Protocol.PIO);
            case Ata.WRITE_SECTORS_EXT -> rw48(tf, true, Protocol.PIO);
            case Ata.READ_MULTIPLE_EXT -> rw48(tf, false, Protocol.PIO_MULTIPLE);
            case Ata.WRITE_MULTIPLE_EXT -> rw48(tf, true, Protocol.PIO_MULTIPLE);
            case Ata.READ_DMA_EXT -> rw48(tf, false, Protocol.DMA);
            case Ata.WRITE_DMA_EXT -> rw48(tf, true, Protocol.DMA);
            case Ata.READ_VERIFY, Ata.READ_VERIFY_NO_RETRY -> {
                long lba = address28(tf, geometry);
                yield lba < 0 ? outsideGeometry(tf) : new AtaCommand.ReadVerify(lba, tf.count28(), false);
            }
            case Ata.READ_VERIFY_EXT -> new AtaCommand.ReadVerify(tf.lba48(), tf.count48(), true);
            case Ata.READ_FPDMA_QUEUED -> queued(tf, false);
            case Ata.WRITE_FPDMA_QUEUED -> queued(tf, true);
            case Ata.READ_LOG_EXT -> readLog(tf, false);
            case Ata.READ_LOG_DMA_EXT -> readLog(tf, true);
            case Ata.FLUSH_CACHE -> new AtaCommand.FlushCache(false);
            case Ata.FLUSH_CACHE_EXT -> new AtaCommand.FlushCache(true);
            case Ata.IDENTIFY_DEVICE -> new AtaCommand.Identify();
            case Ata.IDENTIFY_PACKET_DEVICE -> new AtaCommand.IdentifyPacket();
            case Ata.SET_FEATURES -> setFeatures(tf);
            case Ata.SET_MULTIPLE_MODE -> setMultiple(tf.count() & 0xFF);
            case Ata.DATA_SET_MANAGEMENT -> dataSetManagement(tf);
            case Ata.SECURITY_FREEZE_LOCK -> new AtaCommand.SecurityFreezeLock();
            case Ata.IDLE -> new AtaCommand.PowerMode(PowerCommand.IDLE);
            case Ata.IDLE_IMMEDIATE -> new AtaCommand.PowerMode(PowerCommand.IDLE_IMMEDIATE);
            case Ata.STANDBY -> new AtaCommand.PowerMode(PowerCommand.STANDBY);
            case Ata.STANDBY_IMMEDIATE -> new AtaCommand.PowerMode(PowerCommand.STANDBY_IMMEDIATE);
            case Ata.CHECK_POWER_MODE -> new AtaCommand.CheckPowerMode();
            case Ata.INITIALIZE_DEVICE_PARAMETERS -> {
                int sectors = tf.count() & 0xFF;
                yield sectors == 0
                        ? new AtaCommand.Rejected(Ata.ABRT, "INITIALIZE DEVICE PARAMETERS with 0 sectors per track")
                        : new AtaCommand.InitializeDeviceParameters((tf.device() & 0x0F) + 1, sectors);
            }
            case Ata.READ_NATIVE_MAX_ADDRESS -> new AtaCommand.ReadNativeMax(false);
            case Ata.READ_NATIVE_MAX_EXT -> new AtaCommand.ReadNativeMax(true);
            case Ata.DEVICE_RESET -> new AtaCommand.DeviceReset();
            case Ata.EXECUTE_DEVICE_DIAGNOSTIC -> new AtaCommand.ExecuteDiagnostic();
            case Ata.PACKET -> {
                if ((tf.features() & 0x02) != 0) {
                    yield new AtaCommand.Rejected(Ata.ABRT, "PACKET with overlapped operation (features bit 1)");
                }
                int limit = tf.lbaByte(1) | tf.lbaByte(2) << 8;
                yield new AtaCommand.Packet((tf.features() & 0x01) != 0, limit);
            }
            default -> new AtaCommand.Rejected(Ata.ABRT, String.format("unsupported command %02Xh", op));
        };
    }

    private static AtaCommand rw28(Taskfile tf, Chs geometry, boolean write, Protocol protocol, boolean verify) {
        long lba = address28(tf, geometry);
        if (lba < 0) {
            return outsideGeometry(tf);
        }
        return new AtaCommand.ReadWrite(write, lba, tf.count28(), protocol, false, verify);
    }

    private static AtaCommand rw48(Taskfile tf, boolean write, Protocol protocol) {
        return new AtaCommand.ReadWrite(write, tf.lba48(), tf.count48(), protocol, true, false);
    }

    /** The LBA of a 28-bit command, by LBA or CHS addressing; -1 for a CHS address outside the translation. */
    private static long address28(Taskfile tf, Chs geometry) {
        if (tf.lbaMode()) {
            return tf.lba28();
        }
        int sector = tf.lbaByte(0);
        int cylinder = tf.lbaByte(1) | tf.lbaByte(2) << 8;
        int head = tf.device() & 0x0F;
        return geometry.toLba(cylinder, head, sector);
    }

    private static AtaCommand outsideGeometry(Taskfile tf) {
        return new AtaCommand.Rejected(Ata.IDNF, String.format("CHS %d/%d/%d is outside the translation",
                tf.lbaByte(1) | tf.lbaByte(2) << 8, tf.device() & 0x0F, tf.lbaByte(0)));
    }

    private static AtaCommand setFeatures(Taskfile tf) {
        int sub = tf.features() & 0xFF;
        return switch (sub) {
            case Ata.SF_ENABLE_WRITE_CACHE -> new AtaCommand.SetWriteCache(true);
            case Ata.SF_DISABLE_WRITE_CACHE -> new AtaCommand.SetWriteCache(false);
            case Ata.SF_SET_TRANSFER_MODE -> transferMode(tf.count() & 0xFF);
            case Ata.SF_ENABLE_READ_LOOK_AHEAD, Ata.SF_DISABLE_READ_LOOK_AHEAD, Ata.SF_ENABLE_REVERTING,
                    Ata.SF_DISABLE_REVERTING -> new AtaCommand.SetFeatureAccepted(sub);
            default -> new AtaCommand.Rejected(Ata.ABRT, String.format("unsupported SET FEATURES subcommand %02Xh", sub));
        };
    }

    private static AtaCommand transferMode(int value) {
        int mode = value & 0x07;
        ModeFamily family = switch (value & 0xF8) {
            case 0x00 -> mode <= 1 ? ModeFamily.PIO_DEFAULT : null;
            case 0x08 -> mode <= 4 ? ModeFamily.PIO : null;
            case 0x20 -> mode <= 2 ? ModeFamily.MWDMA : null;
            case 0x40 -> mode <= 5 ? ModeFamily.UDMA : null;
            default -> null;
        };
        if (family == null) {
            return new AtaCommand.Rejected(Ata.ABRT, String.format("unsupported transfer mode %02Xh", value));
        }
        return new AtaCommand.SetTransferMode(family, family == ModeFamily.PIO_DEFAULT ? 0 : mode);
    }

    private static AtaCommand setMultiple(int sectors) {
        if (sectors != 0 && (Integer.bitCount(sectors) != 1 || sectors > MAX_MULTIPLE)) {
            return new AtaCommand.Rejected(Ata.ABRT, "SET MULTIPLE MODE with " + sectors
                    + " sectors (a power of two up to " + MAX_MULTIPLE + ", or 0)");
        }
        return new AtaCommand.SetMultipleMode(sectors);
    }

    /** FPDMA QUEUED: count in the feature registers (0 is 65536), tag in count bits 7-3, FUA in device bit 7. */
    private static AtaCommand queued(Taskfile tf, boolean write) {
        if (!tf.lbaMode()) {
            return new AtaCommand.Rejected(Ata.ABRT, "a queued command without the LBA bit in the device register");
        }
        int sectors = tf.features() == 0 ? 65536 : tf.features();
        return new AtaCommand.Queued(write, (tf.count() >>> 3) & 0x1F, tf.lba48(), sectors, (tf.device() & 0x80) != 0);
    }

    /** READ LOG (DMA) EXT: the log address in LBA 7-0, the page in LBA 15-8 and 47-40, the page count in the count register. */
    private static AtaCommand readLog(Taskfile tf, boolean dma) {
        if (tf.count() == 0) {
            return new AtaCommand.Rejected(Ata.ABRT, "READ LOG EXT of 0 pages");
        }
        int page = tf.lbaByte(1) | tf.lbaByte(4) << 8;
        return new AtaCommand.ReadLog(tf.lbaByte(0), page, tf.count(), dma);
    }

    private static AtaCommand dataSetManagement(Taskfile tf) {
        if ((tf.features() & 0x01) == 0) {
            return new AtaCommand.Rejected(Ata.ABRT, "DATA SET MANAGEMENT without the TRIM bit");
        }
        if (tf.count() == 0) {
            return new AtaCommand.Rejected(Ata.ABRT, "DATA SET MANAGEMENT with no blocks of ranges");
        }
        return new AtaCommand.Trim(tf.count());
    }
}
