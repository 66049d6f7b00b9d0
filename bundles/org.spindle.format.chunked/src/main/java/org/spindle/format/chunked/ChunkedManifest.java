package org.spindle.format.chunked;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.regex.Pattern;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonGenerator;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.StreamReadConstraints;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.json.JsonMapper;

/**
 * The manifest of a chunked image ({@value #SCHEMA}): a disk of {@code totalSize} bytes cut into
 * {@code chunkCount} objects {@code chunks/NNNNNNNN.bin} of {@code chunkSize} bytes (the last one holds
 * the rest), each with an optional size and SHA-256. The chunk holding byte {@code p} is
 * {@code p / chunkSize}.
 *
 * <p>{@link #parse} holds a manifest to the format's rules and limits, so that nothing a server sends
 * can make a reader allocate without bound or read the wrong bytes: sizes are positive multiples of 512,
 * a chunk is at most {@value #MAX_CHUNK_SIZE} bytes, there are at most {@value #MAX_CHUNKS} chunks,
 * {@code chunkCount} is exactly {@code ceil(totalSize / chunkSize)}, names are at most
 * {@value #MAX_WIDTH} digits wide, and a listed chunk size is the one its position requires.
 *
 * @param imageId the image's name, or {@code null}
 * @param version names the image's bytes (opaque; {@code sha256-<hex>} of the whole disk as
 *        {@link ChunkedPublisher} writes it): a reader may cache chunks under it
 * @param mimeType what the disk holds, {@code application/octet-stream} for a disk
 * @param totalSize the disk's size in bytes
 * @param chunkSize the size of every chunk but the last
 * @param chunkIndexWidth the digits of a chunk's name (zero-padded decimal)
 * @param sha256 each chunk's SHA-256 in lower-case hex; an entry (or the whole list) may be {@code null}
 *        where the manifest gives none
 */
public record ChunkedManifest(String imageId, String version, String mimeType, long totalSize, int chunkSize,
        int chunkIndexWidth, List<String> sha256) {
    /** The schema name a manifest carries in {@code schema}. */
    public static final String SCHEMA = "aero.chunked-disk-image.v1";
    /** The name a manifest is published under, beside its {@code chunks/} directory. */
    public static final String FILE_NAME = "manifest.json";
    /** The chunk size of a new chunked image when none is given: 4 MiB. */
    public static final int DEFAULT_CHUNK_SIZE = 4 << 20;
    /** The largest chunk: 64 MiB. */
    public static final int MAX_CHUNK_SIZE = 64 << 20;
    /** The most chunks a manifest may list. */
    public static final int MAX_CHUNKS = 500_000;
    /** The widest chunk name, in digits. */
    public static final int MAX_WIDTH = 32;
    /** The largest image: {@value #MAX_CHUNKS} chunks of {@value #MAX_CHUNK_SIZE} bytes. */
    public static final long MAX_TOTAL_SIZE = (long) MAX_CHUNKS * MAX_CHUNK_SIZE;
    /** The largest manifest read: 64 MiB. */
    public static final int MAX_MANIFEST_BYTES = 64 << 20;
    /** The width of chunk names when none is given. */
    public static final int DEFAULT_WIDTH = 8;

    private static final Pattern HEX64 = Pattern.compile("[0-9a-f]{64}");
    private static final ObjectMapper JSON = JsonMapper.builder(JsonFactory.builder()
            .streamReadConstraints(StreamReadConstraints.builder().maxNestingDepth(16)
                    .maxNumberLength(40).maxStringLength(1 << 20).build()).build())
            .enable(JsonParser.Feature.STRICT_DUPLICATE_DETECTION).build();

    /** @throws IllegalArgumentException when the values break the format's rules (the message says which) */
    public ChunkedManifest {
        if (version == null || version.isEmpty()) {
            throw new IllegalArgumentException("version must be a non-empty string");
        }
        if (mimeType == null || mimeType.isEmpty()) {
            throw new IllegalArgumentException("mimeType must be a non-empty string");
        }
        if (totalSize <= 0 || totalSize % 512 != 0 || totalSize > MAX_TOTAL_SIZE) {
            throw new IllegalArgumentException("totalSize must be a positive multiple of 512 of at most "
                    + MAX_TOTAL_SIZE + " bytes, not " + totalSize);
        }
        if (chunkSize <= 0 || chunkSize % 512 != 0 || chunkSize > MAX_CHUNK_SIZE) {
            throw new IllegalArgumentException("chunkSize must be a positive multiple of 512 of at most "
                    + MAX_CHUNK_SIZE + " bytes, not " + chunkSize);
        }
        long count = (totalSize + chunkSize - 1) / chunkSize;
        if (count > MAX_CHUNKS) {
            throw new IllegalArgumentException(count + " chunks are more than the " + MAX_CHUNKS + " a manifest may list"
                    + " (use larger chunks)");
        }
        int digits = Long.toString(count - 1).length();
        if (chunkIndexWidth < digits || chunkIndexWidth > MAX_WIDTH) {
            throw new IllegalArgumentException("chunkIndexWidth must be from " + digits + " (the digits of the last"
                    + " chunk's index) to " + MAX_WIDTH + ", not " + chunkIndexWidth);
        }
        if (sha256 != null) {
            if (sha256.size() != count) {
                throw new IllegalArgumentException("the manifest lists " + sha256.size() + " chunks, not chunkCount "
                        + count);
            }
            for (int i = 0; i < sha256.size(); i++) {
                String h = sha256.get(i);
                if (h != null && !HEX64.matcher(h).matches()) {
                    throw new IllegalArgumentException("chunks[" + i + "].sha256 must be 64 lower-case hex digits");
                }
            }
            // a list without a single digest says no more than no list
            sha256 = sha256.stream().allMatch(h -> h == null) ? null
                    : Collections.unmodifiableList(new ArrayList<>(sha256));
        }
    }

    /** How many chunks the image has: {@code ceil(totalSize / chunkSize)}. */
    public int chunkCount() {
        return (int) ((totalSize + chunkSize - 1) / chunkSize);
    }

    /** The size of chunk {@code index}: {@code chunkSize}, or the rest for the last one. */
    public int chunkLength(int index) {
        long start = (long) index * chunkSize;
        return (int) Math.min(chunkSize, totalSize - start);
    }

    /** The SHA-256 of chunk {@code index}, or {@code null} when the manifest gives none. */
    public String chunkSha256(int index) {
        return sha256 == null ? null : sha256.get(index);
    }

    /** Where chunk {@code index} lives, relative to the manifest: {@code chunks/00000042.bin}. */
    public String chunkPath(int index) {
        return "chunks/" + chunkName(index);
    }

    /** The file name of chunk {@code index}: its decimal index, zero-padded to {@code chunkIndexWidth}. */
    public String chunkName(int index) {
        String digits = Integer.toString(index);
        return "0".repeat(Math.max(0, chunkIndexWidth - digits.length())) + digits + ".bin";
    }

    /**
     * Reads a manifest: a JSON object with {@code totalSize}, {@code chunkSize}, {@code chunkCount},
     * {@code version} and {@code mimeType}; optionally {@code schema} (which must then be
     * {@value #SCHEMA}), {@code imageId}, {@code chunkIndexWidth} (else {@value #DEFAULT_WIDTH}) and
     * {@code chunks}, a list of {@code {size?, sha256?}} of {@code chunkCount} entries. Other members
     * are ignored.
     *
     * @throws IllegalArgumentException naming the first thing wrong
     */
    public static ChunkedManifest parse(byte[] json) {
        if (json.length > MAX_MANIFEST_BYTES) {
            throw new IllegalArgumentException("the manifest is " + json.length + " bytes, more than the "
                    + MAX_MANIFEST_BYTES + " allowed");
        }
        JsonNode root;
        try {
            root = JSON.readTree(json);
        } catch (JsonProcessingException e) {
            throw new IllegalArgumentException("the manifest is not valid JSON: " + e.getOriginalMessage()
                    + location(e), e);
        } catch (IOException e) {
            throw new IllegalArgumentException("the manifest cannot be read: " + e.getMessage(), e);
        }
        if (root == null || !root.isObject()) {
            throw new IllegalArgumentException("the manifest is not a JSON object");
        }
        JsonNode schema = root.get("schema");
        if (schema != null && !(schema.isTextual() && SCHEMA.equals(schema.asText()))) {
            throw new IllegalArgumentException("the manifest's schema is " + schema + ", not \"" + SCHEMA + "\"");
        }
        long totalSize = integer(root, "totalSize", true, MAX_TOTAL_SIZE);
        int chunkSize = (int) integer(root, "chunkSize", true, Integer.MAX_VALUE);
        long chunkCount = integer(root, "chunkCount", true, Long.MAX_VALUE);
        int width = (int) integer(root, "chunkIndexWidth", false, Integer.MAX_VALUE);
        String version = text(root, "version", true);
        String mimeType = text(root, "mimeType", true);
        String imageId = text(root, "imageId", false);
        if (chunkSize > 0 && totalSize > 0 && chunkCount != (totalSize + chunkSize - 1) / chunkSize) {
            throw new IllegalArgumentException("chunkCount is " + chunkCount + ", but " + totalSize + " bytes in chunks of "
                    + chunkSize + " make " + (totalSize + chunkSize - 1) / chunkSize);
        }
        List<String> hashes = null;
        JsonNode chunks = root.get("chunks");
        if (chunks != null && !chunks.isNull()) {
            if (!chunks.isArray()) {
                throw new IllegalArgumentException("chunks must be a list");
            }
            if (chunks.size() != chunkCount) {
                throw new IllegalArgumentException("the manifest lists " + chunks.size() + " chunks, not chunkCount "
                        + chunkCount);
            }
            hashes = new ArrayList<>(chunks.size());
            int i = 0;
            for (Iterator<JsonNode> it = chunks.elements(); it.hasNext(); i++) {
                JsonNode entry = it.next();
                if (!entry.isObject()) {
                    throw new IllegalArgumentException("chunks[" + i + "] is not an object");
                }
                long expected = Math.min(chunkSize, totalSize - (long) i * chunkSize);
                JsonNode size = entry.get("size");
                if (size != null && !size.isNull()) {
                    long given = integer(entry, "size", true, Long.MAX_VALUE);
                    if (given != expected) {
                        throw new IllegalArgumentException("chunks[" + i + "].size is " + given + ", but chunk " + i
                                + " of this image is " + expected + " bytes");
                    }
                }
                JsonNode sha = entry.get("sha256");
                if (sha != null && !sha.isNull() && !sha.isTextual()) {
                    throw new IllegalArgumentException("chunks[" + i + "].sha256 must be a string");
                }
                hashes.add(sha == null || sha.isNull() ? null : sha.asText());
            }
        }
        return new ChunkedManifest(imageId, version, mimeType, totalSize, chunkSize,
                root.hasNonNull("chunkIndexWidth") ? width : DEFAULT_WIDTH, hashes);
    }

    private static String location(JsonProcessingException e) {
        return e.getLocation() == null ? "" : " (line " + e.getLocation().getLineNr() + ", column "
                + e.getLocation().getColumnNr() + ")";
    }

    private static long integer(JsonNode node, String name, boolean required, long max) {
        JsonNode v = node.get(name);
        if (v == null || v.isNull()) {
            if (required) {
                throw new IllegalArgumentException("the manifest has no " + name);
            }
            return 0;
        }
        if (!v.isIntegralNumber() || !v.canConvertToLong() || v.asLong() < 0 || v.asLong() > max) {
            throw new IllegalArgumentException(name + " must be a whole number from 0 to " + max + ", not " + v);
        }
        return v.asLong();
    }

    private static String text(JsonNode node, String name, boolean required) {
        JsonNode v = node.get(name);
        if (v == null || v.isNull()) {
            if (required) {
                throw new IllegalArgumentException("the manifest has no " + name);
            }
            return null;
        }
        if (!v.isTextual()) {
            throw new IllegalArgumentException(name + " must be a string, not " + v.getNodeType());
        }
        return v.asText();
    }

    /** This manifest as JSON (UTF-8, indented), with the schema, every chunk's size and its digest when known. */
    public byte[] toJson() {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        try (JsonGenerator g = JSON.getFactory().createGenerator(out)) {
            g.useDefaultPrettyPrinter();
            g.writeStartObject();
            g.writeStringField("schema", SCHEMA);
            if (imageId != null) {
                g.writeStringField("imageId", imageId);
            }
            g.writeStringField("version", version);
            g.writeStringField("mimeType", mimeType);
            g.writeNumberField("totalSize", totalSize);
            g.writeNumberField("chunkSize", chunkSize);
            g.writeNumberField("chunkCount", chunkCount());
            g.writeNumberField("chunkIndexWidth", chunkIndexWidth);
            g.writeArrayFieldStart("chunks");
            for (int i = 0; i < chunkCount(); i++) {
                g.writeStartObject();
                g.writeNumberField("size", chunkLength(i));
                String h = chunkSha256(i);
                if (h != null) {
                    g.writeStringField("sha256", h);
                }
                g.writeEndObject();
            }
            g.writeEndArray();
            g.writeEndObject();
        } catch (IOException e) {
            throw new IllegalStateException("writing JSON to memory failed", e);
        }
        out.write('\n');
        return out.toByteArray();
    }

    /** The facts {@code img info} shows. */
    public Map<String, Object> details() {
        Map<String, Object> d = new java.util.LinkedHashMap<>();
        if (imageId != null) {
            d.put("image-id", imageId);
        }
        d.put("version", version);
        d.put("chunk-size", chunkSize);
        d.put("chunks", chunkCount());
        long hashed = sha256 == null ? 0 : sha256.stream().filter(h -> h != null).count();
        d.put("chunks-with-sha256", hashed);
        return d;
    }
}
