package org.spindle.format.qcow2;

import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.locks.ReentrantReadWriteLock;

import org.spindle.storage.api.AllocationMap;
import org.spindle.storage.api.BackingReference;
import org.spindle.storage.api.CompressedWrites;
import org.spindle.storage.api.Bounds;
import org.spindle.storage.api.Discardable;
import org.spindle.storage.api.Extent;
import org.spindle.storage.api.Overlay;
import org.spindle.storage.api.Resizable;
import org.spindle.storage.api.SnapshotInfo;
import org.spindle.storage.api.Snapshots;
import org.spindle.storage.api.StorageBackend;
import org.spindle.storage.api.StorageException;
import org.spindle.storage.api.StorageException.Kind;
import org.spindle.storage.api.StorageException.Operation;
import org.spindle.storage.api.VirtualDisk;
import org.spindle.storage.api.Zeros;
import org.spindle.storage.api.WriteZeroes;

import com.github.benmanes.caffeine.cache.Cache;
import com.github.benmanes.caffeine.cache.Caffeine;

/**
 * A qcow2 image, version 2 or 3: guest clusters mapped through the L1 table and L2 tables (standard or
 * extended entries with 32 subclusters), host clusters refcounted, unallocated clusters left to the
 * backing file (which {@code DiskOpener} stacks under this disk through {@link Overlay}).
 *
 * <p><b>Caches.</b> The L1 table is in memory. Clean L2 tables sit in a bounded cache (the
 * {@code l2_cache_size} open parameter); tables changed since the last flush are held apart until it.
 *
 * <p><b>Write ordering.</b> Data goes to the file at once. A flush then writes refcount increments,
 * syncs, writes the changed L2 tables, syncs, writes the L1 table and header, syncs, and only then
 * applies the decrements of clusters that were replaced or freed (see {@link Refcounts}). A crash at any
 * point leaves an image whose metadata is consistent as of the last flush, with at worst leaked clusters,
 * which the specification allows. With lazy refcounts the image is marked dirty on the first write and
 * the refcounts are written only at close; a dirty image has its refcounts rebuilt on the next writable
 * open.
 *
 * <p><b>Threading.</b> Reads share a read lock; writes, zeroing, discard and flush take the write lock.
 */
final class Qcow2Disk implements VirtualDisk, AllocationMap, Discardable, WriteZeroes, Overlay, Snapshots,
        CompressedWrites, Resizable {
    static final String L2_CACHE_SIZE = "l2_cache_size";
    static final long DEFAULT_MAX_L2_CACHE = 32L << 20;

    // what a guest range is, for reading and mapping
    static final int UNALLOCATED = 0;
    static final int ZERO = 1;
    static final int DATA = 2;
    static final int COMPRESSED = 3;

    private final Qcow2File file;
    private final Qcow2Header header;
    private final StorageBackend backend;
    private final boolean readOnly;
    private final int sectorSize;
    private final int clusterBits;
    private final int clusterSize;
    private final boolean extended;
    /** Longs per L2 entry: 1 standard, 2 extended. */
    private final int stride;
    private final int l2Bits;
    private final int subclusterBits;
    private long[] l1;
    /** The virtual size: the header's, or the snapshot's when one is open. */
    private long size;
    /** The snapshot this disk shows, or null for the image's current state. */
    private final Qcow2Snapshots.Snapshot snapshot;
    private int l1DirtyFrom = Integer.MAX_VALUE;
    private int l1DirtyTo = -1;
    private final Cache<Long, long[]> l2Clean;
    private final Map<Long, long[]> l2Dirty = new LinkedHashMap<>();
    private final int maxDirtyTables;
    private final ReentrantReadWriteLock lock = new ReentrantReadWriteLock();
    private Refcounts refcounts;
    private boolean headerDirty;
    private boolean firstWriteDone;
    private boolean closed;
    /** Where the next compressed cluster's data may go (inside a cluster already holding some), or -1. */
    private long compressedCursor = -1;
    /** The last compressed cluster read: host descriptor and its data. */
    private volatile CompressedCache lastCompressed;

    private record CompressedCache(long entry, byte[] data) {
    }

    /** One piece of the guest address space: what it is, and where it lives if it is data. */
    record Piece(int kind, long host, long length) {
    }

    private Qcow2Disk(Qcow2File file, boolean readOnly, int sectorSize, long l2CacheBytes,
            Qcow2Snapshots.Snapshot snapshot) throws StorageException {
        this.file = file;
        this.header = file.header;
        this.backend = file.backend;
        this.readOnly = readOnly;
        this.sectorSize = sectorSize;
        this.clusterBits = header.clusterBits;
        this.clusterSize = header.clusterSize;
        this.extended = header.extendedL2();
        this.stride = extended ? 2 : 1;
        this.l2Bits = Integer.numberOfTrailingZeros(header.l2Entries());
        this.subclusterBits = clusterBits - 5;
        long entries = Math.max(2, l2CacheBytes / clusterSize);
        this.l2Clean = Caffeine.newBuilder().maximumSize(entries).executor(Runnable::run).build();
        this.maxDirtyTables = (int) Math.max(64, Math.min(entries, 4096));
        this.snapshot = snapshot;
        if (snapshot == null) {
            this.size = header.size;
            this.l1 = readL1(header.l1TableOffset, header.l1Size, "the L1 table");
        } else {
            this.size = snapshot.diskSize();
            this.l1 = readL1(snapshot.l1Offset(), snapshot.l1Size(), "the L1 table of snapshot " + snapshot.id());
        }
    }

    private long[] readL1(long offset, int entries, String what) throws StorageException {
        return entries == 0 ? new long[0] : Qcow2File.readEntries(file.read(offset, entries * 8, what), entries);
    }

    static Qcow2Disk open(StorageBackend backend, boolean readOnly, int sectorSize, Map<String, String> parameters)
            throws StorageException {
        long fileSize = backend.size();
        int headLength = (int) Math.min(fileSize, 1L << Qcow2Header.MIN_CLUSTER_BITS);
        ByteBuffer head = ByteBuffer.allocate(headLength);
        backend.read(0, head);
        head.flip();
        if (headLength >= Qcow2Header.OFF_CLUSTER_BITS + 4) {
            int bits = head.getInt(Qcow2Header.OFF_CLUSTER_BITS);
            if (bits > Qcow2Header.MIN_CLUSTER_BITS && bits <= Qcow2Header.MAX_CLUSTER_BITS) {
                head = ByteBuffer.allocate((int) Math.min(fileSize, 1L << bits));
                backend.read(0, head);
                head.flip();
            }
        }
        Qcow2Header header = Qcow2Header.parse(head, fileSize);
        if (header.size % sectorSize != 0) {
            throw new StorageException(Kind.INVALID_CONFIG, "the virtual size " + header.size
                    + " is not a whole number of " + sectorSize + "-byte sectors");
        }
        if (!readOnly && header.corrupt()) {
            throw new StorageException(Kind.CORRUPT_IMAGE, "the image is marked corrupt (incompatible feature bit 1);"
                    + " open it read-only, or repair it with 'img check --repair'");
        }
        long cacheBytes = Math.min(DEFAULT_MAX_L2_CACHE, Math.max(1L << 20,
                header.l1EntriesFor(header.size) * header.clusterSize));
        String cacheText = parameters.get(L2_CACHE_SIZE);
        if (cacheText != null) {
            cacheBytes = Qcow2Format.parseSize(L2_CACHE_SIZE, cacheText, Operation.OPEN);
        }
        Qcow2File file = new Qcow2File(backend, header);
        Qcow2Snapshots.Snapshot snapshot = null;
        String snapshotKey = parameters.get(Snapshots.OPEN_PARAMETER);
        if (snapshotKey != null) {
            if (!readOnly) {
                throw new StorageException(Kind.INVALID_CONFIG, "a snapshot opens read-only (snapshot="
                        + snapshotKey + ")");
            }
            snapshot = Qcow2Snapshots.find(Qcow2Snapshots.read(file).snapshots(), snapshotKey);
            if (snapshot.diskSize() % sectorSize != 0 || snapshot.diskSize() < 0) {
                throw new StorageException(Kind.CORRUPT_IMAGE, "snapshot " + snapshot.id() + " has a virtual size of "
                        + snapshot.diskSize() + " bytes, not a whole number of " + sectorSize + "-byte sectors");
            }
        }
        if (!readOnly && header.dirty()) {
            // refcounts may be stale (lazy refcounts, or a crash): rebuild them before anything is written
            Qcow2Check.check(file, true);
        }
        Qcow2Disk disk = new Qcow2Disk(file, readOnly, sectorSize, cacheBytes, snapshot);
        return disk;
    }

    // ---------------------------------------------------------------------------------------------
    // identity

    @Override
    public int logicalSectorSize() {
        return sectorSize;
    }

    @Override
    public long capacity() {
        return size;
    }

    @Override
    public boolean isReadOnly() {
        return readOnly;
    }

    @Override
    public String formatName() {
        return Qcow2Format.NAME;
    }

    @Override
    public Map<String, Object> details() {
        Map<String, Object> d = new LinkedHashMap<>();
        d.put("compat", header.version == 2 ? "0.10" : "1.1");
        d.put("cluster_size", clusterSize);
        d.put("refcount_bits", header.refcountBits());
        if (header.version >= 3) {
            d.put("lazy_refcounts", header.lazyRefcounts());
            d.put("extended_l2", extended);
            d.put("compression_type", header.compressionName());
        }
        if (header.backingFile != null) {
            d.put("backing_file", header.backingFile);
            if (header.backingFormat != null) {
                d.put("backing_format", header.backingFormat);
            }
        }
        d.put("snapshots", header.nbSnapshots);
        if (snapshot != null) {
            d.put("snapshot", snapshot.id() + (snapshot.name().isEmpty() ? "" : " (" + snapshot.name() + ")"));
        }
        if (header.dirty()) {
            d.put("dirty", true);
        }
        if (header.corrupt()) {
            d.put("corrupt", true);
        }
        return d;
    }

    @Override
    public <T> Optional<T> capability(Class<T> type) {
        if (type == Snapshots.class && snapshot != null) {
            return Optional.empty();
        }
        if (type == Overlay.class) {
            return header.backingFile == null ? Optional.empty() : Optional.of(type.cast(this));
        }
        if ((type == Discardable.class || type == WriteZeroes.class || type == CompressedWrites.class
                || type == Resizable.class) && readOnly) {
            return Optional.empty();
        }
        return VirtualDisk.super.capability(type);
    }

    @Override
    public BackingReference base() {
        return new BackingReference(header.backingFile, Qcow2Format.spindleFormatName(header.backingFormat));
    }

    @Override
    public int allocationUnit() {
        return extended ? 1 << subclusterBits : clusterSize;
    }

    // ---------------------------------------------------------------------------------------------
    // mapping

    private long[] l2ForRead(long l1Index) throws StorageException {
        if (l1Index >= l1.length) {
            return null;
        }
        long l1e = l1[(int) l1Index];
        long offset = l1e & Qcow2File.OFFSET_MASK;
        if (offset == 0) {
            return null;
        }
        if ((offset & (clusterSize - 1)) != 0) {
            throw new StorageException(Kind.CORRUPT_IMAGE, "L1 entry " + l1Index + " points to "
                    + offset + ", which is not a cluster boundary");
        }
        long[] table = l2Dirty.isEmpty() ? null : l2Dirty.get(offset);
        if (table != null) {
            return table;
        }
        table = l2Clean.getIfPresent(offset);
        if (table == null) {
            table = Qcow2File.readEntries(file.read(offset, clusterSize, "the L2 table of L1 entry " + l1Index),
                    clusterSize / 8);
            l2Clean.put(offset, table);
        }
        return table;
    }

    /** What lies at {@code pos}, for at most {@code max} bytes, within one cluster. */
    private Piece piece(long pos, long max) throws StorageException {
        long gc = pos >>> clusterBits;
        int inCluster = (int) (pos & (clusterSize - 1));
        long toEnd = Math.min(max, clusterSize - inCluster);
        long[] table = l2ForRead(gc >>> l2Bits);
        if (table == null) {
            return new Piece(UNALLOCATED, 0, toEnd);
        }
        int index = (int) (gc & ((1 << l2Bits) - 1)) * stride;
        long e = table[index];
        if ((e & Qcow2File.COMPRESSED) != 0) {
            return new Piece(COMPRESSED, e, toEnd);
        }
        long host = e & Qcow2File.OFFSET_MASK;
        if (!extended) {
            if ((e & Qcow2File.ZERO) != 0) {
                return new Piece(ZERO, 0, toEnd);
            }
            if (host == 0) {
                return new Piece(UNALLOCATED, 0, toEnd);
            }
            checkHost(host, gc);
            return new Piece(DATA, host + inCluster, toEnd);
        }
        long bitmap = table[index + 1];
        int sc = inCluster >>> subclusterBits;
        int kind = subclusterKind(bitmap, sc, gc);
        int last = sc;
        long end = inCluster + toEnd;
        while (((long) (last + 1) << subclusterBits) < end && subclusterKind(bitmap, last + 1, gc) == kind) {
            last++;
        }
        long length = Math.min(toEnd, ((long) (last + 1) << subclusterBits) - inCluster);
        if (kind == DATA) {
            if (host == 0) {
                throw new StorageException(Kind.CORRUPT_IMAGE, "guest cluster " + gc
                        + " has allocated subclusters but no host cluster");
            }
            checkHost(host, gc);
            return new Piece(DATA, host + inCluster, length);
        }
        return new Piece(kind, 0, length);
    }

    private int subclusterKind(long bitmap, int sc, long gc) throws StorageException {
        boolean alloc = ((bitmap >>> sc) & 1) != 0;
        boolean zero = ((bitmap >>> (32 + sc)) & 1) != 0;
        if (alloc && zero) {
            throw new StorageException(Kind.CORRUPT_IMAGE, "subcluster " + sc + " of guest cluster " + gc
                    + " is marked both allocated and zero");
        }
        return alloc ? DATA : zero ? ZERO : UNALLOCATED;
    }

    private void checkHost(long host, long gc) throws StorageException {
        if ((host & (clusterSize - 1)) != 0) {
            throw new StorageException(Kind.CORRUPT_IMAGE, "guest cluster " + gc + " maps to host offset " + host
                    + ", which is not a cluster boundary");
        }
    }

    /** The piece at {@code pos} merged with the following ones of the same kind (and contiguous data). */
    private Piece run(long pos, long max) throws StorageException {
        Piece p = piece(pos, max);
        if (p.kind == COMPRESSED) {
            return p;
        }
        long length = p.length;
        while (length < max) {
            Piece next = piece(pos + length, max - length);
            if (next.kind != p.kind || p.kind == DATA && next.host != p.host + length) {
                break;
            }
            length += next.length;
        }
        return new Piece(p.kind, p.host, length);
    }

    // ---------------------------------------------------------------------------------------------
    // reading

    @Override
    public void read(long offset, ByteBuffer dst) throws StorageException {
        int length = dst.remaining();
        Bounds.check(offset, length, capacity(), Operation.READ);
        lock.readLock().lock();
        try {
            checkOpen();
            long pos = offset;
            long end = offset + length;
            while (pos < end) {
                Piece p = run(pos, end - pos);
                int n = (int) p.length;
                switch (p.kind) {
                    case DATA -> {
                        int limit = dst.limit();
                        dst.limit(dst.position() + n);
                        try {
                            readData(p.host, dst, pos);
                        } finally {
                            dst.limit(limit);
                        }
                    }
                    case COMPRESSED -> {
                        byte[] data = decompress(p.host);
                        dst.put(data, (int) (pos & (clusterSize - 1)), n);
                    }
                    default -> Zeros.put(dst, n);
                }
                pos += n;
            }
        } catch (StorageException e) {
            throw e.at(Operation.READ, offset, length);
        } finally {
            lock.readLock().unlock();
        }
    }

    /** Reads guest data at {@code host}; no size check up front (an fstat per request): the read notices the end. */
    private void readData(long host, ByteBuffer dst, long guest) throws StorageException {
        try {
            backend.read(host, dst);
        } catch (StorageException e) {
            if (e.kind() != Kind.OUT_OF_BOUNDS) {
                throw e;
            }
            throw new StorageException(Kind.CORRUPT_IMAGE, "the data of guest offset " + guest + " (host offset "
                    + host + ") lies beyond the end of the file", e);
        }
    }

    private long[] compressedRange(long entry) {
        return Qcow2File.compressedRange(entry, clusterBits);
    }

    private byte[] decompress(long entry) throws StorageException {
        CompressedCache cached = lastCompressed;
        if (cached != null && cached.entry == entry) {
            return cached.data;
        }
        long[] range = compressedRange(entry);
        long fileSize = backend.size();
        long length = Math.min(range[1], Math.max(0, fileSize - range[0]));
        if (range[1] > 2L * clusterSize + 512 || length <= 0) {
            throw new StorageException(Kind.CORRUPT_IMAGE, "a compressed cluster at host offset " + range[0]
                    + " claims " + range[1] + " bytes" + (length <= 0 ? ", past the end of the file" : ""));
        }
        ByteBuffer in = ByteBuffer.allocate((int) length);
        backend.read(range[0], in);
        byte[] data = Compression.decompress(header.compressionType, in.array(), in.position(), clusterSize);
        lastCompressed = new CompressedCache(entry, data);
        return data;
    }

    @Override
    public Extent extent(long offset, long maxLength) throws StorageException {
        lock.readLock().lock();
        try {
            checkOpen();
            if (offset < 0 || offset >= capacity() || maxLength <= 0) {
                throw new StorageException(Kind.OUT_OF_BOUNDS, "no extent at " + offset + " (length " + maxLength
                        + ") in a disk of " + capacity() + " bytes").withOperation(Operation.READ);
            }
            long max = Math.min(maxLength, capacity() - offset);
            Piece p = run(offset, max);
            long length = p.length;
            if (p.kind == COMPRESSED) {
                // compressed clusters are data without a usable host offset: merge them with each other
                while (length < max) {
                    Piece next = piece(offset + length, max - length);
                    if (next.kind != COMPRESSED) {
                        break;
                    }
                    length += next.length;
                }
            }
            return switch (p.kind) {
                case DATA -> Extent.data(offset, length, p.host);
                case COMPRESSED -> new Extent(offset, length, true, true, false, 0, -1);
                case ZERO -> Extent.zero(offset, length);
                default -> Extent.absent(offset, length);
            };
        } finally {
            lock.readLock().unlock();
        }
    }

    // ---------------------------------------------------------------------------------------------
    // writing

    @Override
    public void write(long offset, ByteBuffer src) throws StorageException {
        int length = src.remaining();
        checkWritable(Operation.WRITE, offset, length);
        Bounds.check(offset, length, capacity(), Operation.WRITE);
        lock.writeLock().lock();
        try {
            checkOpen();
            beforeFirstWrite();
            long pos = offset;
            long end = offset + length;
            while (pos < end) {
                int n = (int) Math.min(end - pos, clusterSize - (pos & (clusterSize - 1)));
                int limit = src.limit();
                src.limit(src.position() + n);
                try {
                    writeCluster(pos, src);
                } finally {
                    src.limit(limit);
                }
                pos += n;
            }
            limitDirty();
        } catch (StorageException e) {
            throw e.at(Operation.WRITE, offset, length);
        } finally {
            lock.writeLock().unlock();
        }
    }

    /** Writes {@code src} (which stays within one cluster) at guest offset {@code pos}. */
    private void writeCluster(long pos, ByteBuffer src) throws StorageException {
        long gc = pos >>> clusterBits;
        int inCluster = (int) (pos & (clusterSize - 1));
        int n = src.remaining();
        long[] table = l2ForRead(gc >>> l2Bits);
        int index = (int) (gc & ((1 << l2Bits) - 1)) * stride;
        long e = table == null ? 0 : table[index];
        long bitmap = table == null || !extended ? 0 : table[index + 1];
        boolean compressed = (e & Qcow2File.COMPRESSED) != 0;
        long host = compressed ? 0 : e & Qcow2File.OFFSET_MASK;
        boolean exclusive = !compressed && host != 0 && (e & Qcow2File.COPIED) != 0;

        if (!extended) {
            if (exclusive && (e & Qcow2File.ZERO) == 0) {
                checkHost(host, gc);
                backend.write(host + inCluster, src); // an allocated cluster of our own: in place
                return;
            }
            ByteBuffer content;
            if (n == clusterSize) {
                content = src;
            } else {
                byte[] whole = currentCluster(gc, e, compressed, host, exclusive);
                content = ByteBuffer.wrap(whole);
                content.position(inCluster);
                content.put(src);
                content.clear();
            }
            // a zeroed cluster that is still ours (zero-alloc) takes the data in place
            long target = exclusive ? host : refcounts().allocate();
            backend.write(target, content);
            long[] t = l2ForWrite(gc >>> l2Bits);
            t[index] = target | Qcow2File.COPIED;
            if (!exclusive) {
                releaseData(e);
            }
            return;
        }

        int scSize = 1 << subclusterBits;
        int first = inCluster >>> subclusterBits;
        int last = (inCluster + n - 1) >>> subclusterBits;
        long touched = (last == 31 ? 0xffff_ffffL : (1L << (last + 1)) - 1) & ~((1L << first) - 1);
        if (compressed) {
            byte[] whole = decompress(e);
            ByteBuffer content = ByteBuffer.wrap(whole);
            content.position(inCluster);
            content.put(src);
            long target = refcounts().allocate();
            backend.write(target, content.clear());
            long[] t = l2ForWrite(gc >>> l2Bits);
            t[index] = target | Qcow2File.COPIED;
            t[index + 1] = 0xffff_ffffL;
            releaseData(e);
            return;
        }
        if (exclusive && (bitmap & touched) == touched) {
            checkHost(host, gc);
            backend.write(host + inCluster, src);
            return;
        }
        // the touched subclusters, whole: edges filled from what they hold now
        int from = first * scSize;
        int to = (last + 1) * scSize;
        ByteBuffer span = ByteBuffer.allocate(to - from);
        if (inCluster > from) {
            fillSubcluster(span, 0, first, bitmap, host);
        }
        if (inCluster + n < to && (last != first || inCluster == from)) {
            fillSubcluster(span, (last - first) * scSize, last, bitmap, host);
        }
        span.position(inCluster - from);
        span.put(src);
        span.clear();
        long target;
        if (exclusive) {
            target = host;
            backend.write(host + from, span);
        } else if (host != 0) {
            // shared with a snapshot: a private copy of the whole cluster
            target = refcounts().allocate();
            ByteBuffer whole = file.read(host, clusterSize, "guest cluster " + gc);
            whole.position(from);
            whole.put(span);
            backend.write(target, whole.clear());
            releaseData(e);
        } else {
            target = refcounts().allocate();
            backend.write(target + from, span);
        }
        long[] t = l2ForWrite(gc >>> l2Bits);
        t[index] = target | Qcow2File.COPIED;
        t[index + 1] = (bitmap | touched) & ~(touched << 32);
    }

    /** Puts subcluster {@code sc}'s current bytes (its data, or zeros) at {@code at} in {@code span}. */
    private void fillSubcluster(ByteBuffer span, int at, int sc, long bitmap, long host) throws StorageException {
        if (((bitmap >>> sc) & 1) != 0) {
            int scSize = 1 << subclusterBits;
            ByteBuffer part = span.duplicate().position(at).limit(at + scSize);
            file.readFully(host + ((long) sc << subclusterBits), part, "a subcluster");
        }
    }

    /** The whole current content of a standard guest cluster (zeros where it is not data). */
    private byte[] currentCluster(long gc, long e, boolean compressed, long host, boolean exclusive)
            throws StorageException {
        if (compressed) {
            return decompress(e).clone();
        }
        if (host != 0 && (e & Qcow2File.ZERO) == 0) {
            return file.read(host, clusterSize, "guest cluster " + gc).array();
        }
        return new byte[clusterSize];
    }

    /** Queues the release of what a replaced L2 entry held. */
    private void releaseData(long e) throws StorageException {
        if ((e & Qcow2File.COMPRESSED) != 0) {
            long[] range = compressedRange(e);
            refcounts().releaseRange(range[0], range[1]);
            if (lastCompressed != null && lastCompressed.entry == e) {
                lastCompressed = null;
            }
            return;
        }
        long host = e & Qcow2File.OFFSET_MASK;
        if (host != 0) {
            refcounts().release(host);
        }
    }

    /** The L2 table of {@code l1Index}, ours to change: allocated, or copied if it is shared. */
    private long[] l2ForWrite(long l1Index) throws StorageException {
        if (l1Index >= l1.length) {
            throw new StorageException(Kind.CORRUPT_IMAGE, "the L1 table has " + l1.length
                    + " entries, too few for the virtual size");
        }
        int i = (int) l1Index;
        long l1e = l1[i];
        long offset = l1e & Qcow2File.OFFSET_MASK;
        if (offset != 0 && (l1e & Qcow2File.COPIED) != 0) {
            long[] table = l2Dirty.get(offset);
            if (table == null) {
                table = l2ForRead(l1Index);
                l2Clean.invalidate(offset);
                l2Dirty.put(offset, table);
            }
            return table;
        }
        Refcounts rc = refcounts();
        long[] table;
        if (offset == 0) {
            table = new long[clusterSize / 8];
        } else {
            table = l2ForRead(l1Index).clone();
            for (int k = 0; k < table.length; k += stride) {
                long e = table[k];
                long host = e & Qcow2File.OFFSET_MASK;
                if ((e & Qcow2File.COPIED) != 0 && (host == 0 || rc.getAt(host) != 1)) {
                    table[k] = e & ~Qcow2File.COPIED;
                }
            }
        }
        long target = rc.allocate();
        if (offset != 0) {
            rc.release(offset);
            l2Clean.invalidate(offset);
        }
        l2Dirty.put(target, table);
        l1[i] = target | Qcow2File.COPIED;
        l1DirtyFrom = Math.min(l1DirtyFrom, i);
        l1DirtyTo = Math.max(l1DirtyTo, i);
        return table;
    }

    private Refcounts refcounts() throws StorageException {
        if (refcounts == null) {
            refcounts = new Refcounts(file);
            refcounts.deferWrites(header.lazyRefcounts());
        }
        return refcounts;
    }

    /**
     * Before the first change: clear the autoclear bits (Spindle maintains none of their data, so none
     * stays valid), and with lazy refcounts mark the image dirty. Synced before any data is written.
     */
    private void beforeFirstWrite() throws StorageException {
        if (firstWriteDone) {
            return;
        }
        boolean change = false;
        if (header.version >= 3 && header.autoclear != 0) {
            header.autoclear = 0;
            change = true;
        }
        if (header.version >= 3 && header.lazyRefcounts() && !header.dirty()) {
            header.incompatible |= Qcow2Header.INCOMPAT_DIRTY;
            change = true;
        }
        if (change) {
            file.writeHeader();
            file.sync();
        }
        refcounts();
        firstWriteDone = true;
    }

    private void limitDirty() throws StorageException {
        if (l2Dirty.size() > maxDirtyTables) {
            writeMetadata();
        }
    }

    @Override
    public int compressionUnit() {
        return clusterSize;
    }

    /**
     * Stores one guest cluster compressed: packed after the previous compressed cluster when it fits
     * in that host cluster (each host cluster counts one reference per compressed cluster in it), else
     * in newly allocated clusters. A cluster that already holds something, or does not get smaller, is
     * written the ordinary way.
     */
    @Override
    public void writeCompressed(long offset, ByteBuffer src) throws StorageException {
        int length = src.remaining();
        checkWritable(Operation.WRITE, offset, length);
        Bounds.check(offset, length, capacity(), Operation.WRITE);
        if ((offset & (clusterSize - 1)) != 0 || length != Math.min(clusterSize, capacity() - offset)) {
            throw new StorageException(Kind.UNALIGNED, "a compressed write must be one whole " + clusterSize
                    + "-byte cluster").at(Operation.WRITE, offset, length);
        }
        lock.writeLock().lock();
        try {
            checkOpen();
            beforeFirstWrite();
            long gc = offset >>> clusterBits;
            long[] table = l2ForRead(gc >>> l2Bits);
            int index = (int) (gc & ((1 << l2Bits) - 1)) * stride;
            boolean empty = table == null || table[index] == 0 && (!extended || table[index + 1] == 0);
            byte[] cluster = new byte[clusterSize];
            src.duplicate().get(cluster, 0, length);
            byte[] packed = empty ? Compression.compress(header.compressionType, cluster) : null;
            int x = 62 - (clusterBits - 8);
            if (packed == null) {
                writeCluster(offset, src);
                limitDirty();
                return;
            }
            Refcounts rc = refcounts();
            int n = packed.length;
            long start;
            if (compressedCursor >= 0 && (compressedCursor & (clusterSize - 1)) + n <= clusterSize) {
                start = compressedCursor;
                rc.increment(start >>> clusterBits);
            } else {
                start = rc.allocateRun((n + clusterSize - 1) / clusterSize);
            }
            if (start + n > (1L << x)) {
                throw new StorageException(Kind.UNSUPPORTED_FEATURE, "compressed data at host offset " + start
                        + " is beyond what a " + clusterSize + "-byte-cluster descriptor can address");
            }
            backend.write(start, ByteBuffer.wrap(packed));
            long end = start + n;
            compressedCursor = (end & (clusterSize - 1)) == 0 ? -1 : end;
            long additional = ((end - 1) >>> 9) - (start >>> 9);
            long[] t = l2ForWrite(gc >>> l2Bits);
            t[index] = Qcow2File.COMPRESSED | (additional << x) | start;
            if (extended) {
                t[index + 1] = 0;
            }
            src.position(src.limit());
            limitDirty();
        } catch (StorageException e) {
            throw e.at(Operation.WRITE, offset, length);
        } finally {
            lock.writeLock().unlock();
        }
    }

    // ---------------------------------------------------------------------------------------------
    // zeroing and discard

    @Override
    public void writeZeroes(long offset, long length) throws StorageException {
        checkWritable(Operation.WRITE_ZEROES, offset, length);
        Bounds.check(offset, length, capacity(), Operation.WRITE_ZEROES);
        lock.writeLock().lock();
        try {
            checkOpen();
            beforeFirstWrite();
            zeroOrDiscard(offset, length, false);
            limitDirty();
        } catch (StorageException e) {
            throw e.at(Operation.WRITE_ZEROES, offset, length);
        } finally {
            lock.writeLock().unlock();
        }
    }

    @Override
    public void discard(long offset, long length) throws StorageException {
        checkWritable(Operation.DISCARD, offset, length);
        Bounds.check(offset, length, capacity(), Operation.DISCARD);
        lock.writeLock().lock();
        try {
            checkOpen();
            beforeFirstWrite();
            zeroOrDiscard(offset, length, true);
            limitDirty();
        } catch (StorageException e) {
            throw e.at(Operation.DISCARD, offset, length);
        } finally {
            lock.writeLock().unlock();
        }
    }

    /**
     * Zeroing: whole clusters (or subclusters) get the zero flag where the format has one, or are freed
     * when the image has no backing file (unallocated reads as zeros then); partial ones get zeros
     * written. Discard: whole clusters (or subclusters) are freed, partial ones left alone.
     */
    private void zeroOrDiscard(long offset, long length, boolean discard) throws StorageException {
        long pos = offset;
        long end = offset + length;
        boolean zeroFlag = header.version >= 3;
        boolean backing = header.backingFile != null;
        int unit = allocationUnit();
        while (pos < end) {
            long gc = pos >>> clusterBits;
            int inCluster = (int) (pos & (clusterSize - 1));
            int n = (int) Math.min(end - pos, clusterSize - inCluster);
            // the last cluster of the disk may be cut short by the virtual size
            long clusterEnd = Math.min(capacity(), (gc + 1) << clusterBits);
            boolean whole = inCluster == 0 && pos + n >= clusterEnd;
            if (!extended) {
                if (whole) {
                    zeroOrDiscardCluster(gc, discard, backing, zeroFlag);
                } else if (!discard) {
                    writeZeroData(pos, n);
                }
            } else {
                zeroOrDiscardSubclusters(gc, inCluster, n, discard, backing, unit, clusterEnd - (gc << clusterBits));
            }
            pos += n;
        }
    }

    private void zeroOrDiscardCluster(long gc, boolean discard, boolean backing, boolean zeroFlag)
            throws StorageException {
        long[] table = l2ForRead(gc >>> l2Bits);
        int index = (int) (gc & ((1 << l2Bits) - 1));
        long e = table == null ? 0 : table[index];
        boolean compressed = (e & Qcow2File.COMPRESSED) != 0;
        long host = compressed ? 0 : e & Qcow2File.OFFSET_MASK;
        boolean exclusive = host != 0 && (e & Qcow2File.COPIED) != 0;
        long wanted;
        if (discard || !backing) {
            wanted = 0; // unallocated: zeros without a backing file (discard is only asked where that is right)
        } else if (zeroFlag) {
            wanted = exclusive ? host | Qcow2File.COPIED | Qcow2File.ZERO : Qcow2File.ZERO;
        } else {
            writeZeroData(gc << clusterBits, (int) (Math.min(capacity(), (gc + 1) << clusterBits) - (gc << clusterBits)));
            return;
        }
        if (e == wanted) {
            return;
        }
        long[] t = l2ForWrite(gc >>> l2Bits);
        t[index] = wanted;
        if (compressed || host != 0 && (wanted & Qcow2File.OFFSET_MASK) == 0) {
            releaseData(e);
        }
    }

    private void zeroOrDiscardSubclusters(long gc, int inCluster, int n, boolean discard, boolean backing,
            int unit, long clusterLength) throws StorageException {
        int index = (int) (gc & ((1 << l2Bits) - 1)) * 2;
        int end = inCluster + n;
        int firstWhole = (inCluster + unit - 1) / unit;
        int wholeEnd = end == clusterLength ? 32 : end / unit; // exclusive
        int lastWhole = wholeEnd - 1;
        int headEnd = Math.min(end, firstWhole * unit);
        int tailStart = Math.max(headEnd, Math.min(end, wholeEnd * unit));
        if (!discard) {
            // partial subclusters at the edges get real zeros
            if (inCluster < headEnd) {
                writeZeroData((gc << clusterBits) + inCluster, headEnd - inCluster);
            }
            if (tailStart < end) {
                writeZeroData((gc << clusterBits) + tailStart, end - tailStart);
            }
        }
        if (firstWhole > lastWhole) {
            return;
        }
        // the partial writes above may have replaced the table
        long[] table = l2ForRead(gc >>> l2Bits);
        long e = table == null ? 0 : table[index];
        long bitmap = table == null ? 0 : table[index + 1];
        long mask = (lastWhole == 31 ? 0xffff_ffffL : (1L << (lastWhole + 1)) - 1) & ~((1L << firstWhole) - 1);
        if ((e & Qcow2File.COMPRESSED) != 0) {
            if (mask != 0xffff_ffffL) {
                if (!discard) {
                    for (int sc = firstWhole; sc <= lastWhole; sc++) {
                        writeZeroData((gc << clusterBits) + (long) sc * unit, unit);
                    }
                }
                return;
            }
            long[] t = l2ForWrite(gc >>> l2Bits);
            t[index] = 0;
            t[index + 1] = discard || !backing ? 0 : 0xffff_ffffL << 32;
            releaseData(e);
            return;
        }
        long zeroBits = discard || !backing ? 0 : mask << 32;
        long wanted = (bitmap & ~mask & ~(mask << 32)) | zeroBits;
        long host = e & Qcow2File.OFFSET_MASK;
        boolean shared = host != 0 && (e & Qcow2File.COPIED) == 0;
        if (wanted == bitmap && !shared) {
            return;
        }
        long[] t = l2ForWrite(gc >>> l2Bits);
        long newEntry = e;
        if ((wanted & 0xffff_ffffL) == 0 && host != 0) {
            newEntry = 0; // no subcluster allocated any more: free the host cluster
            releaseData(e);
        } else if (shared) {
            // changing a bitmap shared with a snapshot: the cluster must become ours first
            long target = refcounts().allocate();
            backend.write(target, file.read(host, clusterSize, "guest cluster " + gc));
            newEntry = target | Qcow2File.COPIED;
            releaseData(e);
        }
        t[index] = newEntry;
        t[index + 1] = wanted;
    }

    private void writeZeroData(long pos, int n) throws StorageException {
        ByteBuffer zeros = ByteBuffer.allocate(n);
        long at = pos;
        while (zeros.hasRemaining()) {
            int chunk = (int) Math.min(zeros.remaining(), clusterSize - (at & (clusterSize - 1)));
            int limit = zeros.limit();
            zeros.limit(zeros.position() + chunk);
            writeCluster(at, zeros);
            zeros.limit(limit);
            at += chunk;
        }
    }

    // ---------------------------------------------------------------------------------------------
    // resizing

    /**
     * Grows or shrinks the virtual size. Growing may need a larger L1 table: it is written in new
     * clusters and synced before the header points at it. Shrinking frees every cluster past the new end
     * and zeroes the rest of the last cluster, so that growing again shows zeros there; an image with
     * snapshots does not shrink (they may need the clusters).
     */
    @Override
    public void resize(long newSize) throws StorageException {
        checkWritable(Operation.RESIZE, newSize, 0);
        if (newSize < 0 || newSize % sectorSize != 0) {
            throw new StorageException(Kind.INVALID_CONFIG, "a size of " + newSize + " bytes is not a whole number of "
                    + sectorSize + "-byte sectors").withOperation(Operation.RESIZE);
        }
        long l1Needed = header.l1EntriesFor(newSize);
        if (l1Needed * 8 > Qcow2Header.MAX_L1_BYTES) {
            throw new StorageException(Kind.INVALID_CONFIG, newSize + " bytes need an L1 table larger than QEMU's "
                    + "32 MiB with " + clusterSize + "-byte clusters").withOperation(Operation.RESIZE);
        }
        lock.writeLock().lock();
        try {
            checkOpen();
            beforeFirstWrite();
            long oldSize = size;
            if (newSize < oldSize) {
                if (header.nbSnapshots > 0) {
                    throw new StorageException(Kind.UNSUPPORTED_FEATURE, "the image has " + header.nbSnapshots
                            + " internal snapshots; it can grow but not shrink");
                }
                long cut = Math.min(oldSize, (newSize + clusterSize - 1) & -(long) clusterSize);
                if (cut > newSize) {
                    writeZeroData(newSize, (int) (cut - newSize));
                }
                if (oldSize > cut) {
                    zeroOrDiscard(cut, oldSize - cut, true);
                }
            }
            writeMetadata();
            Refcounts rc = refcounts();
            if (l1Needed > l1.length) {
                int clusters = (int) ((l1Needed * 8 + clusterSize - 1) / clusterSize);
                int entries = clusters * (clusterSize / 8);
                long[] grown = java.util.Arrays.copyOf(l1, entries);
                long offset = rc.allocateRun(clusters);
                backend.write(offset, Qcow2File.encodeEntries(grown, 0, entries));
                rc.write(false);
                backend.flush();
                if (header.l1Size > 0) {
                    rc.releaseRange(header.l1TableOffset, (long) header.l1Size * 8);
                }
                header.l1TableOffset = offset;
                header.l1Size = entries;
                l1 = grown;
            }
            header.size = newSize;
            file.writeHeader();
            backend.flush();
            size = newSize;
            if (rc.hasReleases()) {
                compressedCursor = -1;
                rc.applyReleases();
                rc.write(false);
                backend.flush();
            }
        } catch (StorageException e) {
            throw e.withOperation(Operation.RESIZE).withLocation(backend.location());
        } finally {
            lock.writeLock().unlock();
        }
    }

    // ---------------------------------------------------------------------------------------------
    // snapshots

    @Override
    public List<SnapshotInfo> snapshots() throws StorageException {
        lock.readLock().lock();
        try {
            checkOpen();
            List<SnapshotInfo> list = new ArrayList<>();
            for (Qcow2Snapshots.Snapshot s : Qcow2Snapshots.read(file).snapshots()) {
                list.add(new SnapshotInfo(s.id(), s.name(), s.diskSize(), s.vmStateSize(), s.date(), s.vmClockNanos()));
            }
            return list;
        } finally {
            lock.readLock().unlock();
        }
    }

    /**
     * Makes a snapshot the current state: its L1 table is copied into new clusters, the snapshot's tree
     * gains a reference (synced before the header points at the copy), and the old tree's references
     * are released once the header has moved. Bit 63 is clear in the new L1 table: every L2 table in it
     * is shared with the snapshot, so the first write to one copies it.
     */
    @Override
    public void revert(String key) throws StorageException {
        checkWritable(Operation.WRITE, 0, 0);
        lock.writeLock().lock();
        try {
            checkOpen();
            Qcow2Snapshots.Snapshot s = Qcow2Snapshots.find(Qcow2Snapshots.read(file).snapshots(), key);
            if (s.diskSize() % sectorSize != 0 || s.diskSize() < 0) {
                throw new StorageException(Kind.CORRUPT_IMAGE, "snapshot " + s.id() + " has a virtual size of "
                        + s.diskSize() + " bytes");
            }
            beforeFirstWrite();
            writeMetadata();
            Refcounts rc = refcounts();
            long[] snapL1 = readL1(s.l1Offset(), s.l1Size(), "the L1 table of snapshot " + s.id());
            int entries = (int) Math.max(snapL1.length, header.l1EntriesFor(s.diskSize()));
            long[] newL1 = java.util.Arrays.copyOf(snapL1, entries);
            for (int i = 0; i < snapL1.length; i++) {
                long off = snapL1[i] & Qcow2File.OFFSET_MASK;
                newL1[i] = off;
                if (off != 0) {
                    forEachReference(off, i, rc::increment);
                }
            }
            long l1Offset = 0;
            if (entries > 0) {
                int clusters = (int) (((long) entries * 8 + clusterSize - 1) / clusterSize);
                l1Offset = rc.allocateRun(clusters);
                ByteBuffer table = ByteBuffer.allocate(clusters * clusterSize);
                table.put(Qcow2File.encodeEntries(newL1, 0, entries));
                backend.write(l1Offset, table.clear());
            }
            rc.write(false);
            backend.flush();
            // the current tree loses its reference once the header no longer points at it
            for (int i = 0; i < l1.length; i++) {
                long off = l1[i] & Qcow2File.OFFSET_MASK;
                if (off != 0) {
                    forEachReference(off, i, c -> rc.release(c << clusterBits));
                }
            }
            if (header.l1Size > 0) {
                rc.releaseRange(header.l1TableOffset, (long) header.l1Size * 8);
            }
            header.l1TableOffset = l1Offset;
            header.l1Size = entries;
            header.size = s.diskSize();
            file.writeHeader();
            backend.flush();
            l1 = newL1;
            size = s.diskSize();
            l2Clean.invalidateAll();
            lastCompressed = null;
            compressedCursor = -1;
            rc.applyReleases();
            if (rc.write(false)) {
                backend.flush();
            }
        } catch (StorageException e) {
            throw e.withOperation(Operation.WRITE).withLocation(backend.location());
        } finally {
            lock.writeLock().unlock();
        }
    }

    private interface ClusterAction {
        void apply(long cluster) throws StorageException;
    }

    /** Calls {@code action} for the L2 table at {@code l2Offset} and every host cluster its entries use. */
    private void forEachReference(long l2Offset, int l1Index, ClusterAction action) throws StorageException {
        if ((l2Offset & (clusterSize - 1)) != 0) {
            throw new StorageException(Kind.CORRUPT_IMAGE, "L1 entry " + l1Index + " points to " + l2Offset
                    + ", which is not a cluster boundary");
        }
        long[] t = Qcow2File.readEntries(file.read(l2Offset, clusterSize, "the L2 table of L1 entry " + l1Index),
                clusterSize / 8);
        action.apply(l2Offset >>> clusterBits);
        for (int k = 0; k < t.length; k += stride) {
            long e = t[k];
            if ((e & Qcow2File.COMPRESSED) != 0) {
                long[] range = compressedRange(e);
                for (long c = range[0] >>> clusterBits; c <= (range[0] + range[1] - 1) >>> clusterBits; c++) {
                    action.apply(c);
                }
            } else if ((e & Qcow2File.OFFSET_MASK) != 0) {
                action.apply((e & Qcow2File.OFFSET_MASK) >>> clusterBits);
            }
        }
    }

    // ---------------------------------------------------------------------------------------------
    // flush and close

    @Override
    public void flush() throws StorageException {
        if (readOnly) {
            return;
        }
        lock.writeLock().lock();
        try {
            checkOpen();
            writeMetadata();
        } catch (StorageException e) {
            throw e.withOperation(Operation.FLUSH);
        } finally {
            lock.writeLock().unlock();
        }
    }

    /** The flush ordering described in the class comment. */
    private void writeMetadata() throws StorageException {
        boolean tables = !l2Dirty.isEmpty() || l1DirtyTo >= 0 || headerDirty;
        if (refcounts == null || !tables && !refcounts.dirty() && !refcounts.hasReleases()) {
            backend.flush();
            return;
        }
        refcounts.write(false);
        backend.flush();
        if (!l2Dirty.isEmpty()) {
            for (Map.Entry<Long, long[]> entry : l2Dirty.entrySet()) {
                backend.write(entry.getKey(), Qcow2File.encodeEntries(entry.getValue(), 0, entry.getValue().length));
            }
            if (l1DirtyTo >= 0) {
                backend.flush();
            }
            for (Map.Entry<Long, long[]> entry : l2Dirty.entrySet()) {
                l2Clean.put(entry.getKey(), entry.getValue());
            }
            l2Dirty.clear();
        }
        if (l1DirtyTo >= 0) {
            backend.write(header.l1TableOffset + l1DirtyFrom * 8L, Qcow2File.encodeEntries(l1, l1DirtyFrom, l1DirtyTo + 1));
            l1DirtyFrom = Integer.MAX_VALUE;
            l1DirtyTo = -1;
        }
        if (headerDirty) {
            file.writeHeader();
            headerDirty = false;
        }
        backend.flush();
        if (refcounts.hasReleases()) {
            // a host cluster holding compressed data may become free: stop packing into it
            compressedCursor = -1;
            refcounts.applyReleases();
            if (refcounts.write(false)) {
                backend.flush();
            }
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
            if (!readOnly && firstWriteDone) {
                writeMetadata();
                if (header.dirty() && header.lazyRefcounts()) {
                    refcounts.write(true);
                    backend.flush();
                    header.incompatible &= ~Qcow2Header.INCOMPAT_DIRTY;
                    file.writeHeader();
                    backend.flush();
                }
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
            throw new StorageException(Kind.NO_MEDIUM, "the qcow2 image is closed");
        }
    }

    private void checkWritable(Operation op, long offset, long length) throws StorageException {
        if (readOnly) {
            throw new StorageException(Kind.READ_ONLY, "the qcow2 image is open read-only").at(op, offset, length);
        }
    }

    @Override
    public String toString() {
        return "Qcow2Disk[" + backend.location() + ", v" + header.version + ", " + clusterSize + "-byte clusters]";
    }

}
