package org.spindle.device.ata;

import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CopyOnWriteArrayList;

import org.spindle.storage.api.MediaStatusDTO;
import org.spindle.storage.api.RemovableMedia;
import org.spindle.storage.api.StorageException;
import org.spindle.storage.api.VirtualDisk;

/**
 * An ATAPI CD-ROM drive (MMC): runs CDBs against the disc in its tray, and the few ATA commands a
 * PACKET device takes. The tray, its lock and the disc are a {@link RemovableMedia}; the guest learns of
 * every change as real drives tell it: NOT READY (3A, medium not present, tray open or closed) while
 * there is nothing to read, UNIT ATTENTION (28, medium may have changed) once after a disc arrives,
 * and media events for GET EVENT STATUS NOTIFICATION.
 *
 * <p>A disc is read in 2048-byte blocks; one larger than 80 minutes of CD is presented as a DVD-ROM.
 * Storage failures become sense data in one place ({@link #readFailure}). The guest side runs on the
 * machine thread; the {@link RemovableMedia} methods may be called from any thread and are carried to
 * the device's thread by the {@link DeviceThread} given at construction.
 */
public final class AtapiCdrom implements RemovableMedia {
    public static final int BLOCK = 2048;

    // GET EVENT STATUS NOTIFICATION media event codes.
    static final int EVENT_NONE = 0;
    static final int EVENT_EJECT_REQUEST = 1;
    static final int EVENT_NEW_MEDIA = 2;
    static final int EVENT_MEDIA_REMOVAL = 3;

    private final AtaIdentity identity;
    private final String slot;
    private final DeviceThread thread;
    private final List<MediaListener> listeners = new CopyOnWriteArrayList<>();
    private final DiskTransfer.Bounce bounce = new DiskTransfer.Bounce();
    private final boolean serial;

    private VirtualDisk medium;
    private String mediumName;
    private boolean trayOpen;
    private boolean locked;
    private long changes;

    private Sense sense = Sense.NONE;
    private Sense unitAttention;
    private int mediaEvent;
    private int readSpeed;
    private int retryCount;
    private int inactivity;
    private TransferMode transferMode;

    /**
     * @param slot the drive's name in status and events
     * @param thread how operator calls reach the thread that runs the device
     */
    public AtapiCdrom(AtaIdentity identity, String slot, DeviceThread thread) {
        this(identity, slot, thread, false);
    }

    /**
     * A drive on a parallel or a serial (SATA, AHCI) link: IDENTIFY PACKET DEVICE reports which.
     *
     * @since 1.2
     */
    public AtapiCdrom(AtaIdentity identity, String slot, DeviceThread thread, boolean serial) {
        this.serial = serial;
        this.identity = identity;
        this.slot = slot;
        this.thread = thread;
        reset();
    }

    /**
     * Power-on reset: the tray unlocked, sense cleared, and a UNIT ATTENTION (29h, power on or reset)
     * for the first command. The tray and the disc stay as they are.
     */
    public void reset() {
        locked = false;
        sense = Sense.NONE;
        unitAttention = Sense.POWER_ON_RESET;
        mediaEvent = EVENT_NONE;
        readSpeed = MmcData.MAX_READ_SPEED;
        retryCount = 5;
        inactivity = 0;
        transferMode = TransferMode.DEFAULT;
    }

    @Override
    public String slot() {
        return slot;
    }

    /** Whether the guest can read a disc now: one is in the tray and the tray is closed. */
    public boolean ready() {
        return medium != null && !trayOpen;
    }

    /** The current sense (what REQUEST SENSE would report about the last command). */
    public Sense sense() {
        return sense;
    }

    private long blocks() {
        return medium == null ? 0 : medium.capacity() / BLOCK;
    }

    // ---- ATA commands to a PACKET device ----

    /**
     * Runs an ATA command other than PACKET: IDENTIFY PACKET DEVICE, the resets and diagnostics (which
     * leave the PACKET signature), power management, SET FEATURES transfer modes. IDENTIFY DEVICE and
     * the rest abort; IDENTIFY DEVICE also leaves the signature, so a host knows what answered.
     */
    public Transfer executeAta(AtaCommand command, Taskfile tf) {
        return switch (command) {
            case AtaCommand.IdentifyPacket i -> BufferTransfer.toHost(identifyPacket(), false, 512, AtaResult.OK);
            case AtaCommand.Identify i -> Transfer.none(AtaResult.error(Ata.ABRT, Ata.signature(true)));
            case AtaCommand.DeviceReset r -> {
                sense = Sense.NONE;
                yield Transfer.none(new AtaResult(0, 0x01, Ata.signature(true)));
            }
            case AtaCommand.ExecuteDiagnostic d -> Transfer.none(new AtaResult(0, 0x01, Ata.signature(true)));
            case AtaCommand.CheckPowerMode c -> Transfer.none(AtaResult.ok(new Taskfile(0, 0, 0xFF, tf.lba(), tf.device())));
            case AtaCommand.PowerMode p -> Transfer.none(AtaResult.OK);
            case AtaCommand.SetFeatureAccepted a -> Transfer.none(AtaResult.OK);
            case AtaCommand.SetTransferMode tm -> {
                transferMode = transferMode.apply(tm);
                yield Transfer.none(AtaResult.OK);
            }
            default -> Transfer.none(AtaResult.aborted());
        };
    }

    /** The 512 bytes of IDENTIFY PACKET DEVICE data. */
    public byte[] identifyPacket() {
        IdentifyData id = new IdentifyData();
        id.word(0, 0x85C0); // ATAPI, CD-ROM, removable, DRQ within 50 us, 12-byte packets
        id.string(10, 10, identity.serial());
        id.string(23, 4, identity.firmware());
        id.string(27, 20, identity.model());
        id.word(49, 0x0B00); // IORDY, LBA, DMA
        id.word(53, 0x0006); // words 64-70 and 88 are valid
        transferMode.describe(id);
        if (serial) {
            id.word(76, 0x0200 | 0x000E); // host-initiated power management requests, Gen1-3
            id.word(77, 3 << 1);
        }
        id.word(80, 0x01F0);
        id.word(82, 0x0218); // DEVICE RESET, PACKET, power management
        id.word(83, 0x4000);
        id.word(84, 0x4000);
        id.word(85, 0x0218);
        id.word(87, 0x4000);
        if (serial) {
            id.word(222, 0x1000 | 0x003F);
        } else {
            id.word(93, 0x6001);
        }
        return id.build();
    }

    // ---- PACKET commands ----

    /** Parses and starts the command in {@code cdb}; {@code dma} is the PACKET command's DMA bit. */
    public Transfer execute(byte[] cdb, boolean dma) {
        return execute(AtapiParser.parse(cdb), dma);
    }

    public Transfer execute(AtapiCommand command, boolean dma) {
        if (command instanceof AtapiCommand.RequestSense rs) {
            return requestSense(rs, dma);
        }
        sense = Sense.NONE;
        boolean reportsAttention = !(command instanceof AtapiCommand.Inquiry
                || command instanceof AtapiCommand.GetConfiguration
                || command instanceof AtapiCommand.GetEventStatus);
        if (reportsAttention && unitAttention != null) {
            Sense ua = unitAttention;
            unitAttention = null;
            return checkCondition(ua);
        }
        return switch (command) {
            case AtapiCommand.TestUnitReady t -> needMedium() ? notReady() : good();
            case AtapiCommand.Inquiry q -> inquiry(q, dma);
            case AtapiCommand.ModeSense ms -> modeSense(ms, dma);
            case AtapiCommand.ModeSelect sel -> modeSelect(sel, dma);
            case AtapiCommand.ReadCapacity r -> {
                if (needMedium()) {
                    yield notReady();
                }
                byte[] b = new byte[8];
                MmcData.put32(b, 0, blocks() - 1);
                MmcData.put32(b, 4, BLOCK);
                yield data(b, b.length, dma);
            }
            case AtapiCommand.Read r -> read(r.lba(), r.blocks(), dma);
            case AtapiCommand.ReadCd rc -> readCd(rc, dma);
            case AtapiCommand.ReadToc toc -> readToc(toc, dma);
            case AtapiCommand.ReadDiscInformation di -> needMedium() ? notReady()
                    : data(MmcData.discInformation(), di.allocation(), dma);
            case AtapiCommand.ReadTrackInformation ti -> trackInformation(ti, dma);
            case AtapiCommand.GetConfiguration gc -> data(MmcData.configuration(MmcData.profile(blocks(), ready()),
                    gc.requestType(), gc.start()), gc.allocation(), dma);
            case AtapiCommand.GetEventStatus ge -> eventStatus(ge, dma);
            case AtapiCommand.MechanismStatus m -> data(MmcData.mechanismStatus(trayOpen), m.allocation(), dma);
            case AtapiCommand.StartStopUnit ssu -> startStop(ssu);
            case AtapiCommand.PreventAllowMediumRemoval p -> {
                if (p.prevent() != locked) {
                    locked = p.prevent();
                    fire(locked ? Kind.LOCKED : Kind.UNLOCKED, mediumName, true);
                }
                yield good();
            }
            case AtapiCommand.SetCdSpeed s -> {
                readSpeed = s.readSpeed() == 0xFFFF ? MmcData.MAX_READ_SPEED
                        : Math.max(176, Math.min(s.readSpeed(), MmcData.MAX_READ_SPEED));
                yield good();
            }
            case AtapiCommand.Seek s -> {
                if (needMedium()) {
                    yield notReady();
                }
                yield s.lba() >= blocks() ? checkCondition(Sense.LBA_OUT_OF_RANGE) : good();
            }
            case AtapiCommand.Rejected r -> checkCondition(r.sense());
            case AtapiCommand.RequestSense rs -> throw new AssertionError("handled above");
        };
    }

    private Transfer requestSense(AtapiCommand.RequestSense rs, boolean dma) {
        Sense report = sense;
        if (report.equals(Sense.NONE) && unitAttention != null) {
            report = unitAttention;
            unitAttention = null;
        } else if (report.equals(Sense.NONE) && needMedium()) {
            report = trayOpen ? Sense.NO_MEDIUM_TRAY_OPEN : Sense.NO_MEDIUM_TRAY_CLOSED;
        }
        sense = Sense.NONE;
        return data(report.fixedFormat(), rs.allocation(), dma);
    }

    private Transfer inquiry(AtapiCommand.Inquiry q, boolean dma) {
        if (!q.vpd()) {
            return data(MmcData.inquiry(identity), q.allocation(), dma);
        }
        return switch (q.page()) {
            case 0x00 -> data(MmcData.supportedVpdPages(), q.allocation(), dma);
            case 0x80 -> data(MmcData.serialNumberPage(identity), q.allocation(), dma);
            default -> checkCondition(Sense.INVALID_FIELD_IN_CDB);
        };
    }

    private Transfer modeSense(AtapiCommand.ModeSense ms, boolean dma) {
        if (ms.control() == 3) {
            return checkCondition(Sense.SAVING_NOT_SUPPORTED);
        }
        boolean changeable = ms.control() == 1;
        boolean defaults = ms.control() == 2;
        byte[] pages = switch (ms.page()) {
            case MmcData.PAGE_ERROR_RECOVERY -> errorRecovery(changeable, defaults);
            case MmcData.PAGE_CD_PARAMETERS -> cdParameters(changeable, defaults);
            case MmcData.PAGE_CAPABILITIES -> capabilities(changeable, defaults);
            case MmcData.PAGE_ALL -> concat(errorRecovery(changeable, defaults), cdParameters(changeable, defaults),
                    capabilities(changeable, defaults));
            default -> null;
        };
        if (pages == null) {
            return checkCondition(Sense.INVALID_FIELD_IN_CDB);
        }
        return data(MmcData.modeSense(ms.ten(), pages), ms.allocation(), dma);
    }

    private byte[] errorRecovery(boolean changeable, boolean defaults) {
        return changeable ? MmcData.errorRecoveryChangeable() : MmcData.errorRecoveryPage(defaults ? 5 : retryCount);
    }

    private byte[] cdParameters(boolean changeable, boolean defaults) {
        return changeable ? MmcData.cdParametersChangeable() : MmcData.cdParametersPage(defaults ? 0 : inactivity);
    }

    private byte[] capabilities(boolean changeable, boolean defaults) {
        return changeable ? MmcData.capabilitiesChangeable()
                : MmcData.capabilitiesPage(!defaults && locked, defaults ? MmcData.MAX_READ_SPEED : readSpeed);
    }

    private Transfer modeSelect(AtapiCommand.ModeSelect sel, boolean dma) {
        if (sel.save()) {
            return checkCondition(Sense.INVALID_FIELD_IN_CDB);
        }
        if (sel.length() == 0) {
            return good();
        }
        return BufferTransfer.fromHost(sel.length(), dma, sel.length(), "modeSelect", Map.of("ten", sel.ten()),
                params -> applyModeSelect(params, sel.ten()));
    }

    /** Checks every page against what may change before changing anything. */
    private AtaResult applyModeSelect(byte[] p, boolean ten) {
        int header = ten ? 8 : 4;
        if (p.length < header) {
            return conditionResult(Sense.PARAMETER_LIST_LENGTH);
        }
        int descriptors = ten ? (p[6] & 0xFF) << 8 | (p[7] & 0xFF) : p[3] & 0xFF;
        int at = header + descriptors;
        if (at > p.length) {
            return conditionResult(Sense.PARAMETER_LIST_LENGTH);
        }
        int newRetry = retryCount;
        int newInactivity = inactivity;
        while (at < p.length) {
            if (at + 2 > p.length) {
                return conditionResult(Sense.PARAMETER_LIST_LENGTH);
            }
            int code = p[at] & 0x3F;
            int length = (p[at + 1] & 0xFF) + 2;
            if (at + length > p.length) {
                return conditionResult(Sense.PARAMETER_LIST_LENGTH);
            }
            byte[] page = Arrays.copyOfRange(p, at, at + length);
            byte[] current;
            byte[] mask;
            switch (code) {
                case MmcData.PAGE_ERROR_RECOVERY -> {
                    current = MmcData.errorRecoveryPage(newRetry);
                    mask = MmcData.errorRecoveryChangeable();
                }
                case MmcData.PAGE_CD_PARAMETERS -> {
                    current = MmcData.cdParametersPage(newInactivity);
                    mask = MmcData.cdParametersChangeable();
                }
                case MmcData.PAGE_CAPABILITIES -> {
                    current = MmcData.capabilitiesPage(locked, readSpeed);
                    mask = MmcData.capabilitiesChangeable();
                }
                default -> {
                    return conditionResult(Sense.INVALID_FIELD_IN_PARAMETERS);
                }
            }
            if (page.length != current.length) {
                return conditionResult(Sense.INVALID_FIELD_IN_PARAMETERS);
            }
            // Byte 0's PS bit is reserved in MODE SELECT; the code and length were checked above.
            for (int i = 2; i < page.length; i++) {
                if (((page[i] ^ current[i]) & ~mask[i]) != 0) {
                    return conditionResult(Sense.INVALID_FIELD_IN_PARAMETERS);
                }
            }
            if (code == MmcData.PAGE_ERROR_RECOVERY) {
                newRetry = page[3] & 0xFF;
            } else if (code == MmcData.PAGE_CD_PARAMETERS) {
                newInactivity = page[3] & 0x0F;
            }
            at += length;
        }
        retryCount = newRetry;
        inactivity = newInactivity;
        return AtaResult.OK;
    }

    private Transfer read(long lba, long count, boolean dma) {
        if (needMedium()) {
            return notReady();
        }
        if (lba + count > blocks()) {
            return checkCondition(Sense.LBA_OUT_OF_RANGE);
        }
        if (count == 0) {
            return good();
        }
        return blockTransfer(dma, lba * BLOCK, count * BLOCK);
    }

    private Transfer blockTransfer(boolean dma, long start, long length) {
        return new DiskTransfer(medium, false, dma, start, length, BLOCK, this::readFailure, () -> AtaResult.OK,
                bounce, Map::of);
    }

    private Transfer readCd(AtapiCommand.ReadCd rc, boolean dma) {
        if (needMedium()) {
            return notReady();
        }
        int fields = rc.fields();
        boolean sync = (fields & 0x80) != 0;
        boolean header = (fields & 0x20) != 0; // a Mode 1 sector has no subheader (40h)
        boolean user = (fields & 0x10) != 0;
        boolean edc = (fields & 0x08) != 0;
        if ((fields & 0x06) != 0 || rc.subchannel() != 0 || (sync && !header) || (edc && !user)) {
            return checkCondition(Sense.INVALID_FIELD_IN_CDB);
        }
        if (rc.sectorType() != 0 && rc.sectorType() != 2) {
            return checkCondition(Sense.ILLEGAL_MODE_FOR_TRACK);
        }
        if (rc.lba() + rc.blocks() > blocks()) {
            return checkCondition(Sense.LBA_OUT_OF_RANGE);
        }
        int from = sync ? 0 : header ? CdSector.SYNC_SIZE : CdSector.SYNC_SIZE + CdSector.HEADER_SIZE;
        int to = edc ? CdSector.RAW_SIZE : user ? CdSector.SYNC_SIZE + CdSector.HEADER_SIZE + CdSector.USER_SIZE
                : CdSector.SYNC_SIZE + CdSector.HEADER_SIZE;
        if (!sync && !header && !user) {
            return good(); // no fields asked for: nothing to transfer
        }
        if (from == CdSector.SYNC_SIZE + CdSector.HEADER_SIZE && !edc) {
            return read(rc.lba(), rc.blocks(), dma); // user data only
        }
        if (rc.blocks() == 0) {
            return good();
        }
        return new RawCdTransfer(medium, rc.lba(), rc.blocks(), from, to, dma, this::readFailure);
    }

    private Transfer readToc(AtapiCommand.ReadToc toc, boolean dma) {
        if (needMedium()) {
            return notReady();
        }
        byte[] b = switch (toc.format()) {
            case 0 -> MmcData.toc(blocks(), toc.msf(), toc.track());
            case 1 -> MmcData.sessionInfo(toc.msf());
            default -> blocks() > MmcData.CD_MAX_BLOCKS || toc.track() > 1 ? null : MmcData.fullToc(blocks());
        };
        return b == null ? checkCondition(Sense.INVALID_FIELD_IN_CDB) : data(b, toc.allocation(), dma);
    }

    private Transfer trackInformation(AtapiCommand.ReadTrackInformation ti, boolean dma) {
        if (needMedium()) {
            return notReady();
        }
        boolean track1 = switch (ti.addressType()) {
            case 0 -> ti.address() < blocks();
            default -> ti.address() == 1; // track 1, or session 1 (whose first track is 1)
        };
        return track1 ? data(MmcData.trackInformation(blocks()), ti.allocation(), dma)
                : checkCondition(Sense.INVALID_FIELD_IN_CDB);
    }

    private Transfer eventStatus(AtapiCommand.GetEventStatus ge, boolean dma) {
        boolean media = (ge.classes() & 0x10) != 0;
        byte[] b = MmcData.eventStatus(media, mediaEvent, trayOpen, medium != null);
        if (media) {
            mediaEvent = EVENT_NONE;
        }
        return data(b, ge.allocation(), dma);
    }

    private Transfer startStop(AtapiCommand.StartStopUnit ssu) {
        if (ssu.powerCondition() != 0 || !ssu.loadEject()) {
            return good();
        }
        if (ssu.start()) {
            closeTrayNow(true);
            return good();
        }
        if (locked) {
            return checkCondition(Sense.REMOVAL_PREVENTED);
        }
        openTrayNow(true);
        return good();
    }

    // ---- status ----

    private boolean needMedium() {
        return !ready();
    }

    private Transfer notReady() {
        return checkCondition(trayOpen ? Sense.NO_MEDIUM_TRAY_OPEN : Sense.NO_MEDIUM_TRAY_CLOSED);
    }

    private static Transfer good() {
        return Transfer.none(AtaResult.OK);
    }

    private Transfer checkCondition(Sense s) {
        return Transfer.none(conditionResult(s));
    }

    /** CHECK CONDITION: the sense is kept for REQUEST SENSE, its key goes to the error register. */
    private AtaResult conditionResult(Sense s) {
        sense = s;
        return new AtaResult(Ata.DRDY | Ata.DSC | Ata.ERR, s.key() << 4, null);
    }

    /** {@code full}, cut to the host's allocation length, as a data-in phase. */
    private static Transfer data(byte[] full, int allocation, boolean dma) {
        int n = Math.min(full.length, allocation);
        if (n == 0) {
            return good();
        }
        return BufferTransfer.toHost(n == full.length ? full : Arrays.copyOf(full, n), dma, n, AtaResult.OK);
    }

    /**
     * The one place storage failures become sense: an address past the disc is ILLEGAL REQUEST (21h),
     * a disc that has gone is NOT READY (3Ah), anything else a MEDIUM ERROR (11h, unrecovered read error).
     */
    private AtaResult readFailure(StorageException e, boolean write, long byteOffset, long length) {
        return conditionResult(switch (e.kind()) {
            case OUT_OF_BOUNDS -> Sense.LBA_OUT_OF_RANGE;
            case NO_MEDIUM -> Sense.NO_MEDIUM_TRAY_CLOSED;
            default -> Sense.UNRECOVERED_READ_ERROR;
        });
    }

    private static byte[] concat(byte[]... parts) {
        int n = 0;
        for (byte[] p : parts) {
            n += p.length;
        }
        byte[] all = new byte[n];
        int at = 0;
        for (byte[] p : parts) {
            System.arraycopy(p, 0, all, at, p.length);
            at += p.length;
        }
        return all;
    }

    // ---- the tray, on the device's thread ----

    private void openTrayNow(boolean byGuest) {
        if (trayOpen) {
            return;
        }
        trayOpen = true;
        unitAttention = null;
        if (medium != null) {
            mediaEvent = EVENT_MEDIA_REMOVAL;
        }
        fire(Kind.TRAY_OPENED, mediumName, byGuest);
    }

    private void closeTrayNow(boolean byGuest) {
        if (!trayOpen) {
            return;
        }
        trayOpen = false;
        if (medium != null) {
            changes++;
            unitAttention = Sense.MEDIUM_CHANGED;
            mediaEvent = EVENT_NEW_MEDIA;
        }
        fire(Kind.TRAY_CLOSED, mediumName, byGuest);
    }

    /** An operator's request to open a locked tray: refused, and the guest hears of it as a button press. */
    private void refuseEject(String why) throws StorageException {
        mediaEvent = EVENT_EJECT_REQUEST;
        fire(Kind.EJECT_REQUESTED, mediumName, false);
        throw new StorageException(StorageException.Kind.IN_USE, "the guest has locked the tray of " + slot
                + "; " + why + " needs force");
    }

    private void fire(Kind kind, String name, boolean byGuest) {
        MediaEvent event = new MediaEvent(slot, kind, name, byGuest);
        for (MediaListener l : listeners) {
            try {
                l.mediaChanged(event);
            } catch (RuntimeException e) {
                // A listener's failure must not reach the guest's command.
            }
        }
    }

    // ---- RemovableMedia ----

    @Override
    public MediaStatusDTO status() {
        return onDevice(() -> {
            MediaStatusDTO dto = new MediaStatusDTO();
            dto.slot = slot;
            dto.trayOpen = trayOpen;
            dto.locked = locked;
            dto.present = medium != null;
            dto.medium = mediumName;
            dto.capacity = medium == null ? 0 : medium.capacity();
            dto.changes = changes;
            return dto;
        });
    }

    /**
     * The disc on the tray, open or closed, if any: for whoever inserted it to tell whether it is still
     * theirs.
     *
     * @since 1.1
     */
    public Optional<VirtualDisk> medium() {
        return onDevice(() -> Optional.ofNullable(medium));
    }

    @Override
    public void openTray(boolean force) throws StorageException {
        onDeviceChecked(() -> {
            if (!trayOpen && locked && !force) {
                refuseEject("opening it");
            }
            openTrayNow(false);
            return null;
        });
    }

    @Override
    public void closeTray() throws StorageException {
        onDeviceChecked(() -> {
            closeTrayNow(false);
            return null;
        });
    }

    @Override
    public void insert(VirtualDisk disc, String name, boolean force) throws StorageException {
        if (disc.capacity() < BLOCK) {
            throw new StorageException(StorageException.Kind.UNSUPPORTED_FEATURE, "a disc of " + disc.capacity()
                    + " bytes is smaller than one " + BLOCK + "-byte block");
        }
        onDeviceChecked(() -> {
            if (!trayOpen && locked && !force) {
                refuseEject("changing the disc");
            }
            openTrayNow(false);
            if (medium != null) {
                String old = mediumName;
                medium = null;
                mediumName = null;
                fire(Kind.REMOVED, old, false);
            }
            medium = disc;
            mediumName = name;
            fire(Kind.INSERTED, name, false);
            closeTrayNow(false);
            return null;
        });
    }

    @Override
    public void load(VirtualDisk disc, String name) throws StorageException {
        if (disc.capacity() < BLOCK) {
            throw new StorageException(StorageException.Kind.UNSUPPORTED_FEATURE, "a disc of " + disc.capacity()
                    + " bytes is smaller than one " + BLOCK + "-byte block");
        }
        onDeviceChecked(() -> {
            if (!trayOpen) {
                throw new StorageException(StorageException.Kind.IN_USE, "the tray of " + slot + " is not open");
            }
            if (medium != null) {
                throw new StorageException(StorageException.Kind.IN_USE, "there is a medium in " + slot + " already");
            }
            medium = disc;
            mediumName = name;
            fire(Kind.INSERTED, name, false);
            return null;
        });
    }

    @Override
    public Optional<VirtualDisk> remove(boolean force) throws StorageException {
        return onDeviceChecked(() -> {
            if (!trayOpen && locked && !force) {
                refuseEject("removing the disc");
            }
            openTrayNow(false);
            VirtualDisk old = medium;
            if (old != null) {
                String name = mediumName;
                medium = null;
                mediumName = null;
                fire(Kind.REMOVED, name, false);
            }
            return Optional.ofNullable(old);
        });
    }

    @Override
    public AutoCloseable addListener(MediaListener listener) {
        listeners.add(listener);
        return () -> listeners.remove(listener);
    }

    private interface DeviceWork<T> {
        T run() throws StorageException;
    }

    @SuppressWarnings("unchecked")
    private <T> T onDeviceChecked(DeviceWork<T> work) throws StorageException {
        try {
            return (T) thread.call(work::run);
        } catch (StorageException | RuntimeException e) {
            throw e;
        } catch (Exception e) {
            throw new StorageException(StorageException.Kind.IO, "the machine did not run the media change of "
                    + slot + ": " + e, e);
        }
    }

    private <T> T onDevice(DeviceWork<T> work) {
        try {
            return onDeviceChecked(work);
        } catch (StorageException e) {
            throw new IllegalStateException(e.getMessage(), e);
        }
    }

    // ---- save and restore ----

    /** The drive's state: tray, lock, sense, pending attention and events, settings; the disc is not in it. */
    public Map<String, Object> save() {
        Map<String, Object> s = new LinkedHashMap<>();
        s.put("trayOpen", trayOpen);
        s.put("locked", locked);
        s.put("medium", mediumName == null ? "" : mediumName);
        s.put("changes", changes);
        s.put("sense", List.of(sense.key(), sense.asc(), sense.ascq()));
        s.put("unitAttention", unitAttention == null ? List.of()
                : List.of(unitAttention.key(), unitAttention.asc(), unitAttention.ascq()));
        s.put("mediaEvent", mediaEvent);
        s.put("readSpeed", readSpeed);
        s.put("retryCount", retryCount);
        s.put("inactivity", inactivity);
        s.put("transferMode", transferMode.save());
        return s;
    }

    /**
     * Takes back a {@link #save}d state. The disc in the drive now stays; when it is not the one the
     * state was saved with, the guest is told the medium changed.
     *
     * @throws IllegalArgumentException when a value is missing or wrong
     */
    public void restore(Map<String, Object> s) {
        try {
            trayOpen = (Boolean) s.get("trayOpen");
            locked = (Boolean) s.get("locked");
            changes = AtaDisk.num(s, "changes");
            sense = sense(s.get("sense"));
            Object ua = s.get("unitAttention");
            unitAttention = ((List<?>) ua).isEmpty() ? null : sense(ua);
            mediaEvent = (int) AtaDisk.num(s, "mediaEvent");
            readSpeed = (int) AtaDisk.num(s, "readSpeed");
            retryCount = (int) AtaDisk.num(s, "retryCount");
            inactivity = (int) AtaDisk.num(s, "inactivity");
            transferMode = TransferMode.parse((String) s.get("transferMode"));
            String saved = (String) s.get("medium");
            String now = mediumName == null ? "" : mediumName;
            if (!saved.equals(now) && ready()) {
                unitAttention = Sense.MEDIUM_CHANGED;
                mediaEvent = EVENT_NEW_MEDIA;
            }
        } catch (ClassCastException | NullPointerException e) {
            throw new IllegalArgumentException("a CD-ROM's saved state is incomplete: " + s, e);
        }
    }

    private static Sense sense(Object o) {
        List<?> l = (List<?>) o;
        return new Sense(((Number) l.get(0)).intValue(), ((Number) l.get(1)).intValue(), ((Number) l.get(2)).intValue());
    }

    /**
     * Takes back a transfer {@link Transfer#save()} gave: the data phase goes on where it stopped, from
     * the disc in the drive now.
     *
     * @throws IllegalArgumentException when the state is not one this engine saves
     */
    public Transfer resume(Map<String, Object> saved) {
        String kind = String.valueOf(saved.get("kind"));
        long done = AtaDisk.num(saved, "done");
        boolean dma = (Boolean) saved.get("dma");
        return switch (kind) {
            case "buffer" -> {
                if (!saved.containsKey("action")) {
                    yield BufferTransfer.resumeToHost(saved);
                }
                if (!"modeSelect".equals(saved.get("action"))) {
                    throw new IllegalArgumentException("a CD-ROM has no action " + saved.get("action"));
                }
                @SuppressWarnings("unchecked")
                boolean ten = (Boolean) ((Map<String, Object>) saved.get("args")).get("ten");
                yield BufferTransfer.resumeFromHost(saved, params -> applyModeSelect(params, ten));
            }
            case "sectors" -> ready() ? blockTransfer(dma, AtaDisk.num(saved, "start"), AtaDisk.num(saved, "length"))
                    .resumedAt(done) : notReady();
            case "rawcd" -> ready() ? new RawCdTransfer(medium, AtaDisk.num(saved, "lba"), AtaDisk.num(saved, "blocks"),
                    (int) AtaDisk.num(saved, "from"), (int) AtaDisk.num(saved, "to"), dma, this::readFailure).resumedAt(done)
                    : notReady();
            default -> throw new IllegalArgumentException("a CD-ROM cannot resume a '" + kind + "' transfer");
        };
    }
}
