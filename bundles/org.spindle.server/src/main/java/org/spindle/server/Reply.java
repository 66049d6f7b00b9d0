package org.spindle.server;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;

/**
 * An answer of {@link ImageServer}: a status, headers and a body that is nothing, bytes in memory, or a
 * region of a file (sent by the container without being read into memory first).
 */
public final class Reply {
    /**
     * A region of a file: {@code length} bytes from {@code offset}, of the file as it was described
     * ({@code fileSize} bytes, modified at {@code modified}): a file replaced since is not sent under
     * the old validators.
     */
    public record FileRegion(Path file, long offset, long length, long fileSize, java.time.Instant modified) {
    }

    private final int status;
    private final Map<String, List<String>> headers = new LinkedHashMap<>();
    private byte[] bytes;
    private FileRegion region;
    private Runnable done = () -> { };

    Reply(int status) {
        this.status = status;
    }

    public int status() {
        return status;
    }

    /** Headers by their canonical spelling, in the order set. */
    public Map<String, List<String>> headers() {
        return headers;
    }

    /** The first value of {@code name} (any case). */
    public Optional<String> header(String name) {
        for (Map.Entry<String, List<String>> e : headers.entrySet()) {
            if (e.getKey().equalsIgnoreCase(name) && !e.getValue().isEmpty()) {
                return Optional.of(e.getValue().get(0));
            }
        }
        return Optional.empty();
    }

    Reply set(String name, String value) {
        headers.keySet().removeIf(k -> k.equalsIgnoreCase(name));
        headers.put(name, new ArrayList<>(List.of(value)));
        return this;
    }

    /** Adds {@code value} to a comma-separated header such as {@code Vary}, once. */
    Reply append(String name, String value) {
        Optional<String> now = header(name);
        if (now.isEmpty()) {
            return set(name, value);
        }
        for (String one : now.get().split(",")) {
            if (one.strip().equalsIgnoreCase(value)) {
                return this;
            }
        }
        return set(name, now.get() + ", " + value);
    }

    Reply body(byte[] value) {
        this.bytes = value;
        this.region = null;
        return set("Content-Length", Integer.toString(value.length));
    }

    Reply body(FileRegion value) {
        this.region = value;
        this.bytes = null;
        return set("Content-Length", Long.toString(value.length()));
    }

    /** Drops the body but keeps its headers (a HEAD request). */
    Reply withoutBody() {
        bytes = null;
        region = null;
        return this;
    }

    /** The body held in memory, if any. */
    public Optional<byte[]> bytes() {
        return Optional.ofNullable(bytes);
    }

    /** The file region to send, if any. */
    public Optional<FileRegion> region() {
        return Optional.ofNullable(region);
    }

    /** Runs {@code action} once the reply has been sent (or has failed to be): a permit is given back. */
    Reply whenDone(Runnable action) {
        Runnable before = done;
        done = () -> {
            try {
                before.run();
            } finally {
                action.run();
            }
        };
        return this;
    }

    /** Tells the server the reply is sent; the container calls it once, whatever happened. */
    public void finish() {
        Runnable d = done;
        done = () -> { };
        d.run();
    }

    /** The body as text (tests, logs). */
    public String text() {
        return bytes == null ? "" : new String(bytes, StandardCharsets.UTF_8);
    }

    @Override
    public String toString() {
        return "Reply[" + status + " " + headers.keySet().stream().map(k -> k.toLowerCase(Locale.ROOT)).toList() + "]";
    }
}
