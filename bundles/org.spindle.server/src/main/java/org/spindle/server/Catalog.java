package org.spindle.server;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.BasicFileAttributes;
import java.nio.file.attribute.FileTime;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.regex.Pattern;
import java.util.stream.Stream;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

/**
 * The images a server offers, from its directory. With an {@code images.json} there, exactly those it
 * lists: {@code {"images": [{"id", "file", "name", "description", "public", "etag", "content_type",
 * "recommended_chunk_size_bytes", "chunked_version"}]}}. Without one, every regular file directly in
 * the directory whose name is a valid id, and every chunked image under {@code chunked/<id>/}.
 *
 * <p>An id is 1 to 128 of {@code A-Z a-z 0-9 . _ -}, and neither {@code .} nor {@code ..}; a file
 * must lie inside the directory once links are followed. Nothing else is ever opened.
 */
final class Catalog {
    static final String FILE = "images.json";
    private static final Pattern ID = Pattern.compile("[A-Za-z0-9._-]{1,128}");
    private static final Pattern CHUNK_NAME = Pattern.compile("[0-9]{1,32}\\.bin");
    private static final ObjectMapper JSON = new ObjectMapper();

    /** One image. {@code file} is {@code null} for an image that exists only chunked. */
    record Entry(String id, Path file, String name, String description, boolean isPublic, String etag,
            String contentType, Long recommendedChunkSize, String chunkedVersion) {
    }

    /** An image found in the directory itself: its file name is its id and name. */
    private Entry plain(String id, Path file) {
        return new Entry(id, file, id, null, publicByDefault, null, null, null, null);
    }

    private final Path root;
    private final boolean publicByDefault;
    private volatile Loaded loaded;

    private record Loaded(FileTime modified, long size, Map<String, Entry> entries) {
    }

    Catalog(Path root, boolean publicByDefault) {
        this.root = root.toAbsolutePath().normalize();
        this.publicByDefault = publicByDefault;
    }

    Path root() {
        return root;
    }

    static boolean validId(String id) {
        return id != null && ID.matcher(id).matches() && !id.equals(".") && !id.equals("..");
    }

    static boolean validChunkName(String name) {
        return CHUNK_NAME.matcher(name).matches();
    }

    /** Whether the directory can be served from (for {@code /readyz}). */
    boolean ready() {
        if (!Files.isDirectory(root) || !Files.isReadable(root)) {
            return false;
        }
        try {
            entries();
            return true;
        } catch (IOException | IllegalArgumentException e) {
            return false;
        }
    }

    /** Every image, by id. */
    Map<String, Entry> entries() throws IOException {
        Path listed = root.resolve(FILE);
        if (Files.isRegularFile(listed)) {
            BasicFileAttributes a = Files.readAttributes(listed, BasicFileAttributes.class);
            Loaded now = loaded;
            if (now == null || !now.modified().equals(a.lastModifiedTime()) || now.size() != a.size()) {
                now = new Loaded(a.lastModifiedTime(), a.size(), read(Files.readAllBytes(listed)));
                loaded = now;
            }
            return now.entries();
        }
        Map<String, Entry> found = new LinkedHashMap<>();
        try (Stream<Path> files = Files.list(root)) {
            for (Path p : files.sorted().toList()) {
                String name = p.getFileName().toString();
                if (validId(name) && !name.startsWith(".") && Files.isRegularFile(p) && inside(p)) {
                    found.put(name, plain(name, p));
                }
            }
        }
        Path chunked = root.resolve("chunked");
        if (Files.isDirectory(chunked, LinkOption.NOFOLLOW_LINKS)) {
            try (Stream<Path> dirs = Files.list(chunked)) {
                for (Path p : dirs.sorted().toList()) {
                    String name = p.getFileName().toString();
                    if (validId(name) && !name.startsWith(".") && Files.isDirectory(p) && !found.containsKey(name)) {
                        found.put(name, plain(name, null));
                    }
                }
            }
        }
        return found;
    }

    Optional<Entry> find(String id) throws IOException {
        if (!validId(id)) {
            return Optional.empty();
        }
        if (!Files.isRegularFile(root.resolve(FILE))) {
            // a directory is not listed for one lookup
            Path p = root.resolve(id);
            if (!id.startsWith(".") && Files.isRegularFile(p) && inside(p)) {
                return Optional.of(plain(id, p));
            }
            Path c = root.resolve("chunked").resolve(id);
            if (!id.startsWith(".") && Files.isDirectory(c) && inside(c)) {
                return Optional.of(plain(id, null));
            }
            return Optional.empty();
        }
        return Optional.ofNullable(entries().get(id));
    }

    /**
     * A file of the chunked form of {@code entry}: its manifest ({@code chunk} null) or a chunk, in
     * {@code chunked/<id>/[<version>/]}. Empty when the names are invalid or the file is absent.
     */
    Optional<Path> chunkedFile(Entry entry, String version, String chunk) {
        if (version != null && !validId(version) || chunk != null && !validChunkName(chunk)) {
            return Optional.empty();
        }
        Path dir = root.resolve("chunked").resolve(entry.id());
        String v = version != null ? version : entry.chunkedVersion();
        if (v != null) {
            if (!validId(v)) {
                return Optional.empty();
            }
            dir = dir.resolve(v);
        }
        Path file = chunk == null ? dir.resolve("manifest.json") : dir.resolve("chunks").resolve(chunk);
        try {
            return Files.isRegularFile(file) && inside(file) ? Optional.of(file) : Optional.empty();
        } catch (IOException e) {
            return Optional.empty();
        }
    }

    private boolean inside(Path p) throws IOException {
        return p.toRealPath().startsWith(root.toRealPath());
    }

    private Map<String, Entry> read(byte[] json) throws IOException {
        JsonNode tree = JSON.readTree(json);
        JsonNode images = tree == null ? null : tree.get("images");
        if (images == null || !images.isArray()) {
            throw new IllegalArgumentException(FILE + " must be an object with a list 'images'");
        }
        Map<String, Entry> entries = new LinkedHashMap<>();
        List<String> problems = new ArrayList<>();
        for (Iterator<JsonNode> it = images.elements(); it.hasNext();) {
            JsonNode e = it.next();
            String id = e.path("id").asText(null);
            if (!validId(id)) {
                problems.add("invalid id " + e.path("id"));
                continue;
            }
            Path file = null;
            if (e.hasNonNull("file")) {
                Path p = root.resolve(e.get("file").asText()).normalize();
                if (!p.startsWith(root) || !Files.isRegularFile(p) || !inside(p)) {
                    problems.add(id + ": file " + e.get("file") + " is not a file inside " + root);
                    continue;
                }
                file = p;
            }
            entries.put(id, new Entry(id, file, e.path("name").asText(id), e.path("description").asText(null),
                    e.path("public").asBoolean(publicByDefault), e.path("etag").asText(null),
                    e.path("content_type").asText(null),
                    e.hasNonNull("recommended_chunk_size_bytes") ? e.get("recommended_chunk_size_bytes").asLong() : null,
                    e.path("chunked_version").asText(null)));
        }
        if (!problems.isEmpty()) {
            System.getLogger(Catalog.class.getName()).log(System.Logger.Level.WARNING,
                    FILE + ": entries skipped: " + String.join("; ", problems));
        }
        return java.util.Collections.unmodifiableMap(entries);
    }
}
