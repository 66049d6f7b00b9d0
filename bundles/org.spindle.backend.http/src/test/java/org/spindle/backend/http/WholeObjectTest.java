package org.spindle.backend.http;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.net.URI;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.HexFormat;
import java.util.Map;
import java.util.Random;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.spindle.storage.api.StorageException;
import org.spindle.storage.api.StorageException.Kind;
import org.spindle.storage.api.WholeObject;
import org.spindle.testing.http.FaultProxy;
import org.spindle.testing.http.FaultProxy.Fault;
import org.spindle.testing.http.RangeOrigin;

/** Whole objects (chunks of chunked images): one plain GET each, held to their size and digest, cached only when sound. */
class WholeObjectTest {
    @TempDir
    Path cacheDir;

    private RangeOrigin origin;
    private FaultProxy proxy;
    private HttpBackendProvider provider;
    private byte[] object;
    private String sha;

    @BeforeEach
    void start() throws Exception {
        object = new byte[100_000];
        new Random(11).nextBytes(object);
        sha = HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(object));
        origin = new RangeOrigin().serve("/img/chunks/00000007.bin", object);
        proxy = new FaultProxy(origin.port());
        provider = new HttpBackendProvider(HttpSettings.defaults().with(Map.of(HttpSettings.RETRY_BACKOFF, "5ms",
                HttpSettings.CACHE_DIR, cacheDir.toString(), HttpSettings.CACHE_SIZE, "64M")));
    }

    @AfterEach
    void stop() throws Exception {
        provider.deactivate();
        proxy.close();
        origin.close();
    }

    private URI uri() {
        return proxy.uri("/img/chunks/00000007.bin");
    }

    @Test
    void anObjectIsOnePlainGetAndIsServedFromTheCacheAfterwards() throws Exception {
        WholeObject spec = new WholeObject(object.length, sha, "chunked v1", 7);
        assertThat(provider.readWhole(uri(), spec)).isEqualTo(object);
        assertThat(origin.log()).singleElement().satisfies(s -> {
            assertThat(s.method()).isEqualTo("GET");
            assertThat(s.range()).isNull();
        });
        origin.clearLog();
        assertThat(provider.readWhole(uri(), spec)).isEqualTo(object);
        assertThat(origin.log()).isEmpty();
        // without a series it is never cached
        assertThat(provider.readWhole(uri(), WholeObject.ofSize(object.length))).isEqualTo(object);
        assertThat(origin.log()).hasSize(1);
    }

    @Test
    void transientFailuresAreRetriedAndBrokenResponsesAreNeverData() throws Exception {
        WholeObject spec = new WholeObject(object.length, sha, null, 7);
        proxy.next(Fault.STATUS_503, Fault.RESET_MID_BODY);
        assertThat(provider.readWhole(uri(), spec)).isEqualTo(object);
        assertThat(proxy.applied()).isEqualTo(2);

        proxy.always(Fault.GZIP);
        assertThatThrownBy(() -> provider.readWhole(uri(), spec)).isInstanceOfSatisfying(StorageException.class,
                e -> assertThat(e.getMessage()).contains("Content-Encoding: gzip"));
        proxy.always(Fault.PASS);

        assertThatThrownBy(() -> provider.readWhole(uri(), new WholeObject(object.length + 512, null, null, 7)))
                .isInstanceOfSatisfying(StorageException.class, e -> {
                    assertThat(e.kind()).isEqualTo(Kind.CORRUPT_IMAGE);
                    assertThat(e.getMessage()).contains("100000 bytes, not the 100512 expected");
                });
        assertThatThrownBy(() -> provider.readWhole(proxy.uri("/img/chunks/missing.bin"), spec))
                .isInstanceOfSatisfying(StorageException.class, e -> assertThat(e.kind()).isEqualTo(Kind.NOT_FOUND));
    }

    @Test
    void anObjectWithAnotherDigestIsRefusedAndNotCached() throws Exception {
        String other = "0".repeat(64);
        assertThatThrownBy(() -> provider.readWhole(uri(), new WholeObject(object.length, other, "chunked v1", 7)))
                .isInstanceOfSatisfying(StorageException.class, e -> {
                    assertThat(e.kind()).isEqualTo(Kind.CORRUPT_IMAGE);
                    assertThat(e.getMessage()).contains("SHA-256 is " + sha);
                });
        origin.clearLog();
        assertThat(provider.readWhole(uri(), new WholeObject(object.length, sha, "chunked v1", 7))).isEqualTo(object);
        assertThat(origin.log()).hasSize(1);
    }
}
