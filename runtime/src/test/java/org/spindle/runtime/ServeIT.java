package org.spindle.runtime;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.spindle.backend.http.HttpBackendProvider;
import org.spindle.storage.api.AccessMode;
import org.spindle.storage.api.StorageBackend;

/**
 * {@code spindle serve} as a user starts it: Felix HTTP with Jetty and the image server in a JVM of its
 * own. Spindle's HTTP backend reads an image from it byte for byte; the lease, range and CORS answers
 * come through Jetty as the server gave them.
 */
class ServeIT {
    private static final Path HOME = Path.of(System.getProperty("spindle.home"));
    /** The issuer's token: from the environment (Failsafe sets it), where the HTTP backend reads it too. */
    private static final String ISSUER_ENV = "SPINDLE_IT_LEASE_ISSUER";
    private static final String ISSUER = System.getenv(ISSUER_ENV) != null ? System.getenv(ISSUER_ENV)
            : "issuer-" + Long.toHexString(new Random().nextLong());

    @TempDir
    Path dir;

    private Process server;
    private int port;
    private byte[] image;
    private byte[] secret;
    private final HttpClient http = HttpClient.newHttpClient();

    @BeforeEach
    void start() throws Exception {
        Path images = Files.createDirectory(dir.resolve("images"));
        image = new byte[3 << 20];
        new Random(3).nextBytes(image);
        Files.write(images.resolve("disk.img"), image);
        secret = new byte[64 * 1024];
        new Random(4).nextBytes(secret);
        Files.write(images.resolve("secret.img"), secret);
        Files.writeString(images.resolve("images.json"), """
                {"images": [{"id": "disk.img", "file": "disk.img"},
                            {"id": "secret.img", "file": "secret.img", "public": false}]}""");
        try (ServerSocket free = new ServerSocket(0)) {
            port = free.getLocalPort();
        }
        Path framework;
        try (Stream<Path> jars = Files.list(HOME.resolve("target/bundles"))) {
            framework = jars.filter(p -> p.getFileName().toString().startsWith("org.apache.felix.framework-"))
                    .findFirst().orElseThrow();
        }
        List<String> command = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "--sun-misc-unsafe-memory-access=allow", "-Dspindle.home=" + HOME,
                "-cp", System.getProperty("spindle.runtime.jar") + java.io.File.pathSeparator + framework,
                Launcher.class.getName(), "serve", "--port", Integer.toString(port), "--cors", "https://app.example",
                "--lease-kid", "k1", images.toString()));
        ProcessBuilder builder = new ProcessBuilder(command).redirectErrorStream(true)
                .redirectOutput(dir.resolve("server.log").toFile());
        builder.environment().put("SPINDLE_LEASE_KEYS", "k1=" + Base64.getEncoder().encodeToString(
                "a lease key of at least thirty-two bytes".getBytes(StandardCharsets.US_ASCII)));
        builder.environment().put("SPINDLE_LEASE_ISSUER_TOKEN", ISSUER);
        server = builder.start();
        long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
        while (true) {
            try {
                if (get("/readyz").statusCode() == 200) {
                    break;
                }
            } catch (IOException notYet) {
                // not listening yet
            }
            if (System.nanoTime() > end || !server.isAlive()) {
                throw new AssertionError("the server did not become ready: " + Files.readString(dir.resolve("server.log")));
            }
            Thread.sleep(200);
        }
    }

    @AfterEach
    void stop() throws Exception {
        server.destroy();
        server.waitFor(30, TimeUnit.SECONDS);
    }

    private HttpResponse<byte[]> get(String path, String... headers) throws Exception {
        HttpRequest.Builder b = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + path))
                .timeout(Duration.ofSeconds(20));
        for (int i = 0; i < headers.length; i += 2) {
            b.header(headers[i], headers[i + 1]);
        }
        return http.send(b.build(), HttpResponse.BodyHandlers.ofByteArray());
    }

    @Test
    void spindlesHttpBackendReadsAServedImageByteForByte() throws Exception {
        System.setProperty("spindle.http.cache.size", "0");
        try (StorageBackend backend = new HttpBackendProvider().open(
                URI.create("http://127.0.0.1:" + port + "/v1/images/disk.img#chunk.size=256K"), AccessMode.READ_ONLY)) {
            assertThat(backend.size()).isEqualTo(image.length);
            ByteBuffer all = ByteBuffer.allocate(image.length);
            backend.read(0, all);
            assertThat(all.array()).isEqualTo(image);
        } finally {
            System.clearProperty("spindle.http.cache.size");
        }
    }

    /** The whole private image, read by the HTTP backend with leases it asks the server for. */
    private byte[] readWithLeases(String base, String moreSettings) throws Exception {
        System.setProperty("spindle.http.cache.size", "0");
        try (StorageBackend backend = new HttpBackendProvider().open(URI.create(base + "/v1/images/secret.img#lease.url="
                + base + "/v1/leases&lease.token.env=" + ISSUER_ENV + moreSettings), AccessMode.READ_ONLY)) {
            ByteBuffer all = ByteBuffer.allocate(secret.length);
            backend.read(0, all);
            return all.array();
        } finally {
            System.clearProperty("spindle.http.cache.size");
        }
    }

    @Test
    void aPrivateImageIsReadWithLeasesTheBackendAsksTheServerFor() throws Exception {
        org.junit.jupiter.api.Assumptions.assumeTrue(System.getenv(ISSUER_ENV) != null,
                ISSUER_ENV + " is set by Failsafe for this test");
        String base = "http://127.0.0.1:" + port;
        assertThat(readWithLeases(base, "")).isEqualTo(secret);
        assertThat(new String(get("/metrics").body(), StandardCharsets.UTF_8))
                .contains("spindle_server_leases_issued_total 1");
        // the same with each lease presented as the signed URL the server gives (…?cap=…)
        assertThat(readWithLeases(base, "&lease.as=url")).isEqualTo(secret);
        assertThat(new String(get("/metrics").body(), StandardCharsets.UTF_8))
                .contains("spindle_server_leases_issued_total 2");
        // without a lease the server refuses, and the backend says so
        System.setProperty("spindle.http.cache.size", "0");
        try {
            assertThatThrownBy(() -> new HttpBackendProvider().open(URI.create(base + "/v1/images/secret.img"),
                    AccessMode.READ_ONLY)).isInstanceOfSatisfying(org.spindle.storage.api.StorageException.class,
                            e -> assertThat(e.kind()).isEqualTo(org.spindle.storage.api.StorageException.Kind.ACCESS_DENIED));
        } finally {
            System.clearProperty("spindle.http.cache.size");
        }
    }

    @Test
    void rangesCorsAndLeasesComeThroughJettyAsTheServerGaveThem() throws Exception {
        HttpResponse<byte[]> range = get("/v1/images/disk.img", "Range", "bytes=100-199", "Origin", "https://app.example");
        assertThat(range.statusCode()).isEqualTo(206);
        assertThat(range.body()).isEqualTo(java.util.Arrays.copyOfRange(image, 100, 200));
        assertThat(range.headers().firstValue("Content-Range")).contains("bytes 100-199/" + image.length);
        assertThat(range.headers().firstValue("Access-Control-Allow-Origin")).contains("https://app.example");
        assertThat(range.headers().firstValue("Content-Encoding")).isEmpty();
        assertThat(range.headers().firstValue("Cache-Control")).contains("public, max-age=3600, no-transform");
        HttpResponse<byte[]> two = get("/v1/images/disk.img", "Range", "bytes=0-1,4-5");
        assertThat(two.statusCode()).isEqualTo(416);
        assertThat(two.headers().firstValue("Content-Range")).contains("bytes */" + image.length);
        HttpResponse<byte[]> preflight = http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port
                + "/v1/images/disk.img")).method("OPTIONS", HttpRequest.BodyPublishers.noBody())
                .header("Origin", "https://app.example").header("Access-Control-Request-Method", "GET")
                .header("Access-Control-Request-Headers", "range").build(), HttpResponse.BodyHandlers.ofByteArray());
        assertThat(preflight.statusCode()).isEqualTo(204);
        assertThat(preflight.headers().firstValue("Access-Control-Allow-Headers").orElseThrow()).contains("Range");

        assertThat(get("/v1/images/secret.img").statusCode()).isEqualTo(401);
        HttpResponse<String> lease = http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + "/v1/leases"))
                .header("Authorization", "Bearer " + ISSUER).header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofString("{\"imageId\":\"secret.img\",\"ttlSeconds\":60}")).build(),
                HttpResponse.BodyHandlers.ofString());
        assertThat(lease.statusCode()).as(lease.body()).isEqualTo(200);
        String token = lease.body().replaceAll("(?s).*\"authorization\" : \"Bearer ([^\"]+)\".*", "$1");
        HttpResponse<byte[]> leased = get("/v1/images/secret.img", "Authorization", "Bearer " + token, "Range",
                "bytes=0-511");
        assertThat(leased.statusCode()).isEqualTo(206);
        assertThat(leased.headers().firstValue("Cache-Control")).contains("private, no-store, no-transform");
        HttpResponse<byte[]> forged = get("/v1/images/secret.img", "Authorization", "Bearer " + token + "x");
        assertThat(forged.statusCode()).isEqualTo(401);
        assertThat(get("/v1/images/disk.img", "Authorization", "Bearer " + token).statusCode()).isEqualTo(403);
        assertThat(new String(get("/metrics").body(), StandardCharsets.UTF_8))
                .contains("spindle_server_leases_issued_total 1");
    }
}
