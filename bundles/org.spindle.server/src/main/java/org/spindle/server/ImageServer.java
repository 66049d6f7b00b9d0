package org.spindle.server;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.BasicFileAttributes;
import java.security.MessageDigest;
import java.time.Clock;
import java.time.Instant;
import java.time.ZoneOffset;
import java.time.ZonedDateTime;
import java.time.format.DateTimeFormatter;
import java.time.format.DateTimeParseException;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.Semaphore;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

/**
 * The image streaming service, apart from any servlet container: a {@link Request} in, a {@link Reply}
 * out. Routes:
 * <ul>
 * <li>{@code GET|HEAD|OPTIONS /v1/images/{id}} (or {@code …/data}): the image's bytes, one range at a
 * time;</li>
 * <li>{@code GET /v1/images}, {@code GET /v1/images/{id}/meta}: the catalogue, one image's facts;</li>
 * <li>{@code GET|HEAD /v1/images/{id}/chunked[/{version}]/manifest.json} (or {@code …/manifest}) and
 * {@code …/chunks/{NNNNNNNN}.bin}: the image's chunked form;</li>
 * <li>{@code POST /v1/leases}: a short-lived read lease;</li>
 * <li>{@code GET /healthz}, {@code /readyz}, {@code /metrics}.</li>
 * </ul>
 * Bytes are served by the Range rules (RFC 9110 §14): one range per request ({@code 206}), several or
 * a malformed one {@code 416}, one longer than {@code max.range} or a header too big {@code 413};
 * {@code If-Range} (a strong ETag, or the exact date) decides between the range and the whole;
 * {@code If-None-Match} and {@code If-Modified-Since} answer {@code 304}. Responses say
 * {@code no-transform}, {@code nosniff} and {@code Cross-Origin-Resource-Policy}; CORS follows
 * {@code cors.origins}. At most {@code max.concurrent} transfers run at once; more get {@code 429}.
 * A private image, or any request carrying a token, needs a valid lease for that image: a missing,
 * malformed, forged or expired token is {@code 401}, one for another image {@code 403}, and neither
 * carries a byte of the image.
 */
final class ImageServer {
    /** IMF-fixdate (RFC 9110 §5.6.7): always two-digit days, always GMT. */
    static final DateTimeFormatter HTTP_DATE = DateTimeFormatter.ofPattern("EEE, dd MMM yyyy HH:mm:ss 'GMT'",
            java.util.Locale.US).withZone(ZoneOffset.UTC);
    /** The obsolete forms a recipient must still accept: RFC 850 and asctime. */
    private static final DateTimeFormatter RFC_850 = DateTimeFormatter.ofPattern("EEEE, dd-MMM-yy HH:mm:ss 'GMT'",
            java.util.Locale.US).withZone(ZoneOffset.UTC);
    private static final DateTimeFormatter ASCTIME = DateTimeFormatter.ofPattern("EEE MMM ppd HH:mm:ss yyyy",
            java.util.Locale.US).withZone(ZoneOffset.UTC);
    private static final String JSON_TYPE = "application/json";
    private static final String ALLOW = "GET, HEAD, OPTIONS";
    private static final String ALLOW_HEADERS = "Range, If-Range, If-None-Match, If-Modified-Since, Authorization,"
            + " Content-Type";
    private static final String EXPOSE = "ETag, Last-Modified, Cache-Control, Content-Range, Accept-Ranges,"
            + " Content-Length, Content-Encoding";
    private static final String NO_STORE = "no-store, no-transform";
    private static final ObjectMapper JSON = new ObjectMapper();

    private final ServerSettings settings;
    private final Catalog catalog;
    private final Leases leases;
    private final Semaphore transfers;
    private final Metrics metrics = new Metrics();
    private final Clock clock;

    ImageServer(ServerSettings settings, Clock clock) {
        this.settings = settings;
        this.clock = clock;
        this.catalog = new Catalog(settings.dir(), settings.publicByDefault());
        this.leases = settings.leases() ? new Leases(settings.leaseKeys(), settings.leaseKid(), settings.audience(), clock)
                : null;
        this.transfers = new Semaphore(settings.maxConcurrent());
    }

    Metrics metrics() {
        return metrics;
    }

    /** Answers {@code request}; never throws. */
    Reply handle(Request request) {
        String route = "other";
        Reply reply;
        try {
            List<String> parts = segments(request.path());
            route = route(parts);
            reply = dispatch(request, parts);
        } catch (IOException | RuntimeException e) {
            System.getLogger(ImageServer.class.getName()).log(System.Logger.Level.WARNING,
                    "failed to answer " + request.method() + " " + request.path(), e);
            reply = error(500, "the server failed to answer");
        }
        try {
            cors(request, reply);
        } catch (RuntimeException e) {
            // whatever was granted for the reply (a transfer slot) goes back with it
            reply.finish();
            reply = error(500, "the server failed to answer");
        }
        metrics.count(route, reply.status());
        return reply;
    }

    private static List<String> segments(String path) {
        List<String> parts = new ArrayList<>();
        for (String s : path.split("/", -1)) {
            if (!s.isEmpty()) {
                parts.add(s);
            }
        }
        return parts;
    }

    private static String route(List<String> p) {
        if (p.size() == 1 && List.of("healthz", "readyz", "metrics").contains(p.get(0))) {
            return p.get(0);
        }
        if (p.size() >= 2 && p.get(0).equals("v1")) {
            if (p.get(1).equals("leases")) {
                return "leases";
            }
            if (p.get(1).equals("images")) {
                if (p.size() == 2) {
                    return "images";
                }
                if (p.size() >= 4 && p.get(3).equals("chunked")) {
                    return "chunked";
                }
                if (p.size() == 4 && p.get(3).equals("meta")) {
                    return "meta";
                }
                return "image";
            }
        }
        return "other";
    }

    private Reply dispatch(Request r, List<String> p) throws IOException {
        String m = r.method();
        if (p.size() == 1 && p.get(0).equals("healthz")) {
            return only(m, "GET", "HEAD") ? json(200, Map.of("status", "ok"), r) : notAllowed("GET, HEAD");
        }
        if (p.size() == 1 && p.get(0).equals("readyz")) {
            if (!only(m, "GET", "HEAD")) {
                return notAllowed("GET, HEAD");
            }
            return catalog.ready() ? json(200, Map.of("status", "ok"), r) : json(503, Map.of("status", "error"), r);
        }
        if (p.size() == 1 && p.get(0).equals("metrics")) {
            return metrics(r);
        }
        if (p.size() < 2 || !p.get(0).equals("v1")) {
            return error(404, "no such resource");
        }
        if (p.get(1).equals("leases") && p.size() == 2) {
            return m.equals("POST") ? lease(r) : m.equals("OPTIONS") ? preflight(r, "POST, OPTIONS") : notAllowed("POST");
        }
        if (!p.get(1).equals("images")) {
            return error(404, "no such resource");
        }
        if (p.size() == 2) {
            return only(m, "GET", "HEAD") ? list(r) : notAllowed("GET, HEAD");
        }
        String id = p.get(2);
        if (!Catalog.validId(id)) {
            return error(400, "an image id is 1 to 128 of A-Z a-z 0-9 . _ -, and not . or ..");
        }
        Optional<Catalog.Entry> found = catalog.find(id);
        if (m.equals("OPTIONS")) {
            return preflight(r, ALLOW);
        }
        if (found.isEmpty()) {
            return error(404, "no image '" + id + "'");
        }
        Catalog.Entry entry = found.get();
        if (p.size() == 3 || p.size() == 4 && p.get(3).equals("data")) {
            if (!only(m, "GET", "HEAD")) {
                return notAllowed(ALLOW);
            }
            if (entry.file() == null) {
                return error(404, "image '" + id + "' exists only in chunked form");
            }
            return bytes(r, entry, entry.file(), false, false);
        }
        if (p.size() == 4 && p.get(3).equals("meta")) {
            return only(m, "GET", "HEAD") ? meta(r, entry) : notAllowed("GET, HEAD");
        }
        if (p.get(3).equals("chunked")) {
            if (!only(m, "GET", "HEAD")) {
                return notAllowed(ALLOW);
            }
            return chunked(r, entry, p.subList(4, p.size()));
        }
        return error(404, "no such resource");
    }

    private static boolean only(String method, String... allowed) {
        return List.of(allowed).contains(method);
    }

    // ---- image bytes

    private Reply chunked(Request r, Catalog.Entry entry, List<String> rest) throws IOException {
        String version = null;
        List<String> tail = rest;
        if (!tail.isEmpty() && !isManifest(tail.get(0)) && !tail.get(0).equals("chunks")) {
            version = tail.get(0);
            tail = tail.subList(1, tail.size());
        }
        Optional<Path> file;
        if (tail.size() == 1 && isManifest(tail.get(0))) {
            file = catalog.chunkedFile(entry, version, null);
        } else if (tail.size() == 2 && tail.get(0).equals("chunks")) {
            if (!Catalog.validChunkName(tail.get(1))) {
                return error(400, "a chunk name is 1 to 32 decimal digits and .bin");
            }
            file = catalog.chunkedFile(entry, version, tail.get(1));
        } else {
            return error(404, "no such resource");
        }
        if (file.isEmpty()) {
            return error(404, "image '" + entry.id() + "' has no such chunked file");
        }
        return bytes(r, entry, file.get(), true, version != null);
    }

    private static boolean isManifest(String s) {
        return s.equals("manifest.json") || s.equals("manifest");
    }

    /** Serves {@code file} (the image, or a part of its chunked form) by the Range and conditional rules. */
    /**
     * @param versioned the URL names the version (chunked files under {@code /chunked/{version}/}):
     *        its bytes never change, so caches may keep them for good
     */
    private Reply bytes(Request r, Catalog.Entry entry, Path file, boolean chunkedPart, boolean versioned)
            throws IOException {
        Optional<Reply> refused = authorize(r, entry);
        if (refused.isPresent()) {
            return refused.get();
        }
        BasicFileAttributes a = Files.readAttributes(file, BasicFileAttributes.class);
        long size = a.size();
        Instant modified = a.lastModifiedTime().toInstant();
        String etag = !chunkedPart && entry.etag() != null ? entityTag(entry.etag()) : fileTag(size, modified);
        boolean isPublic = entry.isPublic() && r.header("Authorization").isEmpty() && r.parameter("cap").isEmpty();
        String cacheControl = !isPublic ? "private, no-store, no-transform"
                : versioned ? "public, max-age=31536000, immutable, no-transform"
                : chunkedPart ? "public, no-cache, no-transform" : "public, max-age=3600, no-transform";

        Reply reply;
        if (notModified(r, etag, modified)) {
            reply = new Reply(304);
        } else {
            // Range is defined for GET only (RFC 9110 §14.2): a HEAD describes the whole representation
            ByteRange range = !r.method().equals("GET") || r.headers("Range").isEmpty() ? new ByteRange.Whole()
                    : ByteRange.parse(String.join(",", r.headers("Range")), size);
            if (!(range instanceof ByteRange.Whole) && !ifRangeHolds(r, etag, modified)) {
                range = new ByteRange.Whole();
            }
            switch (range) {
                case ByteRange.TooLarge t -> {
                    return error(413, t.why());
                }
                case ByteRange.Unsatisfiable u -> {
                    Reply e = error(416, u.why());
                    e.set("Content-Range", "bytes */" + size);
                    return e;
                }
                case ByteRange.Single s -> {
                    if (s.length() > settings.maxRangeBytes()) {
                        return error(413, "a range may be at most " + settings.maxRangeBytes() + " bytes; ask for "
                                + s.length() + " in smaller pieces");
                    }
                    reply = new Reply(206);
                    reply.set("Content-Range", "bytes " + s.first() + "-" + s.last() + "/" + size);
                    reply.body(new Reply.FileRegion(file, s.first(), s.length(), size, modified));
                }
                case ByteRange.Whole w -> {
                    reply = new Reply(200);
                    reply.body(new Reply.FileRegion(file, 0, size, size, modified));
                }
            }
        }
        reply.set("Accept-Ranges", "bytes");
        reply.set("ETag", etag);
        reply.set("Last-Modified", HTTP_DATE.format(modified));
        reply.set("Cache-Control", cacheControl);
        reply.set("X-Content-Type-Options", "nosniff");
        reply.set("Cross-Origin-Resource-Policy", settings.corp());
        if (!isPublic) {
            reply.append("Vary", "Authorization");
        }
        if (reply.status() != 304) {
            reply.set("Content-Type", file.getFileName().toString().equals("manifest.json") ? JSON_TYPE
                    : entry.contentType() != null && !chunkedPart ? entry.contentType() : "application/octet-stream");
        }
        if (r.method().equals("HEAD") || reply.status() == 304) {
            return reply.withoutBody();
        }
        if (!transfers.tryAcquire()) {
            metrics.rejected.increment();
            Reply busy = error(429, "too many transfers at once; try again shortly");
            busy.set("Retry-After", "1");
            return busy;
        }
        metrics.inFlight.incrementAndGet();
        long length = reply.region().map(Reply.FileRegion::length).orElse(0L);
        return reply.whenDone(() -> {
            metrics.inFlight.decrementAndGet();
            metrics.bytesSent.add(length);
            transfers.release();
        });
    }

    /** {@code 304} rules: {@code If-None-Match} (weak comparison), else {@code If-Modified-Since}. */
    private static boolean notModified(Request r, String etag, Instant modified) {
        List<String> inm = r.headers("If-None-Match");
        if (!inm.isEmpty()) {
            for (String list : inm) {
                for (String tag : list.split(",")) {
                    String t = tag.strip();
                    if (t.equals("*") || opaque(t).equals(opaque(etag))) {
                        return true;
                    }
                }
            }
            return false;
        }
        Optional<Instant> since = date(r.header("If-Modified-Since").orElse(null));
        return since.isPresent() && modified.getEpochSecond() <= since.get().getEpochSecond();
    }

    /**
     * Whether {@code If-Range} (when given) lets the range stand: a strong ETag equal to the current one,
     * or a date equal to {@code Last-Modified} when that is a strong validator (at least a second old).
     */
    private boolean ifRangeHolds(Request r, String etag, Instant modified) {
        Optional<String> value = r.header("If-Range").map(String::strip);
        if (value.isEmpty()) {
            return true;
        }
        String v = value.get();
        if (v.startsWith("\"") || v.startsWith("W/")) {
            // strong comparison: a weak tag on either side never matches
            return !v.startsWith("W/") && !etag.startsWith("W/") && v.equals(etag);
        }
        Optional<Instant> date = date(v);
        return date.isPresent() && date.get().getEpochSecond() == modified.getEpochSecond()
                && modified.getEpochSecond() + 1 <= clock.instant().getEpochSecond();
    }

    /** A file's strong entity tag: its size, modification second and nanoseconds, in hex. */
    private static String fileTag(long size, Instant modified) {
        return "\"" + Long.toHexString(size) + "-" + Long.toHexString(modified.getEpochSecond()) + "-"
                + Integer.toHexString(modified.getNano()) + "\"";
    }

    private static String opaque(String tag) {
        return tag.startsWith("W/") ? tag.substring(2) : tag;
    }

    /**
     * The catalogue's entity tag as sent: a valid strong tag as it is, a valid weak one kept weak, and
     * anything else made a weak tag of its safe characters (a weak tag never satisfies {@code If-Range}).
     */
    static String entityTag(String tag) {
        String t = tag.strip();
        boolean weak = t.startsWith("W/");
        String opaque = weak ? t.substring(2) : t;
        if (opaque.length() >= 2 && opaque.startsWith("\"") && opaque.endsWith("\"")
                && opaque.substring(1, opaque.length() - 1).matches("[\\x21\\x23-\\x7e\\x80-\\xff]*")) {
            return t;
        }
        return "W/\"" + t.replaceAll("[^\\x21\\x23-\\x7e]", "") + "\"";
    }

    /** An HTTP date in any of its three forms (RFC 9110 §5.6.7), or empty. */
    static Optional<Instant> date(String value) {
        if (value == null) {
            return Optional.empty();
        }
        String v = value.strip();
        try {
            return Optional.of(ZonedDateTime.parse(v, DateTimeFormatter.RFC_1123_DATE_TIME).toInstant());
        } catch (DateTimeParseException e) {
            // try the obsolete forms
        }
        for (DateTimeFormatter f : new DateTimeFormatter[] {RFC_850, ASCTIME}) {
            try {
                Instant parsed = ZonedDateTime.parse(v, f).toInstant();
                // RFC 850's two-digit year: more than 50 years ahead is taken as the past century
                if (f == RFC_850 && parsed.isAfter(Instant.now().plus(java.time.Duration.ofDays(50L * 365)))) {
                    parsed = parsed.atZone(ZoneOffset.UTC).minusYears(100).toInstant();
                }
                return Optional.of(parsed);
            } catch (DateTimeParseException e) {
                // not this form
            }
        }
        return Optional.empty();
    }

    // ---- access

    /**
     * Empty when {@code r} may read {@code entry}: a public image asked for without a token, or any
     * image with a valid lease for it ({@code Authorization: Bearer}, or {@code ?cap=} in a signed URL).
     */
    private Optional<Reply> authorize(Request r, Catalog.Entry entry) {
        Optional<String> token = r.header("Authorization").map(String::strip)
                .map(h -> h.regionMatches(true, 0, "Bearer ", 0, 7) ? h.substring(7).strip() : "")
                .or(() -> r.parameter("cap"));
        if (token.isEmpty()) {
            if (entry.isPublic()) {
                return Optional.empty();
            }
            metrics.authFailures.increment();
            return Optional.of(unauthorized("image '" + entry.id() + "' needs a read lease"));
        }
        if (leases == null) {
            metrics.authFailures.increment();
            return Optional.of(unauthorized("this server issues no leases, so no token is valid"));
        }
        Leases.Verdict verdict = leases.verify(token.get(), entry.id());
        if (verdict.ok()) {
            return Optional.empty();
        }
        metrics.authFailures.increment();
        return Optional.of(verdict.forbidden() ? error(403, verdict.why()) : unauthorized(verdict.why()));
    }

    private static Reply unauthorized(String why) {
        Reply reply = error(401, why);
        reply.set("WWW-Authenticate", "Bearer realm=\"spindle\", error=\"invalid_token\"");
        return reply;
    }

    private Reply lease(Request r) {
        if (leases == null) {
            return error(404, "this server issues no leases (lease.keys is not set)");
        }
        String presented = r.header("Authorization").map(String::strip)
                .filter(h -> h.regionMatches(true, 0, "Bearer ", 0, 7)).map(h -> h.substring(7).strip()).orElse("");
        if (settings.issuerToken().isEmpty() || !MessageDigest.isEqual(
                presented.getBytes(StandardCharsets.UTF_8), settings.issuerToken().getBytes(StandardCharsets.UTF_8))) {
            metrics.authFailures.increment();
            Reply reply = error(401, "issuing a lease needs the issuer's bearer token");
            reply.set("WWW-Authenticate", "Bearer realm=\"spindle-leases\"");
            return reply;
        }
        JsonNode body;
        try {
            body = JSON.readTree(r.body());
        } catch (IOException e) {
            return error(400, "the body is not JSON");
        }
        if (body == null || !body.isObject()) {
            return error(400, "the body must be a JSON object {\"imageId\": …, \"ttlSeconds\": …}");
        }
        String id = body.hasNonNull("imageId") ? body.get("imageId").asText() : body.path("diskId").asText(null);
        if (!Catalog.validId(id)) {
            return error(400, "imageId must be a valid image id");
        }
        JsonNode scopes = body.get("scopes");
        if (scopes != null && (!scopes.isArray() || scopes.size() != 1 || !Leases.SCOPE_READ.equals(scopes.get(0).asText()))) {
            return error(400, "the only scope a lease may have is [\"" + Leases.SCOPE_READ + "\"]");
        }
        long ttl = settings.leaseTtl();
        if (body.has("ttlSeconds")) {
            JsonNode t = body.get("ttlSeconds");
            if (!t.isIntegralNumber() || t.asLong() < 1 || t.asLong() > settings.maxLeaseTtl()) {
                return error(400, "ttlSeconds must be a whole number from 1 to " + settings.maxLeaseTtl());
            }
            ttl = t.asLong();
        }
        try {
            if (catalog.find(id).isEmpty()) {
                return error(404, "no image '" + id + "'");
            }
        } catch (IOException e) {
            return error(500, "the catalogue cannot be read");
        }
        Leases.Lease lease = leases.issue(id, ttl);
        metrics.leasesIssued.increment();
        Map<String, Object> answer = new LinkedHashMap<>();
        answer.put("imageId", id);
        answer.put("url", r.base() + "/v1/images/" + id + "?cap=" + lease.token());
        answer.put("authorization", "Bearer " + lease.token());
        answer.put("expiresAt", lease.expiresAt().toString());
        return json(200, answer, r);
    }

    private Reply metrics(Request r) {
        if (!settings.metrics()) {
            return error(404, "metrics are turned off");
        }
        if (!settings.metricsToken().isEmpty()) {
            String presented = r.header("Authorization").orElse("");
            if (!MessageDigest.isEqual(("Bearer " + settings.metricsToken()).getBytes(StandardCharsets.UTF_8),
                    presented.strip().getBytes(StandardCharsets.UTF_8))) {
                return unauthorized("metrics need the metrics bearer token");
            }
        }
        Reply reply = new Reply(200).body(metrics.text().getBytes(StandardCharsets.UTF_8));
        reply.set("Content-Type", "text/plain; version=0.0.4; charset=utf-8");
        reply.set("Cache-Control", NO_STORE);
        return r.method().equals("HEAD") ? reply.withoutBody() : reply;
    }

    // ---- catalogue

    private Reply list(Request r) throws IOException {
        List<Map<String, Object>> images = new ArrayList<>();
        // private images are not listed: their names and sizes are theirs to keep
        for (Catalog.Entry e : catalog.entries().values()) {
            if (e.isPublic()) {
                images.add(describe(e));
            }
        }
        byte[] body = JSON.writerWithDefaultPrettyPrinter().writeValueAsBytes(Map.of("images", images));
        String etag;
        try {
            etag = "\"" + HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(body), 0, 16) + "\"";
        } catch (java.security.NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
        Reply reply = notModified(r, etag, Instant.MAX) ? new Reply(304) : new Reply(200).body(body);
        reply.set("Content-Type", JSON_TYPE);
        reply.set("Cache-Control", "no-cache");
        reply.set("ETag", etag);
        return r.method().equals("HEAD") || reply.status() == 304 ? reply.withoutBody() : reply;
    }

    private Reply meta(Request r, Catalog.Entry entry) throws IOException {
        Optional<Reply> refused = authorize(r, entry);
        if (refused.isPresent()) {
            return refused.get();
        }
        Map<String, Object> facts = describe(entry);
        Reply reply = json(200, facts, r);
        reply.set("Cache-Control", entry.isPublic() ? "no-cache" : NO_STORE);
        return reply;
    }

    private Map<String, Object> describe(Catalog.Entry e) throws IOException {
        Map<String, Object> d = new LinkedHashMap<>();
        d.put("id", e.id());
        d.put("name", e.name());
        if (e.description() != null) {
            d.put("description", e.description());
        }
        if (e.file() != null) {
            BasicFileAttributes a = Files.readAttributes(e.file(), BasicFileAttributes.class);
            Instant modified = a.lastModifiedTime().toInstant();
            d.put("size_bytes", a.size());
            d.put("etag", e.etag() != null ? entityTag(e.etag()) : fileTag(a.size(), modified));
            d.put("last_modified", HTTP_DATE.format(modified));
        }
        d.put("content_type", e.contentType() != null ? e.contentType() : "application/octet-stream");
        if (e.recommendedChunkSize() != null) {
            d.put("recommended_chunk_size_bytes", e.recommendedChunkSize());
        }
        if (catalog.chunkedFile(e, null, null).isPresent()) {
            d.put("chunked_manifest", "/v1/images/" + e.id() + "/chunked/"
                    + (e.chunkedVersion() != null ? e.chunkedVersion() + "/" : "") + "manifest.json");
        }
        d.put("public", e.isPublic());
        return d;
    }

    // ---- CORS and replies

    private Reply preflight(Request r, String methods) {
        Reply reply = new Reply(204);
        reply.set("Allow", methods);
        if (r.header("Origin").isPresent() && r.header("Access-Control-Request-Method").isPresent()) {
            reply.set("Access-Control-Allow-Methods", methods);
            reply.set("Access-Control-Allow-Headers", ALLOW_HEADERS);
            reply.set("Access-Control-Max-Age", "86400");
            reply.append("Vary", "Origin");
            reply.append("Vary", "Access-Control-Request-Method");
            reply.append("Vary", "Access-Control-Request-Headers");
        }
        reply.set("Cache-Control", NO_STORE);
        return reply;
    }

    /** Adds the CORS answer for an allowed {@code Origin}: {@code *}, or the origin itself with credentials. */
    private void cors(Request r, Reply reply) {
        Optional<String> origin = r.header("Origin");
        if (settings.corsOrigins().isEmpty()) {
            return;
        }
        boolean any = settings.corsOrigins().contains("*");
        if (!any) {
            reply.append("Vary", "Origin");
        }
        if (origin.isEmpty()) {
            return;
        }
        if (any) {
            reply.set("Access-Control-Allow-Origin", "*");
        } else if (settings.corsOrigins().contains(origin.get())) {
            reply.set("Access-Control-Allow-Origin", origin.get());
            reply.set("Access-Control-Allow-Credentials", "true");
        } else {
            return;
        }
        if (reply.status() != 204) {
            reply.set("Access-Control-Expose-Headers", EXPOSE);
        }
    }

    private Reply json(int status, Object value, Request r) {
        try {
            Reply reply = new Reply(status).body(JSON.writerWithDefaultPrettyPrinter().writeValueAsBytes(value));
            reply.set("Content-Type", JSON_TYPE);
            reply.set("Cache-Control", NO_STORE);
            return r.method().equals("HEAD") ? reply.withoutBody() : reply;
        } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
            throw new IllegalStateException(e);
        }
    }

    static Reply error(int status, String message) {
        byte[] body;
        try {
            body = JSON.writeValueAsBytes(Map.of("error", message));
        } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
            throw new IllegalStateException(e);
        }
        Reply reply = new Reply(status).body(body);
        reply.set("Content-Type", JSON_TYPE);
        reply.set("Cache-Control", NO_STORE);
        return reply;
    }

    private static Reply notAllowed(String allow) {
        Reply reply = error(405, "method not allowed here (allowed: " + allow + ")");
        reply.set("Allow", allow);
        return reply;
    }
}
