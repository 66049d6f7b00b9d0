package org.spindle.server;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.time.Clock;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.Arrays;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The image server's whole matrix, request by request: ranges, conditional requests, CORS, leases,
 * the catalogue, chunked routes, the concurrency limit, health and metrics.
 */
class ImageServerTest {
    private static final byte[] KEY_A = "0123456789abcdef0123456789abcdef-A".getBytes(StandardCharsets.US_ASCII);
    private static final byte[] KEY_B = "0123456789abcdef0123456789abcdef-B".getBytes(StandardCharsets.US_ASCII);
    private static final Instant NOW = Instant.parse("2026-11-25T12:00:00Z");
    private static final ObjectMapper JSON = new ObjectMapper();

    @TempDir
    Path dir;

    private byte[] image;
    private Instant modified;

    @BeforeEach
    void images() throws Exception {
        image = new byte[1 << 20];
        new Random(1).nextBytes(image);
        Files.write(dir.resolve("disk.img"), image);
        modified = Instant.parse("2026-11-01T08:00:00Z");
        Files.setLastModifiedTime(dir.resolve("disk.img"), FileTime.from(modified));
        Files.write(dir.resolve("secret.img"), Arrays.copyOf(image, 4096));
        Files.createDirectories(dir.resolve("chunked/disk.img/v7/chunks"));
        Files.writeString(dir.resolve("chunked/disk.img/v7/manifest.json"), "{\"version\":\"v7\"}");
        Files.write(dir.resolve("chunked/disk.img/v7/chunks/00000000.bin"), Arrays.copyOf(image, 512));
    }

    private ServerSettings settings(List<String> cors, int maxConcurrent, Map<String, byte[]> keys, String kid) {
        return new ServerSettings(dir, true, cors, "same-site", maxConcurrent, 8 << 20, keys, kid, "spindle", 600, 3600,
                "issuer-secret", true, "");
    }

    private ImageServer server() {
        return server(settings(List.of(), 64, Map.of("a", KEY_A), "a"), NOW);
    }

    private static ImageServer server(ServerSettings s, Instant now) {
        return new ImageServer(s, Clock.fixed(now, ZoneOffset.UTC));
    }

    private static Reply call(ImageServer server, String method, String path, String... headers) {
        return send(server, method, path, null, headers);
    }

    private static Reply post(ImageServer server, String path, String body, String... headers) {
        return send(server, "POST", path, body, headers);
    }

    private static Reply send(ImageServer server, String method, String path, String body, String... headers) {
        Map<String, List<String>> h = new LinkedHashMap<>();
        for (int i = 0; i < headers.length; i += 2) {
            h.put(headers[i], List.of(headers[i + 1]));
        }
        int q = path.indexOf('?');
        Reply reply = server.handle(new Request(method, q < 0 ? path : path.substring(0, q), q < 0 ? null
                : path.substring(q + 1), h, body == null ? null : body.getBytes(StandardCharsets.UTF_8),
                "http://127.0.0.1:8080"));
        reply.finish();
        return reply;
    }

    private static byte[] body(Reply reply) throws Exception {
        if (reply.bytes().isPresent()) {
            return reply.bytes().get();
        }
        Reply.FileRegion r = reply.region().orElseThrow();
        byte[] all = Files.readAllBytes(r.file());
        return Arrays.copyOfRange(all, (int) r.offset(), (int) (r.offset() + r.length()));
    }

    // ---- ranges

    @Test
    void rangesAreServedOneAtATimeByTheRules() throws Exception {
        ImageServer s = server();
        Reply whole = call(s, "GET", "/v1/images/disk.img");
        assertThat(whole.status()).isEqualTo(200);
        assertThat(body(whole)).isEqualTo(image);
        assertThat(whole.header("Content-Length")).contains(Integer.toString(image.length));
        assertThat(whole.header("Accept-Ranges")).contains("bytes");
        assertThat(whole.header("Cache-Control")).contains("public, max-age=3600, no-transform");
        assertThat(whole.header("X-Content-Type-Options")).contains("nosniff");
        assertThat(whole.header("Cross-Origin-Resource-Policy")).contains("same-site");
        assertThat(whole.header("Content-Type")).contains("application/octet-stream");
        assertThat(whole.header("Last-Modified")).contains("Sun, 01 Nov 2026 08:00:00 GMT");
        assertThat(whole.header("ETag").orElseThrow()).startsWith("\"100000-");

        Reply closed = call(s, "GET", "/v1/images/disk.img/data", "Range", "bytes=100-199");
        assertThat(closed.status()).isEqualTo(206);
        assertThat(closed.header("Content-Range")).contains("bytes 100-199/" + image.length);
        assertThat(closed.header("Content-Length")).contains("100");
        assertThat(body(closed)).isEqualTo(Arrays.copyOfRange(image, 100, 200));

        Reply open = call(s, "GET", "/v1/images/disk.img", "Range", "bytes=1048000-");
        assertThat(open.header("Content-Range")).contains("bytes 1048000-1048575/1048576");
        Reply suffix = call(s, "GET", "/v1/images/disk.img", "Range", "bytes=-10");
        assertThat(body(suffix)).isEqualTo(Arrays.copyOfRange(image, image.length - 10, image.length));
        Reply clipped = call(s, "GET", "/v1/images/disk.img", "Range", "bytes=1048570-99999999999999999999999");
        assertThat(clipped.header("Content-Range")).contains("bytes 1048570-1048575/1048576");

        for (String bad : List.of("bytes=0-1,5-6", "bytes=abc", "bytes=5-1", "bytes=1048576-", "bytes=-0", "bytes=-")) {
            Reply r = call(s, "GET", "/v1/images/disk.img", "Range", bad);
            assertThat(r.status()).as(bad).isEqualTo(416);
            assertThat(r.header("Content-Range")).as(bad).contains("bytes */1048576");
            assertThat(r.region()).as(bad).isEmpty();
        }
        assertThat(call(s, "GET", "/v1/images/disk.img", "Range", "items=0-5").status()).isEqualTo(200);
        assertThat(call(s, "GET", "/v1/images/disk.img", "Range", "bytes=" + "1-2,".repeat(3000) + "1-2").status())
                .isEqualTo(413);
        Reply tooLong = call(server(settings(List.of(), 64, Map.of(), ""), NOW), "GET", "/v1/images/disk.img");
        assertThat(tooLong.status()).isEqualTo(200);
        ServerSettings small = new ServerSettings(dir, true, List.of(), "same-site", 64, 4096, Map.of(), "", "spindle",
                600, 3600, "", true, "");
        assertThat(call(server(small, NOW), "GET", "/v1/images/disk.img", "Range", "bytes=0-4096").status())
                .isEqualTo(413);
        assertThat(call(server(small, NOW), "GET", "/v1/images/disk.img", "Range", "bytes=0-4095").status())
                .isEqualTo(206);

        Reply head = call(s, "HEAD", "/v1/images/disk.img", "Range", "bytes=0-99");
        // Range is for GET only: a HEAD describes the whole image
        assertThat(head.status()).isEqualTo(200);
        assertThat(head.header("Content-Range")).isEmpty();
        assertThat(head.header("Content-Length")).contains("1048576");
        assertThat(head.region()).isEmpty();
        assertThat(head.bytes()).isEmpty();
    }

    // ---- conditional requests

    @Test
    void conditionalRequestsAnswer304AndIfRangeDecidesBetweenRangeAndWhole() throws Exception {
        ImageServer s = server();
        String etag = call(s, "HEAD", "/v1/images/disk.img").header("ETag").orElseThrow();
        String lastModified = call(s, "HEAD", "/v1/images/disk.img").header("Last-Modified").orElseThrow();

        Reply same = call(s, "GET", "/v1/images/disk.img", "If-None-Match", "\"other\", " + etag);
        assertThat(same.status()).isEqualTo(304);
        assertThat(same.region()).isEmpty();
        assertThat(same.header("ETag")).contains(etag);
        assertThat(call(s, "GET", "/v1/images/disk.img", "If-None-Match", "W/" + etag).status()).isEqualTo(304);
        assertThat(call(s, "GET", "/v1/images/disk.img", "If-None-Match", "*").status()).isEqualTo(304);
        assertThat(call(s, "GET", "/v1/images/disk.img", "If-None-Match", "\"other\"").status()).isEqualTo(200);
        assertThat(call(s, "GET", "/v1/images/disk.img", "If-Modified-Since", lastModified).status()).isEqualTo(304);
        // the obsolete date forms are understood too
        assertThat(call(s, "GET", "/v1/images/disk.img", "If-Modified-Since", "Sunday, 01-Nov-26 08:00:00 GMT")
                .status()).isEqualTo(304);
        assertThat(call(s, "GET", "/v1/images/disk.img", "If-Modified-Since", "Sun Nov  1 08:00:00 2026").status())
                .isEqualTo(304);
        assertThat(call(s, "GET", "/v1/images/disk.img", "If-Modified-Since", "Sat, 31 Oct 2026 08:00:00 GMT").status())
                .isEqualTo(200);
        // If-None-Match wins over If-Modified-Since
        assertThat(call(s, "GET", "/v1/images/disk.img", "If-None-Match", "\"other\"", "If-Modified-Since",
                lastModified).status()).isEqualTo(200);

        assertThat(call(s, "GET", "/v1/images/disk.img", "Range", "bytes=0-9", "If-Range", etag).status()).isEqualTo(206);
        Reply stale = call(s, "GET", "/v1/images/disk.img", "Range", "bytes=0-9", "If-Range", "\"old\"");
        assertThat(stale.status()).isEqualTo(200);
        assertThat(body(stale)).isEqualTo(image);
        assertThat(call(s, "GET", "/v1/images/disk.img", "Range", "bytes=0-9", "If-Range", "W/" + etag).status())
                .isEqualTo(200);
        assertThat(call(s, "GET", "/v1/images/disk.img", "Range", "bytes=0-9", "If-Range", lastModified).status())
                .isEqualTo(206);
        assertThat(call(s, "GET", "/v1/images/disk.img", "Range", "bytes=0-9", "If-Range",
                "Mon, 02 Nov 2026 08:00:00 GMT").status()).isEqualTo(200);
        // a file changed within the last second has no strong date: the date never matches
        assertThat(call(server(settings(List.of(), 64, Map.of(), ""), modified), "GET", "/v1/images/disk.img",
                "Range", "bytes=0-9", "If-Range", lastModified).status()).isEqualTo(200);
    }

    // ---- CORS

    @Test
    void corsAnswersAllowedOriginsOnlyAndPreflightsNameWhatIsAllowed() {
        ImageServer listed = server(settings(List.of("https://app.example"), 64, Map.of(), ""), NOW);
        Reply allowed = call(listed, "GET", "/v1/images/disk.img", "Origin", "https://app.example", "Range", "bytes=0-1");
        assertThat(allowed.header("Access-Control-Allow-Origin")).contains("https://app.example");
        assertThat(allowed.header("Access-Control-Allow-Credentials")).contains("true");
        assertThat(allowed.header("Vary").orElseThrow()).contains("Origin");
        assertThat(allowed.header("Access-Control-Expose-Headers").orElseThrow()).contains("Content-Range", "ETag",
                "Accept-Ranges", "Content-Length");
        Reply other = call(listed, "GET", "/v1/images/disk.img", "Origin", "https://evil.example");
        assertThat(other.header("Access-Control-Allow-Origin")).isEmpty();
        assertThat(other.header("Vary").orElseThrow()).contains("Origin");

        Reply preflight = call(listed, "OPTIONS", "/v1/images/disk.img", "Origin", "https://app.example",
                "Access-Control-Request-Method", "GET", "Access-Control-Request-Headers", "range, if-range");
        assertThat(preflight.status()).isEqualTo(204);
        assertThat(preflight.header("Access-Control-Allow-Methods")).contains("GET, HEAD, OPTIONS");
        assertThat(preflight.header("Access-Control-Allow-Headers").orElseThrow()).contains("Range", "If-Range",
                "If-None-Match", "If-Modified-Since", "Authorization");
        assertThat(preflight.header("Access-Control-Max-Age")).contains("86400");
        assertThat(preflight.header("Vary").orElseThrow()).contains("Origin", "Access-Control-Request-Method",
                "Access-Control-Request-Headers");
        assertThat(preflight.header("Access-Control-Allow-Origin")).contains("https://app.example");

        ImageServer any = server(settings(List.of("*"), 64, Map.of(), ""), NOW);
        Reply star = call(any, "GET", "/v1/images/disk.img", "Origin", "https://anyone.example");
        assertThat(star.header("Access-Control-Allow-Origin")).contains("*");
        assertThat(star.header("Access-Control-Allow-Credentials")).isEmpty();
        assertThat(call(server(), "GET", "/v1/images/disk.img", "Origin", "https://app.example")
                .header("Access-Control-Allow-Origin")).isEmpty();
    }

    // ---- leases

    private Path privateCatalogue() throws Exception {
        return Files.writeString(dir.resolve("images.json"), """
                {"images": [
                  {"id": "disk.img", "file": "disk.img", "name": "Public disk", "public": true},
                  {"id": "secret.img", "file": "secret.img", "name": "Private disk", "public": false,
                   "etag": "\\"secret-v1\\""},
                  {"id": "escape", "file": "../outside.img"}
                ]}""");
    }

    private static String token(ImageServer s, String id, long ttl) throws Exception {
        Reply r = post(s, "/v1/leases", "{\"imageId\":\"" + id + "\",\"ttlSeconds\":" + ttl + "}",
                "Authorization", "Bearer issuer-secret");
        assertThat(r.status()).as(r.text()).isEqualTo(200);
        JsonNode answer = JSON.readTree(r.text());
        assertThat(answer.get("url").asText()).startsWith("http://127.0.0.1:8080/v1/images/" + id + "?cap=v1.");
        assertThat(answer.get("expiresAt").asText()).isEqualTo(NOW.plusSeconds(ttl).toString());
        assertThat(r.header("Cache-Control")).contains("no-store, no-transform");
        return answer.get("authorization").asText().substring("Bearer ".length());
    }

    @Test
    void privateImagesNeedALeaseForThatImageAndBadTokensGetNoBytes() throws Exception {
        privateCatalogue();
        ImageServer s = server();
        Reply none = call(s, "GET", "/v1/images/secret.img");
        assertThat(none.status()).isEqualTo(401);
        assertThat(none.header("WWW-Authenticate").orElseThrow()).startsWith("Bearer");
        assertThat(none.region()).isEmpty();

        String token = token(s, "secret.img", 600);
        Reply ok = call(s, "GET", "/v1/images/secret.img", "Authorization", "Bearer " + token, "Range", "bytes=0-99");
        assertThat(ok.status()).isEqualTo(206);
        assertThat(ok.header("Cache-Control")).contains("private, no-store, no-transform");
        assertThat(ok.header("ETag")).contains("\"secret-v1\"");
        assertThat(body(ok)).isEqualTo(Arrays.copyOf(image, 100));
        assertThat(call(s, "GET", "/v1/images/secret.img?cap=" + token).status()).isEqualTo(200);

        // forged: the payload changed, the signature kept
        String[] parts = token.split("\\.");
        String payload = new String(Base64.getUrlDecoder().decode(parts[2]), StandardCharsets.UTF_8);
        String forgedPayload = Base64.getUrlEncoder().withoutPadding().encodeToString(
                payload.replace("\"exp\":", "\"exp\":9").getBytes(StandardCharsets.UTF_8));
        String forged = parts[0] + "." + parts[1] + "." + forgedPayload + "." + parts[3];
        String wrongKey = parts[0] + ".b." + parts[2] + "." + parts[3];
        String flipped = token.substring(0, token.length() - 2) + (token.endsWith("A") ? "BB" : "AA");
        for (String bad : List.of(forged, wrongKey, flipped, "garbage", "v1.a.x.y", "")) {
            Reply r = call(s, "GET", "/v1/images/secret.img", "Authorization", "Bearer " + bad);
            assertThat(r.status()).as(bad).isEqualTo(401);
            assertThat(r.region()).as(bad).isEmpty();
        }
        // expired: the same server eleven minutes later
        ImageServer later = server(settings(List.of(), 64, Map.of("a", KEY_A), "a"), NOW.plusSeconds(601));
        Reply expired = call(later, "GET", "/v1/images/secret.img", "Authorization", "Bearer " + token);
        assertThat(expired.status()).isEqualTo(401);
        assertThat(expired.text()).contains("expired");
        // a lease for another image: refused even on a public one, and on the private one
        String publicLease = token(s, "disk.img", 60);
        Reply wrongImage = call(s, "GET", "/v1/images/secret.img", "Authorization", "Bearer " + publicLease);
        assertThat(wrongImage.status()).isEqualTo(403);
        assertThat(wrongImage.region()).isEmpty();
        assertThat(call(s, "GET", "/v1/images/disk.img", "Authorization", "Bearer " + token).status()).isEqualTo(403);
        // another audience
        ImageServer otherAudience = server(new ServerSettings(dir, true, List.of(), "same-site", 64, 8 << 20,
                Map.of("a", KEY_A), "a", "elsewhere", 600, 3600, "issuer-secret", true, ""), NOW);
        assertThat(call(otherAudience, "GET", "/v1/images/secret.img", "Authorization", "Bearer " + token).status())
                .isEqualTo(401);
        // the catalogue never serves a file outside the directory
        assertThat(call(s, "GET", "/v1/images/escape").status()).isEqualTo(404);
        // nor tells what a private image is without a lease
        assertThat(JSON.readTree(call(s, "GET", "/v1/images").text()).get("images"))
                .extracting(n -> n.get("id").asText()).containsExactly("disk.img");
        assertThat(call(s, "GET", "/v1/images/secret.img/meta").status()).isEqualTo(401);
        assertThat(call(s, "GET", "/v1/images/secret.img/meta", "Authorization", "Bearer " + token).status())
                .isEqualTo(200);
    }

    @Test
    void leaseKeysRotateByKid() throws Exception {
        privateCatalogue();
        ImageServer before = server();
        String old = token(before, "secret.img", 600);
        ImageServer both = server(settings(List.of(), 64, Map.of("a", KEY_A, "b", KEY_B), "b"), NOW);
        String fresh = token(both, "secret.img", 600);
        assertThat(fresh.split("\\.")[1]).isEqualTo("b");
        assertThat(call(both, "GET", "/v1/images/secret.img", "Authorization", "Bearer " + old).status()).isEqualTo(200);
        assertThat(call(both, "GET", "/v1/images/secret.img", "Authorization", "Bearer " + fresh).status()).isEqualTo(200);
        ImageServer after = server(settings(List.of(), 64, Map.of("b", KEY_B), "b"), NOW);
        assertThat(call(after, "GET", "/v1/images/secret.img", "Authorization", "Bearer " + old).status()).isEqualTo(401);
        assertThat(call(after, "GET", "/v1/images/secret.img", "Authorization", "Bearer " + fresh).status()).isEqualTo(200);
    }

    @Test
    void aCatalogueEtagKeepsItsStrengthAndAWeakOneNeverSatisfiesIfRange() throws Exception {
        Files.writeString(dir.resolve("images.json"), """
                {"images": [{"id": "w", "file": "disk.img", "etag": "W/\\"w1\\""},
                            {"id": "bad", "file": "disk.img", "etag": "no quotes"}]}""");
        ImageServer s = server();
        assertThat(call(s, "HEAD", "/v1/images/w").header("ETag")).contains("W/\"w1\"");
        assertThat(call(s, "GET", "/v1/images/w", "Range", "bytes=0-9", "If-Range", "W/\"w1\"").status()).isEqualTo(200);
        assertThat(call(s, "GET", "/v1/images/w", "If-None-Match", "W/\"w1\"").status()).isEqualTo(304);
        assertThat(call(s, "HEAD", "/v1/images/bad").header("ETag")).contains("W/\"noquotes\"");
    }

    @Test
    void theOnlyLeaseKeySignsWithoutBeingNamed() throws Exception {
        privateCatalogue();
        ImageServer s = server(settings(List.of(), 64, Map.of("only", KEY_A), ""), NOW);
        String token = token(s, "secret.img", 60);
        assertThat(token.split("\\.")[1]).isEqualTo("only");
        assertThat(call(s, "GET", "/v1/images/secret.img", "Authorization", "Bearer " + token).status()).isEqualTo(200);
    }

    @Test
    void leasesAreIssuedOnlyToTheIssuerAndOnlyAsAsked() throws Exception {
        ImageServer s = server();
        assertThat(post(s, "/v1/leases", "{\"imageId\":\"disk.img\"}").status()).isEqualTo(401);
        assertThat(post(s, "/v1/leases", "{\"imageId\":\"disk.img\"}", "Authorization", "Bearer wrong").status())
                .isEqualTo(401);
        String[][] bad = {
            {"{\"imageId\":\"disk.img\",\"ttlSeconds\":0}", "400"},
            {"{\"imageId\":\"disk.img\",\"ttlSeconds\":3601}", "400"},
            {"{\"imageId\":\"disk.img\",\"scopes\":[\"disk:write\"]}", "400"},
            {"{\"imageId\":\"../etc\"}", "400"},
            {"not json", "400"},
            {"{\"imageId\":\"nothing.img\"}", "404"},
        };
        for (String[] c : bad) {
            assertThat(post(s, "/v1/leases", c[0], "Authorization", "Bearer issuer-secret").status()).as(c[0])
                    .isEqualTo(Integer.parseInt(c[1]));
        }
        Reply diskId = post(s, "/v1/leases", "{\"diskId\":\"disk.img\",\"scopes\":[\"disk:read\"]}",
                "Authorization", "Bearer issuer-secret");
        assertThat(diskId.status()).isEqualTo(200);
        assertThat(JSON.readTree(diskId.text()).get("expiresAt").asText()).isEqualTo(NOW.plusSeconds(600).toString());
        assertThat(post(server(settings(List.of(), 64, Map.of(), ""), NOW), "/v1/leases", "{}", "Authorization",
                "Bearer issuer-secret").status()).isEqualTo(404);
    }

    // ---- catalogue, ids, chunked routes

    @Test
    void theCatalogueListsImagesAndIdsAreValidated() throws Exception {
        ImageServer s = server();
        Reply list = call(s, "GET", "/v1/images");
        assertThat(list.status()).isEqualTo(200);
        assertThat(list.header("Cache-Control")).contains("no-cache");
        JsonNode images = JSON.readTree(list.text()).get("images");
        assertThat(images).extracting(n -> n.get("id").asText()).containsExactly("disk.img", "secret.img");
        assertThat(images.get(0).get("size_bytes").asLong()).isEqualTo(image.length);
        assertThat(images.get(0).get("chunked_manifest")).isNull();
        assertThat(call(s, "GET", "/v1/images", "If-None-Match", list.header("ETag").orElseThrow()).status())
                .isEqualTo(304);
        JsonNode meta = JSON.readTree(call(s, "GET", "/v1/images/disk.img/meta").text());
        assertThat(meta.get("etag").asText()).isEqualTo(call(s, "HEAD", "/v1/images/disk.img").header("ETag").orElseThrow());
        assertThat(meta.get("public").asBoolean()).isTrue();

        for (String bad : List.of("/v1/images/..", "/v1/images/.", "/v1/images/a%2Fb", "/v1/images/" + "x".repeat(129))) {
            assertThat(call(s, "GET", bad).status()).as(bad).isEqualTo(400);
        }
        assertThat(call(s, "GET", "/v1/images/../secret.img").status()).isEqualTo(400);
        assertThat(call(s, "GET", "/v1/images/missing.img").status()).isEqualTo(404);
        assertThat(call(s, "GET", "/v1/images/.hidden").status()).isEqualTo(404);
        assertThat(call(s, "DELETE", "/v1/images/disk.img").status()).isEqualTo(405);
        assertThat(call(s, "GET", "/v2/other").status()).isEqualTo(404);
    }

    @Test
    void chunkedManifestsAndChunksAreServedImmutable() throws Exception {
        Files.writeString(dir.resolve("images.json"), """
                {"images": [{"id": "disk.img", "file": "disk.img", "chunked_version": "v7"}]}""");
        ImageServer s = server();
        Reply manifest = call(s, "GET", "/v1/images/disk.img/chunked/manifest.json");
        assertThat(manifest.status()).isEqualTo(200);
        assertThat(manifest.header("Content-Type")).contains("application/json");
        // without the version in the URL the answer changes when the catalogue moves on: revalidated
        assertThat(manifest.header("Cache-Control")).contains("public, no-cache, no-transform");
        Reply versioned = call(s, "GET", "/v1/images/disk.img/chunked/v7/manifest");
        assertThat(versioned.status()).isEqualTo(200);
        assertThat(versioned.header("Cache-Control")).contains("public, max-age=31536000, immutable, no-transform");
        Reply chunk = call(s, "GET", "/v1/images/disk.img/chunked/v7/chunks/00000000.bin");
        assertThat(body(chunk)).isEqualTo(Arrays.copyOf(image, 512));
        assertThat(call(s, "GET", "/v1/images/disk.img/chunked/chunks/00000000.bin", "Range", "bytes=0-9").status())
                .isEqualTo(206);
        assertThat(call(s, "GET", "/v1/images/disk.img/chunked/chunks/00000001.bin").status()).isEqualTo(404);
        assertThat(call(s, "GET", "/v1/images/disk.img/chunked/chunks/x.bin").status()).isEqualTo(400);
        assertThat(call(s, "GET", "/v1/images/disk.img/chunked/v8/manifest.json").status()).isEqualTo(404);
        assertThat(JSON.readTree(call(s, "GET", "/v1/images/disk.img/meta").text()).get("chunked_manifest").asText())
                .isEqualTo("/v1/images/disk.img/chunked/v7/manifest.json");
    }

    // ---- limits, health, metrics

    @Test
    void transfersBeyondTheLimitAreAnswered429UntilOneEnds() {
        ImageServer s = server(settings(List.of(), 1, Map.of(), ""), NOW);
        Reply first = s.handle(new Request("GET", "/v1/images/disk.img", null, Map.of(), null, "http://h"));
        Reply second = call(s, "GET", "/v1/images/disk.img");
        assertThat(second.status()).isEqualTo(429);
        assertThat(second.header("Retry-After")).contains("1");
        assertThat(call(s, "HEAD", "/v1/images/disk.img").status()).isEqualTo(200);
        first.finish();
        assertThat(call(s, "GET", "/v1/images/disk.img").status()).isEqualTo(200);
        assertThat(s.metrics().text()).contains("spindle_server_rejected_total 1",
                "spindle_server_requests_total{route=\"image\",status=\"429\"} 1", "spindle_server_in_flight 0");
    }

    @Test
    void healthReadinessAndMetrics() throws Exception {
        ImageServer s = server();
        assertThat(call(s, "GET", "/healthz").text()).contains("\"status\" : \"ok\"");
        assertThat(call(s, "GET", "/readyz").status()).isEqualTo(200);
        call(s, "GET", "/v1/images/disk.img", "Range", "bytes=0-99");
        String metrics = call(s, "GET", "/metrics").text();
        assertThat(metrics).contains("# TYPE spindle_server_requests_total counter",
                "spindle_server_requests_total{route=\"image\",status=\"206\"} 1", "spindle_server_bytes_sent_total 100");
        ServerSettings gone = new ServerSettings(dir.resolve("nowhere"), true, List.of(), "same-site", 4, 1 << 20,
                Map.of(), "", "spindle", 600, 3600, "", true, "metrics-secret");
        ImageServer missing = server(gone, NOW);
        assertThat(call(missing, "GET", "/readyz").status()).isEqualTo(503);
        assertThat(call(missing, "GET", "/metrics").status()).isEqualTo(401);
        assertThat(call(missing, "GET", "/metrics", "Authorization", "Bearer metrics-secret").status()).isEqualTo(200);
    }
}
