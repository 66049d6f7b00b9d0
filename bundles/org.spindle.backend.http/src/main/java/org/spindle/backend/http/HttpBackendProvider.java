package org.spindle.backend.http;

import java.lang.System.Logger.Level;
import java.net.URI;
import java.net.http.HttpClient;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;

import org.osgi.service.component.annotations.Activate;
import org.osgi.service.component.annotations.Component;
import org.osgi.service.component.annotations.ConfigurationPolicy;
import org.osgi.service.component.annotations.Deactivate;
import org.osgi.service.component.annotations.Modified;
import org.osgi.service.metatype.annotations.AttributeDefinition;
import org.osgi.service.metatype.annotations.Designate;
import org.osgi.service.metatype.annotations.ObjectClassDefinition;
import org.spindle.storage.api.AccessMode;
import org.spindle.storage.api.StorageBackend;
import org.spindle.storage.api.StorageBackendProvider;
import org.spindle.storage.api.StorageException;
import org.spindle.storage.api.StorageException.Kind;
import org.spindle.storage.api.StorageException.Operation;
import org.spindle.storage.api.WholeObject;
import org.spindle.storage.api.WholeObjectReader;

/**
 * Opens {@code http:} and {@code https:} URLs as read-only backends (see {@link HttpBackend}).
 *
 * <p>Settings come from the configuration {@value #PID} and, per image, from the URL's fragment:
 * {@code https://images.example/win7.img#chunk.size=2M&read.ahead=8}. The fragment is never sent. The
 * persistent cache ({@code cache.dir}, {@code cache.size}) is shared by all images and set only in the
 * configuration. Outside OSGi (the image tool) the configuration is read from system properties
 * {@code spindle.http.<setting>}.
 */
@Component(configurationPid = HttpBackendProvider.PID, configurationPolicy = ConfigurationPolicy.OPTIONAL,
        property = {StorageBackendProvider.SCHEME + "=http", StorageBackendProvider.SCHEME + "=https"})
@Designate(ocd = HttpBackendProvider.Config.class)
public final class HttpBackendProvider implements StorageBackendProvider, WholeObjectReader {
    public static final String PID = "org.spindle.backend.http";
    private static final System.Logger LOG = System.getLogger(HttpBackendProvider.class.getName());

    @ObjectClassDefinition(name = "Spindle HTTP backend",
            description = "Images streamed from HTTP(S) servers by Range requests")
    public @interface Config {
        @AttributeDefinition(description = "Bytes per cache entry, fetched whole by sequential readers and ahead"
                + " of them (4K to 64M, a multiple of 512)")
        String chunk_size() default "1M";

        @AttributeDefinition(description = "What a scattered read's miss fetches instead of its whole chunk: the"
                + " pieces of this size it touches (a power of two from 4K to 64K dividing the chunk size; 0 for"
                + " whole chunks; empty for 4K where it divides the chunk size)")
        String piece_size() default "";

        @AttributeDefinition(description = "Chunks fetched ahead of a sequential reader (0 to 1024, at most 512M)")
        int read_ahead() default 16;

        @AttributeDefinition(description = "Range requests in flight at once per image (1 to 128)")
        int max_fetches() default 4;

        @AttributeDefinition(description = "Retries of a request that failed transiently (5xx, 408, 429, reset)")
        int retries() default 4;

        @AttributeDefinition(description = "Wait before the first retry, doubling after (250ms, 1s)")
        String retry_backoff() default "100ms";

        @AttributeDefinition(description = "Longest wait for a connection")
        String connect_timeout() default "10s";

        @AttributeDefinition(description = "Longest time one request may take, body included; then it is retried")
        String request_timeout() default "20s";

        @AttributeDefinition(description = "Longest time one read may take, retries included; then it fails")
        String read_timeout() default "60s";

        @AttributeDefinition(description = "auto (HTTP/2 over TLS, else HTTP/1.1), 1.1 or 2")
        String http_version() default "auto";

        @AttributeDefinition(description = "Directory of the persistent chunk cache; empty for the user's cache"
                + " directory ($XDG_CACHE_HOME or ~/.cache, then spindle/http)")
        String cache_dir() default "";

        @AttributeDefinition(description = "Most bytes kept in the persistent chunk cache; 0 turns it off")
        String cache_size() default "4G";

        @AttributeDefinition(description = "Most bytes of chunks held in memory per image")
        String memory_cache() default "64M";

        @AttributeDefinition(description = "Environment variable holding a bearer token (the token itself is"
                + " never stored in the configuration)")
        String token_env() default "";

        @AttributeDefinition(description = "Lease service (POST /v1/leases of Spindle's image server) that issues"
                + " read leases for the images; empty for none")
        String lease_url() default "";

        @AttributeDefinition(description = "Environment variable holding the token that may ask the lease service"
                + " for leases (required with lease.url)")
        String lease_token_env() default "";

        @AttributeDefinition(description = "How long before its expiry a lease is renewed (60s)")
        String lease_refresh() default "60s";

        @AttributeDefinition(description = "How a lease is presented: header (Authorization: Bearer) or url (the"
                + " signed URL the lease service gives for the image, used instead of the image's URL)")
        String lease_as() default "header";
    }

    private final Object lock = new Object();
    private final Map<String, HttpClient> objectClients = new java.util.HashMap<>();
    private final Traffic objectTraffic = new Traffic();
    private final Map<String, ChunkStore> objectStores = new java.util.HashMap<>();
    private final Map<String, LeaseCredentials> leaseHolders = new java.util.HashMap<>();
    private ChunkCache objectStoresOf;
    private volatile HttpSettings settings;
    private ChunkCache cache;
    private boolean cacheUnavailable;
    /** Outside OSGi nothing deactivates the provider: the cache is closed when the JVM ends. */
    private boolean closeAtExit;

    /** Configured from system properties {@code spindle.http.<setting>} (as {@link java.util.ServiceLoader} makes it). */
    public HttpBackendProvider() {
        Map<String, String> values = new LinkedHashMap<>();
        for (String key : HttpSettings.keys()) {
            String value = System.getProperty("spindle.http." + key);
            if (value != null) {
                values.put(key, value);
            }
        }
        values.putIfAbsent(HttpSettings.CACHE_DIR, defaultCacheDir().toString());
        values.putIfAbsent(HttpSettings.CACHE_SIZE, "4G");
        try {
            this.settings = HttpSettings.defaults().with(values);
        } catch (StorageException e) {
            throw new IllegalArgumentException("system properties spindle.http.*: " + e.getMessage(), e);
        }
        this.closeAtExit = true;
    }

    /** With {@code settings} as its configuration (tests, embedding). */
    HttpBackendProvider(HttpSettings settings) {
        this.settings = settings;
    }

    @Activate
    public HttpBackendProvider(Config config) throws StorageException {
        this.settings = settings(config);
    }

    /** A changed configuration applies to images opened from now on; a new cache place closes the old cache. */
    @Modified
    void modified(Config config) throws StorageException {
        HttpSettings next = settings(config);
        synchronized (lock) {
            if (cache != null && (!cache.directory().equals(next.cacheDir()) || next.cacheSize() != settings.cacheSize())) {
                cache.close();
                cache = null;
            }
            cacheUnavailable = false;
            settings = next;
        }
    }

    @Deactivate
    void deactivate() {
        synchronized (lock) {
            objectClients.values().forEach(HttpClient::shutdownNow);
            objectClients.clear();
            leaseHolders.clear();
            if (cache != null) {
                cache.close();
                cache = null;
            }
        }
    }

    private static HttpSettings settings(Config c) throws StorageException {
        Map<String, String> values = new LinkedHashMap<>();
        values.put(HttpSettings.CHUNK_SIZE, c.chunk_size());
        values.put(HttpSettings.PIECE_SIZE, c.piece_size());
        values.put(HttpSettings.READ_AHEAD, Integer.toString(c.read_ahead()));
        values.put(HttpSettings.MAX_FETCHES, Integer.toString(c.max_fetches()));
        values.put(HttpSettings.RETRIES, Integer.toString(c.retries()));
        values.put(HttpSettings.RETRY_BACKOFF, c.retry_backoff());
        values.put(HttpSettings.CONNECT_TIMEOUT, c.connect_timeout());
        values.put(HttpSettings.REQUEST_TIMEOUT, c.request_timeout());
        values.put(HttpSettings.READ_TIMEOUT, c.read_timeout());
        values.put(HttpSettings.HTTP_VERSION, c.http_version());
        values.put(HttpSettings.CACHE_DIR, c.cache_dir().isBlank() ? defaultCacheDir().toString() : c.cache_dir());
        values.put(HttpSettings.CACHE_SIZE, c.cache_size());
        values.put(HttpSettings.MEMORY_CACHE, c.memory_cache());
        values.put(HttpSettings.TOKEN_ENV, c.token_env());
        values.put(HttpSettings.LEASE_URL, c.lease_url());
        values.put(HttpSettings.LEASE_TOKEN_ENV, c.lease_token_env());
        values.put(HttpSettings.LEASE_REFRESH, c.lease_refresh());
        values.put(HttpSettings.LEASE_AS, c.lease_as());
        return HttpSettings.defaults().with(values);
    }

    /** {@code $XDG_CACHE_HOME/spindle/http}, else {@code ~/.cache/spindle/http}. */
    static Path defaultCacheDir() {
        String xdg = System.getenv("XDG_CACHE_HOME");
        Path base = xdg != null && !xdg.isBlank() ? Path.of(xdg) : Path.of(System.getProperty("user.home"), ".cache");
        return base.resolve("spindle").resolve("http");
    }

    @Override
    public Set<String> schemes() {
        return Set.of("http", "https");
    }

    @Override
    public StorageBackend open(URI uri, AccessMode mode) throws StorageException {
        HttpLocations.check(uri);
        String display = HttpLocations.display(uri);
        if (mode != AccessMode.READ_ONLY) {
            throw new StorageException(mode == AccessMode.READ_WRITE ? Kind.READ_ONLY : Kind.UNSUPPORTED_FEATURE,
                    "an image on an HTTP server is read-only: open the drive read-only, or give it an overlay"
                            + " that takes the writes").withLocation(display).withOperation(Operation.OPEN);
        }
        HttpSettings effective = effective(uri, display);
        return HttpBackend.open(uri, effective, credentials(effective, uri, display), cache(effective));
    }

    /**
     * One {@code GET} of a whole object (a chunk of a chunked image), through the persistent cache when
     * the object names its series: a cached object is served from disk, a fetched one is kept once its
     * size and SHA-256 (when given) check out.
     */
    @Override
    public byte[] readWhole(URI uri, WholeObject object) throws StorageException {
        HttpLocations.check(uri);
        String display = HttpLocations.display(uri);
        HttpSettings effective = effective(uri, display);
        if (effective.lease() != null && effective.lease().asUrl()) {
            throw chunkedByUrl(display, Operation.READ);
        }
        // only what can be checked is kept: an object without a digest is always fetched
        ChunkCache shared = object.cacheable() && object.sha256() != null ? cache(effective) : null;
        ChunkStore store = shared == null ? null : objectStore(shared, object.series());
        if (store != null && store.contains(object.index())) {
            ByteBuffer held = ByteBuffer.allocate(object.size());
            if (store.read(object.index(), 0, held, 0, object.size())) {
                if (object.sha256().equals(WholeObject.sha256(held.array()))) {
                    objectTraffic.hits.increment();
                    return held.array();
                }
                // another object under this key: dropped, so that the right one can take its place
                store.drop(object.index());
            }
        }
        objectTraffic.misses.increment();
        long deadline = System.nanoTime() + effective.readTimeout().toNanos();
        RangeClient client = new RangeClient(objectClient(effective, uri), false, HttpLocations.request(uri), display,
                effective, credentials(effective, uri, display), objectTraffic);
        byte[] bytes = client.fetchWhole(object.size(), deadline);
        if (object.sha256() != null) {
            String actual = WholeObject.sha256(bytes);
            if (!actual.equals(object.sha256())) {
                throw new StorageException(Kind.CORRUPT_IMAGE, "the object's SHA-256 is " + actual + ", not "
                        + object.sha256()).withLocation(display).withOperation(Operation.READ);
            }
        }
        if (store != null) {
            store.put(object.index(), bytes);
        }
        return bytes;
    }

    /** The cache's view of one series of objects, made once per series and cache. */
    private ChunkStore objectStore(ChunkCache shared, String series) {
        synchronized (lock) {
            if (objectStoresOf != shared) {
                objectStores.clear();
                objectStoresOf = shared;
            }
            ChunkStore store = objectStores.get(series);
            if (store == null) {
                store = shared.store(0, "whole " + series, 0, 0, "whole " + series);
                if (store == null) {
                    return null;
                }
                objectStores.put(series, store);
            }
            return store;
        }
    }

    /** One HTTP client per version and connect timeout, shared by every whole-object read. */
    private HttpClient objectClient(HttpSettings s, URI uri) {
        String key = RangeClient.version(s, uri) + " " + s.connectTimeout();
        synchronized (lock) {
            return objectClients.computeIfAbsent(key, k -> RangeClient.newClient(s, uri));
        }
    }

    /** The provider's settings with the URL fragment's over them; the shared cache is not set per image. */
    private HttpSettings effective(URI uri, String display) throws StorageException {
        Map<String, String> fragment = HttpSettings.fragment(uri.getRawFragment() == null ? null : uri.getFragment());
        for (String shared : new String[] {HttpSettings.CACHE_DIR, HttpSettings.CACHE_SIZE}) {
            if (fragment.containsKey(shared)) {
                throw new StorageException(Kind.INVALID_CONFIG, shared + " is shared by every image: set it in the"
                        + " configuration " + PID + ", not in the URL").withLocation(display)
                        .withOperation(Operation.OPEN);
            }
        }
        try {
            return settings.with(fragment);
        } catch (StorageException e) {
            throw e.withLocation(display);
        }
    }

    /**
     * What grants access to the image: a token from the environment, leases from a lease service (for
     * the image id {@code lease.image}, else the one in a Spindle server's image URL), or the URL itself
     * (public, or signed: then a refusal after the expiry its query states says so).
     */
    private Credentials credentials(HttpSettings s, URI uri, String display) throws StorageException {
        if (s.lease() != null) {
            HttpSettings.Lease lease = s.lease();
            String id = lease.image() != null ? lease.image() : LeaseCredentials.imageIdOf(uri).orElseThrow(
                    () -> new StorageException(Kind.INVALID_CONFIG, "the image id for leases cannot be taken from"
                            + " this URL (not …/v1/images/ID): set " + HttpSettings.LEASE_IMAGE)
                            .withLocation(display).withOperation(Operation.OPEN));
            URI image = null;
            if (lease.asUrl()) {
                if (uri.getPath() != null && uri.getPath().contains("/chunked/")) {
                    throw chunkedByUrl(display, Operation.OPEN);
                }
                image = HttpLocations.request(uri);
            }
            // one lease holder per service, image and issuer: images and chunks of one image share leases;
            // a signed URL stands for one image URL only
            String key = lease.url() + " " + id + " " + lease.tokenEnv() + " " + lease.refresh() + " " + image;
            URI signedFor = image;
            HttpClient client = objectClient(s, lease.url());
            synchronized (lock) {
                return leaseHolders.computeIfAbsent(key, k -> new LeaseCredentials(lease.url(), id, lease.tokenEnv(),
                        lease.refresh(), s.requestTimeout(), client, System::getenv, java.time.Clock.systemUTC(), signedFor));
            }
        }
        return s.tokenEnv() != null ? Credentials.bearerFromEnvironment(s.tokenEnv(), System::getenv)
                : Credentials.signed(uri, java.time.Clock.systemUTC());
    }

    private static StorageException chunkedByUrl(String display, Operation op) {
        return new StorageException(Kind.INVALID_CONFIG, "a lease given as a signed URL (lease.as=url) names one"
                + " object, the image, and cannot stand for a chunked image's manifest and chunks: use"
                + " lease.as=header").withLocation(display).withOperation(op);
    }

    /** Counters of whole-object reads (chunks of chunked images). */
    Traffic objectTraffic() {
        return objectTraffic;
    }

    private ChunkCache cache(HttpSettings s) {
        if (!s.persistent()) {
            return null;
        }
        synchronized (lock) {
            if (cache == null && !cacheUnavailable) {
                try {
                    cache = ChunkCache.open(s.cacheDir(), s.cacheSize());
                    if (closeAtExit) {
                        Runtime.getRuntime().addShutdownHook(new Thread(this::deactivate, "spindle-http-cache-close"));
                    }
                } catch (StorageException e) {
                    cacheUnavailable = true;
                    LOG.log(Level.WARNING, "images are read without a persistent cache: {0}", e.getMessage());
                }
            }
            return cache;
        }
    }
}
