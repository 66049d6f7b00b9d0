package org.spindle.backend.http;

import java.net.URI;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

import org.spindle.storage.api.ContentVersion;
import org.spindle.storage.api.StorageBackend;
import org.spindle.storage.api.StorageException;
import org.spindle.storage.api.StorageException.Kind;
import org.spindle.storage.api.StorageException.Operation;
import org.spindle.storage.api.TransferStatistics;
import org.spindle.storage.api.TransferStatsDTO;

import com.github.benmanes.caffeine.cache.Cache;
import com.github.benmanes.caffeine.cache.Caffeine;

/**
 * A read-only image on an HTTP(S) server, read in chunks by Range requests.
 *
 * <p>A read is split at chunk boundaries. Each chunk comes from memory, else from the persistent
 * cache, else from one ranged GET; a chunk already being fetched is waited for, never fetched twice.
 * A scattered read that misses fetches only the pieces ({@code piece.size}) it touches, which are
 * cached the same way, until its chunk has missed {@value #PIECE_MISSES} times; then the chunk whole.
 * A reader that goes on where its last read ended is sequential: the next {@code read.ahead} chunks are
 * then fetched before it asks. At most {@code max.fetches} requests are in flight. A read that cannot
 * be served within {@code read.timeout} fails with {@code IO}; a chunk enters a cache only after its
 * response passed every check, so nothing from a failed or mismatched response is ever kept or read.
 *
 * <p>{@link #mayBlock()} is true: callers move reads off the machine thread.
 */
final class HttpBackend implements StorageBackend, TransferStatistics, ContentVersion {
    private final String location;
    private final RangeClient client;
    private final RemoteImage image;
    private final HttpSettings settings;
    private final int chunkSize;
    /** The piece a scattered miss fetches, or 0 when misses fetch whole chunks. */
    private final int piece;
    private final ScatteredMisses scattered = new ScatteredMisses();
    private final ChunkStore persistent;
    private final Cache<Long, byte[]> memory;
    private final RecentChunks recent;
    private final ConcurrentHashMap<Long, CompletableFuture<byte[]>> inFlight = new ConcurrentHashMap<>();
    private final Semaphore fetchPermits;
    private final ExecutorService loaders = Executors.newThreadPerTaskExecutor(
            Thread.ofVirtual().name("spindle-http-", 0).factory());
    private final Traffic traffic;
    /** Where a sequential reader's next read starts: the end of the last read. */
    private volatile long sequentialEnd = -1;
    private volatile boolean closed;
    private volatile boolean invalidated;

    /**
     * Discovers the image at {@code uri} and opens it.
     *
     * @param cache the persistent cache, or {@code null} for none
     */
    static HttpBackend open(URI uri, HttpSettings settings, Credentials credentials, ChunkCache cache)
            throws StorageException {
        String location = HttpLocations.display(uri);
        Traffic traffic = new Traffic();
        RangeClient client = new RangeClient(HttpLocations.request(uri), location, settings, credentials, traffic);
        try {
            RemoteImage image = client.discover(System.nanoTime() + settings.readTimeout().toNanos());
            ChunkStore store = null;
            if (cache != null) {
                store = image.validator().map(v -> cache.store(image.size(), v, settings.chunkSize(), settings.piece(),
                        location))
                        .orElse(null);
            }
            return new HttpBackend(location, client, image, settings, store, traffic);
        } catch (StorageException | RuntimeException e) {
            client.close();
            throw e;
        }
    }

    HttpBackend(String location, RangeClient client, RemoteImage image, HttpSettings settings, ChunkStore persistent,
            Traffic traffic) {
        this.location = location;
        this.client = client;
        this.image = image;
        this.settings = settings;
        this.chunkSize = settings.chunkSize();
        this.piece = settings.piece();
        this.persistent = persistent;
        this.traffic = traffic;
        this.fetchPermits = new Semaphore(settings.maxFetches(), true);
        // at least what is in flight and ahead, so read-ahead is not dropped before it is read
        long floor = (long) chunkSize * (settings.readAhead() + settings.maxFetches() + 1);
        this.memory = Caffeine.newBuilder().maximumWeight(Math.max(settings.memoryCache(), floor))
                .weigher((Long k, byte[] v) -> v.length).executor(Runnable::run).build();
        // as many chunks just fetched or read as a reader has in front of it and two more; apart, the
        // read-ahead window's chunks not yet read
        this.recent = new RecentChunks(settings.readAhead() + settings.maxFetches() + 2,
                settings.readAhead() + settings.maxFetches());
    }

    @Override
    public String location() {
        return location;
    }

    @Override
    public long size() throws StorageException {
        checkOpen(Operation.READ);
        return image.size();
    }

    @Override
    public boolean isReadOnly() {
        return true;
    }

    @Override
    public boolean mayBlock() {
        return true;
    }

    /** The version that was opened (size and validator). */
    RemoteImage image() {
        return image;
    }

    Traffic traffic() {
        return traffic;
    }

    /** The strong validator the image was opened with: what an overlay over it records. */
    @Override
    public Optional<String> contentVersion() {
        // a validator an overlay cannot record (too long, or with control characters) pins nothing
        return image.validator().filter(v -> v.length() <= org.spindle.storage.api.BackingReference.MAX_VERSION_LENGTH
                && v.chars().noneMatch(Character::isISOControl));
    }

    @Override
    public TransferStatsDTO transferStats() {
        TransferStatsDTO dto = new TransferStatsDTO();
        dto.location = location;
        dto.transport = "range";
        dto.requests = traffic.requests.sum();
        dto.bytesFetched = traffic.bytesFetched.sum();
        dto.bytesRead = traffic.bytesRead.sum();
        dto.hits = traffic.hits.sum();
        dto.misses = traffic.misses.sum();
        dto.readAheads = traffic.readAheads.sum();
        dto.retries = traffic.retries.sum();
        dto.failures = traffic.failures.sum();
        if (persistent != null) {
            ChunkCache.CacheCounters c = persistent.counters();
            dto.persistentCapacityBytes = c.capacity();
            dto.persistentUsedBytes = c.used();
            dto.persistentEvictions = c.evictions();
        }
        return dto.withAmplification();
    }

    /** Fetch slots free at this moment. */
    int freeFetchSlots() {
        return fetchPermits.availablePermits();
    }

    @Override
    public void read(long offset, ByteBuffer dst) throws StorageException {
        checkOpen(Operation.READ);
        int length = dst.remaining();
        if (offset < 0 || offset > image.size() - length) {
            throw new StorageException(Kind.OUT_OF_BOUNDS, "the image has " + image.size() + " bytes")
                    .withLocation(location).at(Operation.READ, offset, length);
        }
        if (length == 0) {
            return;
        }
        long deadline = System.nanoTime() + settings.readTimeout().toNanos();
        long first = offset / chunkSize;
        long last = (offset + length - 1) / chunkSize;
        boolean sequential = offset == sequentialEnd;
        sequentialEnd = offset + length;
        traffic.bytesRead.add(length);
        // every unit (chunk or piece) not at hand is asked for before any is waited for, so they arrive
        // in parallel
        List<Part> parts = new ArrayList<>();
        List<Part> owned = new ArrayList<>();
        for (long index = first; index <= last; index++) {
            long chunkStart = index * chunkSize;
            int from = (int) Math.max(0, offset - chunkStart);
            int n = (int) (Math.min(chunkStart + chunkSize, offset + length) - chunkStart) - from;
            Part held = held(index, from, n);
            if (held != null) {
                hit(held);
                parts.add(held);
            } else if (!inPieces(index, from, n, sequential, parts, owned)) {
                parts.add(claimed(index, from, n, owned));
            }
        }
        // the loads this read started, its pieces joined into one request (the pieces between them it
        // found held are fetched again rather than split the request, and dropped: null in the run): all
        // but the last on loader threads, the last on this one (it would wait for it anyway, and a
        // hand-over costs a small read a good part of its time). Neither throws: a failure completes the
        // future. Read-ahead comes after, so it never takes a slot before the read's own loads are queued
        // for theirs.
        for (int k = 0; k < owned.size();) {
            int end = k + 1;
            while (end < owned.size() && owned.get(k).key < 0 && owned.get(end).key < 0
                    && owned.get(end - 1).key - owned.get(end).key <= MAX_PIECE_GAP + 1L) {
                end++;
            }
            List<CompletableFuture<byte[]>> run = new ArrayList<>();
            for (int i = k; i < end; i++) {
                if (i > k) {
                    for (long gap = owned.get(i - 1).key - 1; gap > owned.get(i).key; gap--) {
                        run.add(null);
                    }
                }
                run.add(owned.get(i).data);
            }
            if (end < owned.size()) {
                start(owned.get(k).key, run, false);
            } else {
                load(owned.get(k).key, run, false);
            }
            k = end;
        }
        if (sequential) {
            readAhead(last + 1);
        }
        int out = dst.position();
        for (Part part : parts) {
            if (part.data == null) {
                if (persistent.read(part.key, part.from, dst, out, part.n)) {
                    traffic.hits.increment();
                    out += part.n;
                    continue;
                }
                List<Part> mine = new ArrayList<>(1);
                Part again = claimed(part.key, part.from, part.n, mine);
                if (!mine.isEmpty()) {
                    load(part.key, List.of(again.data), false);
                }
                part = again;
            }
            byte[] data = await(part.data, deadline, offset, length);
            dst.put(out, data, part.from, part.n);
            out += part.n;
        }
        dst.position(out);
    }

    /**
     * What one read takes from one unit: {@code n} bytes from {@code from} of the chunk (key {@code >= 0})
     * or piece (key {@code ~index}) {@code key}; {@code data} is {@code null} while the unit is to come
     * from the persistent cache.
     */
    private static final class Part {
        final long key;
        final int from;
        final int n;
        CompletableFuture<byte[]> data;

        Part(long key, int from, int n, CompletableFuture<byte[]> data) {
            this.key = key;
            this.from = from;
            this.n = n;
            this.data = data;
        }
    }

    /**
     * The part of unit {@code key} if it is held: from memory (complete; the caller that uses it counts
     * the hit), or to be read from the
     * persistent cache ({@code data} null); {@code null} when it is neither.
     */
    private Part held(long key, int from, int n) {
        byte[] cached = cached(key);
        if (cached != null) {
            return new Part(key, from, n, CompletableFuture.completedFuture(cached));
        }
        return persistent != null && persistent.contains(key) ? new Part(key, from, n, null) : null;
    }

    /** Counts a part found in memory as a hit (one from the persistent cache counts once it is read). */
    private void hit(Part part) {
        if (part.data != null) {
            traffic.hits.increment();
        }
    }

    /**
     * The part of unit {@code key} the caller did not find: the load running, else a new one, added to
     * {@code owned} for the caller to run (or already complete if the unit arrived meanwhile).
     */
    private Part claimed(long key, int from, int n, List<Part> owned) {
        CompletableFuture<byte[]> mine = new CompletableFuture<>();
        CompletableFuture<byte[]> got = claim(key, mine);
        Part part = new Part(key, from, n, got);
        if (got == mine && !mine.isDone()) {
            owned.add(part);
        } else if (got.isDone() && !got.isCompletedExceptionally()) {
            // in memory after all, or a chunk handed out before its response ended
            traffic.hits.increment();
        } else {
            // joined a fetch in flight (a load started for this one counts itself)
            traffic.misses.increment();
        }
        return part;
    }

    /**
     * Serves bytes {@code from} to {@code from + n} of chunk {@code index}, which is not held whole, by
     * pieces when that is right: when each piece they touch is held or on its way, or when this is a
     * scattered miss (not sequential, at most half the chunk, and the chunk has not missed
     * {@value #PIECE_MISSES} times before). Adds their parts (and loads to {@code owned}) and returns
     * {@code true}; returns {@code false} for the caller to fetch the chunk.
     */
    private boolean inPieces(long index, int from, int n, boolean sequential, List<Part> parts, List<Part> owned) {
        if (piece == 0 || inFlight.containsKey(index)) {
            // no pieces, or the whole chunk is on its way: wait for it
            return false;
        }
        // a load that ended since the caller looked put its chunk in memory before it left inFlight
        Part whole = held(index, from, n);
        if (whole != null) {
            hit(whole);
            parts.add(whole);
            return true;
        }
        long base = index * (chunkSize / piece);
        int p0 = from / piece;
        int p1 = (from + n - 1) / piece;
        // one look per piece: what is held now, and whether any is neither held nor on its way
        Part[] found = new Part[p1 - p0 + 1];
        boolean missing = false;
        for (int p = p0; p <= p1; p++) {
            long key = ~(base + p);
            int pieceFrom = Math.max(0, from - p * piece);
            found[p - p0] = held(key, pieceFrom, Math.min(piece, from + n - p * piece) - pieceFrom);
            missing |= found[p - p0] == null && !inFlight.containsKey(key);
        }
        if (missing && (sequential || (p1 - p0 + 1L) * piece > chunkSize / 2 || !scattered.allows(index))) {
            return false;
        }
        int loads = owned.size();
        for (int p = p0; p <= p1; p++) {
            Part part = found[p - p0];
            if (part == null) {
                int pieceFrom = Math.max(0, from - p * piece);
                part = claimed(~(base + p), pieceFrom, Math.min(piece, from + n - p * piece) - pieceFrom, owned);
            } else {
                hit(part);
            }
            parts.add(part);
        }
        if (owned.size() > loads) {
            // counted by the reader that fetches, not by those that join it
            scattered.miss(index);
        }
        return true;
    }

    /** The most held pieces fetched again to keep one read's pieces in one request. */
    static final int MAX_PIECE_GAP = 16;

    /** Scattered misses a chunk may have, each fetching pieces, before the next fetches it whole. */
    static final int PIECE_MISSES = 2;

    /**
     * How many scattered misses the chunks met lately had: a chunk read here and there is fetched by
     * pieces, one read again and again becomes worth fetching whole. Bounded, oldest dropped first.
     */
    private static final class ScatteredMisses {
        private final java.util.LinkedHashMap<Long, Integer> counts = new java.util.LinkedHashMap<>(64, 0.75f, true) {
            @Override
            protected boolean removeEldestEntry(Map.Entry<Long, Integer> eldest) {
                return size() > 4096;
            }
        };

        /** Whether chunk {@code index} may still be served by pieces. */
        synchronized boolean allows(long index) {
            Integer n = counts.get(index);
            return n == null || n < PIECE_MISSES;
        }

        /** Counts a scattered miss of chunk {@code index}, fetched by pieces. */
        synchronized void miss(long index) {
            counts.merge(index, 1, Integer::sum);
        }

        synchronized void forget(long index) {
            counts.remove(index);
        }
    }

    /**
     * The chunk or piece {@code key} from memory, or {@code null}: for a chunk the recent chunks first,
     * then the memory cache, whose hit makes the chunk recent again (a sequential reader reads it
     * several times in a row).
     */
    private byte[] cached(long key) {
        if (key < 0) {
            return memory.getIfPresent(key);
        }
        byte[] data = recent.get(key);
        if (data == null) {
            data = memory.getIfPresent(key);
            if (data != null) {
                recent.put(key, data);
            }
        }
        return data;
    }

    /**
     * The chunks a reader has just fetched or read, and apart from them the chunks read ahead of it that
     * it has not read yet. The memory cache's policy (Window TinyLFU) admits a new entry only if it looks
     * likely to be used more than the one it would evict; a chunk read ahead, used once so far, would
     * often lose, be dropped before its reader arrives and be fetched twice. Held here, it is there when
     * it is read, however many other chunks came meanwhile (a large read's own chunks may well arrive
     * after the read-ahead it started); read once, it joins the recent chunks. Each kind has its own
     * bound, least recently used (or, for unread ones, oldest) dropped first.
     */
    static final class RecentChunks {
        private final Map<Long, byte[]> recent;
        private final Map<Long, byte[]> unread;

        /**
         * @param recent how many chunks just fetched or read are held
         * @param ahead how many chunks read ahead and not yet read are held
         */
        RecentChunks(int recent, int ahead) {
            this.recent = bounded(recent, true);
            this.unread = bounded(ahead, false);
        }

        private static Map<Long, byte[]> bounded(int capacity, boolean accessOrder) {
            return new java.util.LinkedHashMap<>(capacity * 2, 0.75f, accessOrder) {
                @Override
                protected boolean removeEldestEntry(Map.Entry<Long, byte[]> eldest) {
                    return size() > capacity;
                }
            };
        }

        /** Chunk {@code index}, or {@code null}; a chunk read ahead counts as read from now on. */
        synchronized byte[] get(long index) {
            byte[] data = recent.get(index);
            if (data == null) {
                data = unread.remove(index);
                if (data != null) {
                    recent.put(index, data);
                }
            }
            return data;
        }

        synchronized boolean contains(long index) {
            return recent.containsKey(index) || unread.containsKey(index);
        }

        /** Holds chunk {@code index}, just fetched or read. */
        synchronized void put(long index, byte[] data) {
            unread.remove(index);
            recent.put(index, data);
        }

        /** Holds chunk {@code index}, read ahead: unread unless it was read already. */
        synchronized void putAhead(long index, byte[] data) {
            if (recent.containsKey(index)) {
                recent.put(index, data);
            } else {
                unread.put(index, data);
            }
        }

        /** Drops chunk {@code index} if it is still {@code data}. */
        synchronized void remove(long index, byte[] data) {
            recent.remove(index, data);
            unread.remove(index, data);
        }

        synchronized void clear() {
            recent.clear();
            unread.clear();
        }
    }

    /**
     * Fetches chunks ahead of a sequential reader whose last read ended in the chunk before
     * {@code from}, keeping up to {@code read.ahead} chunks in front of it. It asks in runs of a
     * quarter of that window, each run one range request (each chunk still its own cache entry,
     * handed to readers as it arrives), as many runs at once as fetch slots are free: long requests
     * cost less per byte than short ones, and several at once keep the connection pool busy. A run
     * starts only once a whole run is missing (or the image ends), so requests stay long. Read-ahead
     * takes only a fetch slot that is free now, never one a reader is queued for, and leaves one free
     * for the next read (when {@code max.fetches} is above 1).
     */
    private void readAhead(long from) {
        long chunks = (image.size() + chunkSize - 1) / chunkSize;
        long end = Math.min(chunks, from + settings.readAhead());
        long batch = Math.max(1, settings.readAhead() / 4);
        long index = from;
        while (true) {
            while (index < end && held(index)) {
                index++;
            }
            if (index == end || (end - index < batch && end < chunks)) {
                return;
            }
            if (settings.maxFetches() > 1 && fetchPermits.availablePermits() < 2 || !aheadPermit()) {
                return;
            }
            long first = index;
            List<CompletableFuture<byte[]>> run = new ArrayList<>();
            for (; index < Math.min(end, first + batch); index++) {
                CompletableFuture<byte[]> mine = new CompletableFuture<>();
                // a chunk loaded or asked for since the look above ends the run
                if (held(index) || inFlight.putIfAbsent(index, mine) != null) {
                    break;
                }
                run.add(mine);
            }
            start(first, run, true);
            if (run.isEmpty()) {
                return;
            }
        }
    }

    /** Whether chunk {@code index} is in memory, on its way, or in the persistent cache. */
    private boolean held(long index) {
        return recent.contains(index) || inFlight.containsKey(index) || memory.getIfPresent(index) != null
                || (persistent != null && persistent.contains(index));
    }

    /** A fetch slot if one is free and no reader is queued for one (a fair, non-barging try). */
    private boolean aheadPermit() {
        try {
            return fetchPermits.tryAcquire(0, TimeUnit.NANOSECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return false;
        }
    }

    /**
     * The chunk or piece {@code key}, which the caller did not find in memory: the load already
     * running, else {@code mine}, completed if the unit arrived meanwhile, or else registered in
     * {@code inFlight} for a load the caller must run ({@link #start} or {@link #load}).
     */
    private CompletableFuture<byte[]> claim(long key, CompletableFuture<byte[]> mine) {
        CompletableFuture<byte[]> running = inFlight.putIfAbsent(key, mine);
        if (running != null) {
            return running;
        }
        // a load that ended since the caller looked put its unit in memory before leaving inFlight
        byte[] cached = cached(key);
        if (cached != null) {
            inFlight.remove(key, mine);
            mine.complete(cached);
        }
        return mine;
    }

    /**
     * The key of the unit {@code i} places after {@code key}: chunks count up from theirs, pieces
     * ({@code ~index}) down from theirs.
     */
    private static long after(long key, int i) {
        return key >= 0 ? key + i : key - i;
    }

    /** Where unit {@code key} starts in the image. */
    private long unitStart(long key) {
        return key >= 0 ? key * chunkSize : ~key * piece;
    }

    /**
     * Starts the load of the units (chunks, or pieces) from {@code first} on, one per future of
     * {@code run} (registered in {@code inFlight} by the caller).
     *
     * @param ahead a read-ahead, which holds a fetch slot already (given back if no load starts)
     */
    private void start(long first, List<CompletableFuture<byte[]>> run, boolean ahead) {
        if (run.isEmpty()) {
            if (ahead) {
                fetchPermits.release();
            }
            return;
        }
        try {
            loaders.execute(() -> load(first, run, ahead));
        } catch (java.util.concurrent.RejectedExecutionException e) {
            if (ahead) {
                fetchPermits.release();
            }
            for (int i = 0; i < run.size(); i++) {
                if (run.get(i) != null) {
                    inFlight.remove(after(first, i), run.get(i));
                    run.get(i).completeExceptionally(closedException(Operation.READ));
                }
            }
        }
    }

    private void load(long first, List<CompletableFuture<byte[]>> run, boolean ahead) {
        long start = unitStart(first);
        int unit = first >= 0 ? chunkSize : piece;
        int[] lengths = new int[run.size()];
        for (int i = 0; i < lengths.length; i++) {
            lengths[i] = (int) Math.min(unit, image.size() - (start + (long) i * unit));
        }
        long deadline = System.nanoTime() + settings.readTimeout().toNanos();
        byte[][] delivered = new byte[run.size()][];
        try {
            (ahead ? traffic.readAheads : traffic.misses).add(run.stream().filter(f -> f != null).count());
            // a read-ahead came with its slot; a reader's load waits for one (fairly, in turn)
            if (!ahead && !fetchPermits.tryAcquire(Math.max(0, deadline - System.nanoTime()), TimeUnit.NANOSECONDS)) {
                throw new StorageException(Kind.IO, "no fetch slot within " + HttpSettings.READ_TIMEOUT)
                        .withLocation(location).at(Operation.READ, start, lengths[0]);
            }
            byte[][] parts;
            try {
                // a single chunk goes whole to its readers below; a run's chunks go to them as they arrive
                // pieces (a few KiB) go whole to their readers too, through the quick client
                parts = client.fetch(image, start, lengths, deadline, run.size() == 1 || first < 0 ? null : (part, i) -> {
                    delivered[i] = part;
                    delivered(after(first, i), run.get(i), part, ahead);
                });
            } catch (StorageException e) {
                if (persistent != null && client.changed() != null && !invalidated) {
                    invalidated = true;
                    persistent.invalidate();
                }
                throw e;
            } finally {
                fetchPermits.release();
            }
            for (int i = 0; i < parts.length; i++) {
                kept(after(first, i), run.get(i), parts[i], ahead, delivered[i] != null);
            }
        } catch (InterruptedException e) {
            if (closed) {
                fail(first, run, delivered, closedException(Operation.READ));
            } else {
                // a reader's own load, on its thread: the interrupt is the reader's
                Thread.currentThread().interrupt();
                fail(first, run, delivered, new StorageException(Kind.IO, "interrupted while waiting for a fetch slot")
                        .withLocation(location).at(Operation.READ, start, lengths[0]));
            }
        } catch (Throwable t) {
            fail(first, run, delivered, t);
        }
    }

    /**
     * Chunk {@code index} of a run has arrived whole while the rest of the response is still coming:
     * its readers get it now. It is not cached until the whole response has passed ({@link #kept});
     * until then its completed load stays in {@code inFlight}, where any later reader finds it however
     * many other chunks were read meanwhile, and it is held among the recent chunks too (a hit for the
     * same reader's next read). If the response fails, {@link #fail} takes it out of both.
     */
    private void delivered(long key, CompletableFuture<byte[]> result, byte[] data, boolean ahead) {
        if (result != null && !result.isDone()) {
            if (key >= 0) {
                hold(key, data, ahead);
            }
            result.complete(data);
        }
    }

    /**
     * Chunk {@code index} of a response that passed every check: it goes to the persistent cache and
     * to memory, and then its readers (if not already woken by {@link #delivered}) are woken, so a
     * reader that got a single chunk finds it kept. It leaves {@code inFlight} before they wake, so a
     * reader that retries after a failure starts a new load instead of joining this one; after a
     * success it finds the chunk in memory. A chunk handed out {@code early} was held among the recent
     * chunks then, and is not held again (its reader may have read it and gone on).
     */
    private void kept(long key, CompletableFuture<byte[]> result, byte[] data, boolean ahead, boolean early) {
        if (result == null) {
            // a piece held already, fetched only to keep the request whole
            return;
        }
        if (persistent != null) {
            persistent.put(key, data);
        }
        if (key >= 0) {
            if (!early) {
                // one handed out already was held then; read since, it is not unread again
                hold(key, data, ahead);
            }
            scattered.forget(key);
        }
        memory.put(key, data);
        inFlight.remove(key, result);
        result.complete(data);
    }

    /** Holds chunk {@code index} among the recent chunks, or among those read ahead if it was. */
    private void hold(long index, byte[] data, boolean ahead) {
        if (ahead) {
            recent.putAhead(index, data);
        } else {
            recent.put(index, data);
        }
    }

    /**
     * The load failed: its readers that are still waiting get {@code t}, and chunks handed out early
     * from the failed response leave the recent chunks, so nothing of it stays held.
     */
    private void fail(long first, List<CompletableFuture<byte[]>> run, byte[][] delivered, Throwable t) {
        for (int i = 0; i < run.size(); i++) {
            long key = after(first, i);
            if (delivered[i] != null && key >= 0) {
                recent.remove(key, delivered[i]);
            }
            if (run.get(i) != null) {
                inFlight.remove(key, run.get(i));
                run.get(i).completeExceptionally(t);
            }
        }
    }

    private byte[] await(CompletableFuture<byte[]> part, long deadline, long offset, int length)
            throws StorageException {
        try {
            return part.get(Math.max(0, deadline - System.nanoTime()), TimeUnit.NANOSECONDS);
        } catch (TimeoutException e) {
            throw new StorageException(Kind.IO, "no answer within " + settings.readTimeout().toMillis() + " ms ("
                    + HttpSettings.READ_TIMEOUT + ")").withLocation(location).at(Operation.READ, offset, length);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new StorageException(Kind.IO, "interrupted").withLocation(location).at(Operation.READ, offset, length);
        } catch (ExecutionException e) {
            Throwable cause = e.getCause();
            // a fresh exception per reader: several may wait on one chunk, each with its own range
            Kind kind = cause instanceof StorageException se ? se.kind() : Kind.IO;
            String detail = cause instanceof StorageException se ? se.detail() : String.valueOf(cause);
            throw new StorageException(kind, detail, cause).withLocation(location).at(Operation.READ, offset, length);
        }
    }

    @Override
    public void write(long offset, ByteBuffer src) throws StorageException {
        checkOpen(Operation.WRITE);
        throw new StorageException(Kind.READ_ONLY, "an image on an HTTP server is read-only; give the drive an"
                + " overlay to take its writes").withLocation(location).at(Operation.WRITE, offset, src.remaining());
    }

    @Override
    public void flush() throws StorageException {
        checkOpen(Operation.FLUSH);
    }

    private void checkOpen(Operation op) throws StorageException {
        if (closed) {
            throw closedException(op);
        }
    }

    private StorageException closedException(Operation op) {
        return new StorageException(Kind.BACKEND_UNAVAILABLE, "the backend is closed").withLocation(location)
                .withOperation(op);
    }

    @Override
    public void close() {
        if (closed) {
            return;
        }
        closed = true;
        // no interrupts: an interrupted thread inside the shared cache's file channel would close it
        // for every image. Closing the client fails the exchanges in flight instead.
        loaders.shutdown();
        client.close();
        memory.invalidateAll();
        recent.clear();
    }

    @Override
    public String toString() {
        return "HttpBackend[" + location + ", " + image.size() + " bytes]";
    }
}
