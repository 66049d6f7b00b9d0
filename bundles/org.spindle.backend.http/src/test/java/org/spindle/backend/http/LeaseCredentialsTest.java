package org.spindle.backend.http;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.http.HttpClient;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneId;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.CopyOnWriteArrayList;

import com.sun.net.httpserver.HttpServer;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.spindle.storage.api.StorageException;
import org.spindle.storage.api.StorageException.Kind;
import org.spindle.testing.http.RangeOrigin;

/** Read leases: obtained with the issuer's token, renewed before they expire, renewed once after a 401. */
class LeaseCredentialsTest {
    private static final int CHUNK = 64 * 1024;

    /** A clock the test moves by hand. */
    private static final class HandClock extends Clock {
        private volatile Instant now = Instant.parse("2026-11-25T12:00:00Z");

        void advance(Duration d) {
            now = now.plus(d);
        }

        @Override
        public ZoneId getZone() {
            return ZoneOffset.UTC;
        }

        @Override
        public Clock withZone(ZoneId zone) {
            return this;
        }

        @Override
        public Instant instant() {
            return now;
        }
    }

    private final HandClock clock = new HandClock();
    private final Map<String, String> environment = new HashMap<>();
    private final List<String> requests = new CopyOnWriteArrayList<>();
    private final List<AutoCloseable> closing = new ArrayList<>();
    private RangeOrigin origin;
    private HttpServer service;
    private byte[] image;
    /** The service's next answer: status and body; {@code %d} is the lease number, {@code %s} its expiry. */
    private volatile int status = 200;
    private volatile String answer = "{\"imageId\":\"disk\",\"authorization\":\"Bearer lease-%d\",\"expiresAt\":\"%s\"}";
    private volatile Duration ttl = Duration.ofSeconds(120);
    private int issued;

    @BeforeEach
    void start() throws Exception {
        image = new byte[8 * CHUNK];
        new Random(3).nextBytes(image);
        origin = new RangeOrigin().serve("/v1/images/disk", image);
        service = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0);
        service.createContext("/v1/leases", exchange -> {
            String body = new String(exchange.getRequestBody().readAllBytes(), StandardCharsets.UTF_8);
            requests.add(exchange.getRequestMethod() + " " + exchange.getRequestHeaders().getFirst("Authorization")
                    + " " + body);
            byte[] out;
            synchronized (this) {
                if (!("Bearer ISSUER").equals(exchange.getRequestHeaders().getFirst("Authorization"))) {
                    exchange.sendResponseHeaders(401, -1);
                    exchange.close();
                    return;
                }
                issued++;
                out = String.format(answer, issued, clock.instant().plus(ttl)).getBytes(StandardCharsets.UTF_8);
            }
            exchange.getResponseHeaders().set("Content-Type", "application/json");
            exchange.sendResponseHeaders(status, out.length);
            exchange.getResponseBody().write(out);
            exchange.close();
        });
        service.start();
        environment.put("LEASE_ISSUER", "ISSUER");
    }

    @AfterEach
    void stop() throws Exception {
        for (AutoCloseable c : closing.reversed()) {
            c.close();
        }
        origin.close();
        service.stop(0);
    }

    private LeaseCredentials leases() {
        HttpClient client = HttpClient.newHttpClient();
        closing.add(client::shutdownNow);
        URI url = URI.create("http://127.0.0.1:" + service.getAddress().getPort() + "/v1/leases");
        return new LeaseCredentials(url, "disk", "LEASE_ISSUER", Duration.ofSeconds(30), Duration.ofSeconds(5), client,
                environment::get, clock);
    }

    private LeaseCredentials signedLeases() {
        HttpClient client = HttpClient.newHttpClient();
        closing.add(client::shutdownNow);
        URI url = URI.create("http://127.0.0.1:" + service.getAddress().getPort() + "/v1/leases");
        return new LeaseCredentials(url, "disk", "LEASE_ISSUER", Duration.ofSeconds(30), Duration.ofSeconds(5), client,
                environment::get, clock, origin.uri("/v1/images/disk"));
    }

    private HttpBackend open(Credentials credentials) throws StorageException {
        HttpSettings settings = HttpSettings.defaults().with(Map.of(HttpSettings.CHUNK_SIZE, Integer.toString(CHUNK),
                HttpSettings.READ_AHEAD, "0", HttpSettings.MEMORY_CACHE, "0", HttpSettings.RETRY_BACKOFF, "5ms"));
        HttpBackend backend = HttpBackend.open(origin.uri("/v1/images/disk"), settings, credentials, null);
        closing.add(backend);
        return backend;
    }

    private byte[] read(HttpBackend backend, int chunk) throws StorageException {
        ByteBuffer b = ByteBuffer.allocate(100);
        backend.read((long) chunk * CHUNK, b);
        return b.array();
    }

    private byte[] expected(int chunk) {
        return Arrays.copyOfRange(image, chunk * CHUNK, chunk * CHUNK + 100);
    }

    @Test
    void aLeaseIsObtainedWithTheIssuersTokenAndRenewedBeforeItExpires() throws Exception {
        origin.requireToken("lease-1");
        HttpBackend backend = open(leases());
        assertThat(read(backend, 1)).isEqualTo(expected(1));
        assertThat(requests).singleElement().satisfies(r -> assertThat(r).startsWith("POST Bearer ISSUER ")
                .contains("\"imageId\":\"disk\"", "\"scopes\":[\"disk:read\"]"));

        // 80 s into a 120 s lease: still 40 s left, more than the 30 s margin
        clock.advance(Duration.ofSeconds(80));
        assertThat(read(backend, 2)).isEqualTo(expected(2));
        assertThat(requests).hasSize(1);

        // 95 s: within the margin. The origin takes only the next lease now, and the read gets it first,
        // without being refused once
        clock.advance(Duration.ofSeconds(15));
        origin.requireToken("lease-2");
        origin.clearLog();
        assertThat(read(backend, 3)).isEqualTo(expected(3));
        assertThat(requests).hasSize(2);
        assertThat(origin.log()).singleElement().satisfies(s -> assertThat(s.authorization()).isEqualTo("Bearer lease-2"));
    }

    @Test
    void aRefusedLeaseIsReplacedOnceAndTheReadGoesOn() throws Exception {
        origin.requireToken("lease-1");
        HttpBackend backend = open(leases());
        assertThat(read(backend, 1)).isEqualTo(expected(1));
        // the server revoked lease-1 (a key rotated): 401, one new lease, one more try
        origin.requireToken("lease-2");
        assertThat(read(backend, 4)).isEqualTo(expected(4));
        assertThat(requests).hasSize(2);

        // a lease the server still refuses after renewal: ACCESS_DENIED, no bytes, no secret in the message
        origin.requireToken("something-else");
        ByteBuffer dst = ByteBuffer.allocate(100);
        assertThatThrownBy(() -> backend.read(5L * CHUNK, dst)).isInstanceOfSatisfying(StorageException.class, e -> {
            assertThat(e.kind()).isEqualTo(Kind.ACCESS_DENIED);
            assertThat(e.getMessage()).doesNotContain("lease-", "ISSUER");
        });
        assertThat(dst.position()).isZero();
        assertThat(requests).hasSize(3);
    }

    @Test
    void aLeaseServiceThatFailsIsNamedInTheError() throws Exception {
        origin.requireToken("lease-1");
        environment.remove("LEASE_ISSUER");
        assertThatThrownBy(() -> open(leases())).isInstanceOfSatisfying(StorageException.class, e -> {
            assertThat(e.kind()).isEqualTo(Kind.ACCESS_DENIED);
            assertThat(e.getMessage()).contains("LEASE_ISSUER (lease.token.env)", "is not set");
        });
        environment.put("LEASE_ISSUER", "WRONG");
        assertThatThrownBy(() -> open(leases())).hasMessageContaining("answered 401").hasMessageNotContaining("WRONG");
        environment.put("LEASE_ISSUER", "ISSUER");
        answer = "{\"authorization\":\"Bearer lease-%d\\r\\nX-Evil: 1\",\"expiresAt\":\"%s\"}";
        assertThatThrownBy(() -> open(leases())).hasMessageContaining("without a bearer token")
                .hasMessageNotContaining("Evil");
        answer = "{\"authorization\":\"Bearer lease-%d\",\"expiresAt\":\"soon\"}";
        assertThatThrownBy(() -> open(leases())).hasMessageContaining("not an ISO-8601 instant");
        answer = "{\"imageId\":\"disk\",\"authorization\":\"Bearer lease-%d\",\"expiresAt\":\"%s\"}";
        ttl = Duration.ofSeconds(-5);
        assertThatThrownBy(() -> open(leases())).hasMessageContaining("already expired");
        ttl = Duration.ofSeconds(120);
        issued = 0;
        assertThat(read(open(leases()), 0)).isEqualTo(expected(0));
    }

    @Test
    void aLeaseGivenAsASignedUrlIsWhereReadsGoAndIsRenewedBeforeItExpires() throws Exception {
        answer = "{\"imageId\":\"disk\",\"url\":\"" + origin.uri("/v1/images/disk")
                + "?cap=lease-%d\",\"expiresAt\":\"%s\"}";
        origin.requireSignature("cap", "lease-1");
        HttpBackend backend = open(signedLeases());
        assertThat(read(backend, 1)).isEqualTo(expected(1));
        assertThat(requests).hasSize(1);
        assertThat(origin.log()).isNotEmpty().allSatisfy(seen -> {
            assertThat(seen.path()).isEqualTo("/v1/images/disk?cap=lease-1");
            assertThat(seen.authorization()).isNull();
        });

        // 80 s into a 120 s lease: kept; 95 s: within the 30 s margin, so the next read asks for a new
        // signed URL first and is not refused once
        clock.advance(Duration.ofSeconds(80));
        assertThat(read(backend, 2)).isEqualTo(expected(2));
        assertThat(requests).hasSize(1);
        clock.advance(Duration.ofSeconds(15));
        origin.requireSignature("cap", "lease-2");
        origin.clearLog();
        assertThat(read(backend, 3)).isEqualTo(expected(3));
        assertThat(requests).hasSize(2);
        assertThat(origin.log()).singleElement().satisfies(seen ->
                assertThat(seen.path()).isEqualTo("/v1/images/disk?cap=lease-2"));

        // the server stops taking lease-2 before it expires: 403, one new URL, one more try
        origin.requireSignature("cap", "lease-3");
        assertThat(read(backend, 4)).isEqualTo(expected(4));
        assertThat(requests).hasSize(3);

        // refused again after renewal: ACCESS_DENIED, no bytes, and neither URL's query in the message
        origin.requireSignature("cap", "something-else");
        ByteBuffer dst = ByteBuffer.allocate(100);
        assertThatThrownBy(() -> backend.read(5L * CHUNK, dst)).isInstanceOfSatisfying(StorageException.class, e -> {
            assertThat(e.kind()).isEqualTo(Kind.ACCESS_DENIED);
            assertThat(e.getMessage()).contains("403").doesNotContain("lease-", "cap=", "ISSUER");
        });
        assertThat(dst.position()).isZero();
        assertThat(requests).hasSize(4);
    }

    @Test
    void aSignedUrlLeaseMustBeAnHttpUrlAndIsNeverQuoted() throws Exception {
        origin.requireSignature("cap", "lease-1");
        answer = "{\"authorization\":\"Bearer lease-%d\",\"expiresAt\":\"%s\"}";
        assertThatThrownBy(() -> open(signedLeases())).isInstanceOfSatisfying(StorageException.class, e -> {
            assertThat(e.kind()).isEqualTo(Kind.ACCESS_DENIED);
            assertThat(e.getMessage()).contains("without a signed URL in \"url\"");
        });
        for (String bad : new String[] {"ftp://127.0.0.1/disk?cap=lease-%d", "http://u:p@127.0.0.1/disk?cap=lease-%d",
                "/v1/images/disk?cap=lease-%d", "http://127.0.0.1/disk?cap=lease-%d#frag",
                "http://127.0.0.1/disk?cap=lease-%d&issuer=ISSUER"}) {
            answer = "{\"url\":\"" + bad + "\",\"expiresAt\":\"%s\"}";
            assertThatThrownBy(() -> open(signedLeases())).as(bad).isInstanceOfSatisfying(StorageException.class, e -> {
                assertThat(e.getMessage()).contains("is not an http(s) URL").doesNotContain("lease-", "u:p", "ISSUER");
            });
        }
        answer = "{\"url\":\"" + origin.uri("/v1/images/disk") + "?cap=lease-%d\",\"expiresAt\":\"%s\"}";
        issued = 0;
        assertThat(read(open(signedLeases()), 0)).isEqualTo(expected(0));
        // an https image's lease does not come as plain http
        HttpClient client = HttpClient.newHttpClient();
        closing.add(client::shutdownNow);
        URI secure = URI.create("https://images.example/v1/images/disk");
        LeaseCredentials downgraded = new LeaseCredentials(URI.create("http://127.0.0.1:" + service.getAddress().getPort()
                + "/v1/leases"), "disk", "LEASE_ISSUER", Duration.ofSeconds(30), Duration.ofSeconds(5), client,
                environment::get, clock, secure);
        assertThat(downgraded.target(secure)).isEqualTo(secure);
        assertThat(downgraded.problem()).hasValueSatisfying(p -> assertThat(p).contains("plain http").doesNotContain(
                "lease-"));
        // a chunked image cannot take one, and is refused before anything is asked
        assertThatThrownBy(() -> new HttpBackendProvider().open(URI.create("http://127.0.0.1:1/v1/images/disk/chunked/"
                + "manifest.json#lease.url=http://127.0.0.1:1/v1/leases&lease.token.env=X&lease.as=url"),
                org.spindle.storage.api.AccessMode.READ_ONLY)).isInstanceOfSatisfying(StorageException.class,
                        e -> assertThat(e.kind()).isEqualTo(Kind.INVALID_CONFIG));
        // only the image's own URL is replaced by the signed one
        LeaseCredentials signed = signedLeases();
        URI other = origin.uri("/v1/images/other");
        assertThat(signed.target(other)).isEqualTo(other);
        assertThat(signed.target(origin.uri("/v1/images/disk")).getRawQuery()).startsWith("cap=lease-");
        assertThatThrownBy(() -> HttpSettings.defaults().with(Map.of(HttpSettings.LEASE_AS, "url")))
                .hasMessageContaining("lease.as=url needs lease.url");
        assertThatThrownBy(() -> HttpSettings.defaults().with(Map.of(HttpSettings.LEASE_URL, "https://h/v1/leases",
                HttpSettings.LEASE_TOKEN_ENV, "X", HttpSettings.LEASE_AS, "cookie"))).hasMessageContaining(
                        "lease.as='cookie': must be header or url");
        assertThat(HttpSettings.defaults().with(Map.of(HttpSettings.LEASE_URL, "https://h/v1/leases",
                HttpSettings.LEASE_TOKEN_ENV, "X", HttpSettings.LEASE_AS, "URL")).lease().asUrl()).isTrue();
    }

    @Test
    void theImageIdIsTakenFromASpindleServersUrlAndLeaseSettingsAreChecked() throws Exception {
        assertThat(LeaseCredentials.imageIdOf(URI.create("https://h/v1/images/win7"))).contains("win7");
        assertThat(LeaseCredentials.imageIdOf(URI.create("https://h/base/v1/images/win7/data"))).contains("win7");
        assertThat(LeaseCredentials.imageIdOf(URI.create("https://h/v1/images/win7/chunked/v3/chunks/00000001.bin")))
                .contains("win7");
        assertThat(LeaseCredentials.imageIdOf(URI.create("https://h/disk.img"))).isEmpty();
        assertThatThrownBy(() -> HttpSettings.defaults().with(Map.of(HttpSettings.LEASE_URL, "https://h/v1/leases")))
                .hasMessageContaining(HttpSettings.LEASE_TOKEN_ENV);
        assertThatThrownBy(() -> HttpSettings.defaults().with(Map.of(HttpSettings.LEASE_URL, "https://u:p@h/v1/leases",
                HttpSettings.LEASE_TOKEN_ENV, "X"))).hasMessageContaining("user information");
        assertThatThrownBy(() -> HttpSettings.defaults().with(Map.of(HttpSettings.LEASE_URL, "https://h/v1/leases",
                HttpSettings.LEASE_TOKEN_ENV, "X", HttpSettings.TOKEN_ENV, "Y"))).hasMessageContaining("cannot both");
        assertThatThrownBy(() -> HttpSettings.defaults().with(Map.of(HttpSettings.LEASE_URL, "https://h/v1/leases?sig=S ECRET",
                HttpSettings.LEASE_TOKEN_ENV, "X"))).hasMessageContaining("is not a URL").hasMessageNotContaining("ECRET");
        HttpSettings ok = HttpSettings.defaults().with(Map.of(HttpSettings.LEASE_URL, "https://h/v1/leases",
                HttpSettings.LEASE_TOKEN_ENV, "X", HttpSettings.LEASE_REFRESH, "2m"));
        assertThat(ok.lease().refresh()).isEqualTo(Duration.ofMinutes(2));
    }
}
