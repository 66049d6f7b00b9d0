package org.spindle.format.sparse;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.BitSet;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.locks.ReentrantReadWriteLock;

import org.spindle.storage.api.AllocationMap;
import org.spindle.storage.api.BackingReference;
import org.spindle.storage.api.Bounds;
import org.spindle.storage.api.Discardable;
import org.spindle.storage.api.Extent;
import org.spindle.storage.api.Overlay;
import org.spindle.storage.api.Resizable;
import org.spindle.storage.api.StorageBackend;
import org.spindle.storage.api.StorageException;
import org.spindle.storage.api.StorageException.Kind;
import org.spindle.storage.api.StorageException.Operation;
import org.spindle.storage.api.VirtualDisk;
import org.spindle.storage.api.Zeros;
import org.spindle.storage.api.WriteZeroes;

/**
 * An open AEROSPAR image.
 *
 * <h2>Write ordering</h2>
 * The file is kept so that a crash at any moment leaves an image that opens, reads every write
 * completed before the last finished {@link #flush()} exactly, and never shows one block's data in
 * another block. The rules:
 * <ol>
 * <li>Data goes to its slot first; a new slot is always written in full (data plus zeros, or a fresh
 * extension of the file, which reads as zeros).</li>
 * <li>Table entries change only in memory between flushes. A flush (a <em>commit</em>) then: writes
 * the header if the slot count grew (a larger count is harmless on its own: unused slots are leaks);
 * syncs, so the data of new slots is durable; writes the changed table pages; syncs again.</li>
 * <li>A slot freed by discard stays reserved until the commit that zeroes its entry on disk is synced,
 * so no new data lands in a slot the table on disk still names.</li>
 * <li>After a commit that left unused slots, the image is compacted: the highest used slots are copied
 * into the holes and synced, then the entries are moved and synced, then the slot count is lowered and
 * the file cut. So at rest an image is dense, as other readers of the layout require.</li>
 * </ol>
 *
 * <p>Threading: reads share a read lock; writes, discards and flushes take the write lock.
 */
final class SparseDisk implements VirtualDisk, AllocationMap, Discardable, WriteZeroes, Resizable {
    /** Table entries per page written at commit: 4 KiB of table. */
    private static final int ENTRIES_PER_PAGE = 512;
    private static final ByteBuffer ZEROS = ByteBuffer.allocateDirect(64 * 1024).asReadOnlyBuffer();

    private final StorageBackend backend;
    private final boolean readOnly;
    private final int sectorSize;
    private final int blockSize;
    private final int blockShift;
    private volatile long capacity;
    private final BackingReference base;
    private long[] table;
    /** Slots a current entry names. */
    private final BitSet used;
    /** Slots that are not free: {@link #used} plus those the table on disk still names. */
    private BitSet busy;
    /** Table pages that differ from the disk. */
    private final BitSet dirtyPages = new BitSet();
    private final ReentrantReadWriteLock lock = new ReentrantReadWriteLock();
    private SparseHeader header;
    private long usedCount;
    /** Slots in use or held, from 0: where the next appended slot goes. */
    private long slotsHigh;
    private long fileSize;
    /** Lowest slot that may be free. */
    private long freeHint;
    private boolean closed;

    private SparseDisk(StorageBackend backend, TableScan scan, BackingReference base, boolean readOnly,
            int sectorSize) {
        this.backend = backend;
        this.readOnly = readOnly;
        this.sectorSize = sectorSize;
        this.header = scan.header;
        this.blockSize = header.blockSize();
        this.blockShift = Integer.numberOfTrailingZeros(blockSize);
        this.capacity = header.diskSize();
        this.base = base;
        this.table = scan.table;
        this.used = scan.used;
        this.busy = (BitSet) used.clone();
        this.usedCount = scan.usedCount;
        this.slotsHigh = Math.max(header.allocatedBlocks(), scan.highestSlotEnd);
        this.fileSize = scan.fileSize;
    }

    /** Opens an image whose table holds no corruption (leaks are allowed: they are what a crash leaves). */
    static SparseDisk open(StorageBackend backend, boolean readOnly, int sectorSize) throws StorageException {
        SparseHeader header = readHeader(backend);
        BackingReference base = readExtension(backend, header);
        TableScan scan = TableScan.read(backend, header);
        if (scan.corruptions() > 0) {
            throw scan.corruption();
        }
        if (header.diskSize() % sectorSize != 0) {
            throw new StorageException(Kind.INVALID_CONFIG, "the disk size " + header.diskSize()
                    + " is not a whole number of " + sectorSize + "-byte sectors");
        }
        return new SparseDisk(backend, scan, base, readOnly || backend.isReadOnly(), sectorSize);
    }

    static SparseHeader readHeader(StorageBackend backend) throws StorageException {
        long size = backend.size();
        if (size < SparseHeader.SIZE) {
            throw SparseHeader.corrupt("the file is " + size + " bytes, shorter than the 64-byte header");
        }
        ByteBuffer bytes = ByteBuffer.allocate(SparseHeader.SIZE);
        backend.read(0, bytes);
        return SparseHeader.parse(bytes.flip());
    }

    /** The base named in the padding after the table, or {@code null}. */
    static BackingReference readExtension(StorageBackend backend, SparseHeader header) throws StorageException {
        long start = header.tableEnd();
        long end = Math.min(Math.min(header.dataOffset(), start + SparseExtension.MAX_LENGTH), backend.size());
        if (end - start < SparseExtension.MAGIC.length) {
            return null;
        }
        ByteBuffer padding = ByteBuffer.allocate((int) (end - start));
        backend.read(start, padding);
        SparseExtension extension = SparseExtension.parse(padding.flip());
        return extension == null ? null : extension.base();
    }

    /** Writes a new, empty image into an empty backend and opens it. */
    static SparseDisk create(StorageBackend backend, SparseHeader header, BackingReference base, int sectorSize)
            throws StorageException {
        if (backend.size() != 0) {
            throw new StorageException(Kind.ALREADY_EXISTS, "the backend is not empty");
        }
        ByteBuffer extension = base == null ? null
                : new SparseExtension(base).encode(header.dataOffset() - header.tableEnd());
        extend(backend, 0, header.dataOffset());
        backend.write(0, header.encode());
        if (extension != null) {
            backend.write(header.tableEnd(), extension);
        }
        backend.flush();
        return open(backend, false, sectorSize);
    }

    @Override
    public int logicalSectorSize() {
        return sectorSize;
    }

    @Override
    public long capacity() {
        return capacity;
    }

    @Override
    public boolean isReadOnly() {
        return readOnly;
    }

    @Override
    public String formatName() {
        return SparseFormat.NAME;
    }

    @Override
    public int allocationUnit() {
        return blockSize;
    }

    @Override
    public Map<String, Object> details() {
        lock.readLock().lock();
        try {
            Map<String, Object> details = new LinkedHashMap<>();
            details.put("block-size", blockSize);
            details.put("blocks", header.tableEntries());
            details.put("allocated-blocks", usedCount);
            details.put("data-offset", header.dataOffset());
            if (base != null) {
                details.put("base", base.location());
                if (base.format() != null) {
                    details.put("base-format", base.format());
                }
                if (base.size() >= 0) {
                    details.put("base-size", base.size());
                }
                if (base.version() != null) {
                    details.put("base-version", base.version());
                }
            }
            return details;
        } finally {
            lock.readLock().unlock();
        }
    }

    @Override
    public <T> Optional<T> capability(Class<T> type) {
        if (type == Overlay.class) {
            return base == null ? Optional.empty() : Optional.of(type.cast((Overlay) () -> base));
        }
        if (readOnly && (type == Discardable.class || type == WriteZeroes.class)) {
            return Optional.empty();
        }
        if (type == Resizable.class && (readOnly || base != null)) {
            // an overlay's size follows its base's; moving the base record is not worth the risk
            return Optional.empty();
        }
        return VirtualDisk.super.capability(type);
    }

    // ---- reading ----

    @Override
    public void read(long offset, ByteBuffer dst) throws StorageException {
        int length = dst.remaining();
        lock.readLock().lock();
        try {
            ensureOpen(Operation.READ);
            // under the lock: a resize cannot come between the check and the table
            Bounds.check(offset, length, capacity, Operation.READ);
            long pos = offset;
            long end = offset + length;
            while (pos < end) {
                int block = (int) (pos >>> blockShift);
                int within = (int) (pos & (blockSize - 1));
                long slotOffset = table[block];
                // one read for a run of blocks whose slots follow each other in the file
                long runEnd = runEnd(pos, end);
                int n = (int) (runEnd - pos);
                if (slotOffset == 0) {
                    Zeros.put(dst, n);
                } else {
                    int limit = dst.limit();
                    dst.limit(dst.position() + n);
                    try {
                        backend.read(slotOffset + within, dst);
                    } finally {
                        dst.limit(limit);
                    }
                }
                pos = runEnd;
            }
        } finally {
            lock.readLock().unlock();
        }
    }

    @Override
    public Extent extent(long offset, long maxLength) throws StorageException {
        lock.readLock().lock();
        try {
            ensureOpen(Operation.READ);
            if (offset < 0 || offset >= capacity || maxLength <= 0) {
                throw new StorageException(Kind.OUT_OF_BOUNDS, "no extent starts at " + offset + " in a disk of "
                        + capacity + " bytes").withOperation(Operation.READ);
            }
            long end = offset + Math.min(maxLength, capacity - offset);
            long slotOffset = table[(int) (offset >>> blockShift)];
            long within = offset & (blockSize - 1);
            long runEnd = runEnd(offset, end);
            return slotOffset == 0 ? Extent.absent(offset, runEnd - offset)
                    : Extent.data(offset, runEnd - offset, slotOffset + within);
        } finally {
            lock.readLock().unlock();
        }
    }

    /**
     * Where the run that starts at {@code pos} ends (at most {@code end}): the following blocks belong to
     * it while they are all unallocated, or all in slots that follow each other in the file.
     */
    private long runEnd(long pos, long end) {
        int block = (int) (pos >>> blockShift);
        long slotOffset = table[block];
        long runEnd = Math.min(end, ((long) block + 1) << blockShift);
        while (runEnd < end) {
            int next = (int) (runEnd >>> blockShift);
            long nextOffset = table[next];
            if (slotOffset == 0 ? nextOffset != 0
                    : nextOffset != slotOffset + ((long) (next - block) << blockShift)) {
                break;
            }
            runEnd = Math.min(end, ((long) next + 1) << blockShift);
        }
        return runEnd;
    }

    // ---- writing ----

    @Override
    public void write(long offset, ByteBuffer src) throws StorageException {
        int length = src.remaining();
        checkWritable(Operation.WRITE, offset, length);
        lock.writeLock().lock();
        try {
            ensureOpen(Operation.WRITE);
            Bounds.check(offset, length, capacity, Operation.WRITE);
            long pos = offset;
            long end = offset + length;
            while (pos < end) {
                int block = (int) (pos >>> blockShift);
                int within = (int) (pos & (blockSize - 1));
                int n = (int) Math.min(end - pos, blockSize - within);
                int limit = src.limit();
                src.limit(src.position() + n);
                try {
                    writeInBlock(block, within, src);
                } finally {
                    src.limit(limit);
                }
                pos += n;
            }
        } finally {
            lock.writeLock().unlock();
        }
    }

    /** Writes {@code src} (which lies inside one block) at {@code within} of {@code block}. */
    private void writeInBlock(int block, int within, ByteBuffer src) throws StorageException {
        long slotOffset = table[block];
        if (slotOffset != 0) {
            backend.write(slotOffset + within, src);
            return;
        }
        if (base == null && isZero(src)) {
            // an unallocated block reads as zeros already (in an overlay it reads the base: keep the zeros)
            src.position(src.limit());
            return;
        }
        long slot = allocateSlot();
        long start = header.slotOffset(slot);
        long previousHigh = slotsHigh;
        slotsHigh = Math.max(slotsHigh, slot + 1);
        try {
            int n = src.remaining();
            if (start >= fileSize) {
                // past the end of the file: what is not written reads as zeros once the file is extended
                backend.write(start + within, src);
                fileSize = Math.max(fileSize, start + within + n);
                if (fileSize < start + blockSize) {
                    extend(backend, fileSize, start + blockSize);
                    fileSize = start + blockSize;
                }
            } else {
                // a slot inside the file may hold old data: write the whole block
                writeZeros(start, within);
                backend.write(start + within, src);
                writeZeros(start + within + n, blockSize - within - n);
                fileSize = Math.max(fileSize, start + blockSize);
            }
        } catch (StorageException | RuntimeException e) {
            // part of the block may have landed: the file's real end decides how the slot is filled next
            try {
                fileSize = backend.size();
            } catch (StorageException | RuntimeException sizeFailure) {
                e.addSuppressed(sizeFailure);
                fileSize = Long.MAX_VALUE;   // unknown: always fill slots whole
            }
            slotsHigh = previousHigh;
            busy.clear((int) slot);
            freeHint = Math.min(freeHint, slot);
            throw e;
        }
        table[block] = start;
        used.set((int) slot);
        usedCount++;
        dirtyPages.set(block / ENTRIES_PER_PAGE);
    }

    /** The lowest free slot; commits first if every slot the table can name is held. */
    private long allocateSlot() throws StorageException {
        long slot = busy.nextClearBit((int) freeHint);
        if (slot >= header.tableEntries()) {
            // freed slots wait for a commit before they can be used again
            commit();
            slot = busy.nextClearBit(0);
        }
        if (slot >= header.tableEntries()) {
            throw new StorageException(Kind.IO, "no free data slot although a block is unallocated: "
                    + usedCount + " of " + header.tableEntries() + " used");
        }
        busy.set((int) slot);
        freeHint = slot + 1;
        return slot;
    }

    private void writeZeros(long at, long length) throws StorageException {
        for (long done = 0; done < length; ) {
            int n = (int) Math.min(length - done, ZEROS.capacity());
            backend.write(at + done, ZEROS.duplicate().limit(n));
            done += n;
        }
    }

    /** Grows the backend from {@code from} to {@code to} bytes, with zeros. */
    private static void extend(StorageBackend backend, long from, long to) throws StorageException {
        Optional<Resizable> resizable = backend.capability(Resizable.class);
        if (resizable.isPresent()) {
            resizable.get().resize(to);
            return;
        }
        for (long at = from; at < to; ) {
            int n = (int) Math.min(to - at, ZEROS.capacity());
            backend.write(at, ZEROS.duplicate().limit(n));
            at += n;
        }
    }

    @Override
    public void discard(long offset, long length) throws StorageException {
        checkWritable(Operation.DISCARD, offset, length);
        Bounds.check(offset, length, capacity, Operation.DISCARD);
        lock.writeLock().lock();
        try {
            ensureOpen(Operation.DISCARD);
            freeBlocks(offset, length);
        } finally {
            lock.writeLock().unlock();
        }
    }

    @Override
    public void writeZeroes(long offset, long length) throws StorageException {
        checkWritable(Operation.WRITE_ZEROES, offset, length);
        Bounds.check(offset, length, capacity, Operation.WRITE_ZEROES);
        lock.writeLock().lock();
        try {
            ensureOpen(Operation.WRITE_ZEROES);
            long end = offset + length;
            long pos = offset;
            while (pos < end) {
                int block = (int) (pos >>> blockShift);
                long blockStart = (long) block << blockShift;
                long blockEnd = Math.min(capacity, blockStart + blockSize);
                long n = Math.min(end, blockEnd) - pos;
                if (pos == blockStart && pos + n == blockEnd) {
                    freeBlock(block);
                } else if (table[block] != 0) {
                    writeZeros(table[block] + (pos - blockStart), n);
                }
                pos += n;
            }
        } finally {
            lock.writeLock().unlock();
        }
    }

    /** Frees every block wholly inside the range; the last block counts as whole when the range reaches the end. */
    private void freeBlocks(long offset, long length) {
        long end = offset + length;
        long first = (offset + blockSize - 1) >>> blockShift;
        long last = end == capacity ? (capacity + blockSize - 1) >>> blockShift : end >>> blockShift;
        for (long block = first; block < last; block++) {
            freeBlock((int) block);
        }
    }

    private void freeBlock(int block) {
        long slotOffset = table[block];
        if (slotOffset == 0) {
            return;
        }
        long slot = (slotOffset - header.dataOffset()) >>> blockShift;
        table[block] = 0;
        used.clear((int) slot);
        usedCount--;
        dirtyPages.set(block / ENTRIES_PER_PAGE);
        // the slot stays busy until the commit that zeroes the entry on disk
    }

    // ---- resizing ----

    /**
     * Changes the capacity, within what the block table can address without moving data: the table may
     * grow into the padding before the data offset. Shrinking frees the blocks past the new end and
     * zeroes the rest of the last one, so growing again reads zeros there. The table is made durable
     * first and the header last, so a crash leaves the old size or the new one.
     */
    @Override
    public void resize(long newCapacity) throws StorageException {
        checkWritable(Operation.RESIZE, newCapacity, 0);
        if (newCapacity <= 0 || newCapacity % 512 != 0 || newCapacity % sectorSize != 0) {
            throw new StorageException(Kind.INVALID_CONFIG, "a sparse image's size must be a non-zero multiple of "
                    + Math.max(512, sectorSize) + " bytes, not " + newCapacity).withOperation(Operation.RESIZE);
        }
        long entries = Math.ceilDiv(newCapacity, blockSize);
        long maxEntries = (header.dataOffset() - SparseHeader.TABLE_OFFSET) / 8;
        if (entries > maxEntries) {
            throw new StorageException(Kind.UNSUPPORTED_FEATURE, "with " + blockSize + "-byte blocks this image's table"
                    + " addresses at most " + maxEntries * blockSize + " bytes; convert it to a new image to grow further")
                    .withOperation(Operation.RESIZE).withLocation(backend.location());
        }
        if (SparseHeader.dataOffsetFor(entries, blockSize) != header.dataOffset()) {
            // checked before anything changes: a refused resize must lose nothing
            throw new StorageException(Kind.UNSUPPORTED_FEATURE, "a table for " + newCapacity + " bytes would move"
                    + " the data area, which a resize cannot do; convert the image to a new one of that size")
                    .withOperation(Operation.RESIZE).withLocation(backend.location());
        }
        lock.writeLock().lock();
        try {
            ensureOpen(Operation.RESIZE);
            long oldCapacity = capacity;
            if (newCapacity < oldCapacity) {
                for (long block = entries; block < table.length; block++) {
                    freeBlock((int) block);
                }
                int last = (int) (entries - 1);
                long cut = newCapacity - ((long) last << blockShift);
                if (cut < blockSize && table[last] != 0) {
                    writeZeros(table[last] + cut, blockSize - cut);
                }
            }
            commit();
            if (usedCount < slotsHigh) {
                // leaks (a crash's leftovers) may hold slots past the new table: give them back first
                compact();
            }
            if (slotsHigh > entries || header.allocatedBlocks() > entries) {
                throw new StorageException(Kind.IO, slotsHigh + " data slots are in use, more than the " + entries
                        + " blocks of the new size").withOperation(Operation.RESIZE);
            }
            SparseHeader resized = new SparseHeader(blockSize, newCapacity, entries, header.dataOffset(),
                    header.allocatedBlocks());
            if (entries > table.length) {
                // the new entries come from the padding, which must read as unallocated
                writeZeros(header.tableEnd(), (entries - table.length) * 8);
                backend.flush();
            }
            backend.write(0, resized.encode());
            backend.flush();
            header = resized;
            table = java.util.Arrays.copyOf(table, (int) entries);
            capacity = newCapacity;
        } finally {
            lock.writeLock().unlock();
        }
    }

    // ---- durability ----

    @Override
    public void flush() throws StorageException {
        lock.writeLock().lock();
        try {
            ensureOpen(Operation.FLUSH);
            if (readOnly) {
                return;
            }
            commit();
        } catch (StorageException e) {
            throw e.withOperation(Operation.FLUSH).withLocation(backend.location());
        } finally {
            lock.writeLock().unlock();
        }
    }

    /** Makes the table on disk match memory, in the order the class comment describes. */
    private void commit() throws StorageException {
        if (dirtyPages.isEmpty()) {
            backend.flush();
            return;
        }
        if (slotsHigh > header.allocatedBlocks()) {
            SparseHeader grown = header.withAllocatedBlocks(slotsHigh);
            backend.write(0, grown.encode());
            header = grown;
        }
        backend.flush();
        writeDirtyPages();
        backend.flush();
        busy = (BitSet) used.clone();
        freeHint = 0;
        if (usedCount < slotsHigh) {
            compact();
        }
    }

    private void writeDirtyPages() throws StorageException {
        ByteBuffer page = ByteBuffer.allocate(ENTRIES_PER_PAGE * 8).order(ByteOrder.LITTLE_ENDIAN);
        for (int p = dirtyPages.nextSetBit(0); p >= 0; p = dirtyPages.nextSetBit(p + 1)) {
            int first = p * ENTRIES_PER_PAGE;
            int n = Math.min(ENTRIES_PER_PAGE, table.length - first);
            page.clear();
            for (int i = 0; i < n; i++) {
                page.putLong(table[first + i]);
            }
            backend.write(SparseHeader.TABLE_OFFSET + (long) first * 8, page.flip());
            dirtyPages.clear(p);
        }
    }

    /**
     * Moves the highest used slots into the holes below {@code usedCount}, then lowers the slot count and
     * cuts the file. Each step is synced before the next one relies on it.
     */
    private void compact() throws StorageException {
        long target = usedCount;
        // the blocks living at or above the target, found once: slot → block
        Map<Long, Integer> movers = new LinkedHashMap<>();
        for (int block = 0; block < table.length; block++) {
            if (table[block] != 0) {
                long slot = (table[block] - header.dataOffset()) >>> blockShift;
                if (slot >= target) {
                    movers.put(slot, block);
                }
            }
        }
        int hole = used.nextClearBit(0);
        Map<Integer, Long> moved = new LinkedHashMap<>();
        for (Map.Entry<Long, Integer> mover : movers.entrySet()) {
            long to = header.slotOffset(hole);
            copyBlock(backend, header.slotOffset(mover.getKey()), to, blockSize);
            moved.put(mover.getValue(), to);
            hole = used.nextClearBit(hole + 1);
        }
        backend.flush();
        for (Map.Entry<Integer, Long> move : moved.entrySet()) {
            int block = move.getKey();
            long oldSlot = (table[block] - header.dataOffset()) >>> blockShift;
            long newSlot = (move.getValue() - header.dataOffset()) >>> blockShift;
            table[block] = move.getValue();
            used.clear((int) oldSlot);
            used.set((int) newSlot);
            dirtyPages.set(block / ENTRIES_PER_PAGE);
        }
        // until the moved entries are durable, the old slots stay busy (the table on disk names them)
        busy.or(used);
        writeDirtyPages();
        backend.flush();
        slotsHigh = target;
        cutAfterLastSlot();
        busy = (BitSet) used.clone();
        freeHint = 0;
    }

    /**
     * Sets the header's slot count to {@link #slotsHigh}, cuts the file after that slot (where the
     * backend can), and syncs. The entries must already name no slot past it, durably.
     */
    private void cutAfterLastSlot() throws StorageException {
        SparseHeader exact = header.withAllocatedBlocks(slotsHigh);
        backend.write(0, exact.encode());
        header = exact;
        long end = header.slotOffset(slotsHigh);
        Optional<Resizable> resizable = backend.capability(Resizable.class);
        if (fileSize > end && resizable.isPresent()) {
            resizable.get().resize(end);
            fileSize = end;
        }
        backend.flush();
    }

    /** Copies one block of {@code blockSize} bytes from file offset {@code from} to {@code to}. */
    static void copyBlock(StorageBackend backend, long from, long to, int blockSize) throws StorageException {
        ByteBuffer buffer = ByteBuffer.allocate(Math.min(blockSize, 1 << 20));
        for (int done = 0; done < blockSize; done += buffer.capacity()) {
            backend.read(from + done, buffer.clear());
            backend.write(to + done, buffer.flip());
        }
    }

    /**
     * Gives back the space nothing uses: commits, moves used slots into the holes and cuts the file
     * after the last slot. For {@code check --repair}.
     */
    void reclaimLeaks() throws StorageException {
        lock.writeLock().lock();
        try {
            ensureOpen(Operation.CHECK);
            checkWritable(Operation.CHECK, -1, -1);
            commit();
            if (usedCount < slotsHigh) {
                compact();
            } else if (fileSize > header.slotOffset(slotsHigh) || header.allocatedBlocks() != slotsHigh) {
                cutAfterLastSlot();
            }
        } finally {
            lock.writeLock().unlock();
        }
    }

    @Override
    public void close() throws StorageException {
        lock.writeLock().lock();
        try {
            if (closed) {
                return;
            }
            closed = true;
            StorageException failure = null;
            if (!readOnly) {
                try {
                    commit();
                } catch (StorageException e) {
                    failure = e.withOperation(Operation.CLOSE).withLocation(backend.location());
                }
            }
            try {
                backend.close();
            } catch (StorageException e) {
                if (failure == null) {
                    failure = e;
                } else {
                    failure.addSuppressed(e);
                }
            }
            if (failure != null) {
                throw failure;
            }
        } finally {
            lock.writeLock().unlock();
        }
    }

    // ---- helpers ----

    private void ensureOpen(Operation op) throws StorageException {
        if (closed) {
            throw new StorageException(Kind.BACKEND_UNAVAILABLE, "the disk is closed").withOperation(op)
                    .withLocation(backend.location());
        }
    }

    private void checkWritable(Operation op, long offset, long length) throws StorageException {
        if (readOnly) {
            throw new StorageException(Kind.READ_ONLY, "the disk is read-only").at(op, offset, length)
                    .withLocation(backend.location());
        }
    }

    private static boolean isZero(ByteBuffer src) {
        ByteBuffer rest = src.duplicate();
        while (rest.hasRemaining()) {
            int n = Math.min(rest.remaining(), ZEROS.capacity());
            ByteBuffer part = rest.slice(rest.position(), n);
            if (part.mismatch(ZEROS.duplicate().limit(n)) != -1) {
                return false;
            }
            rest.position(rest.position() + n);
        }
        return true;
    }

    @Override
    public String toString() {
        return "SparseDisk[" + backend.location() + ", " + capacity + " bytes, " + blockSize + "-byte blocks]";
    }
}
