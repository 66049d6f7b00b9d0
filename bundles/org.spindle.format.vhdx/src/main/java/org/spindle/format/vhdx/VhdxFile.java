package org.spindle.format.vhdx;

import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;

import org.spindle.storage.api.StorageBackend;
import org.spindle.storage.api.StorageException;
import org.spindle.storage.api.StorageException.Kind;

/**
 * A VHDX file's structure, below the disk: the current header and its updates, the log (replayed
 * when the file is opened, written for every metadata change), the region table and the metadata.
 *
 * <p><b>Opening.</b> The file type identifier, then the current header: the valid one with the higher
 * sequence number. When its log GUID is set, the log's active sequence is replayed: in place when
 * the file is writable (after a header update that gives the file a new FileWriteGuid, and followed
 * by one that marks the log empty), and in memory ({@link ReplayedView}) when it is not. Then the
 * region table (the first copy, or the second when the first is damaged) and the metadata.
 *
 * <p><b>Writing.</b> Before the first change of a session, a header update gives the file new
 * FileWriteGuid and DataWriteGuid values. A metadata change ({@link #logAndApply}) is write-ahead: the
 * log entry, a flush, then (the first time) a header update that names the session's log GUID, the
 * updates in place, and a flush. Entries go alternately to the two halves of the log, so a torn
 * entry never takes the previous, complete one with it. {@link #close} marks the log empty again, so
 * other tools find nothing to replay.
 */
final class VhdxFile {
    final StorageBackend backend;
    final boolean readOnly;
    private VhdxHeader header;
    private int currentSlot;
    final VhdxRegionTable regions;
    final VhdxRegionTable.Region bat;
    final VhdxRegionTable.Region metadataRegion;
    final VhdxMetadata metadata;
    /** Problems found on the way that do not stop reading (for check). */
    final List<String> notes = new ArrayList<>();
    /** The header slots (0, 1) that hold no valid header. */
    final List<Integer> damagedHeaders = new ArrayList<>();
    /** The region table copies (0, 1) that are not valid. */
    final List<Integer> damagedRegionTables = new ArrayList<>();
    /** Whether the log held a sequence that was replayed (in place or in memory). */
    final boolean replayed;
    private boolean modified;
    private UUID sessionLog;
    private boolean sessionLogInHeader;
    private long logSequence;
    private int logHalf;

    private VhdxFile(StorageBackend backend, boolean readOnly, VhdxHeader header, int slot, VhdxRegionTable regions,
            VhdxMetadata metadata, boolean replayed) throws StorageException {
        this.backend = backend;
        this.readOnly = readOnly;
        this.header = header;
        this.currentSlot = slot;
        this.regions = regions;
        this.bat = regions.find(VhdxLayout.REGION_BAT, "BAT");
        this.metadataRegion = regions.find(VhdxLayout.REGION_METADATA, "metadata");
        this.metadata = metadata;
        this.replayed = replayed;
    }

    VhdxHeader header() {
        return header;
    }

    static VhdxFile open(StorageBackend file, boolean readOnly) throws StorageException {
        long size = file.size();
        if (size < VhdxLayout.HEADER_SECTION) {
            throw new StorageException(Kind.CORRUPT_IMAGE, "the file is " + size + " bytes, shorter than the 1 MiB header section");
        }
        if (!VhdxLayout.hasSignature(read(file, 0, 8))) {
            throw new StorageException(Kind.CORRUPT_IMAGE, "no VHDX file identifier (the signature 'vhdxfile' is missing)");
        }
        List<String> notes = new ArrayList<>();
        List<Integer> damagedHeaders = new ArrayList<>();
        List<Integer> damagedTables = new ArrayList<>();
        VhdxHeader[] headers = new VhdxHeader[2];
        String[] why = new String[2];
        for (int i = 0; i < 2; i++) {
            try {
                headers[i] = VhdxHeader.parse(read(file, VhdxHeader.SLOTS[i], VhdxHeader.SIZE));
            } catch (StorageException e) {
                why[i] = e.detail();
                notes.add("header " + (i + 1) + " is damaged: " + e.detail());
                damagedHeaders.add(i);
            }
        }
        int slot;
        if (headers[0] == null && headers[1] == null) {
            throw new StorageException(Kind.CORRUPT_IMAGE, "neither header is valid (header 1: " + why[0] + "; header 2: "
                    + why[1] + ")");
        } else if (headers[1] == null) {
            slot = 0;
        } else if (headers[0] == null) {
            slot = 1;
        } else {
            int order = Long.compareUnsigned(headers[0].sequence(), headers[1].sequence());
            if (order == 0 && !headers[0].equals(headers[1])) {
                throw new StorageException(Kind.CORRUPT_IMAGE, "the two headers differ but have the same sequence number "
                        + Long.toUnsignedString(headers[0].sequence()));
            }
            slot = order >= 0 ? 0 : 1;
        }
        VhdxHeader header = headers[slot];
        header.validate();
        StorageBackend view = file;
        boolean replayed = false;
        if (header.hasLog()) {
            VhdxLog.Replay replay = readLog(file, header, size);
            if (replay == null) {
                // a writer names its log in the header before the entry is complete (QEMU does): nothing to replay
                notes.add("the header names log " + header.logGuid() + " but the log holds no complete entry of it;"
                        + " there is nothing to replay");
                if (!readOnly) {
                    VhdxHeader clean = header.next(UUID.randomUUID(), header.dataWriteGuid(), Guids.ZERO);
                    writeHeader(file, 1 - slot, clean);
                    header = clean;
                    slot = 1 - slot;
                }
            } else if (readOnly) {
                view = new ReplayedView(file, replay);
            } else {
                header = replayInPlace(file, header, slot, replay); // its last header update lands in this slot
            }
            replayed = replay != null;
        }
        VhdxRegionTable regions = readRegions(view, notes, damagedTables);
        VhdxRegionTable.Region meta = regions.find(VhdxLayout.REGION_METADATA, "metadata");
        VhdxRegionTable.Region batRegion = regions.find(VhdxLayout.REGION_BAT, "BAT");
        long viewSize = view.size();
        for (VhdxRegionTable.Region r : regions.regions()) {
            if (r.end() > viewSize) {
                throw new StorageException(Kind.CORRUPT_IMAGE, "region " + r.guid() + " ends at " + r.end()
                        + ", beyond the " + viewSize + "-byte file");
            }
            if (r.offset() < header.logOffset() + header.logLength() && header.logOffset() < r.end()) {
                throw new StorageException(Kind.CORRUPT_IMAGE, "region " + r.guid() + " overlaps the log");
            }
        }
        if (header.logOffset() + header.logLength() > viewSize && header.logLength() > 0) {
            notes.add("the log ends beyond the end of the file");
        }
        StorageBackend source = view;
        VhdxMetadata metadata = VhdxMetadata.parse((offset, length) -> read(source, meta.offset() + offset, length),
                meta.length());
        VhdxFile vf = new VhdxFile(view, readOnly, header, slot, regions, metadata, replayed);
        vf.notes.addAll(notes);
        vf.damagedHeaders.addAll(damagedHeaders);
        vf.damagedRegionTables.addAll(damagedTables);
        if (batRegion.length() < vf.batEntries() * 8L) {
            throw new StorageException(Kind.CORRUPT_IMAGE, "the BAT region (" + batRegion.length() + " bytes) is too small for "
                    + vf.batEntries() + " entries");
        }
        return vf;
    }

    /** The log's active sequence, or null when it holds no complete entry of the header's log GUID. */
    private static VhdxLog.Replay readLog(StorageBackend file, VhdxHeader header, long size) throws StorageException {
        if (header.logLength() > 256 * VhdxLayout.MB) {
            throw new StorageException(Kind.UNSUPPORTED_FEATURE, "a log of " + header.logLength()
                    + " bytes (this implementation replays logs of up to 256 MiB)");
        }
        if (header.logOffset() + header.logLength() > size) {
            throw new StorageException(Kind.CORRUPT_IMAGE, "the log to replay ends beyond the end of the file");
        }
        byte[] log = read(file, header.logOffset(), (int) header.logLength());
        VhdxLog.Replay replay = VhdxLog.scan(log, header.logGuid());
        if (replay != null) {
            VhdxLog.validate(replay, size, header.logOffset(), header.logLength());
        }
        return replay;
    }

    /** Replays in place: a header update (new FileWriteGuid), the updates, the file grown, a flush, a header marking the log empty. */
    private static VhdxHeader replayInPlace(StorageBackend file, VhdxHeader header, int slot, VhdxLog.Replay replay)
            throws StorageException {
        VhdxHeader h = header.next(UUID.randomUUID(), header.dataWriteGuid(), header.logGuid());
        writeHeader(file, 1 - slot, h);
        for (VhdxLog.Patch p : replay.patches()) {
            if (p.data() != null) {
                file.write(p.offset(), ByteBuffer.wrap(p.data()));
            } else {
                writeZeros(file, p.offset(), p.length());
            }
        }
        long last = replay.head().lastFileOffset();
        if (file.size() < last) {
            file.write(last - VhdxLayout.PAGE, ByteBuffer.allocate(VhdxLayout.PAGE));
        }
        file.flush();
        VhdxHeader clean = h.next(h.fileWriteGuid(), h.dataWriteGuid(), Guids.ZERO);
        writeHeader(file, slot, clean);
        return clean;
    }

    /** The first valid copy of the region table; both copies are read, so check can name a damaged one. */
    private static VhdxRegionTable readRegions(StorageBackend file, List<String> notes, List<Integer> damaged)
            throws StorageException {
        VhdxRegionTable table = null;
        String[] why = new String[2];
        for (int i = 0; i < 2; i++) {
            try {
                VhdxRegionTable t = VhdxRegionTable.parse(read(file, VhdxLayout.REGION_TABLES[i], VhdxRegionTable.SIZE));
                if (table == null) {
                    table = t;
                }
            } catch (StorageException e) {
                if (e.kind() == Kind.UNSUPPORTED_FEATURE) {
                    throw e; // a sound table that asks for more than this implementation knows
                }
                why[i] = e.detail();
                damaged.add(i);
                notes.add("region table " + (i + 1) + " is damaged: " + e.detail());
            }
        }
        if (table == null) {
            throw new StorageException(Kind.CORRUPT_IMAGE, "neither region table is valid (table 1: " + why[0]
                    + "; table 2: " + why[1] + ")");
        }
        return table;
    }

    // ---------------------------------------------------------------------------------------------

    long chunkRatio() {
        return VhdxLayout.SECTORS_PER_BITMAP_BLOCK * metadata.logicalSectorSize() / metadata.blockSize();
    }

    long payloadBlocks() {
        return (metadata.diskSize() + metadata.blockSize() - 1) / metadata.blockSize();
    }

    /** The BAT entries the disk uses: through the last payload entry, or the last sector bitmap entry of a differencing disk. */
    long batEntries() {
        long n = payloadBlocks();
        long c = chunkRatio();
        if (metadata.hasParent()) {
            return (n + c - 1) / c * (c + 1);
        }
        return n + (n - 1) / c;
    }

    // ---------------------------------------------------------------------------------------------
    // writing

    /** Before the first change of a session: new FileWriteGuid and DataWriteGuid in both headers. */
    void beginModification() throws StorageException {
        if (modified) {
            return;
        }
        if (readOnly) {
            throw new StorageException(Kind.READ_ONLY, "the VHDX is open read-only");
        }
        VhdxHeader h = header.next(UUID.randomUUID(), UUID.randomUUID(), header.logGuid());
        updateHeaders(h);
        modified = true;
    }

    /** Writes {@code h} to the non-current slot and flushes, then once more (sequence + 1) to the other. */
    private void updateHeaders(VhdxHeader h) throws StorageException {
        writeHeader(backend, 1 - currentSlot, h);
        VhdxHeader again = h.next(h.fileWriteGuid(), h.dataWriteGuid(), h.logGuid());
        writeHeader(backend, currentSlot, again);
        header = again;
    }

    private static void writeHeader(StorageBackend file, int slot, VhdxHeader h) throws StorageException {
        file.write(VhdxHeader.SLOTS[slot], ByteBuffer.wrap(h.encode()));
        file.flush();
    }

    /**
     * Changes metadata through the log: entries (as many as the updates need), each written and
     * flushed before its updates are written in place and flushed.
     *
     * @param pages 4 KiB updates
     * @param flushedFileOffset a file size known to be on stable storage
     * @param lastFileOffset a file size that holds every structure
     */
    void logAndApply(List<VhdxLog.Patch> pages, long flushedFileOffset, long lastFileOffset) throws StorageException {
        beginModification();
        int half = (int) (header.logLength() / 2 / VhdxLog.SECTOR);
        int perEntry = 0;
        while (VhdxLog.sectors(perEntry + 1) <= half) {
            perEntry++;
        }
        if (perEntry == 0) {
            throw new StorageException(Kind.UNSUPPORTED_FEATURE, "the file's log (" + header.logLength()
                    + " bytes) cannot hold an entry, so its metadata cannot be changed safely");
        }
        for (int from = 0; from < pages.size(); from += perEntry) {
            List<VhdxLog.Patch> part = pages.subList(from, Math.min(pages.size(), from + perEntry));
            if (sessionLog == null) {
                sessionLog = UUID.randomUUID();
                logSequence = 1;
                logHalf = 0;
            }
            int at = logHalf * half * VhdxLog.SECTOR;
            byte[] entry = VhdxLog.encode(logSequence, at, sessionLog, flushedFileOffset, lastFileOffset, part);
            backend.write(header.logOffset() + at, ByteBuffer.wrap(entry));
            backend.flush();
            if (!sessionLogInHeader) {
                updateHeaders(header.next(header.fileWriteGuid(), header.dataWriteGuid(), sessionLog));
                sessionLogInHeader = true;
            }
            for (VhdxLog.Patch p : part) {
                backend.write(p.offset(), ByteBuffer.wrap(p.data()));
            }
            backend.flush();
            logSequence++;
            logHalf = 1 - logHalf;
        }
    }

    /** After the last change: a header update marking the log empty. */
    void close() throws StorageException {
        if (sessionLogInHeader) {
            updateHeaders(header.next(header.fileWriteGuid(), header.dataWriteGuid(), Guids.ZERO));
            sessionLogInHeader = false;
            sessionLog = null;
        }
    }

    // ---------------------------------------------------------------------------------------------

    static byte[] read(StorageBackend file, long offset, int length) throws StorageException {
        if (offset < 0 || offset + length > file.size()) {
            throw new StorageException(Kind.CORRUPT_IMAGE, length + " bytes at " + Long.toUnsignedString(offset)
                    + " lie beyond the end of the " + file.size() + "-byte file");
        }
        ByteBuffer b = ByteBuffer.allocate(length);
        file.read(offset, b);
        return b.array();
    }

    static void writeZeros(StorageBackend file, long offset, long length) throws StorageException {
        ByteBuffer zeros = ByteBuffer.allocate((int) Math.min(length, VhdxLayout.MB));
        for (long done = 0; done < length; ) {
            int n = (int) Math.min(zeros.capacity(), length - done);
            file.write(offset + done, zeros.clear().limit(n));
            done += n;
        }
    }
}
