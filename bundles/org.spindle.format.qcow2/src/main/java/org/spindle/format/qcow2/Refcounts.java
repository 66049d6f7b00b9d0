package org.spindle.format.qcow2;

import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

import org.spindle.storage.api.StorageException;
import org.spindle.storage.api.StorageException.Kind;

/**
 * The refcount structure: the refcount table, its blocks (loaded on demand, kept while dirty, at most
 * {@link #CLEAN_BLOCKS} clean ones cached), cluster allocation and the growth of the table.
 *
 * <p>Entries are {@code 1 << refcount_order} bits wide (orders 0 to 6): below a byte, bit 0 is the least
 * significant bit of the byte; from a byte up, big-endian.
 *
 * <p>Ordering, which is what keeps a crash from corrupting the image: an increment may reach the file
 * at any time before the metadata that uses the cluster (at worst a cluster leaks). A decrement may
 * reach it only after no metadata on disk refers to the cluster any more, so {@link #release} only queues
 * it; {@link #applyReleases} runs after the tables that dropped the references are written and synced.
 * A cluster whose release is queued keeps its count, so it is not reused before then.
 *
 * <p>Not thread-safe: the disk calls it under its write lock.
 */
final class Refcounts {
    private static final int CLEAN_BLOCKS = 256;

    private final Qcow2File file;
    private final Qcow2Header header;
    private final int clusterBits;
    private final int clusterSize;
    private final int order;
    private final long maxRefcount;
    /** Refcount entries per block. */
    private final long perBlock;
    private long[] table;
    private int tableDirtyFrom = Integer.MAX_VALUE;
    private int tableDirtyTo = -1;
    private final LinkedHashMap<Long, Block> blocks = new LinkedHashMap<>(64, 0.75f, true);
    private final Set<Long> reserved = new HashSet<>();
    private final List<Long> releases = new ArrayList<>();
    private long freeCursor;
    /** Whether increments and decrements stay in memory until {@link #writeAll} (lazy refcounts). */
    private boolean deferWrites;

    private static final class Block {
        final long offset;
        final byte[] data;
        boolean dirty;

        Block(long offset, byte[] data, boolean dirty) {
            this.offset = offset;
            this.data = data;
            this.dirty = dirty;
        }
    }

    Refcounts(Qcow2File file) throws StorageException {
        this.file = file;
        this.header = file.header;
        this.clusterBits = file.clusterBits;
        this.clusterSize = file.clusterSize;
        this.order = header.refcountOrder;
        this.maxRefcount = order == 6 ? Long.MAX_VALUE : (1L << (1 << order)) - 1;
        this.perBlock = ((long) clusterSize * 8) >> order;
        int entries = (int) ((long) header.refcountTableClusters * clusterSize / 8);
        ByteBuffer b = file.read(header.refcountTableOffset, entries * 8, "the refcount table");
        this.table = Qcow2File.readEntries(b, entries);
        for (int i = 0; i < entries; i++) {
            long e = table[i];
            if ((e & ~Qcow2File.OFFSET_MASK) != 0 || (e & (clusterSize - 1)) != 0) {
                throw new StorageException(Kind.CORRUPT_IMAGE, "refcount table entry " + i + " (0x"
                        + Long.toHexString(e) + ") is not a cluster-aligned offset");
            }
        }
    }

    void deferWrites(boolean value) {
        deferWrites = value;
    }

    long maxRefcount() {
        return maxRefcount;
    }

    /** How many clusters the table can describe with the blocks it could hold. */
    long coveredClusters() {
        return table.length * perBlock;
    }

    long perBlock() {
        return perBlock;
    }

    long tableEntry(int index) {
        return index < table.length ? table[index] : 0;
    }

    int tableLength() {
        return table.length;
    }

    long get(long cluster) throws StorageException {
        long bi = cluster / perBlock;
        if (bi >= table.length || table[(int) bi] == 0) {
            return 0;
        }
        return entry(load((int) bi), cluster % perBlock);
    }

    /** Refcount of the cluster holding {@code hostOffset}. */
    long getAt(long hostOffset) throws StorageException {
        return get(hostOffset >>> clusterBits);
    }

    void increment(long cluster) throws StorageException {
        long v = get(cluster);
        if (v >= maxRefcount) {
            throw new StorageException(Kind.UNSUPPORTED_FEATURE, "cluster " + cluster + " would need a refcount of "
                    + (v + 1) + ", more than " + (1 << order) + "-bit refcounts hold");
        }
        set(cluster, v + 1);
    }

    /** Queues a decrement of the cluster holding {@code hostOffset}: see the class comment. */
    void release(long hostOffset) {
        releases.add(hostOffset >>> clusterBits);
    }

    /** Queues a decrement of every cluster the byte range touches. */
    void releaseRange(long hostOffset, long length) {
        for (long c = hostOffset >>> clusterBits; c <= (hostOffset + length - 1) >>> clusterBits; c++) {
            releases.add(c);
        }
    }

    boolean hasReleases() {
        return !releases.isEmpty();
    }

    /** Applies the queued decrements (the caller has synced the tables that dropped the references). */
    void applyReleases() throws StorageException {
        List<Long> pending = new ArrayList<>(releases);
        releases.clear();
        for (long c : pending) {
            long v = get(c);
            if (v == 0) {
                throw new StorageException(Kind.CORRUPT_IMAGE, "cluster " + c + " (host offset "
                        + (c << clusterBits) + ") was freed while its refcount was already 0");
            }
            set(c, v - 1);
            if (v == 1) {
                freeCursor = Math.min(freeCursor, c);
            }
        }
    }

    /** Allocates one cluster (refcount 1) and returns its host offset. */
    long allocate() throws StorageException {
        long c = findFree(1);
        reserved.add(c);
        try {
            increment(c);
        } finally {
            reserved.remove(c);
        }
        return c << clusterBits;
    }

    /** Allocates {@code count} contiguous clusters (refcount 1 each) and returns the first host offset. */
    long allocateRun(int count) throws StorageException {
        long start = findFree(count);
        for (long c = start; c < start + count; c++) {
            reserved.add(c);
        }
        try {
            for (long c = start; c < start + count; c++) {
                increment(c);
            }
        } finally {
            for (long c = start; c < start + count; c++) {
                reserved.remove(c);
            }
        }
        return start << clusterBits;
    }

    private boolean isFree(long c) throws StorageException {
        return !reserved.contains(c) && get(c) == 0;
    }

    /** The first cluster of the lowest run of {@code count} free clusters at or after the cursor. */
    private long findFree(int count) throws StorageException {
        long c = Math.max(freeCursor, 1);
        // in a sound image only leaked clusters can be counted past the end of the file
        long limit = (file.size() >>> clusterBits) + 2 * perBlock + 65536 + count;
        while (true) {
            if (c > limit) {
                throw new StorageException(Kind.CORRUPT_IMAGE, "the refcounts claim clusters far beyond the end of the"
                        + " file; repair the image with 'img check --repair'");
            }
            if (c >= (1L << (56 - clusterBits))) {
                throw new StorageException(Kind.IO, "the image has no free cluster below the 64 PiB qcow2 limit");
            }
            long bi = c / perBlock;
            if (bi >= table.length || table[(int) bi] == 0) {
                // a whole range without a block: all free (skip reserved ones)
                long run = 0;
                long start = c;
                while (run < count && isFree(start + run)) {
                    run++;
                }
                if (run == count) {
                    if (count == 1) {
                        freeCursor = start;
                    }
                    return start;
                }
                c = start + run + 1;
                continue;
            }
            if (isFree(c)) {
                long run = 1;
                while (run < count && isFree(c + run)) {
                    run++;
                }
                if (run == count) {
                    if (count == 1) {
                        freeCursor = c;
                    }
                    return c;
                }
                c += run + 1;
            } else {
                if (c == freeCursor) {
                    freeCursor++;
                }
                c++;
            }
        }
    }

    void set(long cluster, long value) throws StorageException {
        long bi = cluster / perBlock;
        Block block = ensureBlock(bi);
        putEntry(block, cluster % perBlock, value);
        block.dirty = true;
    }

    private Block ensureBlock(long bi) throws StorageException {
        if (bi >= table.length) {
            growTable(bi);
        }
        if (table[(int) bi] != 0) {
            return load((int) bi);
        }
        long c = findFree(1);
        reserved.add(c);
        try {
            Block block = new Block(c << clusterBits, new byte[clusterSize], true);
            if (c / perBlock == bi) {
                putEntry(block, c % perBlock, 1); // the block counts itself
            } else {
                increment(c);
                if (bi < table.length && table[(int) bi] != 0) {
                    // the increment above made this very block (it covers c as well)
                    return load((int) bi);
                }
            }
            blocks.put(bi, block);
            setTableEntry((int) bi, block.offset);
            return block;
        } finally {
            reserved.remove(c);
        }
    }

    private void setTableEntry(int index, long value) {
        table[index] = value;
        tableDirtyFrom = Math.min(tableDirtyFrom, index);
        tableDirtyTo = Math.max(tableDirtyTo, index);
    }

    private Block load(int bi) throws StorageException {
        Block block = blocks.get((long) bi);
        if (block != null) {
            return block;
        }
        long offset = table[bi];
        ByteBuffer b = file.read(offset, clusterSize, "refcount block " + bi);
        block = new Block(offset, b.array(), false);
        blocks.put((long) bi, block);
        evictClean();
        return block;
    }

    private void evictClean() {
        if (blocks.size() <= CLEAN_BLOCKS) {
            return;
        }
        Iterator<Map.Entry<Long, Block>> it = blocks.entrySet().iterator();
        while (blocks.size() > CLEAN_BLOCKS && it.hasNext()) {
            if (!it.next().getValue().dirty) {
                it.remove();
            }
        }
    }

    private long entry(Block block, long index) {
        return entry(block.data, order, index);
    }

    private void putEntry(Block block, long index, long value) {
        putEntry(block.data, order, index, value);
    }

    /**
     * Entry {@code index} of a refcount block of {@code 1 << order}-bit entries: below a byte, bit 0
     * is the least significant bit; from a byte up, big-endian. A 64-bit count above
     * {@code Long.MAX_VALUE} reads as that (beyond any count Spindle can use).
     */
    static long entry(byte[] d, int order, long index) {
        if (order < 3) {
            int bits = 1 << order;
            long bit = index * bits;
            int v = d[(int) (bit >>> 3)] & 0xff;
            return (v >>> (bit & 7)) & ((1 << bits) - 1);
        }
        int bytes = 1 << (order - 3);
        int i = (int) index * bytes;
        long v = 0;
        for (int k = 0; k < bytes; k++) {
            v = (v << 8) | (d[i + k] & 0xffL);
        }
        return v < 0 ? Long.MAX_VALUE : v;
    }

    static void putEntry(byte[] d, int order, long index, long value) {
        if (order < 3) {
            int bits = 1 << order;
            long bit = index * bits;
            int mask = ((1 << bits) - 1) << (bit & 7);
            int i = (int) (bit >>> 3);
            d[i] = (byte) ((d[i] & ~mask) | ((int) (value << (bit & 7)) & mask));
            return;
        }
        int bytes = 1 << (order - 3);
        int i = (int) index * bytes;
        for (int k = 0; k < bytes; k++) {
            d[i + k] = (byte) (value >>> (8 * (bytes - 1 - k)));
        }
    }

    /**
     * Makes the table reach block {@code neededIndex}: a new, larger table in free clusters, with new
     * blocks for whatever part of the table's own clusters no block covered yet. It is written and synced
     * before the header points at it; then the old table's clusters are released.
     */
    private void growTable(long neededIndex) throws StorageException {
        int perCluster = clusterSize / 8;
        long entries = Math.max(neededIndex + 1, (long) table.length * 2);
        while (true) {
            long tableClusters = (entries + perCluster - 1) / perCluster;
            long tableBytes = tableClusters * clusterSize;
            if (tableBytes > Qcow2Header.MAX_REFCOUNT_TABLE_BYTES) {
                throw new StorageException(Kind.IO, "the refcount table would grow beyond "
                        + Qcow2Header.MAX_REFCOUNT_TABLE_BYTES + " bytes, the most QEMU opens");
            }
            entries = tableClusters * perCluster;
            // place the table and the new blocks it needs in one free run: fixed point on the block count
            long newBlocks = 0;
            long start;
            while (true) {
                start = findFree((int) (tableClusters + newBlocks));
                long count = 0;
                long last = start + tableClusters + newBlocks;
                long maxIndex = -1;
                for (long bi = start / perBlock; bi <= (last - 1) / perBlock; bi++) {
                    if (bi >= table.length || table[(int) bi] == 0) {
                        count++;
                    }
                    maxIndex = bi;
                }
                if (maxIndex >= entries) {
                    break; // the table must be larger still
                }
                if (count <= newBlocks) {
                    long[] grown = java.util.Arrays.copyOf(table, (int) entries);
                    long[] old = table;
                    long oldOffset = header.refcountTableOffset;
                    int oldClusters = header.refcountTableClusters;
                    // new blocks take the clusters after the table, in index order
                    long next = start + tableClusters;
                    table = grown;
                    for (long bi = start / perBlock; bi <= (last - 1) / perBlock; bi++) {
                        if (bi >= old.length || old[(int) bi] == 0) {
                            Block block = new Block(next << clusterBits, new byte[clusterSize], true);
                            blocks.put(bi, block);
                            table[(int) bi] = block.offset;
                            next++;
                        }
                    }
                    for (long c = start; c < next; c++) {
                        Block block = load((int) (c / perBlock));
                        putEntry(block, c % perBlock, 1);
                        block.dirty = true;
                    }
                    // persist: blocks, table, sync, header, sync; then the old table can go
                    writeBlocks();
                    file.write(start << clusterBits, Qcow2File.encodeEntries(table, 0, table.length));
                    file.sync();
                    header.refcountTableOffset = start << clusterBits;
                    header.refcountTableClusters = (int) tableClusters;
                    file.writeHeader();
                    file.sync();
                    tableDirtyFrom = Integer.MAX_VALUE;
                    tableDirtyTo = -1;
                    releaseRange(oldOffset, (long) oldClusters * clusterSize);
                    return;
                }
                newBlocks = count;
            }
            entries = entries * 2;
        }
    }

    private void writeBlocks() throws StorageException {
        for (Block block : blocks.values()) {
            if (block.dirty) {
                file.write(block.offset, ByteBuffer.wrap(block.data));
                block.dirty = false;
            }
        }
    }

    /** Whether anything is waiting to be written. */
    boolean dirty() {
        if (tableDirtyTo >= 0) {
            return true;
        }
        for (Block block : blocks.values()) {
            if (block.dirty) {
                return true;
            }
        }
        return false;
    }

    /**
     * Writes dirty blocks and table entries (not synced). With deferred writes (lazy refcounts) nothing is
     * written unless {@code force}.
     */
    boolean write(boolean force) throws StorageException {
        if (deferWrites && !force) {
            return false;
        }
        boolean wrote = dirty();
        writeBlocks();
        if (tableDirtyTo >= 0) {
            file.write(header.refcountTableOffset + tableDirtyFrom * 8L,
                    Qcow2File.encodeEntries(table, tableDirtyFrom, tableDirtyTo + 1));
            tableDirtyFrom = Integer.MAX_VALUE;
            tableDirtyTo = -1;
        }
        evictClean();
        return wrote;
    }
}
