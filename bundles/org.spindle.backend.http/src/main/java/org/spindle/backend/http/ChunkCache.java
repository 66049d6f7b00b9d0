package org.spindle.backend.http;

import java.io.IOException;
import java.lang.System.Logger.Level;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.BitSet;
import java.util.Comparator;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.LongAdder;
import java.util.concurrent.locks.ReentrantReadWriteLock;

import org.h2.mvstore.DataUtils;
import org.h2.mvstore.MVMap;
import org.h2.mvstore.MVStore;
import org.h2.mvstore.MVStoreException;
import org.spindle.storage.api.StorageException;
import org.spindle.storage.api.StorageException.Kind;
import org.spindle.storage.api.StorageException.Operation;

/**
 * The persistent chunk cache: chunks of remote images kept on the local disk across restarts, at most
 * {@code maxBytes} of them, the least recently used evicted first.
 *
 * <p>The index lives in an H2 MVStore ({@code index.mv.db}): which image versions are cached, and for
 * each chunk its blocks, its SHA-256 and when it was last used. Every index change is an atomic MVStore
 * commit, so a crash never leaves a torn index. The bytes live in {@code blocks.bin}, a file of 64 KiB
 * blocks shared by all images: a read of 4 KiB from a cached 1 MiB chunk reads 4 KiB (a value stored in
 * the MVStore itself would be read and decoded whole), and a block freed by eviction is reused, so the
 * file never grows past the bound. A chunk is checked against its SHA-256 the first time it is read after
 * the cache is opened, which finds a block lost in a crash or rewritten by reuse before the index
 * caught up; such a chunk is dropped and fetched again.
 *
 * <p>Pieces (the few KiB a scattered read fetches instead of its whole chunk) are kept as values of the
 * MVStore ({@code pieces}), which packs them into its pages: in {@code blocks.bin} each would take a
 * whole 64 KiB block. They count towards the bound by their size rounded up to 4 KiB, are evicted by the
 * same LRU order as chunks, and are dropped when their whole chunk is stored.
 *
 * <p>An image version is named by its size, validator, chunk size and piece size, never by its URL (which may carry
 * a signature). The cache also remembers, per location without query, which version it last held, so
 * that opening a location whose image changed drops the old version's chunks.
 *
 * <p>The cache never fails a read: if its files cannot be written or read, it reports that once and
 * stops being used.
 */
final class ChunkCache implements AutoCloseable {
    static final int BLOCK = 64 * 1024;
    private static final System.Logger LOG = System.getLogger(ChunkCache.class.getName());
    private static final int IDENTITY_SHIFT = 40;
    /** Marks a piece's key; below it, the index of a chunk or a piece. */
    static final long PIECE_BIT = 1L << (IDENTITY_SHIFT - 1);
    /** The unit pieces are counted in. */
    private static final int PIECE_GRAIN = 4096;

    private final Path dir;
    private final long maxBytes;
    private final MVStore store;
    private final MVMap<String, String> identities;
    private final MVMap<String, String> origins;
    private final MVMap<Long, byte[]> entries;
    private final MVMap<Long, byte[]> pieces;
    private final MVMap<String, Long> meta;
    private volatile FileChannel blocks;
    private final ReentrantReadWriteLock lock = new ReentrantReadWriteLock();
    private final ConcurrentHashMap<Long, Entry> index = new ConcurrentHashMap<>();
    private final BitSet used = new BitSet();
    private final AtomicLong clock = new AtomicLong();
    /** Pieces in {@link #index}, and the bytes they count for. */
    private long pieceEntries;
    private long pieceBytes;
    /**
     * Pieces may take at most this fraction of the bound: each is an index entry in memory (a full
     * cache of 4 KiB pieces would be a million of them), and whole chunks serve repeated reads better.
     */
    private static final int PIECE_SHARE = 8;
    private final LongAdder hits = new LongAdder();
    private final LongAdder stored = new LongAdder();
    private final LongAdder evictions = new LongAdder();
    private final LongAdder dropped = new LongAdder();
    private long usedBytes;
    private volatile boolean broken;
    private volatile boolean closing;

    /** One cached chunk, or a piece (no blocks: its bytes are in {@link #pieces}). */
    private static final class Entry {
        final long key;
        final int length;
        final int[] blockList;
        final byte[] sha256;
        volatile long tick;
        volatile boolean verified;
        long persistedTick;

        Entry(long key, int length, int[] blockList, byte[] sha256, long tick) {
            this.key = key;
            this.length = length;
            this.blockList = blockList;
            this.sha256 = sha256;
            this.tick = tick;
            this.persistedTick = tick;
        }

        boolean piece() {
            return blockList.length == 0;
        }

        /** The bytes it counts for towards the bound. */
        long charge() {
            return piece() ? (length + PIECE_GRAIN - 1L) / PIECE_GRAIN * PIECE_GRAIN : (long) blockList.length * BLOCK;
        }

        byte[] encode() {
            ByteBuffer b = ByteBuffer.allocate(4 + 4 + 4 * blockList.length + 32 + 8);
            b.putInt(length).putInt(blockList.length);
            for (int block : blockList) {
                b.putInt(block);
            }
            return b.put(sha256).putLong(tick).array();
        }

        static Entry decode(long key, byte[] value) {
            ByteBuffer b = ByteBuffer.wrap(value);
            int length = b.getInt();
            int n = b.getInt();
            boolean piece = (key & PIECE_BIT) != 0;
            int blocks = piece ? 0 : (length + BLOCK - 1) / BLOCK;
            if (length <= 0 || piece && length > HttpSettings.MAX_PIECE || n != blocks
                    || value.length != 8 + 4 * n + 32 + 8) {
                return null;
            }
            int[] list = new int[n];
            for (int i = 0; i < n; i++) {
                list[i] = b.getInt();
            }
            byte[] sha = new byte[32];
            b.get(sha);
            return new Entry(key, length, list, sha, b.getLong());
        }
    }

    private ChunkCache(Path dir, long maxBytes, MVStore store, FileChannel blocks) {
        this.dir = dir;
        this.maxBytes = maxBytes;
        this.store = store;
        this.blocks = blocks;
        this.identities = store.openMap("identities");
        this.origins = store.openMap("origins");
        this.entries = store.openMap("entries");
        this.pieces = store.openMap("pieces");
        this.meta = store.openMap("meta");
    }

    /**
     * Opens (or creates) the cache in {@code dir}. A cache file that cannot be read is moved aside and a
     * new one started.
     *
     * @throws StorageException {@code IN_USE} when another process holds the cache,
     *         {@code IO} when the directory cannot be used
     */
    static ChunkCache open(Path dir, long maxBytes) throws StorageException {
        try {
            Files.createDirectories(dir);
        } catch (IOException e) {
            throw new StorageException(Kind.IO, "cannot create the chunk cache directory " + dir + ": " + e, e)
                    .withOperation(Operation.OPEN);
        }
        Path indexFile = dir.resolve("index.mv.db");
        MVStore store;
        try {
            store = openStore(indexFile);
        } catch (MVStoreException e) {
            if (e.getErrorCode() == DataUtils.ERROR_FILE_LOCKED) {
                throw new StorageException(Kind.IN_USE, "the chunk cache " + dir + " is in use by another process",
                        e).withOperation(Operation.OPEN);
            }
            LOG.log(Level.WARNING, "the chunk cache index {0} cannot be read ({1}); starting an empty cache",
                    indexFile, e.getMessage());
            try {
                Files.move(indexFile, dir.resolve("index.mv.db.unreadable"),
                        java.nio.file.StandardCopyOption.REPLACE_EXISTING);
                Files.deleteIfExists(dir.resolve("blocks.bin"));
                store = openStore(indexFile);
            } catch (IOException | MVStoreException e2) {
                throw new StorageException(Kind.IO, "cannot start a new chunk cache in " + dir + ": " + e2, e2)
                        .withOperation(Operation.OPEN);
            }
        }
        try {
            FileChannel channel = FileChannel.open(dir.resolve("blocks.bin"), StandardOpenOption.CREATE,
                    StandardOpenOption.READ, StandardOpenOption.WRITE);
            ChunkCache cache = new ChunkCache(dir, maxBytes, store, channel);
            try {
                cache.load();
            } catch (RuntimeException e) {
                // an index written by something else, or damaged in a way MVStore did not notice
                channel.close();
                store.closeImmediately();
                LOG.log(Level.WARNING, "the chunk cache index {0} holds unexpected data ({1}); starting an empty cache",
                        indexFile, e.toString());
                Files.move(indexFile, dir.resolve("index.mv.db.unreadable"),
                        java.nio.file.StandardCopyOption.REPLACE_EXISTING);
                Files.deleteIfExists(dir.resolve("blocks.bin"));
                return open(dir, maxBytes);
            }
            return cache;
        } catch (IOException | MVStoreException e) {
            store.closeImmediately();
            throw new StorageException(Kind.IO, "cannot open the chunk cache in " + dir + ": " + e, e)
                    .withOperation(Operation.OPEN);
        }
    }

    private static MVStore openStore(Path file) {
        return new MVStore.Builder().fileName(file.toString()).cacheSize(4).autoCommitBufferSize(256).open();
    }

    /** Reads the index: every entry whose blocks lie in the file and belong to it alone. */
    private void load() throws IOException {
        long fileSize = blocks.size();
        List<Long> bad = new ArrayList<>();
        long maxTick = 0;
        for (Map.Entry<Long, byte[]> e : entries.entrySet()) {
            Entry entry = Entry.decode(e.getKey(), e.getValue());
            boolean ok = entry != null;
            if (ok && entry.piece()) {
                ok = pieces.containsKey(entry.key);
            } else if (ok) {
                for (int i = 0; i < entry.blockList.length; i++) {
                    int block = entry.blockList[i];
                    // the block's bytes must all lie in the file: a crash may have cut it short
                    long end = (long) block * BLOCK + Math.min(BLOCK, entry.length - (long) i * BLOCK);
                    if (block < 0 || end > fileSize || used.get(block)) {
                        ok = false;
                        break;
                    }
                }
            }
            if (!ok) {
                bad.add(e.getKey());
                continue;
            }
            for (int block : entry.blockList) {
                used.set(block);
            }
            usedBytes += entry.charge();
            if (entry.piece()) {
                pieceEntries++;
                pieceBytes += entry.charge();
            }
            index.put(entry.key, entry);
            maxTick = Math.max(maxTick, entry.tick);
        }
        for (Long key : bad) {
            entries.remove(key);
            pieces.remove(key);
            dropped.increment();
        }
        if (pieces.sizeAsLong() != pieceEntries) {
            // a crash between storing a piece and its entry (or between their removals) left bytes
            // no entry names
            for (Long key : new ArrayList<>(pieces.keyList())) {
                if (!index.containsKey(key)) {
                    pieces.remove(key);
                }
            }
        }
        clock.set(maxTick);
        lock.writeLock().lock();
        try {
            evictTo(maxBytes);
            trim();
        } finally {
            lock.writeLock().unlock();
        }
    }

    /**
     * The chunks of one image version.
     *
     * @param origin where the image lives, without query (only its digest is kept), so that a changed
     *        image's old chunks are dropped
     */
    Store store(long size, String validator, int chunkSize, int pieceSize, String origin) {
        int unit = pieceSize > 0 ? pieceSize : Math.max(1, chunkSize);
        if (size / unit >= PIECE_BIT) {
            // beyond what a key can name (petabytes): read without the persistent cache
            return null;
        }
        // without pieces, the name a version had before pieces existed
        String identity = hex(sha256((size + "\n" + validator + "\n" + chunkSize + (pieceSize > 0 ? "\n" + pieceSize : ""))
                .getBytes(StandardCharsets.UTF_8)));
        lock.writeLock().lock();
        try {
            if (broken) {
                return null;
            }
            String known = identities.get(identity);
            long number;
            if (known != null) {
                number = Long.parseLong(known);
            } else {
                number = meta.getOrDefault("nextIdentity", 1L);
                meta.put("nextIdentity", number + 1);
                identities.put(identity, Long.toString(number));
            }
            String originKey = hex(sha256(origin.getBytes(StandardCharsets.UTF_8)));
            String before = origins.put(originKey, identity);
            if (before != null && !before.equals(identity) && !origins.containsValue(before)) {
                String old = identities.remove(before);
                if (old != null) {
                    dropIdentity(Long.parseLong(old));
                }
            }
            return new Store(number, chunkSize, pieceSize);
        } catch (MVStoreException e) {
            fail(e);
            return null;
        } finally {
            lock.writeLock().unlock();
        }
    }

    /** The chunks and pieces of one image version, as {@link HttpBackend} uses them. */
    final class Store implements ChunkStore {
        private final long number;
        private final int chunkSize;
        private final int pieceSize;

        Store(long number, int chunkSize, int pieceSize) {
            this.number = number;
            this.chunkSize = chunkSize;
            this.pieceSize = pieceSize;
        }

        /** The cache's key of chunk {@code unit}, or of piece {@code ~unit} when it is negative. */
        private long key(long unit) {
            long index = unit >= 0 ? unit : ~unit;
            if (index >= PIECE_BIT) {
                throw new IllegalArgumentException("unit " + unit + " is beyond what the cache can name");
            }
            return number << IDENTITY_SHIFT | (unit >= 0 ? 0 : PIECE_BIT) | index;
        }

        @Override
        public CacheCounters counters() {
            return ChunkCache.this.counters();
        }

        @Override
        public boolean contains(long chunk) {
            return !broken && index.containsKey(key(chunk));
        }

        @Override
        public boolean read(long chunk, int from, ByteBuffer dst, int at, int length) {
            return ChunkCache.this.read(key(chunk), from, dst, at, length);
        }

        @Override
        public void put(long unit, byte[] data) {
            if (unit < 0 && index.containsKey(key(~unit / (chunkSize / pieceSize)))) {
                // its chunk was stored whole meanwhile
                return;
            }
            ChunkCache.this.put(key(unit), data);
            if (unit >= 0 && pieceSize > 0 && index.containsKey(key(unit))) {
                dropPieces(unit);
            }
        }

        /** Drops the pieces of chunk {@code chunk}, which is held whole now. */
        private void dropPieces(long chunk) {
            lock.writeLock().lock();
            try {
                if (pieceEntries == 0 || broken) {
                    return;
                }
                long first = chunk * (chunkSize / pieceSize);
                for (long p = first; p < first + chunkSize / pieceSize; p++) {
                    Entry e = index.get(key(~p));
                    if (e != null) {
                        remove(e);
                    }
                }
            } catch (MVStoreException e) {
                fail(e);
            } finally {
                lock.writeLock().unlock();
            }
        }

        @Override
        public void drop(long chunk) {
            lock.writeLock().lock();
            try {
                Entry e = index.get(key(chunk));
                if (e != null && !broken) {
                    remove(e);
                    dropped.increment();
                }
            } catch (MVStoreException e) {
                fail(e);
            } finally {
                lock.writeLock().unlock();
            }
        }

        @Override
        public void invalidate() {
            lock.writeLock().lock();
            try {
                dropIdentity(number);
                String mine = Long.toString(number);
                for (String identity : new ArrayList<>(identities.keySet())) {
                    if (mine.equals(identities.get(identity))) {
                        identities.remove(identity);
                    }
                }
            } catch (MVStoreException e) {
                fail(e);
            } finally {
                lock.writeLock().unlock();
            }
        }
    }

    private boolean read(long key, int from, ByteBuffer dst, int at, int length) {
        Entry e = index.get(key);
        if (e == null || broken || from + length > e.length) {
            return false;
        }
        lock.readLock().lock();
        boolean good;
        try {
            if (index.get(key) != e) {
                return false;
            }
            byte[] piece = e.piece() ? pieces.get(key) : null;
            if (e.piece() && piece == null) {
                good = false;
            } else {
                good = e.verified || verify(e, piece);
            }
            if (good) {
                if (piece != null) {
                    dst.put(at, piece, from, length);
                } else {
                    readBlocks(e, from, dst, at, length);
                }
                e.tick = clock.incrementAndGet();
                hits.increment();
                return true;
            }
        } catch (java.io.EOFException ex) {
            good = false;
        } catch (IOException | MVStoreException ex) {
            fail(ex);
            return false;
        } finally {
            lock.readLock().unlock();
        }
        LOG.log(Level.WARNING, "a cached chunk in {0} did not match its SHA-256; it is dropped and fetched again", dir);
        lock.writeLock().lock();
        try {
            if (index.get(key) == e) {
                remove(e);
                dropped.increment();
            }
        } catch (MVStoreException ex) {
            fail(ex);
        } finally {
            lock.writeLock().unlock();
        }
        return false;
    }

    private boolean verify(Entry e, byte[] piece) throws IOException {
        byte[] all = piece;
        if (all == null) {
            ByteBuffer buffer = ByteBuffer.allocate(e.length);
            readBlocks(e, 0, buffer, 0, e.length);
            all = buffer.array();
        }
        boolean ok = all.length == e.length && MessageDigest.isEqual(sha256(all), e.sha256);
        e.verified = ok;
        return ok;
    }

    private void readBlocks(Entry e, int from, ByteBuffer dst, int at, int length) throws IOException {
        int done = 0;
        while (done < length) {
            int pos = from + done;
            int block = e.blockList[pos / BLOCK];
            int within = pos % BLOCK;
            int n = Math.min(length - done, BLOCK - within);
            ByteBuffer slice = dst.slice(at + done, n);
            long filePos = (long) block * BLOCK + within;
            while (slice.hasRemaining()) {
                if (blocks.read(slice, filePos + slice.position()) < 0) {
                    throw new java.io.EOFException("blocks.bin ends inside block " + block);
                }
            }
            done += n;
        }
    }

    private void put(long key, byte[] data) {
        if (broken || index.containsKey(key)) {
            return;
        }
        if ((key & PIECE_BIT) != 0) {
            putPiece(key, data);
            return;
        }
        int n = (data.length + BLOCK - 1) / BLOCK;
        long need = (long) n * BLOCK;
        if (need > maxBytes) {
            return;
        }
        byte[] digest = sha256(data);
        int[] list = new int[n];
        lock.writeLock().lock();
        try {
            evictTo(maxBytes - need);
            int next = 0;
            for (int i = 0; i < n; i++) {
                next = used.nextClearBit(next);
                list[i] = next;
                used.set(next);
            }
            usedBytes += need;
        } catch (MVStoreException e) {
            fail(e);
            return;
        } finally {
            lock.writeLock().unlock();
        }
        // the blocks are ours alone until published: write them without the lock
        try {
            for (int i = 0; i < n; i++) {
                int len = Math.min(BLOCK, data.length - i * BLOCK);
                ByteBuffer src = ByteBuffer.wrap(data, i * BLOCK, len);
                long pos = (long) list[i] * BLOCK;
                while (src.hasRemaining()) {
                    pos += blocks.write(src, pos);
                }
            }
        } catch (IOException e) {
            release(list, need);
            fail(e);
            return;
        }
        lock.writeLock().lock();
        try {
            Entry entry = new Entry(key, data.length, list, digest, clock.incrementAndGet());
            entry.verified = true;
            if (broken || index.putIfAbsent(key, entry) != null) {
                freeBlocks(list, need);
                return;
            }
            entries.put(key, entry.encode());
            stored.increment();
        } catch (MVStoreException e) {
            fail(e);
        } finally {
            lock.writeLock().unlock();
        }
    }

    /** Keeps a piece in the MVStore: its bytes first, then its entry, in the same commit or the next. */
    private void putPiece(long key, byte[] data) {
        long need = (data.length + PIECE_GRAIN - 1L) / PIECE_GRAIN * PIECE_GRAIN;
        if (need > maxBytes || data.length == 0 || data.length > HttpSettings.MAX_PIECE) {
            return;
        }
        byte[] digest = sha256(data);
        lock.writeLock().lock();
        try {
            if (broken || index.containsKey(key)) {
                return;
            }
            evictTo(maxBytes - need);
            if (pieceBytes + need > maxBytes / PIECE_SHARE) {
                evictPiecesTo(maxBytes / PIECE_SHARE - need);
            }
            Entry entry = new Entry(key, data.length, new int[0], digest, clock.incrementAndGet());
            entry.verified = true;
            pieces.put(key, data);
            entries.put(key, entry.encode());
            index.put(key, entry);
            usedBytes += need;
            pieceBytes += need;
            pieceEntries++;
            stored.increment();
        } catch (MVStoreException e) {
            fail(e);
        } finally {
            lock.writeLock().unlock();
        }
    }

    private void release(int[] list, long need) {
        lock.writeLock().lock();
        try {
            freeBlocks(list, need);
        } finally {
            lock.writeLock().unlock();
        }
    }

    private void freeBlocks(int[] list, long bytes) {
        for (int block : list) {
            used.clear(block);
        }
        usedBytes -= bytes;
    }

    /** Under the write lock: evicts the least recently used chunks until at most {@code limit} bytes are used. */
    private void evictTo(long limit) {
        if (usedBytes <= limit) {
            return;
        }
        List<Entry> all = new ArrayList<>(index.values());
        all.sort(Comparator.comparingLong(e -> e.tick));
        // evict down to 7/8 of the limit at once, so that a full cache does not sort on every put
        long target = Math.max(0, limit - maxBytes / 8);
        for (Entry e : all) {
            if (usedBytes <= target) {
                break;
            }
            remove(e);
            evictions.increment();
        }
        trim();
    }

    /** Under the write lock: evicts the least recently used pieces until they count for at most {@code limit}. */
    private void evictPiecesTo(long limit) {
        List<Entry> all = new ArrayList<>();
        for (Entry e : index.values()) {
            if (e.piece()) {
                all.add(e);
            }
        }
        all.sort(Comparator.comparingLong(e -> e.tick));
        long target = Math.max(0, limit - maxBytes / PIECE_SHARE / 8);
        for (Entry e : all) {
            if (pieceBytes <= target) {
                break;
            }
            remove(e);
            evictions.increment();
        }
    }

    private void remove(Entry e) {
        if (!index.remove(e.key, e)) {
            return;
        }
        entries.remove(e.key);
        if (e.piece()) {
            pieces.remove(e.key);
            pieceEntries--;
            pieceBytes -= e.charge();
        }
        freeBlocks(e.blockList, e.charge());
    }

    private void dropIdentity(long number) {
        for (Entry e : new ArrayList<>(index.values())) {
            if (e.key >>> IDENTITY_SHIFT == number) {
                remove(e);
            }
        }
        trim();
    }

    /** Under the write lock: gives back the free blocks at the end of the file. */
    private void trim() {
        try {
            long end = (long) used.length() * BLOCK;
            if (blocks.size() > end) {
                blocks.truncate(end);
            }
        } catch (IOException e) {
            LOG.log(Level.WARNING, "cannot shorten {0}: {1}", dir.resolve("blocks.bin"), e);
        }
    }

    private void fail(Exception e) {
        if (e instanceof java.nio.channels.ClosedChannelException && reopen()) {
            return;
        }
        if (!broken) {
            broken = true;
            LOG.log(Level.WARNING, "the chunk cache in {0} failed and is not used until restart: {1}", dir, e);
        }
    }

    /**
     * Opens {@code blocks.bin} again after a thread was interrupted in a read or write of it (the JDK
     * then closes the channel for every thread). Returns whether that worked.
     */
    private synchronized boolean reopen() {
        if (closing) {
            return false;
        }
        if (blocks.isOpen()) {
            return true;
        }
        try {
            blocks = FileChannel.open(dir.resolve("blocks.bin"), StandardOpenOption.READ, StandardOpenOption.WRITE);
            return true;
        } catch (IOException e) {
            return false;
        }
    }

    /** The cache's counters. */
    CacheCounters counters() {
        lock.readLock().lock();
        try {
            return new CacheCounters(maxBytes, usedBytes, index.size(), hits.sum(), stored.sum(), evictions.sum(),
                    dropped.sum());
        } finally {
            lock.readLock().unlock();
        }
    }

    /**
     * @param capacity the most bytes of blocks
     * @param used bytes of blocks holding chunks
     * @param chunks chunks held
     * @param hits reads answered from the cache
     * @param stored chunks written
     * @param evictions chunks dropped to make room
     * @param dropped chunks dropped because their bytes or index entry were damaged
     */
    record CacheCounters(long capacity, long used, long chunks, long hits, long stored, long evictions, long dropped) {
    }

    Path directory() {
        return dir;
    }

    /** Writes the last-use times and closes the files. */
    @Override
    public void close() {
        closing = true;
        lock.writeLock().lock();
        try {
            if (!broken) {
                for (Entry e : index.values()) {
                    if (e.tick != e.persistedTick) {
                        entries.put(e.key, e.encode());
                        e.persistedTick = e.tick;
                    }
                }
            }
            store.close(200);
        } catch (MVStoreException e) {
            LOG.log(Level.WARNING, "closing the chunk cache index in {0}: {1}", dir, e.getMessage());
            store.closeImmediately();
        } finally {
            try {
                blocks.close();
            } catch (IOException e) {
                LOG.log(Level.WARNING, "closing {0}: {1}", dir.resolve("blocks.bin"), e);
            }
            lock.writeLock().unlock();
        }
    }

    static byte[] sha256(byte[] data) {
        try {
            return MessageDigest.getInstance("SHA-256").digest(data);
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("the JDK has no SHA-256", e);
        }
    }

    private static String hex(byte[] bytes) {
        return HexFormat.of().formatHex(bytes, 0, 16);
    }
}
