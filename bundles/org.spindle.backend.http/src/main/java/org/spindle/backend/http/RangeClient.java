package org.spindle.backend.http;

import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpHeaders;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.net.http.HttpResponse.BodyHandler;
import java.net.http.HttpResponse.BodySubscriber;
import java.net.http.HttpResponse.BodySubscribers;
import java.net.http.HttpResponse.ResponseInfo;
import java.net.http.HttpTimeoutException;
import java.time.Duration;
import java.time.ZonedDateTime;
import java.time.format.DateTimeFormatter;
import java.time.format.DateTimeParseException;
import java.util.Arrays;
import java.util.Locale;
import java.util.Optional;
import java.util.OptionalLong;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.function.ObjIntConsumer;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import org.spindle.storage.api.StorageException;
import org.spindle.storage.api.StorageException.Kind;
import org.spindle.storage.api.StorageException.Operation;

/**
 * The HTTP side of the backend: size discovery and ranged GETs against one image, held to the Range
 * contract (RFC 9110 §14). Every response is checked before a byte of it is used:
 * <ul>
 * <li>a range must come back as {@code 206} with a {@code Content-Range} of exactly the bytes asked
 * for and the image's total, a matching {@code Content-Length} and no content coding; a {@code 200} to
 * a range request, a wrong range or a compressed body is a protocol error and no data;</li>
 * <li>the version found at discovery is pinned by {@code If-Range} (the strong ETag, else the date), and
 * a response naming another version (or a {@code 412}) marks the image changed: from then on every
 * fetch fails, so bytes of two versions are never mixed;</li>
 * <li>5xx, 408, 429, a reset connection and a request that takes longer than {@code request.timeout}
 * are retried after a doubling, jittered pause (or the server's {@code Retry-After}), within the
 * caller's deadline; 401 and 403 renew the credentials and try once more.</li>
 * </ul>
 * Redirects are followed by hand (at most five), so that credentials are never sent to another origin.
 */
final class RangeClient implements AutoCloseable {
    private static final Pattern CONTENT_RANGE = Pattern.compile("bytes (\\d{1,18})-(\\d{1,18})/(\\d{1,18}|\\*)");
    private static final Pattern UNSATISFIED = Pattern.compile("bytes \\*/(\\d{1,18})");
    private static final int MAX_REDIRECTS = 5;
    private static final Duration MAX_BACKOFF = Duration.ofSeconds(10);
    private static final Duration MAX_RETRY_AFTER = Duration.ofSeconds(30);

    /**
     * The client for runs of chunks (read-ahead), whose workers copy bodies on other cores; made when
     * first needed when it is this image's own (a reader that never reads ahead never starts it).
     */
    private volatile HttpClient client;
    /**
     * The client for discovery and for the chunk or pieces a reader waits for: it handles each response
     * on its selector thread (a direct executor), which saves a small read the hand-overs to worker
     * threads, about a third of its time on loopback. Long read-ahead runs go through {@link #client}.
     * The same as {@code client} when the client is shared.
     */
    private final HttpClient quick;
    private final URI uri;
    private final String location;
    private final HttpSettings settings;
    private final Credentials credentials;
    private final Traffic traffic;
    private final boolean ownsClient;
    private volatile String changed;
    private boolean closed;

    /** A client of its own for one image, closed with it. */
    RangeClient(URI uri, String location, HttpSettings settings, Credentials credentials, Traffic traffic) {
        this(null, newQuickClient(settings, uri), true, uri, location, settings, credentials, traffic);
    }

    /** A client over {@code client}, which is shared and outlives it (whole objects). */
    RangeClient(HttpClient client, boolean ownsClient, URI uri, String location, HttpSettings settings,
            Credentials credentials, Traffic traffic) {
        this(client, client, ownsClient, uri, location, settings, credentials, traffic);
    }

    private RangeClient(HttpClient client, HttpClient quick, boolean ownsClient, URI uri, String location,
            HttpSettings settings, Credentials credentials, Traffic traffic) {
        this.client = client;
        this.quick = quick;
        this.ownsClient = ownsClient;
        this.uri = uri;
        this.location = location;
        this.settings = settings;
        this.credentials = credentials;
        this.traffic = traffic;
    }

    /** The HTTP version {@code settings} ask for {@code uri}: {@code auto} is HTTP/2 over TLS only. */
    static HttpClient.Version version(HttpSettings settings, URI uri) {
        return switch (settings.httpVersion()) {
            case "1.1" -> HttpClient.Version.HTTP_1_1;
            case "2" -> HttpClient.Version.HTTP_2;
            default -> "https".equalsIgnoreCase(uri.getScheme()) ? HttpClient.Version.HTTP_2
                    : HttpClient.Version.HTTP_1_1;
        };
    }

    static HttpClient newClient(HttpSettings settings, URI uri) {
        return HttpClient.newBuilder().version(version(settings, uri)).connectTimeout(settings.connectTimeout())
                .followRedirects(HttpClient.Redirect.NEVER).build();
    }

    /**
     * A client whose responses are handled on its selector thread. Only subscribers that never block
     * may be given to it: {@link ExactBody} copies into arrays, and its part callback does nothing for
     * a single chunk.
     */
    static HttpClient newQuickClient(HttpSettings settings, URI uri) {
        return HttpClient.newBuilder().version(version(settings, uri)).connectTimeout(settings.connectTimeout())
                .executor(Runnable::run).followRedirects(HttpClient.Redirect.NEVER).build();
    }

    /** The client for runs, made on first use (after {@link #close}: the closed quick one, which refuses). */
    private HttpClient bulk() {
        HttpClient c = client;
        if (c == null) {
            synchronized (this) {
                c = client;
                if (c == null) {
                    c = closed ? quick : newClient(settings, uri);
                    client = c;
                }
            }
        }
        return c;
    }

    /** Why the image is no longer the one opened, or {@code null} while it is. */
    String changed() {
        return changed;
    }

    /**
     * Learns the image's size and validator: {@code HEAD}, or a one-byte range when the server will not
     * answer HEAD usefully (some signed URLs are valid for GET only; some servers omit the length).
     */
    RemoteImage discover(long deadline) throws StorageException {
        return withRetries(Operation.OPEN, 0, 0, deadline, timeout -> {
            HttpResponse<Void> head = send(request(timeout).method("HEAD", HttpRequest.BodyPublishers.noBody()),
                    info -> info.statusCode() / 100 == 3 ? ExactBody.<Void>refusing(problem(info.statusCode(),
                            info.headers(), null).orElseThrow()) : BodySubscribers.discarding(), timeout);
            int status = head.statusCode();
            if (status == 404 || status == 410 || status == 401 || status == 408 || status == 429 || status >= 500) {
                // the answer a GET would get too: report it the same way (403, 405 and others try a GET)
                throw problem(status, head.headers(), null).orElseThrow();
            }
            HttpHeaders headers = head.headers();
            OptionalLong length = contentLength(headers);
            boolean ranges = headers.firstValue("Accept-Ranges").map(v -> v.toLowerCase(Locale.ROOT).contains("bytes"))
                    .orElse(false);
            if (head.statusCode() == 200 && length.isPresent() && ranges) {
                encodingIdentity(headers);
                return RemoteImage.of(length.getAsLong(), headers);
            }
            if (head.statusCode() == 200 && headers.firstValue("Accept-Ranges").filter("none"::equalsIgnoreCase)
                    .isPresent()) {
                throw FetchFailure.fail(Kind.UNSUPPORTED_FEATURE, "the server does not serve byte ranges"
                        + " (Accept-Ranges: none)");
            }
            return probe(timeout);
        });
    }

    /** {@code GET} of the first byte: the total comes from {@code Content-Range}. */
    private RemoteImage probe(Duration timeout) throws FetchFailure {
        HttpResponse<byte[]> response = send(request(timeout).header("Range", "bytes=0-0").GET(), info -> {
            Optional<BodySubscriber<byte[]>> refused = checked(info, null);
            if (refused.isPresent()) {
                return refused.get();
            }
            if (info.statusCode() == 200) {
                return ExactBody.refusing(FetchFailure.fail(Kind.UNSUPPORTED_FEATURE,
                        "the server does not serve byte ranges (it answered a range request with the whole image)"));
            }
            try {
                encodingIdentity(info.headers());
                contentRange(info.headers(), 0, 1, -1);
                return ExactBody.single(1, traffic.bytesFetched::add);
            } catch (FetchFailure f) {
                return ExactBody.refusing(f);
            }
        }, timeout);
        return RemoteImage.of(contentRange(response.headers(), 0, 1, -1), response.headers());
    }

    /**
     * Fetches {@code length} bytes at {@code start} of the version {@code image}, by one closed range.
     *
     * @param deadline {@link System#nanoTime()} after which the fetch gives up
     */
    byte[] fetch(RemoteImage image, long start, int length, long deadline) throws StorageException {
        return fetch(image, start, new int[] {length}, deadline, null)[0];
    }

    /**
     * Fetches consecutive parts of the version {@code image} from {@code start} by one closed range
     * covering them all, each part its own array, told to {@code partDone} as soon as it has arrived
     * (a reader waiting for the first chunk of a long read-ahead need not wait for the last). A retry
     * asks only for the parts that have not arrived whole; each part is told once.
     *
     * @param lengths the parts' lengths (for chunks: the chunk size, the last one maybe less)
     * @param deadline {@link System#nanoTime()} after which the fetch gives up
     * @param partDone told each part as it arrives, on a worker of the HTTP client; {@code null} to
     *        fetch with the quick client and tell nobody (a single chunk, or pieces)
     */
    byte[][] fetch(RemoteImage image, long start, int[] lengths, long deadline, ObjIntConsumer<byte[]> partDone)
            throws StorageException {
        long length = 0;
        for (int n : lengths) {
            length += n;
        }
        long total = length;
        String why = changed;
        if (why != null) {
            throw changedException(why).at(Operation.READ, start, total);
        }
        // parts that arrived whole stay arrived: a retry asks only for the rest, so a slow link that
        // cuts every attempt short still gets through a long run, part by part
        byte[][] parts = new byte[lengths.length][];
        java.util.concurrent.atomic.AtomicInteger done = new java.util.concurrent.atomic.AtomicInteger();
        withRetries(Operation.READ, start, total, deadline, timeout -> {
            int from = done.get();
            long at = start;
            for (int i = 0; i < from; i++) {
                at += lengths[i];
            }
            int[] rest = Arrays.copyOfRange(lengths, from, lengths.length);
            long end = start + total - 1;
            HttpRequest.Builder request = request(timeout).GET().header("Range", "bytes=" + at + "-" + end);
            image.ifRange().ifPresent(v -> request.header("If-Range", v));
            long first = at;
            HttpResponse<byte[][]> response = send(partDone == null ? quick : bulk(), request,
                    info -> ranged(info, image, first, rest, (part, i) -> {
                        parts[from + i] = part;
                        done.set(from + i + 1);
                        if (partDone != null) {
                            partDone.accept(part, from + i);
                        }
                    }), timeout);
            return response.body();
        });
        return parts;
    }

    /**
     * Fetches the whole object, which must be exactly {@code size} bytes, by one {@code GET} without
     * {@code Range} (a chunk of a chunked image: whole objects are what caches in front of the server
     * keep best). The same checks hold: no content coding, and the length announced and received must
     * be {@code size}.
     */
    byte[] fetchWhole(int size, long deadline) throws StorageException {
        return withRetries(Operation.READ, 0, size, deadline, timeout -> send(request(timeout).GET(),
                info -> whole(info, size), timeout).body());
    }

    private BodySubscriber<byte[]> whole(ResponseInfo info, int size) {
        Optional<BodySubscriber<byte[]>> refused = checked(info, null);
        if (refused.isPresent()) {
            return refused.get();
        }
        try {
            if (info.statusCode() != 200) {
                throw FetchFailure.protocol("the server answered a plain GET with " + info.statusCode() + ", not 200");
            }
            encodingIdentity(info.headers());
            OptionalLong length = contentLength(info.headers());
            if (length.isPresent() && length.getAsLong() != size) {
                throw FetchFailure.fail(Kind.CORRUPT_IMAGE, "the object is " + length.getAsLong()
                        + " bytes, not the " + size + " expected");
            }
            return ExactBody.single(size, traffic.bytesFetched::add);
        } catch (FetchFailure f) {
            return ExactBody.refusing(f);
        }
    }

    private BodySubscriber<byte[][]> ranged(ResponseInfo info, RemoteImage image, long start, int[] lengths,
            ObjIntConsumer<byte[]> partDone) {
        long length = 0;
        for (int n : lengths) {
            length += n;
        }
        Optional<BodySubscriber<byte[][]>> refused = checked(info, image);
        if (refused.isPresent()) {
            return refused.get();
        }
        HttpHeaders headers = info.headers();
        try {
            if (info.statusCode() == 200) {
                throw FetchFailure.protocol("the server answered a range request with the whole image (200, not"
                        + " 206): it ignores Range");
            }
            encodingIdentity(headers);
            contentRange(headers, start, length, image.size());
            return new ExactBody(lengths, traffic.bytesFetched::add, partDone);
        } catch (FetchFailure f) {
            return ExactBody.refusing(f);
        }
    }

    /**
     * The checks every response goes through: a refusing subscriber for anything but 200 and 206 (a
     * retry, a renewal, a failure), or for a response that names another version; empty to go on.
     */
    private <T> Optional<BodySubscriber<T>> checked(ResponseInfo info, RemoteImage image) {
        return problem(info.statusCode(), info.headers(), image).map(ExactBody::refusing);
    }

    /** What a status and its headers mean for the client, or empty for a 200 or 206 of the right version. */
    private static Optional<FetchFailure> problem(int status, HttpHeaders headers, RemoteImage image) {
        if (image != null && (status == 200 || status == 206)) {
            Optional<String> change = image.changeIn(headers);
            if (change.isPresent()) {
                return Optional.of(FetchFailure.changed(change.get()));
            }
        }
        if (status == 200 || status == 206) {
            return Optional.empty();
        }
        FetchFailure failure;
        if (status == 412) {
            failure = FetchFailure.changed("the server refused the pinned version (412 to If-Range)");
        } else if (status == 416) {
            Matcher m = UNSATISFIED.matcher(headers.firstValue("Content-Range").orElse(""));
            failure = image != null && m.matches() && Long.parseLong(m.group(1)) != image.size()
                    ? FetchFailure.changed("its size was " + image.size() + " bytes and is now " + m.group(1))
                    : FetchFailure.protocol("the server found a range inside the image unsatisfiable (416)");
        } else if (status == 401 || status == 403) {
            failure = FetchFailure.reauthorize("the server refused access (" + status + ")");
        } else if (status == 404 || status == 410) {
            failure = FetchFailure.fail(Kind.NOT_FOUND, "the server has no such image (" + status + ")");
        } else if (status == 408 || status == 429 || status >= 500) {
            failure = FetchFailure.retry("the server answered " + status, retryAfter(headers), null);
        } else if (status >= 300 && status < 400) {
            failure = FetchFailure.redirect(status, headers.firstValue("Location").orElse(null));
        } else {
            failure = FetchFailure.fail(Kind.IO, "unexpected HTTP status " + status);
        }
        return Optional.of(failure);
    }

    /** {@code Content-Length} when it is a non-negative number; a HEAD with anything else is not trusted. */
    private static OptionalLong contentLength(HttpHeaders headers) {
        try {
            OptionalLong n = headers.firstValueAsLong("Content-Length");
            return n.isPresent() && n.getAsLong() < 0 ? OptionalLong.empty() : n;
        } catch (NumberFormatException e) {
            return OptionalLong.empty();
        }
    }

    private static void encodingIdentity(HttpHeaders headers) throws FetchFailure {
        for (String coding : headers.allValues("Content-Encoding")) {
            for (String one : coding.split(",")) {
                if (!one.isBlank() && !one.strip().equalsIgnoreCase("identity")) {
                    throw FetchFailure.protocol("the body is encoded (Content-Encoding: " + coding.strip()
                            + "); ranges must be sent as stored");
                }
            }
        }
        if (headers.firstValue("Transfer-Encoding").isPresent() && headers.firstValue("Content-Length").isEmpty()) {
            throw FetchFailure.protocol("the response has no Content-Length (Transfer-Encoding: "
                    + headers.firstValue("Transfer-Encoding").get() + ")");
        }
    }

    /**
     * Checks {@code Content-Range} and {@code Content-Length} against the range asked for.
     *
     * @param total the image's size, or -1 while it is being discovered
     * @return the total the server gave
     */
    private static long contentRange(HttpHeaders headers, long start, long length, long total) throws FetchFailure {
        String value = headers.firstValue("Content-Range").orElseThrow(
                () -> FetchFailure.protocol("a 206 without Content-Range"));
        Matcher m = CONTENT_RANGE.matcher(value.strip());
        if (!m.matches() || m.group(3).equals("*")) {
            throw FetchFailure.protocol("Content-Range '" + value + "' is not bytes first-last/total");
        }
        long first = Long.parseLong(m.group(1));
        long last = Long.parseLong(m.group(2));
        long size = Long.parseLong(m.group(3));
        if (first != start || last != start + length - 1) {
            throw FetchFailure.protocol("asked for bytes " + start + "-" + (start + length - 1) + ", got " + value);
        }
        if (total >= 0 && size != total) {
            throw FetchFailure.changed("its size was " + total + " bytes and is now " + size);
        }
        OptionalLong contentLength;
        try {
            contentLength = headers.firstValueAsLong("Content-Length");
        } catch (NumberFormatException e) {
            throw FetchFailure.protocol("Content-Length is not a number");
        }
        if (contentLength.isPresent() && contentLength.getAsLong() != length) {
            throw FetchFailure.protocol("Content-Length " + contentLength.getAsLong() + " for a range of " + length
                    + " bytes");
        }
        return size;
    }

    private static Duration retryAfter(HttpHeaders headers) {
        Optional<String> value = headers.firstValue("Retry-After").map(String::strip);
        if (value.isEmpty()) {
            return null;
        }
        try {
            return min(Duration.ofSeconds(Long.parseLong(value.get())), MAX_RETRY_AFTER);
        } catch (NumberFormatException e) {
            try {
                Duration d = Duration.between(ZonedDateTime.now(),
                        ZonedDateTime.parse(value.get(), DateTimeFormatter.RFC_1123_DATE_TIME));
                return d.isNegative() ? Duration.ZERO : min(d, MAX_RETRY_AFTER);
            } catch (DateTimeParseException e2) {
                return null;
            }
        }
    }

    /**
     * A request for the image: to its URL, or to the signed URL that stands for it now, with the
     * {@code Authorization} the credentials give.
     */
    private HttpRequest.Builder request(Duration timeout) {
        URI target = credentials.target(uri);
        HttpRequest.Builder b = HttpRequest.newBuilder(target).timeout(timeout).header("Accept-Encoding", "identity");
        if (sameOrigin(target, uri)) {
            credentials.authorization().ifPresent(v -> b.header("Authorization", v));
        }
        return b;
    }

    /**
     * Sends one request, following redirects, and waits at most {@code timeout} for the whole response.
     * A request that takes longer is cancelled (its connection closed) and reported as retryable.
     */
    private <T> HttpResponse<T> send(HttpRequest.Builder builder, BodyHandler<T> handler, Duration timeout)
            throws FetchFailure {
        return send(quick, builder, handler, timeout);
    }

    private <T> HttpResponse<T> send(HttpClient via, HttpRequest.Builder builder, BodyHandler<T> handler,
            Duration timeout) throws FetchFailure {
        long end = System.nanoTime() + timeout.toNanos();
        HttpRequest request = builder.build();
        HttpRequest first = request;
        for (int hop = 0;; hop++) {
            traffic.requests.increment();
            CompletableFuture<HttpResponse<T>> future = via.sendAsync(request, handler);
            try {
                return future.get(Math.max(1, end - System.nanoTime()), TimeUnit.NANOSECONDS);
            } catch (TimeoutException e) {
                future.cancel(true);
                throw FetchFailure.retry("no complete answer within " + timeout.toMillis() + " ms", null, e);
            } catch (InterruptedException e) {
                future.cancel(true);
                Thread.currentThread().interrupt();
                throw FetchFailure.fail(Kind.IO, "interrupted while waiting for the server");
            } catch (ExecutionException e) {
                Throwable cause = e.getCause();
                if (cause instanceof FetchFailure r && r.action() == FetchFailure.Action.REDIRECT) {
                    if (hop >= MAX_REDIRECTS || r.location() == null) {
                        throw FetchFailure.fail(Kind.IO, r.location() == null ? r.getMessage() + " without Location"
                                : "more than " + MAX_REDIRECTS + " redirects");
                    }
                    URI next;
                    try {
                        next = request.uri().resolve(r.location());
                    } catch (IllegalArgumentException bad) {
                        throw FetchFailure.fail(Kind.IO, "a redirect to a malformed Location");
                    }
                    boolean downgrade = request.uri().getScheme().equalsIgnoreCase("https")
                            && "http".equalsIgnoreCase(next.getScheme());
                    if (downgrade || next.getScheme() == null || !(next.getScheme().equalsIgnoreCase("https")
                            || next.getScheme().equalsIgnoreCase("http"))) {
                        throw FetchFailure.fail(Kind.IO, "a redirect to " + next.getScheme() + ": is not followed");
                    }
                    HttpRequest.Builder again = HttpRequest.newBuilder(request, (name, value) ->
                            !name.equalsIgnoreCase("Authorization") || sameOrigin(next, uri)).uri(next);
                    request = again.build();
                    continue;
                }
                if (cause instanceof FetchFailure f) {
                    throw f.action() == FetchFailure.Action.REAUTHORIZE
                            ? f.refused(credentials.presented(first)) : f;
                }
                if (cause instanceof HttpTimeoutException) {
                    throw FetchFailure.retry("no answer within " + timeout.toMillis() + " ms", null, cause);
                }
                Throwable certificate = certificateProblem(cause);
                if (certificate != null) {
                    // not transient: trying again meets the same certificate
                    throw FetchFailure.fail(Kind.IO, "the server's TLS certificate is not trusted: "
                            + certificate.getMessage());
                }
                if (cause instanceof IOException) {
                    throw FetchFailure.retry("the connection failed: " + cause, null, cause);
                }
                throw FetchFailure.fail(Kind.IO, "the HTTP client failed: " + cause);
            }
        }
    }

    /** The certificate check that failed a TLS handshake, if that is what {@code t} comes from. */
    private static Throwable certificateProblem(Throwable t) {
        for (Throwable c = t; c != null; c = c.getCause()) {
            if (c instanceof java.security.cert.CertificateException) {
                return c;
            }
        }
        return null;
    }

    private static boolean sameOrigin(URI a, URI b) {
        return a.getScheme().equalsIgnoreCase(b.getScheme()) && a.getHost() != null
                && a.getHost().equalsIgnoreCase(b.getHost()) && port(a) == port(b);
    }

    private static int port(URI u) {
        return u.getPort() >= 0 ? u.getPort() : "https".equalsIgnoreCase(u.getScheme()) ? 443 : 80;
    }

    @FunctionalInterface
    private interface Attempt<T> {
        T run(Duration timeout) throws FetchFailure;
    }

    /**
     * Runs {@code attempt} until it succeeds, fails for good, the retries run out or {@code deadline}
     * passes, whichever is first.
     */
    private <T> T withRetries(Operation op, long offset, long length, long deadline, Attempt<T> attempt)
            throws StorageException {
        try {
            return retrying(deadline, attempt);
        } catch (StorageException e) {
            throw op == Operation.OPEN ? e.withOperation(op) : e.at(op, offset, length);
        }
    }

    private <T> T retrying(long deadline, Attempt<T> attempt) throws StorageException {
        boolean renewed = false;
        FetchFailure last = null;
        for (int retry = 0;;) {
            long left = deadline - System.nanoTime();
            if (left <= 0) {
                throw timedOut(last);
            }
            try {
                return attempt.run(min(settings.requestTimeout(), Duration.ofNanos(left)));
            } catch (FetchFailure f) {
                last = f;
                switch (f.action()) {
                    case RETRY -> {
                        if (retry >= settings.retries()) {
                            traffic.failures.increment();
                            throw failure(Kind.IO, "gave up after " + (retry + 1) + " attempts; the last: "
                                    + f.getMessage(), f);
                        }
                        retry++;
                        traffic.retries.increment();
                        pause(backoff(retry, f.retryAfter()), deadline);
                    }
                    case REAUTHORIZE -> {
                        if (renewed || !credentials.renew(f.refusedAuthorization())) {
                            traffic.failures.increment();
                            throw failure(Kind.ACCESS_DENIED, f.getMessage()
                                    + credentials.problem().map(p -> "; " + p).orElse(""), f);
                        }
                        renewed = true;
                    }
                    case CHANGED -> {
                        traffic.failures.increment();
                        changed = f.getMessage();
                        throw changedException(f.getMessage());
                    }
                    default -> {
                        traffic.failures.increment();
                        throw failure(f.kind(), f.getMessage(), f);
                    }
                }
            }
        }
    }

    private Duration backoff(int retry, Duration retryAfter) {
        if (retryAfter != null) {
            return retryAfter;
        }
        // at most a minute doubled 20 times fits a long; the cap keeps it at 10 s
        long base = settings.retryBackoff().toNanos() << Math.min(retry - 1, 20);
        long capped = Math.min(base, MAX_BACKOFF.toNanos());
        // "equal jitter": half fixed, half random, so that clients retrying together spread out
        return Duration.ofNanos(capped / 2 + ThreadLocalRandom.current().nextLong(capped / 2 + 1));
    }

    private void pause(Duration wait, long deadline) throws StorageException {
        long sleep = Math.min(wait.toNanos(), deadline - System.nanoTime());
        if (sleep <= 0) {
            return;
        }
        try {
            TimeUnit.NANOSECONDS.sleep(sleep);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw failure(Kind.IO, "interrupted while waiting to retry", e);
        }
    }

    private StorageException timedOut(FetchFailure last) {
        traffic.failures.increment();
        return failure(Kind.IO, "no answer within " + settings.readTimeout().toMillis() + " ms (" + HttpSettings.READ_TIMEOUT
                + ")" + (last == null ? "" : "; the last attempt: " + last.getMessage()), last);
    }

    private StorageException changedException(String why) {
        return failure(Kind.IO, "the image changed on the server since it was opened (" + why
                + "); detach and attach the drive to use the new version", null);
    }

    private StorageException failure(Kind kind, String detail, Throwable cause) {
        return new StorageException(kind, detail, cause).withLocation(location);
    }

    private static Duration min(Duration a, Duration b) {
        return a.compareTo(b) <= 0 ? a : b;
    }

    @Override
    public void close() {
        HttpClient bulk;
        synchronized (this) {
            closed = true;
            bulk = client;
        }
        if (ownsClient) {
            if (bulk != null && bulk != quick) {
                bulk.shutdownNow();
            }
            quick.shutdownNow();
        }
    }
}
