package org.spindle.format.vhd;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.locks.ReentrantReadWriteLock;

import org.spindle.storage.api.AllocationMap;
import org.spindle.storage.api.BackingReference;
import org.spindle.storage.api.Bounds;
import org.spindle.storage.api.Extent;
import org.spindle.storage.api.Overlay;
import org.spindle.storage.api.StorageBackend;
import org.spindle.storage.api.StorageException;
import org.spindle.storage.api.StorageException.Kind;
import org.spindle.storage.api.StorageException.Operation;
import org.spindle.storage.api.VirtualDisk;
import org.spindle.storage.api.Zeros;

/**
 * A VHD: fixed (the data, then the footer), dynamic (blocks allocated on first write through the block
 * allocation table, each a sector bitmap and its data) or differencing (a dynamic disk whose clear
 * bitmap bits leave sectors to the parent, which {@code DiskOpener} stacks under it through
 * {@link Overlay}).
 *
 * <p><b>Allocation and ordering.</b> A new block goes where the footer was: first the footer at the
 * new end of the file (so the file always ends in a footer), then the block's data (zero-filled) and
 * bitmap. The table entry changes in memory; a
 * flush syncs the blocks and only then writes the changed table sectors, and syncs again. A crash
 * leaves a valid image whose table knows the blocks of the last flush (blocks after it are orphaned,
 * which {@code check} reports as leaks). In a dynamic disk a new block's bitmap is all ones (the zero
 * fill is its data, as other tools do); in a differencing disk bits are set for the sectors written,
 * after their data.
 */
final class VhdDisk implements VirtualDisk, AllocationMap, Overlay {
    static final int UNUSED = -1;

    private final StorageBackend backend;
    private final VhdFooter footer;
    private final VhdDynamicHeader header;
    private final boolean readOnly;
    private final int sectorSize;
    private final long capacity;
    private final int[] bat;
    private final int blockSize;
    private final int bitmapBytes;
    private final boolean differencing;
    private final String parent;
    private int batDirtyFrom = Integer.MAX_VALUE;
    private int batDirtyTo = -1;
    /** Where the footer sits now: new blocks go here. */
    private long footerOffset;
    private final Map<Integer, byte[]> bitmaps = new ConcurrentHashMap<>();
    private final ReentrantReadWriteLock lock = new ReentrantReadWriteLock();
    private boolean closed;

    private VhdDisk(StorageBackend backend, VhdFooter footer, VhdDynamicHeader header, boolean readOnly, int sectorSize,
            int[] bat, long footerOffset, String parent) {
        this.backend = backend;
        this.footer = footer;
        this.header = header;
        this.readOnly = readOnly;
        this.sectorSize = sectorSize;
        this.capacity = footer.virtualSize();
        this.bat = bat;
        this.blockSize = header == null ? 0 : header.blockSize;
        this.bitmapBytes = header == null ? 0 : header.bitmapBytes();
        this.differencing = footer.diskType() == VhdFooter.TYPE_DIFFERENCING;
        this.footerOffset = footerOffset;
        this.parent = parent;
    }

    static VhdDisk open(StorageBackend backend, boolean readOnly, int sectorSize) throws StorageException {
        long fileSize = backend.size();
        if (fileSize < VhdFooter.SIZE) {
            throw new StorageException(Kind.CORRUPT_IMAGE, "the file is " + fileSize + " bytes, too short for a VHD footer");
        }
        VhdFooter footer = readFooter(backend, fileSize);
        long capacity = footer.virtualSize();
        if (capacity % sectorSize != 0) {
            throw new StorageException(Kind.INVALID_CONFIG, "the disk size " + capacity + " is not a whole number of "
                    + sectorSize + "-byte sectors");
        }
        if (footer.diskType() == VhdFooter.TYPE_FIXED) {
            if (capacity > fileSize - VhdFooter.SIZE) {
                throw new StorageException(Kind.CORRUPT_IMAGE, "a fixed disk of " + capacity + " bytes needs a file of "
                        + (capacity + VhdFooter.SIZE) + " bytes; this one has " + fileSize);
            }
            return new VhdDisk(backend, footer, null, readOnly, sectorSize, null, fileSize - VhdFooter.SIZE, null);
        }
        long headerOffset = footer.dataOffset();
        if (headerOffset + VhdDynamicHeader.SIZE > fileSize) {
            throw new StorageException(Kind.CORRUPT_IMAGE, "the dynamic header at " + Long.toUnsignedString(headerOffset)
                    + " lies beyond the end of the file");
        }
        VhdDynamicHeader header = VhdDynamicHeader.parse(read(backend, headerOffset, VhdDynamicHeader.SIZE), capacity, fileSize);
        int entries = header.maxTableEntries;
        ByteBuffer table = ByteBuffer.wrap(read(backend, header.tableOffset, entries * 4)).order(ByteOrder.BIG_ENDIAN);
        int[] bat = new int[entries];
        long blockSpan = (long) header.bitmapBytes() + header.blockSize;
        for (int i = 0; i < entries; i++) {
            bat[i] = table.getInt(i * 4);
            if (bat[i] != UNUSED && (Integer.toUnsignedLong(bat[i]) * 512 + blockSpan > fileSize)) {
                throw new StorageException(Kind.CORRUPT_IMAGE, "block " + i + " at sector " + Integer.toUnsignedString(bat[i])
                        + " lies beyond the end of the " + fileSize + "-byte file");
            }
        }
        String parent = null;
        if (footer.diskType() == VhdFooter.TYPE_DIFFERENCING) {
            parent = parentLocation(backend, header, fileSize);
        }
        return new VhdDisk(backend, footer, header, readOnly, sectorSize, bat, fileSize - VhdFooter.SIZE, parent);
    }

    /**
     * The parent's location: the relative Windows locator ({@code W2ru}), else an absolute one that is
     * a path here ({@code W2ku} starting with '/'; {@code MacX} file URLs), else the parent's name next
     * to this image.
     */
    private static String parentLocation(StorageBackend backend, VhdDynamicHeader header, long fileSize)
            throws StorageException {
        String absolute = null;
        for (VhdDynamicHeader.Locator l : header.locators) {
            if (l.dataLength() <= 0 || l.dataLength() > 4096 || l.dataOffset() < 0
                    || l.dataOffset() + l.dataLength() > fileSize) {
                continue;
            }
            byte[] data = read(backend, l.dataOffset(), l.dataLength());
            switch (l.code()) {
                case "W2ru" -> {
                    String path = new String(data, StandardCharsets.UTF_16LE).replace('\0', ' ').strip().replace('\\', '/');
                    return path.startsWith("./") ? path.substring(2) : path;
                }
                case "W2ku" -> {
                    String path = new String(data, StandardCharsets.UTF_16LE).replace('\0', ' ').strip();
                    if (path.startsWith("/")) {
                        absolute = path;
                    }
                }
                case "MacX" -> {
                    String url = new String(data, StandardCharsets.UTF_8).replace('\0', ' ').strip();
                    if (url.startsWith("file://")) {
                        absolute = java.net.URI.create(url).getPath();
                    }
                }
                default -> {
                }
            }
        }
        if (absolute != null) {
            return absolute;
        }
        if (!header.parentName.isBlank()) {
            String name = header.parentName.replace('\\', '/');
            return name.substring(name.lastIndexOf('/') + 1);
        }
        throw new StorageException(Kind.CORRUPT_IMAGE, "the differencing disk names no parent it can be found by");
    }

    /**
     * The footer at the end of the file or, when that one is damaged, the copy a dynamic or
     * differencing disk keeps at the start.
     */
    static VhdFooter readFooter(StorageBackend backend, long fileSize) throws StorageException {
        try {
            return VhdFooter.parse(read(backend, fileSize - VhdFooter.SIZE, VhdFooter.SIZE));
        } catch (StorageException tail) {
            try {
                VhdFooter copy = VhdFooter.parse(read(backend, 0, VhdFooter.SIZE));
                if (copy.diskType() != VhdFooter.TYPE_FIXED) {
                    return copy;
                }
            } catch (StorageException head) {
                tail.addSuppressed(head);
            }
            throw tail;
        }
    }

    static byte[] read(StorageBackend backend, long offset, int length) throws StorageException {
        ByteBuffer b = ByteBuffer.allocate(length);
        backend.read(offset, b);
        return b.array();
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
        return VhdFormat.NAME;
    }

    @Override
    public Map<String, Object> details() {
        Map<String, Object> d = new LinkedHashMap<>();
        d.put("subformat", switch (footer.diskType()) {
            case VhdFooter.TYPE_FIXED -> "fixed";
            case VhdFooter.TYPE_DYNAMIC -> "dynamic";
            default -> "differencing";
        });
        d.put("creator", footer.creatorApp().strip());
        VhdGeometry g = footer.geometry();
        d.put("geometry", g.cylinders() + "/" + g.heads() + "/" + g.sectorsPerTrack());
        d.put("current_size", footer.currentSize());
        if (header != null) {
            d.put("block_size", blockSize);
        }
        d.put("uuid", footer.uniqueId().toString());
        if (parent != null) {
            d.put("parent", parent);
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
        return new BackingReference(parent, VhdFormat.NAME);
    }

    @Override
    public int allocationUnit() {
        return header == null ? 512 : differencing ? 512 : blockSize;
    }

    // ---------------------------------------------------------------------------------------------
    // mapping

    private static final int ABSENT = 0;
    private static final int DATA = 2;

    /** Kind, host offset and length of what lies at {@code pos} (at most {@code max} bytes, one block). */
    private long[] piece(long pos, long max) throws StorageException {
        if (header == null) {
            return new long[] {DATA, pos, max};
        }
        int block = (int) (pos / blockSize);
        int inBlock = (int) (pos % blockSize);
        long length = Math.min(max, blockSize - inBlock);
        int entry = bat[block];
        if (entry == UNUSED) {
            return new long[] {ABSENT, -1, length};
        }
        long blockOffset = Integer.toUnsignedLong(entry) * 512;
        byte[] bitmap = bitmap(block, blockOffset);
        int sector = inBlock / 512;
        boolean set = bit(bitmap, sector);
        long end = inBlock + length;
        long runEnd = ((long) sector + 1) * 512;
        while (runEnd < end && bit(bitmap, (int) (runEnd / 512)) == set) {
            runEnd += 512;
        }
        long n = Math.min(length, runEnd - inBlock);
        return set ? new long[] {DATA, blockOffset + bitmapBytes + inBlock, n} : new long[] {ABSENT, -1, n};
    }

    private static boolean bit(byte[] bitmap, int sector) {
        return (bitmap[sector >>> 3] & (0x80 >>> (sector & 7))) != 0;
    }

    private byte[] bitmap(int block, long blockOffset) throws StorageException {
        byte[] bitmap = bitmaps.get(block);
        if (bitmap == null) {
            bitmap = read(backend, blockOffset, bitmapBytes);
            if (bitmaps.size() > 4096) {
                bitmaps.clear();
            }
            bitmaps.put(block, bitmap);
        }
        return bitmap;
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
            if (p[0] == DATA) {
                return Extent.data(offset, length, p[1]);
            }
            // a dynamic disk has no parent: what it does not hold reads as zeros; a differencing disk's parent shows through
            return differencing ? Extent.absent(offset, length) : Extent.zero(offset, length);
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
                        backend.read(p[1], dst);
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
            throw new StorageException(Kind.READ_ONLY, "the VHD is open read-only").at(Operation.WRITE, offset, length);
        }
        Bounds.check(offset, length, capacity, Operation.WRITE);
        lock.writeLock().lock();
        try {
            checkOpen();
            if (header == null) {
                backend.write(offset, src);
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
        int block = (int) (pos / blockSize);
        int inBlock = (int) (pos % blockSize);
        int n = src.remaining();
        if (bat[block] == UNUSED) {
            if (!differencing && Zeros.isZero(src)) {
                // the block reads as zeros already: the bytes are taken, nothing is written
                src.position(src.limit());
                return;
            }
            allocate(block);
        }
        long blockOffset = Integer.toUnsignedLong(bat[block]) * 512;
        backend.write(blockOffset + bitmapBytes + inBlock, src);
        // the bitmap, after the data: bits for the sectors written
        byte[] bitmap = bitmap(block, blockOffset);
        int first = inBlock / 512;
        int last = (inBlock + n - 1) / 512;
        boolean changed = false;
        for (int s = first; s <= last; s++) {
            if (!bit(bitmap, s)) {
                bitmap[s >>> 3] |= (byte) (0x80 >>> (s & 7));
                changed = true;
            }
        }
        if (changed) {
            int from = (first >>> 3) & ~511;
            int to = Math.min(bitmapBytes, (((last >>> 3) + 512) & ~511));
            backend.write(blockOffset + from, ByteBuffer.wrap(bitmap, from, to - from));
        }
    }

    /**
     * A new block where the footer is, the footer moved after it; the table entry changes in memory.
     * The footer goes to the new end first, so the file ends in a footer at every moment.
     */
    private void allocate(int block) throws StorageException {
        long at = (footerOffset + 511) & ~511L;
        byte[] bitmap = new byte[bitmapBytes];
        if (!differencing) {
            int sectors = blockSize / 512;
            for (int s = 0; s < sectors; s++) {
                bitmap[s >>> 3] |= (byte) (0x80 >>> (s & 7));
            }
        }
        ByteBuffer zeros = ByteBuffer.allocate(Math.min(blockSize, 1 << 20));
        long dataStart = at + bitmapBytes;
        long newFooter = dataStart + blockSize;
        backend.write(newFooter, ByteBuffer.wrap(footer.raw));
        for (long done = 0; done < blockSize; done += zeros.capacity()) {
            backend.write(dataStart + done, zeros.clear().limit((int) Math.min(zeros.capacity(), blockSize - done)));
        }
        backend.write(at, ByteBuffer.wrap(bitmap));
        footerOffset = newFooter;
        bitmaps.put(block, bitmap);
        bat[block] = (int) (at / 512);
        batDirtyFrom = Math.min(batDirtyFrom, block);
        batDirtyTo = Math.max(batDirtyTo, block);
    }

    @Override
    public void flush() throws StorageException {
        if (readOnly) {
            return;
        }
        lock.writeLock().lock();
        try {
            checkOpen();
            writeTable();
        } catch (StorageException e) {
            throw e.withOperation(Operation.FLUSH);
        } finally {
            lock.writeLock().unlock();
        }
    }

    /** Syncs the blocks, then writes the changed table sectors and syncs again. */
    private void writeTable() throws StorageException {
        backend.flush();
        if (batDirtyTo < 0) {
            return;
        }
        int from = batDirtyFrom & ~127; // 128 entries per sector
        int to = Math.min(bat.length, (batDirtyTo | 127) + 1);
        ByteBuffer b = ByteBuffer.allocate((to - from) * 4).order(ByteOrder.BIG_ENDIAN);
        for (int i = from; i < to; i++) {
            b.putInt(bat[i]);
        }
        backend.write(header.tableOffset + from * 4L, b.flip());
        backend.flush();
        batDirtyFrom = Integer.MAX_VALUE;
        batDirtyTo = -1;
    }

    @Override
    public void close() throws StorageException {
        lock.writeLock().lock();
        try {
            if (closed) {
                return;
            }
            closed = true;
            if (!readOnly && header != null) {
                writeTable();
            }
        } catch (StorageException e) {
            throw e.withOperation(Operation.CLOSE).withLocation(backend.location());
        } finally {
            lock.writeLock().unlock();
            backend.close();
        }
    }

    private void checkOpen() throws StorageException {
        if (closed) {
            throw new StorageException(Kind.NO_MEDIUM, "the VHD is closed");
        }
    }

    @Override
    public String toString() {
        return "VhdDisk[" + backend.location() + ", " + details().get("subformat") + "]";
    }
}
