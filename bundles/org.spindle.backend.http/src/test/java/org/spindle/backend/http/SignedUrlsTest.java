package org.spindle.backend.http;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.net.URI;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.Base64;
import java.util.Random;

import org.junit.jupiter.api.Test;
import org.spindle.storage.api.AccessMode;
import org.spindle.storage.api.StorageBackend;
import org.spindle.storage.api.StorageException;
import org.spindle.storage.api.StorageException.Kind;
import org.spindle.testing.http.RangeOrigin;

/** Signed URLs given as they are: their expiry is read from the query, and named when the server refuses. */
class SignedUrlsTest {

    private static Instant expiry(String url) {
        return SignedUrls.expiry(URI.create(url)).orElseThrow().at();
    }

    @Test
    void theExpiryIsReadAsEachIssuerWritesIt() {
        assertThat(expiry("https://b.s3.amazonaws.com/disk.img?X-Amz-Algorithm=AWS4-HMAC-SHA256"
                + "&X-Amz-Credential=AKIA%2F20261125%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Date=20261125T120000Z"
                + "&X-Amz-Expires=900&X-Amz-SignedHeaders=host&X-Amz-Signature=abc"))
                .isEqualTo("2026-11-25T12:15:00Z");
        assertThat(expiry("https://storage.googleapis.com/b/disk.img?X-Goog-Algorithm=GOOG4-RSA-SHA256"
                + "&X-Goog-Date=20261125T120000Z&X-Goog-Expires=3600&X-Goog-Signature=abc"))
                .isEqualTo("2026-11-25T13:00:00Z");
        assertThat(expiry("https://d111.cloudfront.net/disk.img?Expires=1795000000&Signature=a~b&Key-Pair-Id=K"))
                .isEqualTo(Instant.ofEpochSecond(1795000000L));
        assertThat(expiry("https://a.blob.core.windows.net/c/disk.img?sv=2022-11-02&se=2026-11-25T12%3A30%3A00Z"
                + "&sr=b&sp=r&sig=abc")).isEqualTo("2026-11-25T12:30:00Z");
        assertThat(expiry("https://a.blob.core.windows.net/c/disk.img?se=2026-11-26&sig=abc"))
                .isEqualTo("2026-11-26T00:00:00Z");
        String payload = Base64.getUrlEncoder().withoutPadding().encodeToString(
                "{\"img\":\"disk\",\"aud\":\"spindle\",\"scope\":\"disk:read\",\"exp\":1795000000}"
                        .getBytes(StandardCharsets.UTF_8));
        assertThat(expiry("https://h/v1/images/disk?cap=v1.k1." + payload + ".c2ln"))
                .isEqualTo(Instant.ofEpochSecond(1795000000L));
        assertThat(SignedUrls.expiry(URI.create("https://h/v1/images/disk?cap=v1.k1." + payload + ".c2ln")).get()
                .parameter()).isEqualTo("cap lease's exp");

        // nothing, or nothing this reads: no expiry is claimed
        assertThat(SignedUrls.expiry(URI.create("https://h/disk.img"))).isEmpty();
        assertThat(SignedUrls.expiry(URI.create("https://h/disk.img?version=3&Expires=soon&Signature=x"))).isEmpty();
        assertThat(SignedUrls.expiry(URI.create("https://h/disk.img?Expires=1795000000"))).isEmpty();
        assertThat(SignedUrls.expiry(URI.create("https://h/disk.img?X-Amz-Date=yesterday&X-Amz-Expires=9"))).isEmpty();
        assertThat(SignedUrls.expiry(URI.create("https://h/disk.img?cap=v1.k1.%25%25.sig"))).isEmpty();
        // beyond what an Instant holds: nothing is claimed, nothing is thrown
        assertThat(SignedUrls.expiry(URI.create("https://h/disk.img?Expires=99999999999999999&Signature=x"))).isEmpty();
        assertThat(SignedUrls.expiry(URI.create("https://h/disk.img?X-Amz-Date=20261125T120000Z"
                + "&X-Amz-Expires=9223372036854775807&X-Amz-Signature=x"))).isEmpty();
        String far = Base64.getUrlEncoder().withoutPadding().encodeToString(
                "{\"exp\":99999999999999999}".getBytes(StandardCharsets.UTF_8));
        assertThat(SignedUrls.expiry(URI.create("https://h/disk.img?cap=v1.k1." + far + ".c2ln"))).isEmpty();
    }

    @Test
    void aRefusedSignedUrlThatHasExpiredSaysSoWithoutItsSignature() throws Exception {
        byte[] image = new byte[256 * 1024];
        new Random(5).nextBytes(image);
        try (RangeOrigin origin = new RangeOrigin().serve("/disk.img", image)) {
            origin.requireSignature("X-Amz-Signature", "fresh");
            HttpBackendProvider provider = new HttpBackendProvider();
            String expired = "?X-Amz-Date=20201125T120000Z&X-Amz-Expires=900&X-Amz-Signature=stale";
            assertThatThrownBy(() -> provider.open(URI.create(origin.uri("/disk.img") + expired), AccessMode.READ_ONLY))
                    .isInstanceOfSatisfying(StorageException.class, e -> {
                        assertThat(e.kind()).isEqualTo(Kind.ACCESS_DENIED);
                        assertThat(e.getMessage()).contains("403", "the signed URL expired at 2020-11-25T12:15:00Z",
                                "X-Amz-Date and X-Amz-Expires", "lease.url").doesNotContain("stale");
                    });
            // refused while still valid: the refusal is reported, with no claim about expiry
            String unexpired = "?X-Amz-Date=20991125T120000Z&X-Amz-Expires=900&X-Amz-Signature=wrong";
            assertThatThrownBy(() -> provider.open(URI.create(origin.uri("/disk.img") + unexpired),
                    AccessMode.READ_ONLY)).isInstanceOfSatisfying(StorageException.class, e -> {
                        assertThat(e.kind()).isEqualTo(Kind.ACCESS_DENIED);
                        assertThat(e.getMessage()).doesNotContain("expired", "wrong");
                    });
            // the right signature reads, as given
            String good = "?X-Amz-Date=20991125T120000Z&X-Amz-Expires=900&X-Amz-Signature=fresh";
            try (StorageBackend backend = provider.open(URI.create(origin.uri("/disk.img") + good + "#memory.cache=0"),
                    AccessMode.READ_ONLY)) {
                ByteBuffer b = ByteBuffer.allocate(4096);
                backend.read(8192, b);
                assertThat(b.array()).isEqualTo(java.util.Arrays.copyOfRange(image, 8192, 8192 + 4096));
            }
        }
    }
}
