package org.spindle.format.vhdx;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeSet;
import java.util.UUID;
import java.util.concurrent.locks.ReentrantReadWriteLock;

import org.spindle.storage.api.AllocationMap;
import org.spindle.storage.api.BackingReference;
import org.spindle.storage.api.Bounds;
import org.spindle.storage.api.Extent;
import org.spindle.storage.api.Overlay;
import org.spindle.storage.api.StorageException;
import org.spindle.storage.api.StorageException.Kind;
import org.spindle.storage.api.StorageException.Operation;
import org.spindle.storage.api.VirtualDisk;
import org.spindle.storage.api.Zeros;

/**
 * A VHDX disk: fixed (every payload block allocated when the file is made), dynamic (blocks allocated
 * on first write) or differencing (blocks and per-sector bitmaps that leave the rest to the parent,
 * which {@code DiskOpener} stacks under it through {@link Overlay}).
 *
 * <p><b>Reads</b> follow each block's BAT state: a fully present block reads from the file, a
 * partially present one (differencing only) per sector as its bitmap bit says, a zero, unmapped or
 * undefined block reads as zeros, and a block not present reads as zeros (or from the parent).
 *
 * <p><b>Writes and ordering.</b> A new block is placed at the next free MiB of the file, beyond
 * everything (so its unwritten parts read as zeros), and its data written there. The BAT changes in
 * memory. A flush syncs the data, writes the changed sector bitmap slices, and then changes the BAT
 * through the log ({@link VhdxFile#logAndApply}). A crash therefore leaves the BAT of the last flush
 * (replayed from the log if it got there), with later blocks orphaned, which {@code check} reports
 * as leaks.
 */
final class VhdxDisk implements VirtualDisk, AllocationMap, Overlay {
    private static final int ABSENT = 0;
    private static final int ZERO = 1;
    private static final int DATA = 2;

    private final VhdxFile file;
    private final boolean readOnly;
    private final long capacity;
    private final int sectorSize;
    private final long blockSize;
    private final long chunkRatio;
    private final boolean differencing;
    private final long[] bat;
    private final TreeSet<Integer> dirtyBatPages = new TreeSet<>();
    /** Per payload block of a differencing disk: its slice of the sector bitmap (bit 0 of byte 0 first). */
    private final Map<Long, byte[]> bitmaps = new java.util.concurrent.ConcurrentHashMap<>();
    private final TreeSet<Long> dirtyBitmaps = new TreeSet<>();
    private final int sliceBytes;
    private final String parent;
    private final ReentrantReadWriteLock lock = new ReentrantReadWriteLock();
    /** Where the next block goes: a MiB boundary beyond every structure. */
    private long fileEnd;
    private boolean closed;

    private VhdxDisk(VhdxFile file, long[] bat, long fileEnd, String parent) {
        this.file = file;
        this.readOnly = file.readOnly;
        VhdxMetadata m = file.metadata;
        this.capacity = m.diskSize();
        this.sectorSize = m.logicalSectorSize();
        this.blockSize = m.blockSize();
        this.chunkRatio = file.chunkRatio();
        this.differencing = m.hasParent();
        this.bat = bat;
        this.fileEnd = fileEnd;
        this.parent = parent;
        this.sliceBytes = (int) (blockSize / sectorSize / 8);
    }

    static VhdxDisk open(VhdxFile file) throws StorageException {
        long entries = file.batEntries();
        if (entries > Integer.MAX_VALUE - 1024) {
            throw new StorageException(Kind.UNSUPPORTED_FEATURE, "a BAT of " + entries + " entries");
        }
        // whole 4 KiB pages of the BAT, as they are logged
        long pageEntries = Math.min(VhdxLayout.roundUp(entries, 512), file.bat.length() / 8);
        ByteBuffer raw = ByteBuffer.wrap(VhdxFile.read(file.backend, file.bat.offset(), (int) (pageEntries * 8)))
                .order(ByteOrder.LITTLE_ENDIAN);
        long[] bat = new long[(int) pageEntries];
        long size = file.backend.size();
        long end = Math.max(VhdxLayout.roundUp(size, VhdxLayout.MB), VhdxLayout.HEADER_SECTION);
        for (VhdxRegionTable.Region r : file.regions.regions()) {
            end = Math.max(end, r.end());
        }
        end = Math.max(end, file.header().logOffset() + file.header().logLength());
        long c = file.chunkRatio();
        boolean differencing = file.metadata.hasParent();
        for (int i = 0; i < bat.length; i++) {
            bat[i] = raw.getLong(i * 8);
            if (i >= entries) {
                continue;
            }
            boolean bitmapEntry = i % (c + 1) == c;
            int state = VhdxLayout.state(bat[i]);
            long length = bitmapEntry ? VhdxLayout.MB : file.metadata.blockSize();
            boolean present;
            if (bitmapEntry) {
                if (state != VhdxLayout.SB_NOT_PRESENT && state != VhdxLayout.SB_PRESENT
                        || state == VhdxLayout.SB_PRESENT && !differencing) {
                    throw new StorageException(Kind.CORRUPT_IMAGE, "sector bitmap entry " + i + " has state " + state
                            + (differencing ? "" : " in a file without a parent"));
                }
                present = state == VhdxLayout.SB_PRESENT;
            } else {
                if (state == 4 || state == 5 || state == VhdxLayout.PAYLOAD_PARTIALLY_PRESENT && !differencing) {
                    throw new StorageException(Kind.CORRUPT_IMAGE, "BAT entry " + i + " has state "
                            + VhdxLayout.stateName(state) + (state > 5 ? " in a file without a parent" : ""));
                }
                present = state == VhdxLayout.PAYLOAD_FULLY_PRESENT || state == VhdxLayout.PAYLOAD_PARTIALLY_PRESENT;
            }
            if (present) {
                long at = VhdxLayout.fileOffset(bat[i]);
                if (at < VhdxLayout.HEADER_SECTION || at + length > size || at + length < at) {
                    throw new StorageException(Kind.CORRUPT_IMAGE, "BAT entry " + i + " places a block at "
                            + Long.toUnsignedString(at) + ", outside the " + size + "-byte file");
                }
                end = Math.max(end, at + length);
            }
        }
        if (differencing) {
            for (long k = 0; k < file.payloadBlocks(); k++) {
                if (VhdxLayout.state(bat[(int) (k + k / c)]) == VhdxLayout.PAYLOAD_PARTIALLY_PRESENT
                        && VhdxLayout.state(bat[(int) ((k / c) * (c + 1) + c)]) != VhdxLayout.SB_PRESENT) {
                    throw new StorageException(Kind.CORRUPT_IMAGE, "payload block " + k
                            + " is partially present but its chunk has no sector bitmap");
                }
            }
        }
        return new VhdxDisk(file, bat, end, differencing ? parentPath(file.metadata.parentLocator()) : null);
    }

    /** The parent's location from the locator: the relative path, else the absolute or volume path. */
    static String parentPath(Map<String, String> locator) throws StorageException {
        String relative = locator.get("relative_path");
        if (relative != null && !relative.isBlank()) {
            String path = relative.replace('\\', '/');
            return path.startsWith("./") ? path.substring(2) : path;
        }
        for (String key : List.of("absolute_win32_path", "volume_path")) {
            String path = locator.get(key);
            if (path != null && !path.isBlank()) {
                return path.startsWith("\\\\?\\") ? path.substring(4) : path;
            }
        }
        throw new StorageException(Kind.CORRUPT_IMAGE, "the parent locator has no path to the parent");
    }

    UUID parentLinkage(String key) {
        String v = file.metadata.parentLocator().get(key);
        return v == null ? null : Guids.parseBraced(v);
    }

    // ---------------------------------------------------------------------------------------------

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
        return VhdxFormat.NAME;
    }

    @Override
    public Map<String, Object> details() {
        Map<String, Object> d = new LinkedHashMap<>();
        d.put("subformat", differencing ? "differencing" : file.metadata.leaveBlockAllocated() ? "fixed" : "dynamic");
        d.put("block_size", blockSize);
        d.put("logical_sector_size", sectorSize);
        d.put("physical_sector_size", file.metadata.physicalSectorSize());
        d.put("log_size", file.header().logLength());
        d.put("disk_id", file.metadata.diskId().toString());
        if (parent != null) {
            d.put("parent", parent);
        }
        if (file.replayed) {
            d.put("log_replayed", true);
        }
        return d;
    }

    @Override
    public <T> Optional<T> capability(Class<T> type) {
        if (type == Overlay.class && !differencing) {
            return Optional.empty();
        }
        return VirtualDisk.super.capability(type);
    }

    @Override
    public BackingReference base() {
        return new BackingReference(parent, VhdxFormat.NAME);
    }

    @Override
    public int allocationUnit() {
        return differencing ? sectorSize : (int) Math.min(blockSize, 1 << 30);
    }

    // ---------------------------------------------------------------------------------------------
    // mapping

    private int payloadIndex(long block) {
        return (int) (block + block / chunkRatio);
    }

    private int bitmapIndex(long block) {
        return (int) ((block / chunkRatio) * (chunkRatio + 1) + chunkRatio);
    }

    /** Kind, host offset and length of what lies at {@code pos} (at most {@code max} bytes, within one block). */
    private long[] piece(long pos, long max) throws StorageException {
        long block = pos / blockSize;
        long inBlock = pos % blockSize;
        long length = Math.min(max, blockSize - inBlock);
        long e = bat[payloadIndex(block)];
        switch (VhdxLayout.state(e)) {
            case VhdxLayout.PAYLOAD_FULLY_PRESENT:
                return new long[] {DATA, VhdxLayout.fileOffset(e) + inBlock, length};
            case VhdxLayout.PAYLOAD_PARTIALLY_PRESENT: {
                byte[] slice = bitmap(block);
                long sector = inBlock / sectorSize;
                boolean set = bit(slice, sector);
                long end = inBlock + length;
                long runEnd = (sector + 1) * sectorSize;
                while (runEnd < end && bit(slice, runEnd / sectorSize) == set) {
                    runEnd += sectorSize;
                }
                long n = Math.min(length, runEnd - inBlock);
                return set ? new long[] {DATA, VhdxLayout.fileOffset(e) + inBlock, n} : new long[] {ABSENT, -1, n};
            }
            case VhdxLayout.PAYLOAD_NOT_PRESENT:
                return new long[] {differencing ? ABSENT : ZERO, -1, length};
            default:
                // zero, unmapped and undefined blocks read as zeros, parent or not
                return new long[] {ZERO, -1, length};
        }
    }

    private static boolean bit(byte[] slice, long sector) {
        return (slice[(int) (sector >>> 3)] & (1 << (sector & 7))) != 0;
    }

    private byte[] bitmap(long block) throws StorageException {
        byte[] slice = bitmaps.get(block);
        if (slice == null) {
            long sb = bat[bitmapIndex(block)];
            slice = VhdxFile.read(file.backend, VhdxLayout.fileOffset(sb) + sliceOffset(block), sliceBytes);
            if (bitmaps.size() > 4096 && dirtyBitmaps.isEmpty()) {
                bitmaps.clear();
            }
            bitmaps.put(block, slice);
        }
        return slice;
    }

    /** Where block {@code block}'s bits begin in its chunk's sector bitmap block. */
    private long sliceOffset(long block) {
        return (block % chunkRatio) * sliceBytes;
    }

    @Override
    public Extent extent(long offset, long maxLength) throws StorageException {
        if (offset < 0 || offset >= capacity || maxLength <= 0) {
            throw new StorageException(Kind.OUT_OF_BOUNDS, "no extent at " + offset + " in a disk of " + capacity
                    + " bytes").withOperation(Operation.READ);
        }
        lock.readLock().lock();
        try {
            long max = Math.min(maxLength, capacity - offset);
            long[] p = piece(offset, max);
            long length = p[2];
            while (length < max) {
                long[] next = piece(offset + length, max - length);
                if (next[0] != p[0] || p[0] == DATA && next[1] != p[1] + length) {
                    break;
                }
                length += next[2];
            }
            return switch ((int) p[0]) {
                case DATA -> Extent.data(offset, length, p[1]);
                case ZERO -> Extent.zero(offset, length);
                default -> Extent.absent(offset, length);
            };
        } finally {
            lock.readLock().unlock();
        }
    }

    // ---------------------------------------------------------------------------------------------
    // reading and writing

    @Override
    public void read(long offset, ByteBuffer dst) throws StorageException {
        int length = dst.remaining();
        Bounds.check(offset, length, capacity, Operation.READ);
        lock.readLock().lock();
        try {
            checkOpen();
            long pos = offset;
            long end = offset + length;
            while (pos < end) {
                long[] p = piece(pos, end - pos);
                int n = (int) p[2];
                int limit = dst.limit();
                dst.limit(dst.position() + n);
                try {
                    if (p[0] == DATA) {
                        file.backend.read(p[1], dst);
                    } else {
                        Zeros.put(dst, dst.remaining());
                    }
                } finally {
                    dst.limit(limit);
                }
                pos += n;
            }
        } catch (StorageException e) {
            throw e.at(Operation.READ, offset, length);
        } finally {
            lock.readLock().unlock();
        }
    }

    @Override
    public void write(long offset, ByteBuffer src) throws StorageException {
        int length = src.remaining();
        if (readOnly) {
            throw new StorageException(Kind.READ_ONLY, "the VHDX is open read-only").at(Operation.WRITE, offset, length);
        }
        Bounds.check(offset, length, capacity, Operation.WRITE);
        lock.writeLock().lock();
        try {
            checkOpen();
            if (length == 0) {
                return;
            }
            long pos = offset;
            long end = offset + length;
            while (pos < end) {
                int n = (int) Math.min(end - pos, blockSize - pos % blockSize);
                int limit = src.limit();
                src.limit(src.position() + n);
                try {
                    writeBlock(pos, src);
                } finally {
                    src.limit(limit);
                }
                pos += n;
            }
        } catch (StorageException e) {
            throw e.at(Operation.WRITE, offset, length);
        } finally {
            lock.writeLock().unlock();
        }
    }

    private void writeBlock(long pos, ByteBuffer src) throws StorageException {
        long block = pos / blockSize;
        long inBlock = pos % blockSize;
        int n = src.remaining();
        int index = payloadIndex(block);
        int state = VhdxLayout.state(bat[index]);
        if (state == VhdxLayout.PAYLOAD_FULLY_PRESENT) {
            file.beginModification();
            file.backend.write(VhdxLayout.fileOffset(bat[index]) + inBlock, src);
            return;
        }
        if (state == VhdxLayout.PAYLOAD_PARTIALLY_PRESENT) {
            file.beginModification();
            byte[] slice = bitmap(block);
            file.backend.write(VhdxLayout.fileOffset(bat[index]) + inBlock, src);
            setBits(block, slice, inBlock, n);
            return;
        }
        boolean readsAsParent = differencing && state == VhdxLayout.PAYLOAD_NOT_PRESENT;
        if (!readsAsParent && Zeros.isZero(src)) {
            // the block reads as zeros already: the bytes are taken, nothing is written
            src.position(src.limit());
            return;
        }
        file.beginModification();
        boolean whole = inBlock == 0 && n == blockSize;
        long reserved = VhdxLayout.fileOffset(bat[index]);
        if (file.metadata.leaveBlockAllocated() && !differencing && reserved >= VhdxLayout.HEADER_SECTION
                && reserved + blockSize <= file.backend.size()) {
            // a fixed file keeps its blocks' places in any state (QEMU makes them zero blocks there):
            // the block becomes the write and zeros around it
            if (inBlock > 0) {
                VhdxFile.writeZeros(file.backend, reserved, inBlock);
            }
            file.backend.write(reserved + inBlock, src);
            if (inBlock + n < blockSize) {
                VhdxFile.writeZeros(file.backend, reserved + inBlock + n, blockSize - inBlock - n);
            }
            setEntry(index, VhdxLayout.entry(VhdxLayout.PAYLOAD_FULLY_PRESENT, reserved));
            return;
        }
        long at = allocate(blockSize);
        file.backend.write(at + inBlock, src);
        if (readsAsParent && !whole) {
            // the rest of the block stays the parent's: a slice of bits, only this write's set
            allocateBitmapBlock(block);
            byte[] slice = new byte[sliceBytes];
            bitmaps.put(block, slice);
            setBits(block, slice, inBlock, n);
            dirtyBitmaps.add(block);
            setEntry(index, VhdxLayout.entry(VhdxLayout.PAYLOAD_PARTIALLY_PRESENT, at));
        } else {
            setEntry(index, VhdxLayout.entry(VhdxLayout.PAYLOAD_FULLY_PRESENT, at));
        }
    }

    private void setBits(long block, byte[] slice, long inBlock, int n) {
        long first = inBlock / sectorSize;
        long last = (inBlock + n - 1) / sectorSize;
        for (long s = first; s <= last; s++) {
            if (!bit(slice, s)) {
                slice[(int) (s >>> 3)] |= (byte) (1 << (s & 7));
                dirtyBitmaps.add(block);
            }
        }
    }

    private void allocateBitmapBlock(long block) throws StorageException {
        int index = bitmapIndex(block);
        if (VhdxLayout.state(bat[index]) != VhdxLayout.SB_PRESENT) {
            setEntry(index, VhdxLayout.entry(VhdxLayout.SB_PRESENT, allocate(VhdxLayout.MB)));
        }
    }

    /** {@code length} bytes (whole MiB) at the end of the file, the file grown to hold them: they read as zeros. */
    private long allocate(long length) throws StorageException {
        long at = fileEnd;
        fileEnd += length;
        file.backend.write(fileEnd - VhdxLayout.PAGE, ByteBuffer.allocate(VhdxLayout.PAGE));
        return at;
    }

    private void setEntry(int index, long entry) {
        bat[index] = entry;
        dirtyBatPages.add(index / 512);
    }

    @Override
    public void flush() throws StorageException {
        if (readOnly) {
            return;
        }
        lock.writeLock().lock();
        try {
            checkOpen();
            commit();
        } catch (StorageException e) {
            throw e.withOperation(Operation.FLUSH);
        } finally {
            lock.writeLock().unlock();
        }
    }

    /** Syncs the data, writes the changed bitmap slices, then changes the BAT through the log. */
    private void commit() throws StorageException {
        file.backend.flush();
        if (dirtyBatPages.isEmpty() && dirtyBitmaps.isEmpty()) {
            return;
        }
        for (long block : dirtyBitmaps) {
            long sb = VhdxLayout.fileOffset(bat[bitmapIndex(block)]);
            file.backend.write(sb + sliceOffset(block), ByteBuffer.wrap(bitmaps.get(block)));
        }
        dirtyBitmaps.clear();
        List<VhdxLog.Patch> pages = new ArrayList<>();
        for (int page : dirtyBatPages) {
            ByteBuffer b = ByteBuffer.allocate(VhdxLayout.PAGE).order(ByteOrder.LITTLE_ENDIAN);
            for (int i = 0; i < 512; i++) {
                b.putLong(bat[page * 512 + i]);
            }
            pages.add(VhdxLog.Patch.page(file.bat.offset() + page * (long) VhdxLayout.PAGE, b.array()));
        }
        long flushed = file.backend.size() / VhdxLayout.MB * VhdxLayout.MB;
        file.logAndApply(pages, flushed, fileEnd);
        dirtyBatPages.clear();
    }

    @Override
    public void close() throws StorageException {
        lock.writeLock().lock();
        try {
            if (closed) {
                return;
            }
            closed = true;
            if (!readOnly) {
                commit();
                file.close();
            }
        } catch (StorageException e) {
            throw e.withOperation(Operation.CLOSE).withLocation(file.backend.location());
        } finally {
            lock.writeLock().unlock();
            file.backend.close();
        }
    }

    private void checkOpen() throws StorageException {
        if (closed) {
            throw new StorageException(Kind.NO_MEDIUM, "the VHDX is closed");
        }
    }

    @Override
    public String toString() {
        return "VhdxDisk[" + file.backend.location() + ", " + details().get("subformat") + "]";
    }
}
