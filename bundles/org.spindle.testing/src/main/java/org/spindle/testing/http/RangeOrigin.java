package org.spindle.testing.http;

import java.io.BufferedInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.InterruptedIOException;
import java.io.OutputStream;
import java.net.Socket;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A small HTTP/1.1 origin on loopback that serves images from memory by the Range rules of RFC 9110:
 * HEAD and GET, one range per request ({@code a-b}, {@code a-}, {@code -n}), {@code If-Range} by ETag,
 * persistent connections. Tests change an image (a new ETag) or ask for a bearer token, and read the
 * log of requests it served.
 */
public final class RangeOrigin implements AutoCloseable {
    private static final Pattern RANGE = Pattern.compile("bytes=(\\d*)-(\\d*)");

    public record Image(byte[] data, String etag) {
    }

    /** One request as the origin saw it. */
    public record Seen(String method, String path, String range, String authorization) {
    }

    private final Loopback loopback;
    private final Map<String, Image> images = new ConcurrentHashMap<>();
    private final Map<String, String> redirects = new ConcurrentHashMap<>();
    private final CopyOnWriteArrayList<Seen> log = new CopyOnWriteArrayList<>();
    private final AtomicLong bodyBytes = new AtomicLong();
    private final AtomicInteger generation = new AtomicInteger();
    private volatile boolean headAllowed = true;
    private volatile String token;
    private volatile String signature;
    private final AtomicReference<Hold> nextHold = new AtomicReference<>();
    private final CopyOnWriteArrayList<Hold> holds = new CopyOnWriteArrayList<>();

    /**
     * An answer stopped part way: its first bytes are sent, the rest waits for {@link #release()} (or
     * the origin's closing, or a minute).
     */
    public static final class Hold {
        private final int after;
        private final CountDownLatch reached = new CountDownLatch(1);
        private final CountDownLatch released = new CountDownLatch(1);

        private Hold(int after) {
            this.after = after;
        }

        /** Waits until an answer has sent its first bytes and stopped; {@code false} if none has within {@code limit}. */
        public boolean awaitReached(Duration limit) throws InterruptedException {
            return reached.await(limit.toNanos(), TimeUnit.NANOSECONDS);
        }

        /** Lets the held answer send the rest. */
        public void release() {
            released.countDown();
        }
    }

    public RangeOrigin() throws IOException {
        loopback = new Loopback("range-origin", this::serve);
    }

    /** Serves {@code data} at {@code path} with a fresh strong ETag. */
    public RangeOrigin serve(String path, byte[] data) {
        images.put(path, new Image(data, "\"v" + generation.incrementAndGet() + "-" + data.length + "\""));
        return this;
    }

    /**
     * Holds the next answer whose body is longer than {@code bytes}: it sends that many bytes of its
     * body and waits for {@link Hold#release()} before the rest, as a slow link would.
     */
    public Hold holdNextAnswerAfter(int bytes) {
        Hold hold = new Hold(bytes);
        holds.add(hold);
        nextHold.set(hold);
        return hold;
    }

    /** Answers requests for {@code from} with a 302 to {@code to} (an absolute URL or a path). */
    public RangeOrigin redirect(String from, String to) {
        redirects.put(from, to);
        return this;
    }

    /** Makes HEAD answer 405, as some signed-URL services do. */
    public RangeOrigin refuseHead() {
        headAllowed = false;
        return this;
    }

    /**
     * Requires the query parameter {@code name=value} of a signed URL, answering 403 (as S3 does to an
     * expired or wrong signature) to a request without it; {@code null} requires none.
     */
    public RangeOrigin requireSignature(String name, String value) {
        signature = name == null ? null : name + "=" + value;
        return this;
    }

    /** Requires {@code Authorization: Bearer value} (null: none). */
    public RangeOrigin requireToken(String value) {
        token = value;
        return this;
    }

    public URI uri(String path) {
        return loopback.uri(path);
    }

    public int port() {
        return loopback.port();
    }

    public Image image(String path) {
        return images.get(path);
    }

    public java.util.List<Seen> log() {
        return java.util.List.copyOf(log);
    }

    /** GET requests with a Range header. */
    public long rangeRequests() {
        return log.stream().filter(s -> s.method().equals("GET") && s.range() != null).count();
    }

    public long bodyBytes() {
        return bodyBytes.get();
    }

    public void clearLog() {
        log.clear();
        bodyBytes.set(0);
    }

    private void serve(Socket socket) {
        try (socket; InputStream in = new BufferedInputStream(socket.getInputStream());
                OutputStream out = socket.getOutputStream()) {
            while (true) {
                Map<String, String> headers = new LinkedHashMap<>();
                String requestLine = readHead(in, headers);
                if (requestLine == null) {
                    return;
                }
                String[] parts = requestLine.split(" ");
                respond(parts[0], parts[1], headers, out);
                out.flush();
            }
        } catch (IOException e) {
            // the client went away
        }
    }

    /** Reads a request or response head; returns its first line, or null at end of stream. */
    public static String readHead(InputStream in, Map<String, String> headers) throws IOException {
        String first = line(in);
        if (first == null) {
            return null;
        }
        for (String line = line(in); line != null && !line.isEmpty(); line = line(in)) {
            int colon = line.indexOf(':');
            headers.put(line.substring(0, colon).strip().toLowerCase(Locale.ROOT), line.substring(colon + 1).strip());
        }
        return first;
    }

    private static String line(InputStream in) throws IOException {
        StringBuilder sb = new StringBuilder();
        for (int c = in.read(); c != -1; c = in.read()) {
            if (c == '\n') {
                int n = sb.length();
                return n > 0 && sb.charAt(n - 1) == '\r' ? sb.substring(0, n - 1) : sb.toString();
            }
            sb.append((char) c);
        }
        return sb.isEmpty() ? null : sb.toString();
    }

    private void respond(String method, String path, Map<String, String> headers, OutputStream out) throws IOException {
        log.add(new Seen(method, path, headers.get("range"), headers.get("authorization")));
        String target = redirects.get(path);
        if (target != null) {
            write(out, 302, "Found", Map.of("Location", target, "Content-Length", "0"), null, 0, 0);
            return;
        }
        if (token != null && !("Bearer " + token).equals(headers.get("authorization"))) {
            write(out, 401, "Unauthorized", Map.of("Content-Length", "0", "WWW-Authenticate", "Bearer"), null, 0, 0);
            return;
        }
        int query = path.indexOf('?');
        String required = signature;
        if (required != null && (query < 0 || !java.util.Arrays.asList(path.substring(query + 1).split("&"))
                .contains(required))) {
            write(out, 403, "Forbidden", Map.of("Content-Length", "0"), null, 0, 0);
            return;
        }
        Image image = images.get(query < 0 ? path : path.substring(0, query));
        if (image == null) {
            write(out, 404, "Not Found", Map.of("Content-Length", "0"), null, 0, 0);
            return;
        }
        byte[] data = image.data();
        Map<String, String> h = new LinkedHashMap<>();
        h.put("Accept-Ranges", "bytes");
        h.put("ETag", image.etag());
        h.put("Content-Type", "application/octet-stream");
        h.put("Cache-Control", "no-transform");
        if (method.equals("HEAD")) {
            if (!headAllowed) {
                write(out, 405, "Method Not Allowed", Map.of("Content-Length", "0", "Allow", "GET"), null, 0, 0);
                return;
            }
            h.put("Content-Length", Long.toString(data.length));
            write(out, 200, "OK", h, null, 0, 0);
            return;
        }
        String range = headers.get("range");
        String ifRange = headers.get("if-range");
        if (range != null && (ifRange == null || ifRange.equals(image.etag()))) {
            Matcher m = RANGE.matcher(range.strip());
            long first;
            long last;
            if (m.matches() && !(m.group(1).isEmpty() && m.group(2).isEmpty())) {
                if (m.group(1).isEmpty()) {
                    first = Math.max(0, data.length - Long.parseLong(m.group(2)));
                    last = data.length - 1;
                } else {
                    first = Long.parseLong(m.group(1));
                    last = m.group(2).isEmpty() ? data.length - 1 : Math.min(Long.parseLong(m.group(2)), data.length - 1);
                }
                if (first <= last && first < data.length) {
                    h.put("Content-Range", "bytes " + first + "-" + last + "/" + data.length);
                    h.put("Content-Length", Long.toString(last - first + 1));
                    write(out, 206, "Partial Content", h, data, (int) first, (int) (last - first + 1));
                    return;
                }
            }
            write(out, 416, "Range Not Satisfiable", Map.of("Content-Range", "bytes */" + data.length,
                    "Content-Length", "0"), null, 0, 0);
            return;
        }
        h.put("Content-Length", Long.toString(data.length));
        write(out, 200, "OK", h, data, 0, data.length);
    }

    private void write(OutputStream out, int status, String reason, Map<String, String> headers, byte[] body, int from,
            int length) throws IOException {
        StringBuilder sb = new StringBuilder("HTTP/1.1 ").append(status).append(' ').append(reason).append("\r\n");
        headers.forEach((k, v) -> sb.append(k).append(": ").append(v).append("\r\n"));
        out.write(sb.append("\r\n").toString().getBytes(StandardCharsets.ISO_8859_1));
        if (body != null) {
            // counted before they are sent, so a client that has them all finds them counted
            bodyBytes.addAndGet(length);
            Hold hold = nextHold.get();
            if (hold != null && length > hold.after && nextHold.compareAndSet(hold, null)) {
                out.write(body, from, hold.after);
                out.flush();
                hold.reached.countDown();
                try {
                    hold.released.await(1, TimeUnit.MINUTES);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    throw new InterruptedIOException("interrupted while holding an answer");
                }
                out.write(body, from + hold.after, length - hold.after);
            } else {
                out.write(body, from, length);
            }
        }
    }

    @Override
    public void close() throws IOException {
        holds.forEach(Hold::release);
        loopback.close();
    }
}
