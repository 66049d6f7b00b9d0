package org.spindle.backend.http;

import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.format.DateTimeParseException;
import java.util.Optional;
import java.util.function.Function;
import java.util.regex.Pattern;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonGenerator;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.core.StreamReadConstraints;

/**
 * Short-lived read leases from a lease service ({@code POST /v1/leases}, as Spindle's image server
 * offers), obtained with the issuer's bearer token. A lease is presented either as
 * {@code Authorization: Bearer …} or, with {@code lease.as=url}, as the signed URL the service gives
 * for the image: requests then go to that URL instead of the configured one. A lease is renewed before
 * it expires ({@code lease.refresh} ahead of its expiry, or half its life when that is shorter), so
 * requests never go out with a lease about to lapse; a 401 or 403 gets one new lease and one more try.
 * The issuer token is read from the environment each time a lease is asked for and, like the leases,
 * is held in memory only: never logged, put in a message or written to disk.
 *
 * <p>The service answers {@code {"authorization": "Bearer …", "url": "https://…", "expiresAt":
 * "2026-…Z", …}}; the field the chosen presentation needs must be there.
 */
final class LeaseCredentials implements Credentials {
    /** What a bearer token may contain (RFC 6750 §2.1), so a lease cannot smuggle a header line in. */
    private static final Pattern BEARER = Pattern.compile("Bearer [A-Za-z0-9._~+/-]+=*");
    private static final int MAX_ANSWER = 64 * 1024;
    private static final JsonFactory JSON = JsonFactory.builder()
            .streamReadConstraints(StreamReadConstraints.builder().maxNestingDepth(16).maxStringLength(16 * 1024)
                    .build())
            .build();

    private final URI service;
    /** The service as messages name it: without query or credentials. */
    private final String display;
    private final String imageId;
    private final String issuerEnv;
    private final Duration margin;
    private final Duration timeout;
    private final HttpClient client;
    private final Function<String, String> environment;
    private final Clock clock;
    /** Whether the lease is presented as a signed URL rather than a header. */
    private final boolean asUrl;
    /** The image URL a signed URL stands for, or {@code null}. */
    private final URI image;

    /** The lease as presented: the {@code Authorization} value, or the signed URL. */
    private String held;
    private Instant expiresAt;
    private Instant refreshAt;
    private String problem;
    private Instant failedAt;

    /**
     * @param service the lease service ({@code https://host/v1/leases})
     * @param imageId the image the leases are for
     * @param issuerEnv the environment variable holding the issuer's token
     * @param margin how long before its expiry a lease is renewed
     * @param timeout the longest a lease request may take
     */
    LeaseCredentials(URI service, String imageId, String issuerEnv, Duration margin, Duration timeout,
            HttpClient client, Function<String, String> environment, Clock clock) {
        this(service, imageId, issuerEnv, margin, timeout, client, environment, clock, null);
    }

    /**
     * @param image the image URL (as requested) that the signed URLs of the leases stand for, or
     *        {@code null} to present leases as {@code Authorization}
     */
    LeaseCredentials(URI service, String imageId, String issuerEnv, Duration margin, Duration timeout,
            HttpClient client, Function<String, String> environment, Clock clock, URI image) {
        this.asUrl = image != null;
        this.image = image;
        this.service = service;
        this.display = HttpLocations.display(service);
        this.imageId = imageId;
        this.issuerEnv = issuerEnv;
        this.margin = margin;
        this.timeout = timeout;
        this.client = client;
        this.environment = environment;
        this.clock = clock;
    }

    /**
     * The image id of a Spindle server's image URL ({@code …/v1/images/ID}, {@code …/ID/data}, or a
     * chunked image's manifest or chunk under {@code …/ID/chunked/}), if it is one.
     */
    static Optional<String> imageIdOf(URI image) {
        String path = image.getPath() == null ? "" : image.getPath();
        java.util.regex.Matcher m = IMAGE_PATH.matcher(path);
        return m.matches() ? Optional.of(m.group(1)) : Optional.empty();
    }

    private static final Pattern IMAGE_PATH = Pattern.compile(".*/v1/images/([A-Za-z0-9._-]{1,128})(/data|/chunked/.*)?");
    /** After a failed request for a lease, how long callers are told the same failure before another try. */
    static final Duration FAILURE_PAUSE = Duration.ofSeconds(2);

    @Override
    public Optional<String> authorization() {
        return asUrl ? Optional.empty() : current();
    }

    @Override
    public URI target(URI configured) {
        // only the image's own URL is replaced; without a lease it is asked as it is, and its refusal
        // names the lease problem
        if (!asUrl || !configured.equals(image)) {
            return configured;
        }
        return current().map(URI::create).orElse(configured);
    }

    @Override
    public String presented(HttpRequest sent) {
        return asUrl ? sent.uri().toString() : Credentials.super.presented(sent);
    }

    /** The lease to present now, obtained or renewed first when it is due. */
    private synchronized Optional<String> current() {
        Instant now = clock.instant();
        if (held == null || !now.isBefore(refreshAt)) {
            try {
                obtain(now);
            } catch (LeaseException e) {
                problem = e.getMessage();
                // a lease that is due for renewal but not expired still works: use it, try again next time
                if (held != null && now.isBefore(expiresAt)) {
                    return Optional.of(held);
                }
                return Optional.empty();
            }
        }
        return Optional.of(held);
    }

    @Override
    public synchronized boolean renew(String refused) {
        if (held != null && !held.equals(refused) && clock.instant().isBefore(refreshAt)) {
            // another request renewed the lease since this one was sent
            return true;
        }
        try {
            obtain(clock.instant());
            return !held.equals(refused);
        } catch (LeaseException e) {
            problem = e.getMessage();
            return false;
        }
    }

    @Override
    public synchronized Optional<String> problem() {
        return Optional.ofNullable(problem);
    }

    /**
     * Asks the service for a lease. Callers hold this object's lock, so concurrent requests wait for
     * one answer instead of each asking; after a failure the same failure is reported for
     * {@link #FAILURE_PAUSE} rather than asked again by every waiting reader.
     */
    private void obtain(Instant now) throws LeaseException {
        if (failedAt != null && now.isBefore(failedAt.plus(FAILURE_PAUSE)) && problem != null) {
            throw new LeaseException(problem);
        }
        try {
            ask(now);
            failedAt = null;
        } catch (LeaseException e) {
            failedAt = now;
            throw e;
        }
    }

    private void ask(Instant now) throws LeaseException {
        String issuer = environment.apply(issuerEnv);
        if (issuer == null || issuer.isBlank()) {
            throw new LeaseException("no lease: the environment variable " + issuerEnv
                    + " (lease.token.env) holding the issuer's token is not set");
        }
        String bearer = "Bearer " + issuer.strip();
        if (!BEARER.matcher(bearer).matches()) {
            throw new LeaseException("no lease: the issuer's token in " + issuerEnv + " is not a bearer token");
        }
        HttpResponse<byte[]> response;
        try {
            HttpRequest request = HttpRequest.newBuilder(service).timeout(timeout)
                    .header("Authorization", bearer).header("Content-Type", "application/json")
                    .header("Accept", "application/json")
                    .POST(HttpRequest.BodyPublishers.ofByteArray(body())).build();
            response = client.send(request, HttpResponse.BodyHandlers.ofByteArray());
        } catch (IOException e) {
            throw new LeaseException("no lease from " + display + ": " + e.getMessage());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new LeaseException("no lease from " + display + ": interrupted");
        }
        byte[] answer = response.body();
        if (response.statusCode() != 200) {
            throw new LeaseException("the lease service " + display + " answered " + response.statusCode()
                    + errorOf(answer).replace(issuer.strip(), "…"));
        }
        Lease lease = parse(answer, issuer.strip());
        if (!lease.expiresAt.isAfter(now)) {
            throw new LeaseException("the lease service " + display + " gave a lease that has already expired ("
                    + lease.expiresAt + ")");
        }
        Duration life = Duration.between(now, lease.expiresAt);
        held = lease.presented;
        expiresAt = lease.expiresAt;
        refreshAt = lease.expiresAt.minus(margin.compareTo(life.dividedBy(2)) < 0 ? margin : life.dividedBy(2));
        problem = null;
    }

    private byte[] body() {
        java.io.ByteArrayOutputStream out = new java.io.ByteArrayOutputStream();
        try (JsonGenerator g = JSON.createGenerator(out)) {
            g.writeStartObject();
            g.writeStringField("imageId", imageId);
            g.writeArrayFieldStart("scopes");
            g.writeString("disk:read");
            g.writeEndArray();
            g.writeEndObject();
        } catch (IOException e) {
            throw new IllegalStateException("writing JSON to memory failed", e);
        }
        return out.toByteArray();
    }

    private record Lease(String presented, Instant expiresAt) {
    }

    private Lease parse(byte[] answer, String issuer) throws LeaseException {
        if (answer.length > MAX_ANSWER) {
            throw new LeaseException("the lease service " + display + " answered with more than 64 KiB");
        }
        String authorization = null;
        String url = null;
        String expires = null;
        try (JsonParser p = JSON.createParser(answer)) {
            if (p.nextToken() != JsonToken.START_OBJECT) {
                throw new LeaseException("the lease service " + display + " answered with no JSON object");
            }
            while (p.nextToken() == JsonToken.FIELD_NAME) {
                String name = p.currentName();
                JsonToken value = p.nextToken();
                if (value == JsonToken.VALUE_STRING && name.equals("authorization")) {
                    authorization = p.getText();
                } else if (value == JsonToken.VALUE_STRING && name.equals("url")) {
                    url = p.getText();
                } else if (value == JsonToken.VALUE_STRING && name.equals("expiresAt")) {
                    expires = p.getText();
                } else {
                    p.skipChildren();
                }
            }
        } catch (IOException e) {
            throw new LeaseException("the lease service " + display + " answered with malformed JSON");
        }
        String presented;
        if (asUrl) {
            presented = signedUrl(url, issuer);
        } else if (authorization == null || !BEARER.matcher(authorization).matches()) {
            // the value is a secret: it is not quoted
            throw new LeaseException("the lease service " + display + " answered without a bearer token in"
                    + " \"authorization\"");
        } else {
            presented = authorization;
        }
        if (expires == null) {
            throw new LeaseException("the lease service " + display + " answered without \"expiresAt\"");
        }
        try {
            return new Lease(presented, Instant.parse(expires));
        } catch (DateTimeParseException e) {
            throw new LeaseException("the lease service " + display + " answered with an expiresAt that is not an"
                    + " ISO-8601 instant");
        }
    }

    /**
     * Checks the signed URL of a lease: an absolute http(s) URL with a host, without user information
     * or fragment, and that does not hand the issuer's token to the image server. Its text is a
     * secret and is never quoted.
     */
    private String signedUrl(String url, String issuer) throws LeaseException {
        if (url == null) {
            throw new LeaseException("the lease service " + display + " answered without a signed URL in \"url\""
                    + " (lease.as=url)");
        }
        URI u;
        try {
            u = new URI(url);
        } catch (java.net.URISyntaxException e) {
            throw new LeaseException("the lease service " + display + " answered with a \"url\" that is not a URL");
        }
        String scheme = u.getScheme();
        if (!u.isAbsolute() || u.isOpaque() || u.getHost() == null || u.getRawUserInfo() != null
                || u.getRawFragment() != null || !("https".equalsIgnoreCase(scheme) || "http".equalsIgnoreCase(scheme))
                || url.contains(issuer)) {
            throw new LeaseException("the lease service " + display + " answered with a \"url\" that is not an"
                    + " http(s) URL with a host and without user information or fragment");
        }
        if ("https".equalsIgnoreCase(image.getScheme()) && !"https".equalsIgnoreCase(scheme)) {
            throw new LeaseException("the lease service " + display + " answered with a plain http \"url\" for an"
                    + " https image: the lease would cross the network in clear");
        }
        return url;
    }

    /** The service's own explanation ({@code {"error": "…"}}), shortened, or nothing. */
    private static String errorOf(byte[] answer) {
        try (JsonParser p = JSON.createParser(answer)) {
            if (p.nextToken() == JsonToken.START_OBJECT) {
                while (p.nextToken() == JsonToken.FIELD_NAME) {
                    String name = p.currentName();
                    if (p.nextToken() == JsonToken.VALUE_STRING && name.equals("error")) {
                        String text = p.getText().replaceAll("\\p{Cntrl}", "?");
                        return ": " + (text.length() > 200 ? text.substring(0, 200) + "…" : text);
                    }
                    p.skipChildren();
                }
            }
        } catch (IOException e) {
            // no explanation to give
        }
        return "";
    }

    @Override
    public String toString() {
        return "leases from " + display + " for " + imageId + (asUrl ? " as signed URLs" : "");
    }

    private static final class LeaseException extends Exception {
        private static final long serialVersionUID = 1L;

        LeaseException(String message) {
            super(message, null, false, false);
        }
    }
}
