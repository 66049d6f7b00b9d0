package org.spindle.device.ata;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;

import org.spindle.device.ata.Transfer.TransferException;
import org.spindle.storage.api.Discardable;
import org.spindle.storage.api.StorageException;
import org.spindle.storage.api.VirtualDisk;

/**
 * An ATA hard disk: runs {@link AtaCommand}s against a {@link VirtualDisk}. Its settings are those a
 * guest changes with SET FEATURES and friends: the write cache (when off, every write is flushed to
 * the medium before the command completes), the transfer mode, the multiple count, the CHS
 * translation, the power mode and the security freeze.
 *
 * <p>Storage failures become ATA errors in one place ({@link #failure}): an address past the end is
 * IDNF, a read that fails is UNC, a write that fails is ABRT; nothing is thrown to the controller.
 * Called on the machine thread only.
 */
public final class AtaDisk {
    /** IDENTIFY word 105: the most 512-byte blocks of TRIM ranges one DATA SET MANAGEMENT takes. */
    public static final int MAX_TRIM_BLOCKS = 8;
    /** The power modes CHECK POWER MODE reports. */
    public enum Power {
        ACTIVE, IDLE, STANDBY
    }

    private final VirtualDisk disk;
    private final AtaIdentity identity;
    private final int sectorSize;
    private final long sectors;
    private final Optional<Discardable> discard;
    private final DiskTransfer.Bounce bounce = new DiskTransfer.Bounce();
    private final boolean serial;

    private boolean writeCache;
    private int multiple;
    private Chs geometry;
    private TransferMode transferMode;
    private Power power;
    private boolean frozen;
    /** The NCQ command error log (page 0 of log 10h); all zeros when no queued command has failed. */
    private byte[] ncqLog = new byte[512];
    /** Whether a queued command failed and log 10h has not been read since: queued commands abort meanwhile. */
    private boolean ncqHalted;

    /**
     * A disk on a parallel ATA bus (IDE).
     *
     * @throws IllegalArgumentException when the disk's sector size is not 512 or 4096
     */
    public AtaDisk(VirtualDisk disk, AtaIdentity identity) {
        this(disk, identity, false);
    }

    /**
     * A disk on a parallel or a serial (SATA) link. A SATA disk queues commands (READ/WRITE FPDMA
     * QUEUED, {@link Ata#QUEUE_DEPTH} deep) and keeps the NCQ error log; IDENTIFY reports its link.
     *
     * @throws IllegalArgumentException when the disk's sector size is not 512 or 4096
     * @since 1.2
     */
    public AtaDisk(VirtualDisk disk, AtaIdentity identity, boolean serial) {
        this.serial = serial;
        this.disk = disk;
        this.identity = identity;
        this.sectorSize = disk.logicalSectorSize();
        if (sectorSize != 512 && sectorSize != 4096) {
            throw new IllegalArgumentException("an ATA disk has 512- or 4096-byte sectors, not " + sectorSize);
        }
        this.sectors = disk.sectorCount();
        this.discard = disk.isReadOnly() ? Optional.empty() : disk.capability(Discardable.class);
        reset();
    }

    /** Power-on state: write cache on, multiple count 16, UDMA 5, the default CHS translation, active. */
    public void reset() {
        writeCache = true;
        multiple = AtaParser.MAX_MULTIPLE;
        geometry = Chs.defaultFor(sectors);
        transferMode = TransferMode.DEFAULT;
        power = Power.ACTIVE;
        frozen = false;
        ncqLog = new byte[512];
        ncqHalted = false;
    }

    /** Whether the disk sits on a serial link (and so queues commands). */
    public boolean serial() {
        return serial;
    }

    /**
     * A queued command failed, or a command that is not queued arrived while queued commands were
     * outstanding ({@code nonQueued}): the device aborts every outstanding command, keeps what happened
     * in the NCQ error log, and aborts queued commands until the host reads the log.
     *
     * @param tag the failed command's tag (ignored when {@code nonQueued})
     * @param result how it failed: its status, error and the address it reported
     * @since 1.2
     */
    public void queuedFailed(int tag, boolean nonQueued, AtaResult result) {
        byte[] log = new byte[512];
        log[0] = (byte) (nonQueued ? 0x80 : tag & 0x1F);
        log[2] = (byte) result.status();
        log[3] = (byte) result.error();
        Taskfile at = result.outputs();
        if (at != null) {
            for (int i = 0; i < 3; i++) {
                log[4 + i] = (byte) at.lbaByte(i);
                log[8 + i] = (byte) at.lbaByte(3 + i);
            }
            log[7] = (byte) at.device();
            log[12] = (byte) at.count();
            log[13] = (byte) (at.count() >>> 8);
        }
        log[511] = checksum(log);
        ncqLog = log;
        ncqHalted = true;
    }

    /** Whether a queued command failed and the host has not read the NCQ error log since. */
    public boolean queueHalted() {
        return ncqHalted;
    }

    /** The byte that makes a log page's 512 bytes sum to 0. */
    private static byte checksum(byte[] page) {
        int sum = 0;
        for (int i = 0; i < 511; i++) {
            sum += page[i];
        }
        return (byte) -sum;
    }

    public boolean writeCacheEnabled() {
        return writeCache;
    }

    public Chs geometry() {
        return geometry;
    }

    /** Parses and starts the command in {@code tf}. */
    public Transfer execute(Taskfile tf) {
        return execute(AtaParser.parse(tf, geometry), tf);
    }

    /** Starts {@code command}, which came from {@code tf} (whose registers some results report). */
    public Transfer execute(AtaCommand command, Taskfile tf) {
        return switch (command) {
            case AtaCommand.ReadWrite rw -> readWrite(rw, tf);
            case AtaCommand.Queued q -> queued(q, tf);
            case AtaCommand.ReadLog l -> readLog(l);
            case AtaCommand.ReadVerify v -> verify(v, tf);
            case AtaCommand.FlushCache f -> flushLater(tf.device());
            case AtaCommand.Identify i -> BufferTransfer.toHost(identify(), false, 512, AtaResult.OK);
            case AtaCommand.SetWriteCache wc -> Transfer.none(setWriteCache(wc.enabled(), tf));
            case AtaCommand.SetTransferMode tm -> {
                transferMode = transferMode.apply(tm);
                yield Transfer.none(AtaResult.OK);
            }
            case AtaCommand.SetFeatureAccepted a -> Transfer.none(AtaResult.OK);
            case AtaCommand.SetMultipleMode m -> {
                multiple = m.sectors();
                yield Transfer.none(AtaResult.OK);
            }
            case AtaCommand.Trim t -> trim(t);
            case AtaCommand.SecurityFreezeLock s -> {
                frozen = true;
                yield Transfer.none(AtaResult.OK);
            }
            case AtaCommand.PowerMode p -> Transfer.none(powerMode(p, tf));
            case AtaCommand.CheckPowerMode c -> Transfer.none(AtaResult.ok(new Taskfile(0, 0,
                    switch (power) {
                        case ACTIVE, IDLE -> 0xFF;
                        case STANDBY -> 0x00;
                    }, tf.lba(), tf.device())));
            case AtaCommand.InitializeDeviceParameters p -> {
                geometry = Chs.withHeadsAndSectors(sectors, p.heads(), p.sectorsPerTrack());
                yield Transfer.none(AtaResult.OK);
            }
            case AtaCommand.ReadNativeMax r -> Transfer.none(readNativeMax(r.ext(), tf));
            case AtaCommand.ExecuteDiagnostic d -> Transfer.none(new AtaResult(Ata.DRDY | Ata.DSC, 0x01,
                    Ata.signature(false)));
            case AtaCommand.IdentifyPacket i -> Transfer.none(AtaResult.aborted());
            case AtaCommand.DeviceReset r -> Transfer.none(AtaResult.aborted());
            case AtaCommand.Packet p -> Transfer.none(AtaResult.aborted());
            case AtaCommand.Rejected r -> Transfer.none(AtaResult.error(r.error()));
        };
    }

    private Transfer readWrite(AtaCommand.ReadWrite rw, Taskfile tf) {
        if (rw.protocol() == AtaCommand.Protocol.PIO_MULTIPLE && multiple == 0) {
            return Transfer.none(AtaResult.aborted());
        }
        if (rw.write() && disk.isReadOnly()) {
            return Transfer.none(AtaResult.aborted());
        }
        if (rw.lba() + rw.sectors() > sectors) {
            return Transfer.none(AtaResult.error(Ata.IDNF));
        }
        power = Power.ACTIVE;
        int block = rw.protocol() == AtaCommand.Protocol.PIO_MULTIPLE ? multiple * sectorSize : sectorSize;
        boolean flush = rw.write() && (!writeCache || rw.verify());
        return sectorTransfer(rw.write(), rw.protocol() == AtaCommand.Protocol.DMA, rw.lba() * sectorSize,
                (long) rw.sectors() * sectorSize, block, flush, rw.ext(), tf.device());
    }

    private Transfer queued(AtaCommand.Queued q, Taskfile tf) {
        if (!serial || ncqHalted) {
            return Transfer.none(AtaResult.aborted());
        }
        if (q.write() && disk.isReadOnly()) {
            return Transfer.none(AtaResult.aborted());
        }
        if (q.lba() + q.sectors() > sectors) {
            return Transfer.none(AtaResult.error(Ata.IDNF, new Taskfile(0, 0, 0, q.lba(), 0x40)));
        }
        power = Power.ACTIVE;
        boolean flush = q.write() && (!writeCache || q.fua());
        return sectorTransfer(q.write(), true, q.lba() * sectorSize, (long) q.sectors() * sectorSize, sectorSize, flush,
                true, 0x40);
    }

    /** The general purpose logs: the directory and, on a serial link, the NCQ command error log (reading it resumes the queue). */
    private Transfer readLog(AtaCommand.ReadLog l) {
        if (l.page() != 0 || l.pages() != 1) {
            return Transfer.none(AtaResult.aborted());
        }
        byte[] data;
        switch (l.log()) {
            case Ata.LOG_DIRECTORY -> {
                data = new byte[512];
                data[0] = 0x01; // general purpose logging version 1
                if (serial) {
                    data[2 * Ata.LOG_NCQ_ERROR] = 1;
                }
            }
            case Ata.LOG_NCQ_ERROR -> {
                if (!serial) {
                    return Transfer.none(AtaResult.aborted());
                }
                data = ncqLog;
                ncqLog = new byte[512];
                ncqHalted = false;
            }
            default -> {
                return Transfer.none(AtaResult.aborted());
            }
        }
        return BufferTransfer.toHost(data, l.dma(), 512, AtaResult.OK);
    }

    private Transfer sectorTransfer(boolean write, boolean dma, long start, long length, int block, boolean flush,
            boolean ext, int device) {
        DiskTransfer.Failure failure = (e, w, offset, bytes) -> w || bytes <= sectorSize
                ? failure(e, w, offset, ext, device)
                : firstBadSector(offset, bytes, e, ext, device);
        DiskTransfer.Completion completion = flush ? () -> {
            disk.flush();
            return AtaResult.OK;
        } : () -> AtaResult.OK;
        return new DiskTransfer(disk, write, dma, start, length, block, failure, completion, bounce,
                () -> Map.of("flush", flush, "ext", ext, "device", device));
    }

    /**
     * Takes back a transfer {@link Transfer#save()} gave, on this disk after a restore: the data phase
     * goes on where it stopped.
     *
     * @throws IllegalArgumentException when the state is not one this engine saves
     */
    public Transfer resume(Map<String, Object> saved) {
        String kind = String.valueOf(saved.get("kind"));
        switch (kind) {
            case "sectors" -> {
                Transfer t = sectorTransfer("OUT".equals(saved.get("direction")), (Boolean) saved.get("dma"),
                        num(saved, "start"), num(saved, "length"), (int) num(saved, "drqBlock"),
                        (Boolean) saved.get("flush"), (Boolean) saved.get("ext"), (int) num(saved, "device"));
                return t.resumedAt(num(saved, "done"));
            }
            case "buffer" -> {
                if (saved.containsKey("action")) {
                    if (!"trim".equals(saved.get("action"))) {
                        throw new IllegalArgumentException("an ATA disk has no action " + saved.get("action"));
                    }
                    return BufferTransfer.resumeFromHost(saved, this::applyTrim);
                }
                return BufferTransfer.resumeToHost(saved);
            }
            case "flush" -> {
                return flushLater((int) num(saved, "device"));
            }
            case "verify" -> {
                long lba = num(saved, "lba");
                long count = num(saved, "sectors");
                if (lba < 0 || count < 0 || lba + count > sectors) {
                    throw new IllegalArgumentException("a saved verify of sectors " + lba + "+" + count
                            + " beyond the disk's " + sectors);
                }
                return verifyLater(lba, count, Boolean.TRUE.equals(saved.get("ext")), (int) num(saved, "device"));
            }
            default -> throw new IllegalArgumentException("an ATA disk cannot resume a '" + kind + "' transfer");
        }
    }

    static long num(Map<String, Object> state, String key) {
        Object v = state.get(key);
        if (!(v instanceof Number n)) {
            throw new IllegalArgumentException("saved state has no number '" + key + "'");
        }
        return n.longValue();
    }

    private Transfer verify(AtaCommand.ReadVerify v, Taskfile tf) {
        if (v.lba() + v.sectors() > sectors) {
            return Transfer.none(AtaResult.error(Ata.IDNF));
        }
        power = Power.ACTIVE;
        return verifyLater(v.lba(), v.sectors(), v.ext(), tf.device());
    }

    /** READ VERIFY's work: the sectors read (into a scratch buffer) when the transfer finishes. */
    private Transfer verifyLater(long lba, long count, boolean ext, int device) {
        return new MediumWork(() -> readBack(lba * sectorSize, count * sectorSize, ext, device),
                () -> Map.of("kind", "verify", "lba", lba, "sectors", count, "ext", ext, "device", device));
    }

    private AtaResult readBack(long offset, long length, boolean ext, int device) {
        ByteBuffer scratch = bounce.take();
        try {
            for (long end = offset + length; offset < end; offset += scratch.limit()) {
                scratch.clear().limit((int) Math.min(scratch.capacity(), end - offset));
                try {
                    disk.read(offset, scratch);
                } catch (StorageException e) {
                    return firstBadSector(offset, scratch.limit(), e, ext, device);
                }
            }
            return AtaResult.OK;
        } finally {
            bounce.give(scratch);
        }
    }

    /**
     * A read of {@code length} bytes at {@code start} failed with {@code failed}: the outputs name the
     * first sector that cannot be read (ATA reports the LBA of the first unrecoverable error), found by
     * halving: a part of the range read again, each time the half after the sectors known good, until
     * one sector is left, which must then fail alone. That is about as many reads as halvings (nine
     * for 256 KiB), not one per sector: each may be slow when the storage is failing. When no single
     * sector fails (a passing fault), the request's start.
     */
    private AtaResult firstBadSector(long start, long length, StorageException failed, boolean ext, int device) {
        long good = 0; // sectors from start known readable
        long bad = Math.max(1, length / sectorSize); // a prefix this long fails
        ByteBuffer scratch = bounce.take();
        try {
            while (bad - good > 1) {
                long mid = (good + bad) >>> 1;
                try {
                    read(start + good * sectorSize, (mid - good) * sectorSize, scratch);
                    good = mid;
                } catch (StorageException e) {
                    bad = mid;
                }
            }
            try {
                read(start + good * sectorSize, sectorSize, scratch);
            } catch (StorageException e) {
                return failure(e, false, start + good * sectorSize, ext, device);
            }
            return failure(failed, false, start, ext, device);
        } finally {
            bounce.give(scratch);
        }
    }

    /** Reads {@code length} bytes at {@code offset} into {@code scratch} and beyond its capacity in pieces. */
    private void read(long offset, long length, ByteBuffer scratch) throws StorageException {
        for (long end = offset + length; offset < end; offset += scratch.limit()) {
            disk.read(offset, scratch.clear().limit((int) Math.min(scratch.capacity(), end - offset)));
        }
    }

    /** FLUSH CACHE (EXT): the flush is done when the transfer finishes. */
    private Transfer flushLater(int device) {
        return new MediumWork(() -> flush(device), () -> Map.of("kind", "flush", "device", device));
    }

    private AtaResult flush(int device) {
        try {
            disk.flush();
            return AtaResult.OK;
        } catch (StorageException e) {
            return failure(e, true, 0, false, device);
        }
    }

    private AtaResult setWriteCache(boolean enabled, Taskfile tf) {
        if (!enabled && writeCache) {
            // What the cache holds reaches the medium before the drive writes through.
            AtaResult flushed = flush(tf.device());
            if (flushed.failed()) {
                return flushed;
            }
        }
        writeCache = enabled;
        return AtaResult.OK;
    }

    private AtaResult powerMode(AtaCommand.PowerMode p, Taskfile tf) {
        switch (p.command()) {
            case IDLE, IDLE_IMMEDIATE -> power = Power.IDLE;
            case STANDBY, STANDBY_IMMEDIATE -> {
                // A drive writes its cache back before it spins down.
                AtaResult flushed = flush(tf.device());
                if (flushed.failed()) {
                    return flushed;
                }
                power = Power.STANDBY;
            }
        }
        return AtaResult.OK;
    }

    private AtaResult readNativeMax(boolean ext, Taskfile tf) {
        long max = sectors - 1;
        if (ext) {
            return AtaResult.ok(new Taskfile(0, 0, tf.count(), max, tf.device()));
        }
        long max28 = Math.min(max, 0x0FFF_FFFFL);
        return AtaResult.ok(new Taskfile(0, 0, tf.count(), max28 & 0xFF_FFFFL,
                (tf.device() & 0xF0) | (int) (max28 >>> 24)));
    }

    private Transfer trim(AtaCommand.Trim t) {
        if (discard.isEmpty() || t.blocks() > MAX_TRIM_BLOCKS) {
            return Transfer.none(AtaResult.aborted());
        }
        return BufferTransfer.fromHost(t.blocks() * 512, true, 512, "trim", Map.of(), this::applyTrim);
    }

    /** The ranges of a TRIM: 8-byte entries of a 48-bit LBA and a 16-bit count (0: unused entry). */
    private AtaResult applyTrim(byte[] ranges) throws TransferException {
        ByteBuffer entries = ByteBuffer.wrap(ranges).order(ByteOrder.LITTLE_ENDIAN);
        // Check every range before discarding any.
        while (entries.hasRemaining()) {
            long entry = entries.getLong();
            long lba = entry & 0xFFFF_FFFF_FFFFL;
            long count = entry >>> 48;
            if (count != 0 && lba + count > sectors) {
                return AtaResult.aborted();
            }
        }
        entries.rewind();
        Discardable d = discard.orElseThrow();
        while (entries.hasRemaining()) {
            long entry = entries.getLong();
            long lba = entry & 0xFFFF_FFFF_FFFFL;
            long count = entry >>> 48;
            if (count == 0) {
                continue;
            }
            try {
                d.discard(lba * sectorSize, count * sectorSize);
            } catch (StorageException e) {
                return failure(e, true, lba * sectorSize, true, 0);
            }
        }
        return AtaResult.OK;
    }

    /**
     * The one place storage failures become ATA errors: IDNF for an address outside the disk, UNC for a
     * read the medium could not return, ABRT for a write it could not take; the LBA registers name the
     * first sector of the failed request.
     */
    private AtaResult failure(StorageException e, boolean write, long byteOffset, boolean ext, int device) {
        int error = switch (e.kind()) {
            case OUT_OF_BOUNDS -> Ata.IDNF;
            case READ_ONLY, UNSUPPORTED_FEATURE -> Ata.ABRT;
            default -> write ? Ata.ABRT : Ata.UNC;
        };
        long lba = byteOffset / sectorSize;
        Taskfile at = ext ? new Taskfile(0, 0, 0, lba, device)
                : new Taskfile(0, 0, 0, lba & 0xFF_FFFFL, (device & 0xF0) | (int) ((lba >>> 24) & 0x0F));
        return AtaResult.error(error, at);
    }

    /** The 512 bytes of IDENTIFY DEVICE data, reflecting the current settings. */
    public byte[] identify() {
        IdentifyData id = new IdentifyData();
        Chs def = Chs.defaultFor(sectors);
        id.word(0, 0x0040); // fixed, not removable
        id.word(1, def.cylinders());
        id.word(3, def.heads());
        id.word(6, def.sectors());
        id.string(10, 10, identity.serial());
        id.string(23, 4, identity.firmware());
        id.string(27, 20, identity.model());
        id.word(47, 0x8000 | AtaParser.MAX_MULTIPLE);
        id.word(49, 0x0B00); // IORDY, LBA, DMA
        id.word(50, 0x4000);
        id.word(53, 0x0007); // words 54-58, 64-70 and 88 are valid
        id.word(54, geometry.cylinders());
        id.word(55, geometry.heads());
        id.word(56, geometry.sectors());
        id.dword(57, Math.min(geometry.capacity(), sectors));
        id.word(59, (multiple != 0 ? 0x0100 : 0) | multiple);
        id.dword(60, Math.min(sectors, 0x0FFF_FFFFL));
        transferMode.describe(id);
        if (serial) {
            id.word(75, Ata.QUEUE_DEPTH - 1);
            // NCQ, host-initiated power management requests, Gen1-3 signalling; now at Gen3.
            id.word(76, 0x0100 | 0x0200 | 0x000E);
            id.word(77, 3 << 1);
        }
        id.word(80, 0x01F0); // ATA/ATAPI-4 to ATA8-ACS
        // Supported: host protected area (READ NATIVE MAX), write cache, power management, security.
        id.word(82, 0x0400 | 0x0020 | 0x0008 | 0x0002);
        id.word(83, 0x4000 | 0x2000 | 0x1000 | 0x0400); // FLUSH CACHE EXT, FLUSH CACHE, 48-bit
        id.word(84, 0x4000 | 0x0020); // general purpose logging
        id.word(85, 0x0400 | (writeCache ? 0x0020 : 0) | 0x0008);
        id.word(86, 0x2000 | 0x1000 | 0x0400);
        id.word(87, 0x4000 | 0x0020);
        if (serial) {
            id.word(222, 0x1000 | 0x003F); // serial transport, SATA 1.0a to 3.1
        } else {
            id.word(93, 0x6001); // 80-conductor cable detected
        }
        id.qword(100, sectors);
        if (discard.isPresent()) {
            id.word(105, MAX_TRIM_BLOCKS);
            id.word(169, 0x0001);
        }
        if (sectorSize == 512) {
            id.word(106, 0x4000);
        } else {
            id.word(106, 0x4000 | 0x1000); // logical sectors longer than 256 words
            id.dword(117, sectorSize / 2);
        }
        id.word(128, 0x0001 | (frozen ? 0x0008 : 0)); // security supported, not enabled
        id.word(217, 0x0001); // not rotating
        return id.build();
    }

    /** The settings a guest changed, for {@link #restore}. */
    public Map<String, Object> save() {
        Map<String, Object> state = new LinkedHashMap<>();
        state.put("writeCache", writeCache);
        state.put("multiple", multiple);
        state.put("cylinders", geometry.cylinders());
        state.put("heads", geometry.heads());
        state.put("sectorsPerTrack", geometry.sectors());
        state.put("transferMode", transferMode.save());
        state.put("power", power.name());
        state.put("frozen", frozen);
        state.put("ncqLog", ncqLog.clone());
        state.put("ncqHalted", ncqHalted);
        return state;
    }

    /** @throws IllegalArgumentException when a value is missing or out of range */
    public void restore(Map<String, Object> state) {
        try {
            writeCache = (Boolean) state.get("writeCache");
            multiple = (int) num(state, "multiple");
            geometry = new Chs((int) num(state, "cylinders"), (int) num(state, "heads"),
                    (int) num(state, "sectorsPerTrack"));
            transferMode = TransferMode.parse((String) state.get("transferMode"));
            power = Power.valueOf((String) state.get("power"));
            frozen = (Boolean) state.get("frozen");
            if (state.get("ncqLog") instanceof byte[] log && log.length == 512) {
                ncqLog = log.clone();
                ncqHalted = Boolean.TRUE.equals(state.get("ncqHalted"));
            }
        } catch (ClassCastException | NullPointerException e) {
            throw new IllegalArgumentException("an ATA disk's saved state is incomplete: " + state, e);
        }
    }
}
