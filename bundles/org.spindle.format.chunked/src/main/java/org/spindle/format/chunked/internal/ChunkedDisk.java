package org.spindle.format.chunked.internal;

import java.nio.ByteBuffer;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.LongAdder;

import com.github.benmanes.caffeine.cache.AsyncLoadingCache;
import com.github.benmanes.caffeine.cache.Caffeine;

import org.spindle.format.chunked.ChunkedManifest;
import org.spindle.storage.api.Bounds;
import org.spindle.storage.api.RelatedFiles;
import org.spindle.storage.api.StorageBackend;
import org.spindle.storage.api.StorageException;
import org.spindle.storage.api.StorageException.Kind;
import org.spindle.storage.api.StorageException.Operation;
import org.spindle.storage.api.TransferStatistics;
import org.spindle.storage.api.TransferStatsDTO;
import org.spindle.storage.api.VirtualDisk;
import org.spindle.storage.api.WholeObject;

/**
 * A chunked image, read: each chunk is one whole object fetched by {@link RelatedFiles#readWhole} (a
 * plain GET on a web server), checked against the manifest's size and SHA-256 before a byte of it is
 * used, and kept in a memory cache bounded in bytes. A chunk being fetched is waited for, never fetched
 * twice; a read spanning chunks fetches them in parallel (at most {@code max.fetches} at once); a
 * sequential reader has the next {@code read.ahead} chunks fetched ahead of it. A chunk that fails to
 * load is not kept, so the next read tries again. Always read-only.
 */
final class ChunkedDisk implements VirtualDisk, TransferStatistics {
    private final StorageBackend manifestBackend;
    private final ChunkedManifest manifest;
    private final RelatedFiles files;
    private final String series;
    private final int sectorSize;
    private final int readAhead;
    private final ExecutorService fetchers;
    private final AsyncLoadingCache<Integer, byte[]> chunks;
    /**
     * The chunks a sequential reader is about to use (read ahead, in flight) and the last ones it used.
     * The cache's policy (Window TinyLFU) may turn away a chunk read ahead, used once so far, in
     * favour of one used more often, and the reader would fetch it again; held here, it stays.
     */
    private final java.util.LinkedHashMap<Integer, CompletableFuture<byte[]>> recent;
    private final AtomicLong sequentialEnd = new AtomicLong(-1);
    private final AtomicBoolean closed = new AtomicBoolean();
    private final LongAdder fetches = new LongAdder();
    private final LongAdder bytesLoaded = new LongAdder();
    private final LongAdder bytesRead = new LongAdder();
    private final LongAdder hits = new LongAdder();
    private final LongAdder misses = new LongAdder();
    private final LongAdder readAheads = new LongAdder();
    private final LongAdder failures = new LongAdder();

    ChunkedDisk(StorageBackend manifestBackend, ChunkedManifest manifest, RelatedFiles files, int sectorSize,
            ChunkedFormat.Settings settings) {
        this.manifestBackend = manifestBackend;
        this.manifest = manifest;
        this.files = files;
        // chunks are cached under where the manifest lives (without query or credentials: a location),
        // its version and the geometry that makes a chunk index mean bytes: two publishers' "v1" differ
        this.series = "chunked " + manifestBackend.location() + " " + manifest.version() + " " + manifest.totalSize()
                + " " + manifest.chunkSize();
        this.sectorSize = sectorSize;
        this.readAhead = settings.readAhead();
        this.fetchers = Executors.newFixedThreadPool(settings.maxFetches(), Thread.ofVirtual()
                .name("spindle-chunked-", 0).factory());
        int keep = settings.readAhead() + settings.maxFetches() + 2;
        this.recent = new java.util.LinkedHashMap<>(keep * 2, 0.75f, true) {
            @Override
            protected boolean removeEldestEntry(Map.Entry<Integer, CompletableFuture<byte[]>> eldest) {
                return size() > keep;
            }
        };
        long weight = Math.max(settings.memoryCache(), 2L * manifest.chunkSize());
        this.chunks = Caffeine.newBuilder().maximumWeight(weight).weigher((Integer k, byte[] v) -> v.length)
                .executor(Runnable::run)
                .buildAsync((index, executor) -> submit(index));
    }

    private CompletableFuture<byte[]> submit(int index) {
        try {
            return CompletableFuture.supplyAsync(() -> load(index), fetchers);
        } catch (java.util.concurrent.RejectedExecutionException e) {
            return CompletableFuture.failedFuture(closedException(Operation.READ));
        }
    }

    private byte[] load(int index) {
        if (closed.get()) {
            throw new CompletionException(closedException(Operation.READ));
        }
        fetches.increment();
        String path = manifest.chunkPath(index);
        String expected = manifest.chunkSha256(index);
        try {
            // readWhole returns the object of this size and digest, or fails
            byte[] data = files.readWhole(path, new WholeObject(manifest.chunkLength(index), expected, series, index));
            bytesLoaded.add(data.length);
            return data;
        } catch (StorageException e) {
            failures.increment();
            throw new CompletionException(new StorageException(e.kind(), "chunk " + index + ": " + e.detail(), e)
                    .withLocation(e.location() == null ? manifestBackend.location() : e.location()));
        } catch (RuntimeException e) {
            failures.increment();
            throw new CompletionException(new StorageException(Kind.IO, "reading chunk " + index + " (" + path
                    + ") failed: " + e, e).withLocation(manifestBackend.location()));
        }
    }

    @Override
    public int logicalSectorSize() {
        return sectorSize;
    }

    @Override
    public long capacity() {
        return manifest.totalSize();
    }

    @Override
    public boolean isReadOnly() {
        return true;
    }

    @Override
    public String formatName() {
        return ChunkedFormat.NAME;
    }

    @Override
    public Map<String, Object> details() {
        return manifest.details();
    }

    @Override
    public void read(long offset, ByteBuffer dst) throws StorageException {
        int length = dst.remaining();
        ensureOpen(Operation.READ);
        Bounds.check(offset, length, manifest.totalSize(), Operation.READ);
        if (length == 0) {
            return;
        }
        int cs = manifest.chunkSize();
        int first = (int) (offset / cs);
        int last = (int) ((offset + length - 1) / cs);
        @SuppressWarnings("unchecked")
        CompletableFuture<byte[]>[] parts = new CompletableFuture[last - first + 1];
        bytesRead.add(length);
        for (int i = first; i <= last; i++) {
            CompletableFuture<byte[]> part = held(i);
            (part != null && part.isDone() && !part.isCompletedExceptionally() ? hits : misses).increment();
            parts[i - first] = part != null && !part.isCompletedExceptionally() ? part : chunk(i);
        }
        if (readAhead > 0 && sequentialEnd.getAndSet(offset + length) == offset) {
            for (int i = last + 1; i <= Math.min(last + readAhead, manifest.chunkCount() - 1); i++) {
                if (held(i) == null) {
                    readAheads.increment();
                    chunk(i);
                }
            }
        }
        int at = dst.position();
        long position = offset;
        for (int i = first; i <= last; i++) {
            byte[] chunk = await(i, parts[i - first], offset, length);
            int from = (int) (position - (long) i * cs);
            int n = (int) Math.min(chunk.length - from, offset + length - position);
            dst.put(at, chunk, from, n);
            at += n;
            position += n;
        }
        dst.position(at);
    }

    /** Chunk {@code index} if it is recent or cached (done or on its way), else {@code null}. */
    private CompletableFuture<byte[]> held(int index) {
        CompletableFuture<byte[]> part;
        synchronized (recent) {
            part = recent.get(index);
        }
        if (part == null) {
            part = chunks.getIfPresent(index);
            if (part != null) {
                remember(index, part);
            }
        }
        return part;
    }

    /** Chunk {@code index}, loaded (or joined) through the cache and kept among the recent ones. */
    private CompletableFuture<byte[]> chunk(int index) {
        CompletableFuture<byte[]> part = chunks.get(index);
        remember(index, part);
        return part;
    }

    private void remember(int index, CompletableFuture<byte[]> part) {
        synchronized (recent) {
            recent.put(index, part);
        }
    }

    private byte[] await(int index, CompletableFuture<byte[]> part, long offset, int length) throws StorageException {
        try {
            return part.get();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new StorageException(Kind.IO, "interrupted while waiting for a chunk").at(Operation.READ, offset, length)
                    .withLocation(manifestBackend.location());
        } catch (ExecutionException e) {
            // the cache drops a failed load itself, but maybe not before this reader reads again
            chunks.asMap().remove(index, part);
            synchronized (recent) {
                recent.remove(index, part);
            }
            Throwable cause = e.getCause() instanceof CompletionException c && c.getCause() != null ? c.getCause()
                    : e.getCause();
            if (cause instanceof StorageException se) {
                throw new StorageException(se.kind(), se.detail(), se).at(Operation.READ, offset, length)
                        .withLocation(se.location() == null ? manifestBackend.location() : se.location());
            }
            throw new StorageException(Kind.IO, "reading a chunk failed: " + cause, cause).at(Operation.READ, offset,
                    length).withLocation(manifestBackend.location());
        }
    }

    @Override
    public void write(long offset, ByteBuffer src) throws StorageException {
        ensureOpen(Operation.WRITE);
        throw new StorageException(Kind.READ_ONLY, "a chunked image is read-only: give the drive an overlay to take"
                + " writes").at(Operation.WRITE, offset, src.remaining()).withLocation(manifestBackend.location());
    }

    @Override
    public void flush() throws StorageException {
        ensureOpen(Operation.FLUSH);
    }

    /**
     * Counts whole chunks: a request is one chunk loaded through the image's related files (one plain
     * GET over HTTP, or a hit in the backend's persistent cache), and bytes fetched are those chunks'.
     */
    @Override
    public TransferStatsDTO transferStats() {
        TransferStatsDTO dto = new TransferStatsDTO();
        dto.location = manifestBackend.location();
        dto.transport = "whole-object";
        dto.requests = fetches.sum();
        dto.bytesFetched = bytesLoaded.sum();
        dto.bytesRead = bytesRead.sum();
        dto.hits = hits.sum();
        dto.misses = misses.sum();
        dto.readAheads = readAheads.sum();
        dto.failures = failures.sum();
        return dto.withAmplification();
    }

    /** Chunks fetched so far (each load, whatever its outcome). */
    long fetches() {
        return fetches.sum();
    }

    @Override
    public void close() throws StorageException {
        if (closed.compareAndSet(false, true)) {
            // no interrupts: a fetch inside a shared cache's file channel would close it for everyone
            fetchers.shutdown();
            chunks.synchronous().invalidateAll();
            synchronized (recent) {
                recent.clear();
            }
            manifestBackend.close();
        }
    }

    private void ensureOpen(Operation op) throws StorageException {
        if (closed.get()) {
            throw closedException(op);
        }
    }

    private StorageException closedException(Operation op) {
        return new StorageException(Kind.BACKEND_UNAVAILABLE, "the disk is closed").withOperation(op)
                .withLocation(manifestBackend.location());
    }

    @Override
    public String toString() {
        return "ChunkedDisk[" + manifestBackend.location() + ", " + manifest.chunkCount() + " chunks of "
                + manifest.chunkSize() + "]";
    }
}
