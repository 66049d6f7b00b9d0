package org.spindle.server;

import java.nio.charset.StandardCharsets;
import java.security.InvalidKeyException;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Clock;
import java.time.Instant;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.Map;

import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

/**
 * Short-lived read leases: tokens that let their holder read one image until they expire.
 *
 * <p>A token is {@code v1.<kid>.<payload>.<signature>}: the payload is base64url JSON
 * {@code {"img": id, "aud": audience, "scope": "disk:read", "exp": epoch-seconds}}, and the signature
 * is base64url HMAC-SHA256, under the key named {@code kid}, of everything before it. New tokens are
 * signed with the active key; every configured key still verifies, so keys rotate by adding a new
 * one, making it active, and removing the old one once its tokens have expired. Signatures are compared
 * in constant time. Tokens are never stored or logged.
 */
final class Leases {
    static final String SCOPE_READ = "disk:read";
    private static final String PREFIX = "v1";
    private static final ObjectMapper JSON = new ObjectMapper();

    /** Why a token was not accepted: {@code forbidden} is a valid token for something else (403), the rest 401. */
    record Verdict(boolean ok, boolean forbidden, String why) {
        static final Verdict OK = new Verdict(true, false, null);

        static Verdict unauthorized(String why) {
            return new Verdict(false, false, why);
        }

        static Verdict forbidden(String why) {
            return new Verdict(false, true, why);
        }
    }

    /** A lease handed out: the token and when it ends. */
    record Lease(String imageId, String token, Instant expiresAt) {
    }

    private final Map<String, byte[]> keys;
    private final String activeKid;
    private final String audience;
    private final Clock clock;

    /**
     * @param keys signing keys by id (at least 32 bytes each)
     * @param activeKid the key new leases are signed with
     */
    Leases(Map<String, byte[]> keys, String activeKid, String audience, Clock clock) {
        if (!keys.containsKey(activeKid)) {
            throw new IllegalArgumentException("the active lease key '" + activeKid + "' is not among the keys "
                    + keys.keySet());
        }
        keys.forEach((kid, key) -> {
            if (!kid.matches("[A-Za-z0-9_-]{1,64}")) {
                throw new IllegalArgumentException("a lease key id must be 1 to 64 letters, digits, '-' or '_', not '"
                        + kid + "'");
            }
            if (key.length < 32) {
                throw new IllegalArgumentException("lease key '" + kid + "' has " + key.length
                        + " bytes; at least 32 are needed");
            }
        });
        this.keys = Map.copyOf(keys);
        this.activeKid = activeKid;
        this.audience = audience;
        this.clock = clock;
    }

    /** A lease on {@code imageId} for {@code ttlSeconds}. */
    Lease issue(String imageId, long ttlSeconds) {
        Instant expires = clock.instant().plusSeconds(ttlSeconds);
        Map<String, Object> payload = new LinkedHashMap<>();
        payload.put("img", imageId);
        payload.put("aud", audience);
        payload.put("scope", SCOPE_READ);
        payload.put("exp", expires.getEpochSecond());
        String body;
        try {
            body = b64(JSON.writeValueAsBytes(payload));
        } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
            throw new IllegalStateException(e);
        }
        String signed = PREFIX + "." + activeKid + "." + body;
        return new Lease(imageId, signed + "." + b64(hmac(keys.get(activeKid), signed)), expires);
    }

    /** Whether {@code token} lets its holder read {@code imageId} now. */
    Verdict verify(String token, String imageId) {
        String[] parts = token.split("\\.", -1);
        if (parts.length != 4 || !PREFIX.equals(parts[0])) {
            return Verdict.unauthorized("the token is malformed");
        }
        byte[] key = keys.get(parts[1]);
        if (key == null) {
            return Verdict.unauthorized("the token is signed with an unknown key");
        }
        // compared as text: one signature has one spelling (no padding, no stray bits)
        byte[] expected = b64(hmac(key, parts[0] + "." + parts[1] + "." + parts[2])).getBytes(StandardCharsets.US_ASCII);
        if (!MessageDigest.isEqual(expected, parts[3].getBytes(StandardCharsets.US_ASCII))) {
            return Verdict.unauthorized("the token's signature is wrong");
        }
        JsonNode payload;
        try {
            payload = JSON.readTree(Base64.getUrlDecoder().decode(parts[2]));
        } catch (IllegalArgumentException | java.io.IOException e) {
            return Verdict.unauthorized("the token is malformed");
        }
        if (payload == null || !payload.path("exp").canConvertToLong()
                || payload.path("exp").asLong() <= clock.instant().getEpochSecond()) {
            return Verdict.unauthorized("the token has expired");
        }
        if (!audience.equals(payload.path("aud").asText(null))) {
            return Verdict.unauthorized("the token is for another audience");
        }
        if (!SCOPE_READ.equals(payload.path("scope").asText(null))) {
            return Verdict.forbidden("the token does not allow reading");
        }
        if (!imageId.equals(payload.path("img").asText(null))) {
            return Verdict.forbidden("the token is for another image");
        }
        return Verdict.OK;
    }

    private static byte[] hmac(byte[] key, String data) {
        try {
            Mac mac = Mac.getInstance("HmacSHA256");
            mac.init(new SecretKeySpec(key, "HmacSHA256"));
            return mac.doFinal(data.getBytes(StandardCharsets.US_ASCII));
        } catch (NoSuchAlgorithmException | InvalidKeyException e) {
            throw new IllegalStateException("HMAC-SHA256 is not available", e);
        }
    }

    private static String b64(byte[] bytes) {
        return Base64.getUrlEncoder().withoutPadding().encodeToString(bytes);
    }
}
