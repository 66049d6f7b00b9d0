package org.spindle.backend.http;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyStore;
import java.security.cert.CertificateFactory;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;

import javax.net.ssl.SSLContext;
import javax.net.ssl.TrustManagerFactory;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.spindle.storage.api.StorageException;
import org.spindle.testing.http.NginxOrigin;
import org.spindle.testing.http.NginxOrigin.Logged;

/**
 * The HTTP backend over TLS against a real nginx: HTTP/2 by ALPN unless HTTP/1.1 is asked for, the
 * same closed ranges and checks either way, and a certificate nobody trusts refused.
 */
class NginxTlsTest {
    private static final int SIZE = 64 << 20;
    private static final int CHUNK = 1 << 20;

    @TempDir
    static Path root;

    @TempDir
    static Path work;

    private static NginxOrigin nginx;
    private static byte[] image;
    private static SSLContext before;

    @BeforeAll
    static void serve() throws Exception {
        assumeTrue(NginxOrigin.binary().isPresent(), "nginx is not installed (./spindle test installs nginx-light)");
        image = new byte[SIZE];
        SplittableRandom random = new SplittableRandom(5);
        for (int i = 0; i < SIZE; i += 8) {
            long v = random.nextLong();
            for (int b = 0; b < 8; b++) {
                image[i + b] = (byte) (v >>> (8 * b));
            }
        }
        Files.write(root.resolve("disk.img"), image);
        NginxOrigin.Tls tls = NginxOrigin.Tls.selfSigned(work);
        nginx = NginxOrigin.start(root, work, tls);
        // the JDK trusts this test's certificate only while these tests run
        before = SSLContext.getDefault();
        SSLContext.setDefault(trusting(tls.certificate()));
    }

    @AfterAll
    static void stop() {
        if (before != null) {
            SSLContext.setDefault(before);
        }
        if (nginx != null) {
            nginx.close();
        }
    }

    private static SSLContext trusting(Path certificate) throws Exception {
        KeyStore trust = KeyStore.getInstance("PKCS12");
        trust.load(null, null);
        try (InputStream in = Files.newInputStream(certificate)) {
            trust.setCertificateEntry("nginx", CertificateFactory.getInstance("X.509").generateCertificate(in));
        }
        TrustManagerFactory tmf = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
        tmf.init(trust);
        SSLContext context = SSLContext.getInstance("TLS");
        context.init(null, tmf.getTrustManagers(), null);
        return context;
    }

    private static HttpBackend open(String... pairs) throws StorageException {
        Map<String, String> values = new java.util.LinkedHashMap<>();
        for (int i = 0; i < pairs.length; i += 2) {
            values.put(pairs[i], pairs[i + 1]);
        }
        return HttpBackend.open(nginx.uri("/disk.img"), HttpSettings.defaults().with(values), Credentials.NONE, null);
    }

    private static void readEverythingAndSomeAtRandom(HttpBackend backend) throws StorageException {
        ByteBuffer piece = ByteBuffer.allocate(256 * 1024);
        for (int at = 0; at < SIZE; at += piece.capacity()) {
            backend.read(at, piece.clear());
            assertThat(piece.array()).isEqualTo(Arrays.copyOfRange(image, at, at + piece.capacity()));
        }
        SplittableRandom random = new SplittableRandom(9);
        for (int i = 0; i < 100; i++) {
            int length = 1 + random.nextInt(300_000);
            int offset = random.nextInt(SIZE - length);
            ByteBuffer b = ByteBuffer.allocate(length);
            backend.read(offset, b);
            assertThat(b.array()).isEqualTo(Arrays.copyOfRange(image, offset, offset + length));
        }
    }

    @Test
    void overTlsTheBackendSpeaksHttp2AndReadsByteForByte() throws Exception {
        nginx.clearLog();
        // memory for the whole image and the first read's pieces: no chunk is evicted and fetched again
        try (HttpBackend backend = open(HttpSettings.MEMORY_CACHE, "96M")) {
            readEverythingAndSomeAtRandom(backend);
            List<Logged> log = nginx.log(() -> backend.traffic().requests.sum(), java.time.Duration.ofSeconds(5));
            assertThat(log).isNotEmpty().allSatisfy(l -> assertThat(l.protocol()).isEqualTo("HTTP/2.0"));
            assertThat(log).filteredOn(l -> l.method().equals("GET")).allSatisfy(l -> {
                assertThat(l.status()).isEqualTo(206);
                assertThat(l.ifRange()).isEqualTo(backend.image().etag());
            });
            // every byte once, and the first read's pieces before the reader was seen to be sequential
            assertThat(backend.transferStats().bytesFetched).as(() -> "traffic " + backend.transferStats())
                    .isEqualTo(SIZE + 256 * 1024);
        }
    }

    @Test
    void http11IsUsedWhenAskedFor() throws Exception {
        nginx.clearLog();
        try (HttpBackend backend = open(HttpSettings.HTTP_VERSION, "1.1")) {
            readEverythingAndSomeAtRandom(backend);
            List<Logged> log = nginx.log(() -> backend.traffic().requests.sum(), java.time.Duration.ofSeconds(5));
            assertThat(log).isNotEmpty().allSatisfy(l -> assertThat(l.protocol()).isEqualTo("HTTP/1.1"));
        }
    }

    @Test
    void aCertificateNobodyTrustsIsRefused() throws Exception {
        SSLContext trusted = SSLContext.getDefault();
        SSLContext.setDefault(before);
        try {
            // not retried: the same certificate would be met again
            assertThatThrownBy(() -> open(HttpSettings.RETRY_BACKOFF, "1m"))
                    .isInstanceOfSatisfying(StorageException.class, e -> {
                        assertThat(e.kind()).isEqualTo(StorageException.Kind.IO);
                        assertThat(e.getMessage()).contains("TLS certificate is not trusted")
                                .doesNotContain("gave up after");
                    });
        } finally {
            SSLContext.setDefault(trusted);
        }
    }
}
