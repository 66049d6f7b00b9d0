package org.spindle.backend.http;

import java.net.URI;
import java.nio.file.Path;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import org.spindle.storage.api.ByteSize;
import org.spindle.storage.api.StorageException;
import org.spindle.storage.api.StorageException.Kind;
import org.spindle.storage.api.StorageException.Operation;

/**
 * How the HTTP backend fetches and caches: one immutable set of values, read from the provider's
 * configuration and overridden per image by the URI fragment ({@code #chunk.size=2M&read.ahead=8}; a
 * fragment is never sent to the server). Every value is checked against its limits here, so a bad
 * setting fails when the drive is opened, naming the setting.
 *
 * @param chunkSize the bytes of one cache entry, fetched whole by a sequential reader and ahead of it
 *        (default 1 MiB)
 * @param pieceSize what a scattered read's miss fetches instead of its whole chunk: the pieces of this
 *        size that it touches (default 4 KiB; 0: always whole chunks). The first two misses in a chunk
 *        fetch pieces; a third one there, a sequential read or a read of more than half the chunk
 *        fetches the chunk. A chunk size it does not divide at least twice is always fetched whole
 *        ({@link #piece()}).
 * @param readAhead chunks fetched ahead of a sequential reader (default 16), in runs of a quarter of it
 * @param maxFetches range requests in flight at once per image (default 4)
 * @param retries attempts after the first for a retryable failure (default 4)
 * @param retryBackoff the wait before the first retry; each later wait doubles, with jitter
 * @param connectTimeout the longest wait for a connection
 * @param requestTimeout the longest one request may take, body included; a stalled request is
 *        abandoned and retried
 * @param readTimeout the longest one read may take, retries included; after it the read fails
 * @param httpVersion {@code auto} (HTTP/2 over TLS, HTTP/1.1 otherwise), {@code 1.1} or {@code 2}
 * @param cacheDir where the persistent chunk cache lives, or {@code null} for none
 * @param cacheSize the most bytes of chunks the persistent cache holds (0: no persistent cache)
 * @param memoryCache the most bytes of chunks held in memory per image
 * @param tokenEnv the environment variable holding a bearer token, or {@code null}
 * @param lease where read leases come from, or {@code null} for none
 */
public record HttpSettings(int chunkSize, int pieceSize, int readAhead, int maxFetches, int retries, Duration retryBackoff,
        Duration connectTimeout, Duration requestTimeout, Duration readTimeout, String httpVersion, Path cacheDir,
        long cacheSize, long memoryCache, String tokenEnv, Lease lease) {

    /**
     * Read leases from a lease service ({@code POST /v1/leases} of Spindle's image server).
     *
     * @param url the service
     * @param tokenEnv the environment variable holding the issuer's token
     * @param image the image id asked for, or {@code null} to take it from the image's URL
     * @param refresh how long before its expiry a lease is renewed
     * @param asUrl whether a lease is presented as the signed URL the service gives for the image
     *        ({@code lease.as=url}) rather than as {@code Authorization: Bearer} ({@code header})
     */
    public record Lease(URI url, String tokenEnv, String image, Duration refresh, boolean asUrl) {
        public Lease(URI url, String tokenEnv, String image, Duration refresh) {
            this(url, tokenEnv, image, refresh, false);
        }
    }

    public static final String CHUNK_SIZE = "chunk.size";
    public static final String PIECE_SIZE = "piece.size";
    public static final String READ_AHEAD = "read.ahead";
    public static final String MAX_FETCHES = "max.fetches";
    public static final String RETRIES = "retries";
    public static final String RETRY_BACKOFF = "retry.backoff";
    public static final String CONNECT_TIMEOUT = "connect.timeout";
    public static final String REQUEST_TIMEOUT = "request.timeout";
    public static final String READ_TIMEOUT = "read.timeout";
    public static final String HTTP_VERSION = "http.version";
    public static final String CACHE_DIR = "cache.dir";
    public static final String CACHE_SIZE = "cache.size";
    public static final String MEMORY_CACHE = "memory.cache";
    public static final String TOKEN_ENV = "token.env";
    public static final String LEASE_URL = "lease.url";
    public static final String LEASE_TOKEN_ENV = "lease.token.env";
    public static final String LEASE_IMAGE = "lease.image";
    public static final String LEASE_REFRESH = "lease.refresh";
    public static final String LEASE_AS = "lease.as";

    /** The piece size unless set: a page, the smallest block guests read. */
    public static final int DEFAULT_PIECE = 4096;
    /** The largest piece. */
    public static final int MAX_PIECE = 64 << 10;
    /** The largest chunk: one request's body is held in memory whole. */
    public static final int MAX_CHUNK = 64 << 20;
    /** The most bytes fetched ahead of a reader. */
    public static final long MAX_READ_AHEAD_BYTES = 512L << 20;

    private static final Pattern DURATION = Pattern.compile("\\s*(\\d+)\\s*(ms|s|m|h)?\\s*");
    private static final Pattern ENV_NAME = Pattern.compile("[A-Za-z_][A-Za-z0-9_]*");

    /** The defaults: 1 MiB chunks, 4 KiB pieces, 16 ahead, 4 in flight, 4 retries from 100 ms, no persistent cache. */
    public static HttpSettings defaults() {
        return new HttpSettings(1 << 20, DEFAULT_PIECE, 16, 4, 4, Duration.ofMillis(100), Duration.ofSeconds(10),
                Duration.ofSeconds(20), Duration.ofSeconds(60), "auto", null, 0, 64L << 20, null, null);
    }

    public HttpSettings {
        check(chunkSize >= 4096 && chunkSize <= MAX_CHUNK && chunkSize % 512 == 0, CHUNK_SIZE,
                "must be a multiple of 512 from 4K to 64M, not " + chunkSize);
        check(pieceSize == 0 || pieceSize >= 4096 && pieceSize <= MAX_PIECE && Integer.bitCount(pieceSize) == 1,
                PIECE_SIZE, "must be 0 or a power of two from 4K to 64K, not " + pieceSize);
        check(readAhead >= 0 && readAhead <= 1024 && (long) readAhead * chunkSize <= MAX_READ_AHEAD_BYTES,
                READ_AHEAD, "must be 0 to 1024 chunks and at most 512M ahead, not " + readAhead + " chunks of "
                        + chunkSize + " bytes");
        check(maxFetches >= 1 && maxFetches <= 128, MAX_FETCHES, "must be 1 to 128, not " + maxFetches);
        check(retries >= 0 && retries <= 32, RETRIES, "must be 0 to 32, not " + retries);
        positive(retryBackoff, RETRY_BACKOFF, Duration.ofMinutes(1));
        positive(connectTimeout, CONNECT_TIMEOUT, Duration.ofHours(1));
        positive(requestTimeout, REQUEST_TIMEOUT, Duration.ofHours(1));
        positive(readTimeout, READ_TIMEOUT, Duration.ofDays(1));
        check(httpVersion.equals("auto") || httpVersion.equals("1.1") || httpVersion.equals("2"), HTTP_VERSION,
                "must be auto, 1.1 or 2, not '" + httpVersion + "'");
        check(cacheSize >= 0, CACHE_SIZE, "must not be negative");
        check(memoryCache >= 0, MEMORY_CACHE, "must not be negative");
        check(tokenEnv == null || ENV_NAME.matcher(tokenEnv).matches(), TOKEN_ENV,
                "must be an environment variable name, not '" + tokenEnv + "'");
        if (lease != null) {
            URI u = lease.url();
            check(u.isAbsolute() && u.getHost() != null && u.getRawUserInfo() == null && u.getRawFragment() == null
                    && ("https".equalsIgnoreCase(u.getScheme()) || "http".equalsIgnoreCase(u.getScheme())), LEASE_URL,
                    "must be an http(s) URL with a host and without user information or fragment");
            check(lease.tokenEnv() != null && ENV_NAME.matcher(lease.tokenEnv()).matches(), LEASE_TOKEN_ENV,
                    "must name the environment variable holding the issuer's token (it is required with "
                            + LEASE_URL + ")");
            check(lease.image() == null || lease.image().matches("[A-Za-z0-9._-]{1,128}"), LEASE_IMAGE,
                    "must be an image id ([A-Za-z0-9._-], 1 to 128 characters)");
            positive(lease.refresh(), LEASE_REFRESH, Duration.ofDays(1));
            check(tokenEnv == null, TOKEN_ENV, "and " + LEASE_URL + " cannot both be set: a request carries one"
                    + " bearer token");
        }
    }

    /**
     * The piece a scattered read's miss fetches, or 0 when misses fetch whole chunks: {@code pieceSize}
     * if it divides the chunk size at least twice.
     */
    public int piece() {
        return pieceSize != 0 && chunkSize % pieceSize == 0 && chunkSize / pieceSize >= 2 ? pieceSize : 0;
    }

    /** Whether chunks are kept across restarts. */
    public boolean persistent() {
        return cacheDir != null && cacheSize > 0;
    }

    /**
     * These settings with {@code values} applied over them; keys are the constants of this class,
     * unknown keys are refused.
     *
     * @throws StorageException {@code INVALID_CONFIG} naming the key and the value that was wrong
     */
    public HttpSettings with(Map<String, String> values) throws StorageException {
        int chunk = chunkSize;
        Integer piece = null;
        int ahead = readAhead;
        int fetches = maxFetches;
        int tries = retries;
        Duration backoff = retryBackoff;
        Duration connect = connectTimeout;
        Duration request = requestTimeout;
        Duration read = readTimeout;
        String version = httpVersion;
        Path dir = cacheDir;
        long cache = cacheSize;
        long memory = memoryCache;
        String env = tokenEnv;
        URI leaseUrl = lease == null ? null : lease.url();
        String leaseEnv = lease == null ? null : lease.tokenEnv();
        String leaseImage = lease == null ? null : lease.image();
        Duration leaseRefresh = lease == null ? Duration.ofSeconds(60) : lease.refresh();
        boolean leaseAsUrl = lease != null && lease.asUrl();
        for (Map.Entry<String, String> e : values.entrySet()) {
            String key = e.getKey();
            String value = e.getValue() == null ? "" : e.getValue().strip();
            try {
                switch (key) {
                    case CHUNK_SIZE -> chunk = Math.toIntExact(ByteSize.parse(value));
                    case PIECE_SIZE -> piece = value.isEmpty() ? null : Math.toIntExact(ByteSize.parse(value));
                    case READ_AHEAD -> ahead = Integer.parseInt(value);
                    case MAX_FETCHES -> fetches = Integer.parseInt(value);
                    case RETRIES -> tries = Integer.parseInt(value);
                    case RETRY_BACKOFF -> backoff = duration(value);
                    case CONNECT_TIMEOUT -> connect = duration(value);
                    case REQUEST_TIMEOUT -> request = duration(value);
                    case READ_TIMEOUT -> read = duration(value);
                    case HTTP_VERSION -> version = value.toLowerCase(Locale.ROOT);
                    case CACHE_DIR -> dir = value.isEmpty() ? null : Path.of(value).toAbsolutePath();
                    case CACHE_SIZE -> cache = ByteSize.parse(value);
                    case MEMORY_CACHE -> memory = ByteSize.parse(value);
                    case TOKEN_ENV -> env = value.isEmpty() ? null : value;
                    case LEASE_URL -> leaseUrl = value.isEmpty() ? null : new URI(value);
                    case LEASE_TOKEN_ENV -> leaseEnv = value.isEmpty() ? null : value;
                    case LEASE_IMAGE -> leaseImage = value.isEmpty() ? null : value;
                    case LEASE_REFRESH -> leaseRefresh = duration(value);
                    case LEASE_AS -> leaseAsUrl = switch (value.toLowerCase(Locale.ROOT)) {
                        case "", "header" -> false;
                        case "url" -> true;
                        default -> throw new IllegalArgumentException("must be header or url");
                    };
                    default -> throw new StorageException(Kind.INVALID_CONFIG, "unknown HTTP setting '" + key
                            + "' (known: " + String.join(", ", keys()) + ")").withOperation(Operation.CONFIGURE);
                }
            } catch (java.net.URISyntaxException ex) {
                // the URL is not quoted: its query may carry a signature
                throw new StorageException(Kind.INVALID_CONFIG, "HTTP setting " + key + " is not a URL: "
                        + ex.getReason() + " at index " + ex.getIndex(), ex).withOperation(Operation.CONFIGURE);
            } catch (IllegalArgumentException | ArithmeticException ex) {
                throw new StorageException(Kind.INVALID_CONFIG, "HTTP setting " + key + "='" + value + "': "
                        + ex.getMessage(), ex).withOperation(Operation.CONFIGURE);
            }
        }
        if (leaseAsUrl && leaseUrl == null) {
            throw new StorageException(Kind.INVALID_CONFIG, "HTTP setting " + LEASE_AS + "=url needs " + LEASE_URL
                    + ", the lease service that gives the signed URLs").withOperation(Operation.CONFIGURE);
        }
        boolean pieceGiven = piece != null;
        if (piece == null) {
            piece = pieceSize;
        }
        HttpSettings result;
        try {
            result = new HttpSettings(chunk, piece, ahead, fetches, tries, backoff, connect, request, read, version, dir,
                    cache, memory, env, leaseUrl == null ? null : new Lease(leaseUrl, leaseEnv, leaseImage,
                            leaseRefresh, leaseAsUrl));
        } catch (IllegalArgumentException ex) {
            throw new StorageException(Kind.INVALID_CONFIG, ex.getMessage(), ex).withOperation(Operation.CONFIGURE);
        }
        if (pieceGiven && result.pieceSize() > 0 && result.piece() == 0) {
            throw new StorageException(Kind.INVALID_CONFIG, "HTTP setting " + PIECE_SIZE + "=" + result.pieceSize()
                    + " must divide " + CHUNK_SIZE + "=" + result.chunkSize() + " at least twice")
                    .withOperation(Operation.CONFIGURE);
        }
        return result;
    }

    /** The setting names, in the order of the record. */
    public static java.util.List<String> keys() {
        return java.util.List.of(CHUNK_SIZE, PIECE_SIZE, READ_AHEAD, MAX_FETCHES, RETRIES, RETRY_BACKOFF, CONNECT_TIMEOUT,
                REQUEST_TIMEOUT, READ_TIMEOUT, HTTP_VERSION, CACHE_DIR, CACHE_SIZE, MEMORY_CACHE, TOKEN_ENV, LEASE_URL,
                LEASE_TOKEN_ENV, LEASE_IMAGE, LEASE_REFRESH, LEASE_AS);
    }

    /**
     * Reads a URI fragment of settings: {@code key=value} pairs joined by {@code &}.
     *
     * @throws StorageException {@code INVALID_CONFIG} for a pair without '='
     */
    public static Map<String, String> fragment(String fragment) throws StorageException {
        Map<String, String> values = new LinkedHashMap<>();
        if (fragment == null || fragment.isBlank()) {
            return values;
        }
        for (String pair : fragment.split("&")) {
            if (pair.isBlank()) {
                continue;
            }
            int eq = pair.indexOf('=');
            if (eq <= 0) {
                throw new StorageException(Kind.INVALID_CONFIG, "the URI fragment holds HTTP settings as key=value"
                        + " pairs joined by '&'; '" + pair + "' is not one").withOperation(Operation.CONFIGURE);
            }
            values.put(pair.substring(0, eq).strip(), pair.substring(eq + 1));
        }
        return values;
    }

    /** A duration as {@code 250ms}, {@code 20s}, {@code 2m}, {@code 1h}; a bare number is seconds. */
    static Duration duration(String text) {
        Matcher m = DURATION.matcher(text);
        if (!m.matches()) {
            throw new IllegalArgumentException("not a duration (write 250ms, 20s, 2m or 1h)");
        }
        long n = Long.parseLong(m.group(1));
        String unit = m.group(2) == null ? "s" : m.group(2);
        return switch (unit) {
            case "ms" -> Duration.ofMillis(n);
            case "m" -> Duration.ofMinutes(n);
            case "h" -> Duration.ofHours(n);
            default -> Duration.ofSeconds(n);
        };
    }

    private static void positive(Duration d, String key, Duration max) {
        check(d != null && !d.isNegative() && !d.isZero() && d.compareTo(max) <= 0, key,
                "must be a positive duration of at most " + max.toMinutes() + " minutes");
    }

    private static void check(boolean ok, String key, String problem) {
        if (!ok) {
            throw new IllegalArgumentException("HTTP setting " + key + " " + problem);
        }
    }
}
