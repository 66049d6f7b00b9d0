package org.spindle.format.chunked.internal;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.Map;
import java.util.Set;

import org.osgi.service.component.annotations.Component;
import org.spindle.format.chunked.ChunkedManifest;
import org.spindle.storage.api.ByteSize;
import org.spindle.storage.api.CreateOptions;
import org.spindle.storage.api.DiskFormat;
import org.spindle.storage.api.OpenOptions;
import org.spindle.storage.api.ProbeInput;
import org.spindle.storage.api.RelatedFiles;
import org.spindle.storage.api.StorageBackend;
import org.spindle.storage.api.StorageException;
import org.spindle.storage.api.StorageException.Kind;
import org.spindle.storage.api.StorageException.Operation;
import org.spindle.storage.api.VirtualDisk;

/**
 * The {@code chunked} format: the image opened is the {@code manifest.json}; its chunks are read beside
 * it, as whole objects, through the opener's {@link RelatedFiles} (see {@link ChunkedDisk}). On an HTTP
 * server that is one plain {@code GET} per chunk.
 *
 * <p>Open parameters: {@code read.ahead} (chunks fetched ahead of a sequential reader, 0 to 64, default
 * 2), {@code max.fetches} (chunks fetched at once, 1 to 64, default 4), {@code memory.cache} (bytes of
 * chunks kept in memory, default 64M, at least two chunks). Chunked images are made with
 * {@code img chunk} ({@link org.spindle.format.chunked.ChunkedPublisher}), not created empty.
 */
@Component(property = DiskFormat.NAME + "=" + ChunkedFormat.NAME)
public final class ChunkedFormat implements DiskFormat {
    public static final String NAME = "chunked";
    static final String READ_AHEAD = "read.ahead";
    static final String MAX_FETCHES = "max.fetches";
    static final String MEMORY_CACHE = "memory.cache";

    /** The open parameters, checked. */
    record Settings(int readAhead, int maxFetches, long memoryCache) {
        static Settings parse(Map<String, String> parameters) {
            for (String key : parameters.keySet()) {
                if (!Set.of(READ_AHEAD, MAX_FETCHES, MEMORY_CACHE).contains(key)) {
                    throw new IllegalArgumentException("the chunked format takes " + READ_AHEAD + ", " + MAX_FETCHES
                            + " and " + MEMORY_CACHE + ", not " + key);
                }
            }
            int readAhead = number(parameters, READ_AHEAD, 2, 0, 64);
            int maxFetches = number(parameters, MAX_FETCHES, 4, 1, 64);
            long memory;
            try {
                memory = ByteSize.parse(parameters.getOrDefault(MEMORY_CACHE, "64M"));
            } catch (IllegalArgumentException e) {
                throw new IllegalArgumentException(MEMORY_CACHE + ": " + e.getMessage(), e);
            }
            return new Settings(readAhead, maxFetches, memory);
        }

        private static int number(Map<String, String> parameters, String key, int fallback, int min, int max) {
            String value = parameters.get(key);
            if (value == null) {
                return fallback;
            }
            try {
                int n = Integer.parseInt(value.strip());
                if (n >= min && n <= max) {
                    return n;
                }
            } catch (NumberFormatException e) {
                // said below
            }
            throw new IllegalArgumentException(key + " must be a whole number from " + min + " to " + max + ", not '"
                    + value + "'");
        }
    }

    @Override
    public String name() {
        return NAME;
    }

    /**
     * A JSON object naming the schema is surely a manifest; one without the schema but with the three
     * size members is probably one.
     */
    @Override
    public int probe(ProbeInput input) {
        ByteBuffer head = input.head();
        int start = head.position();
        while (start < head.limit() && Character.isWhitespace(head.get(start))) {
            start++;
        }
        if (head.limit() - start >= 3 && (head.get(start) & 0xff) == 0xef && (head.get(start + 1) & 0xff) == 0xbb
                && (head.get(start + 2) & 0xff) == 0xbf) {
            start += 3;
        }
        if (start >= head.limit() || head.get(start) != '{') {
            return PROBE_NO;
        }
        byte[] bytes = new byte[head.limit() - start];
        head.get(start, bytes);
        String text = new String(bytes, StandardCharsets.UTF_8);
        if (text.contains('"' + ChunkedManifest.SCHEMA + '"')) {
            return PROBE_MAGIC;
        }
        return text.contains("\"totalSize\"") && text.contains("\"chunkSize\"") && text.contains("\"chunkCount\"")
                ? PROBE_WEAK : PROBE_NO;
    }

    @Override
    public VirtualDisk open(StorageBackend backend, OpenOptions options) throws StorageException {
        Settings settings;
        try {
            settings = Settings.parse(options.parameters());
        } catch (IllegalArgumentException e) {
            throw new StorageException(Kind.INVALID_CONFIG, e.getMessage()).withOperation(Operation.OPEN)
                    .withLocation(backend.location());
        }
        int sectorSize = options.logicalSectorSize() == 0 ? 512 : options.logicalSectorSize();
        RelatedFiles files = options.relatedFiles().orElseThrow(() -> new StorageException(Kind.UNSUPPORTED_FEATURE,
                "a chunked image's chunks are files beside its manifest, and this opener cannot open them")
                .withOperation(Operation.OPEN).withLocation(backend.location()));
        ChunkedManifest manifest = manifest(backend);
        if (manifest.totalSize() % sectorSize != 0) {
            throw new StorageException(Kind.INVALID_CONFIG, "the image's " + manifest.totalSize()
                    + " bytes are not a whole number of " + sectorSize + "-byte sectors").withOperation(Operation.OPEN)
                    .withLocation(backend.location());
        }
        return new ChunkedDisk(backend, manifest, files, sectorSize, settings);
    }

    /** Reads and checks the manifest the backend holds. */
    static ChunkedManifest manifest(StorageBackend backend) throws StorageException {
        long size = backend.size();
        if (size > ChunkedManifest.MAX_MANIFEST_BYTES) {
            throw new StorageException(Kind.CORRUPT_IMAGE, "the manifest is " + size + " bytes, more than the "
                    + ChunkedManifest.MAX_MANIFEST_BYTES + " allowed").withOperation(Operation.OPEN)
                    .withLocation(backend.location());
        }
        ByteBuffer bytes = ByteBuffer.allocate((int) size);
        backend.read(0, bytes);
        try {
            return ChunkedManifest.parse(bytes.array());
        } catch (IllegalArgumentException e) {
            throw new StorageException(Kind.CORRUPT_IMAGE, "not a usable chunked image manifest: " + e.getMessage())
                    .withOperation(Operation.OPEN).withLocation(backend.location());
        }
    }

    @Override
    public VirtualDisk create(StorageBackend backend, CreateOptions options) throws StorageException {
        throw new StorageException(Kind.UNSUPPORTED_FEATURE, "a chunked image is published from a whole disk with"
                + " 'img chunk', not created empty").withOperation(Operation.CREATE).withLocation(backend.location());
    }
}
