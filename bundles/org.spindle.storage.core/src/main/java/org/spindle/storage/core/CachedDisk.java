package org.spindle.storage.core;

import java.lang.System.Logger;
import java.lang.System.Logger.Level;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import java.util.concurrent.locks.ReentrantLock;

import com.github.benmanes.caffeine.cache.Cache;
import com.github.benmanes.caffeine.cache.Caffeine;
import com.github.benmanes.caffeine.cache.RemovalCause;

import org.spindle.storage.api.Bounds;
import org.spindle.storage.api.CacheMode;
import org.spindle.storage.api.CacheStatsDTO;
import org.spindle.storage.api.Discardable;
import org.spindle.storage.api.MediaType;
import org.spindle.storage.api.Resizable;
import org.spindle.storage.api.StorageException;
import org.spindle.storage.api.StorageException.Kind;
import org.spindle.storage.api.StorageException.Operation;
import org.spindle.storage.api.VirtualDisk;
import org.spindle.storage.api.WriteZeroes;

/**
 * A bounded block cache in front of a disk. Blocks are held by a Caffeine cache bounded by count
 * (its Window TinyLFU policy: recency like LRU, but a one-off scan does not flush the hot blocks).
 *
 * <p>In write-back mode, writes change the cached block and mark it dirty; a dirty block is written
 * to the disk below when it is evicted or at {@link #flush()}. If that write fails the block is not
 * lost: it moves to a side table, stays dirty and readable, and is tried again at the next flush,
 * which fails (naming the error) while it cannot be written. Until then new writes bypass the cache,
 * so that failures reach the guest at once and the side table cannot grow. In write-through mode a
 * write goes to the disk below first and the cached copy is then updated; nothing is ever dirty.
 *
 * <p>Threading: one lock serialises all operations; a hit costs a lookup and a copy.
 *
 * <p>Drives get one from their configuration ({@code cacheSize}); tools outside OSGi may wrap any disk.
 */
public final class CachedDisk implements VirtualDisk {
    private static final Logger LOG = System.getLogger(CachedDisk.class.getName());

    private final VirtualDisk inner;
    private final CacheMode mode;
    private final int blockSize;
    private final int blockShift;
    private final long maxBlocks;
    private final Cache<Long, Block> cache;
    /** Dirty blocks whose write-back failed, by index: kept until written. */
    private final TreeMap<Long, Block> failed = new TreeMap<>();
    private final ReentrantLock lock = new ReentrantLock();
    private StorageException pendingFailure;
    private long hits;
    private long misses;
    private long evictions;
    private long writeBacks;
    private long failedWriteBacks;
    private long dirtyBytes;

    /** One cached block: its bytes (shorter at the end of the disk) and whether the disk below lacks them. */
    private static final class Block {
        final long index;
        final byte[] data;
        boolean dirty;
        /** Whether it went into the cache (it may have left again by eviction). */
        boolean inserted;

        Block(long index, byte[] data) {
            this.index = index;
            this.data = data;
        }
    }

    /**
     * @param capacityBytes the most bytes of blocks to hold (rounded down to whole blocks, at least one)
     * @param blockSize a power of two from 512 bytes to 16 MiB
     */
    public CachedDisk(VirtualDisk inner, CacheMode mode, long capacityBytes, int blockSize) {
        if (blockSize < 512 || blockSize > (16 << 20) || Integer.bitCount(blockSize) != 1) {
            throw new IllegalArgumentException("cache block size must be a power of two from 512 to 16M: " + blockSize);
        }
        this.inner = inner;
        this.mode = mode == CacheMode.WRITETHROUGH ? CacheMode.WRITETHROUGH : CacheMode.WRITEBACK;
        this.blockSize = blockSize;
        this.blockShift = Integer.numberOfTrailingZeros(blockSize);
        this.maxBlocks = Math.max(1, capacityBytes / blockSize);
        this.cache = Caffeine.newBuilder()
                .maximumSize(maxBlocks)
                .executor(Runnable::run)
                .evictionListener((Long index, Block block, RemovalCause cause) -> evicted(block, cause))
                .build();
    }

    // ---- the disk

    @Override
    public int logicalSectorSize() {
        return inner.logicalSectorSize();
    }

    @Override
    public long capacity() {
        return inner.capacity();
    }

    @Override
    public boolean isReadOnly() {
        return inner.isReadOnly();
    }

    @Override
    public String formatName() {
        return inner.formatName();
    }

    @Override
    public MediaType mediaType() {
        return inner.mediaType();
    }

    @Override
    public Map<String, Object> details() {
        return inner.details();
    }

    @Override
    public void read(long offset, ByteBuffer dst) throws StorageException {
        int length = dst.remaining();
        Bounds.check(offset, length, capacity(), Operation.READ);
        lock.lock();
        try {
            long pos = offset;
            long end = offset + length;
            while (pos < end) {
                long index = pos >>> blockShift;
                int within = (int) (pos & (blockSize - 1));
                Block block = present(index);
                if (block != null) {
                    hits++;
                } else {
                    block = load(index, false);
                }
                int n = (int) Math.min(end - pos, block.data.length - within);
                dst.put(block.data, within, n);
                if (!block.inserted) {
                    insert(block);
                }
                pos += n;
            }
        } finally {
            lock.unlock();
        }
    }

    @Override
    public void write(long offset, ByteBuffer src) throws StorageException {
        int length = src.remaining();
        if (inner.isReadOnly()) {
            throw new StorageException(Kind.READ_ONLY, "the disk is read-only").at(Operation.WRITE, offset, length);
        }
        Bounds.check(offset, length, capacity(), Operation.WRITE);
        lock.lock();
        try {
            if (mode == CacheMode.WRITETHROUGH || pendingFailure != null) {
                writeThrough(offset, src);
                return;
            }
            long pos = offset;
            long end = offset + length;
            while (pos < end) {
                long index = pos >>> blockShift;
                int within = (int) (pos & (blockSize - 1));
                int n = (int) Math.min(end - pos, blockLength(index) - within);
                Block block = present(index);
                if (block != null) {
                    hits++;
                } else {
                    block = load(index, within == 0 && n == blockLength(index));
                }
                src.get(block.data, within, n);
                if (!block.dirty) {
                    block.dirty = true;
                    dirtyBytes += block.data.length;
                }
                if (!block.inserted) {
                    // inserted only once complete: if the cache evicts it at once, it is written back
                    insert(block);
                }
                pos += n;
            }
        } finally {
            lock.unlock();
        }
    }

    /** Writes to the disk below, then refreshes the cached copies (and dirty ones stay dirty). */
    private void writeThrough(long offset, ByteBuffer src) throws StorageException {
        ByteBuffer data = src.duplicate();
        inner.write(offset, src);
        long end = offset + data.remaining();
        for (long index = offset >>> blockShift; (index << blockShift) < end; index++) {
            Block block = present(index);
            if (block != null) {
                long start = Math.max(offset, index << blockShift);
                long stop = Math.min(end, (index << blockShift) + block.data.length);
                data.get((int) (start - offset), block.data, (int) (start - (index << blockShift)), (int) (stop - start));
            }
        }
    }

    @Override
    public void flush() throws StorageException {
        lock.lock();
        try {
            writeBackAll();
            if (!inner.isReadOnly()) {
                inner.flush();
            }
        } finally {
            lock.unlock();
        }
    }

    /**
     * Writes every dirty block back, in disk order, trying all even after a failure; fails with the
     * first error if any block could not be written (those stay dirty).
     */
    private void writeBackAll() throws StorageException {
        TreeMap<Long, Block> dirty = new TreeMap<>(failed);
        for (Block block : cache.asMap().values()) {
            if (block.dirty) {
                dirty.put(block.index, block);
            }
        }
        StorageException first = null;
        for (Block block : dirty.values()) {
            try {
                writeBack(block);
                failed.remove(block.index);
            } catch (StorageException e) {
                failedWriteBacks++;
                if (first == null) {
                    first = e;
                } else {
                    first.addSuppressed(e);
                }
            }
        }
        if (first != null) {
            // as after a failed eviction: bypass the cache until a flush gets everything written
            if (pendingFailure == null) {
                pendingFailure = first;
            }
            throw first;
        }
        if (pendingFailure != null) {
            LOG.log(Level.INFO, "cached blocks whose write-back failed earlier are written now: {0}",
                    pendingFailure.getMessage());
            pendingFailure = null;
        }
    }

    private void writeBack(Block block) throws StorageException {
        inner.write(block.index << blockShift, ByteBuffer.wrap(block.data));
        block.dirty = false;
        dirtyBytes -= block.data.length;
        writeBacks++;
    }

    /** Called by the cache, under our lock, when it drops a block to make room. */
    private void evicted(Block block, RemovalCause cause) {
        if (!cause.wasEvicted()) {
            return;
        }
        evictions++;
        if (!block.dirty) {
            return;
        }
        try {
            writeBack(block);
        } catch (StorageException | RuntimeException e) {
            // never lose the data: keep it (dirty, readable) and report at the next flush
            failedWriteBacks++;
            failed.put(block.index, block);
            StorageException se = e instanceof StorageException s ? s
                    : new StorageException(Kind.IO, "write-back failed: " + e, e);
            if (pendingFailure == null) {
                pendingFailure = se;
            }
            LOG.log(Level.WARNING, "write-back of cached block " + block.index + " failed; it stays dirty: "
                    + se.getMessage());
        }
    }

    // ---- blocks

    private int blockLength(long index) {
        return (int) Math.min(blockSize, capacity() - (index << blockShift));
    }

    /** The cached block, from the side table of failed write-backs or the cache, or null. */
    private Block present(long index) {
        Block block = failed.get(index);
        return block != null ? block : cache.getIfPresent(index);
    }

    /** A block not in the cache yet: read from the disk below, or empty when it will be overwritten whole. */
    private Block load(long index, boolean whole) throws StorageException {
        misses++;
        byte[] data = new byte[blockLength(index)];
        if (!whole) {
            inner.read(index << blockShift, ByteBuffer.wrap(data));
        }
        return new Block(index, data);
    }

    private void insert(Block block) {
        block.inserted = true;
        cache.put(block.index, block);
    }

    /** Writes back and forgets every cached block that overlaps the range (all, if length < 0). */
    private void drop(long offset, long length) throws StorageException {
        List<Block> overlapping = new ArrayList<>();
        for (Block block : failed.values()) {
            if (overlaps(block, offset, length)) {
                overlapping.add(block);
            }
        }
        for (Block block : cache.asMap().values()) {
            if (overlaps(block, offset, length)) {
                overlapping.add(block);
            }
        }
        for (Block block : overlapping) {
            if (block.dirty) {
                writeBack(block);
            }
            failed.remove(block.index);
            cache.invalidate(block.index);
        }
    }

    private boolean overlaps(Block block, long offset, long length) {
        long start = block.index << blockShift;
        return length < 0 || (start < offset + length && offset < start + block.data.length);
    }

    // ---- capabilities

    @Override
    public <T> Optional<T> capability(Class<T> type) {
        if (type == Discardable.class) {
            return inner.capability(Discardable.class).map(d -> type.cast((Discardable) (offset, length) -> {
                Bounds.check(offset, length, capacity(), Operation.DISCARD);
                lock.lock();
                try {
                    drop(offset, length);
                    d.discard(offset, length);
                } finally {
                    lock.unlock();
                }
            }));
        }
        if (type == WriteZeroes.class) {
            return inner.capability(WriteZeroes.class).map(w -> type.cast((WriteZeroes) (offset, length) -> {
                Bounds.check(offset, length, capacity(), Operation.WRITE_ZEROES);
                lock.lock();
                try {
                    drop(offset, length);
                    w.writeZeroes(offset, length);
                } finally {
                    lock.unlock();
                }
            }));
        }
        if (type == Resizable.class) {
            return inner.capability(Resizable.class).map(r -> type.cast((Resizable) size -> {
                lock.lock();
                try {
                    // block lengths depend on the capacity: start afresh
                    drop(0, -1);
                    r.resize(size);
                } finally {
                    lock.unlock();
                }
            }));
        }
        return Optional.empty();
    }

    /** The counters since this cache was made. */
    public CacheStatsDTO stats() {
        lock.lock();
        try {
            CacheStatsDTO dto = new CacheStatsDTO();
            dto.mode = mode.configName();
            dto.capacityBytes = maxBlocks * blockSize;
            dto.blockSize = blockSize;
            dto.usedBytes = (cache.estimatedSize() + failed.size()) * blockSize;
            dto.hits = hits;
            dto.misses = misses;
            dto.evictions = evictions;
            dto.writeBacks = writeBacks;
            dto.failedWriteBacks = failedWriteBacks;
            dto.dirtyBytes = dirtyBytes;
            return dto;
        } finally {
            lock.unlock();
        }
    }

    /** Writes back what is dirty, then closes the disk below; a guest that never flushed loses nothing. */
    @Override
    public void close() throws StorageException {
        lock.lock();
        try {
            StorageException failure = null;
            if (!inner.isReadOnly()) {
                try {
                    writeBackAll();
                } catch (StorageException e) {
                    failure = e;
                }
            }
            try {
                inner.close();
            } catch (StorageException e) {
                if (failure == null) {
                    failure = e;
                } else {
                    failure.addSuppressed(e);
                }
            }
            cache.invalidateAll();
            failed.clear();
            if (failure != null) {
                throw failure;
            }
        } finally {
            lock.unlock();
        }
    }

    @Override
    public String toString() {
        return "CachedDisk[" + mode.configName() + ", " + maxBlocks + " x " + blockSize + " bytes over " + inner + "]";
    }
}
