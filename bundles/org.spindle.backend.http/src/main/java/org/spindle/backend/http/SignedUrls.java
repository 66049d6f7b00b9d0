package org.spindle.backend.http;

import java.io.IOException;
import java.net.URI;
import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.time.LocalDate;
import java.time.LocalDateTime;
import java.time.OffsetDateTime;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.Base64;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;

/**
 * When a signed URL stops being valid, read from its query as the common issuers write it. Only the
 * time is read; the signature is the server's to check.
 *
 * <ul>
 * <li>AWS Signature Version 4 (S3 presigned URLs): {@code X-Amz-Date} plus {@code X-Amz-Expires}
 * seconds;</li>
 * <li>Google Cloud Storage V4: {@code X-Goog-Date} plus {@code X-Goog-Expires};</li>
 * <li>S3 Signature Version 2 and CloudFront canned policies: {@code Expires}, in seconds since the
 * epoch, next to {@code Signature};</li>
 * <li>Azure shared access signatures: {@code se}, an ISO-8601 time, next to {@code sig};</li>
 * <li>Spindle's image server: {@code cap}, a read lease whose payload carries {@code exp}.</li>
 * </ul>
 */
final class SignedUrls {
    private static final DateTimeFormatter COMPACT = DateTimeFormatter.ofPattern("yyyyMMdd'T'HHmmss'Z'", Locale.ROOT);
    private static final JsonFactory JSON = new JsonFactory();

    private SignedUrls() {
    }

    /** When a URL expires, and the query parameter that says so. */
    record Expiry(Instant at, String parameter) {
    }

    /** The expiry {@code url}'s query states, or empty when it states none this class reads. */
    static Optional<Expiry> expiry(URI url) {
        Map<String, String> q = query(url.getRawQuery());
        if (q.isEmpty()) {
            return Optional.empty();
        }
        try {
            Optional<Expiry> v4 = dated(q, "x-amz-date", "x-amz-expires", "X-Amz-Date and X-Amz-Expires");
            if (v4.isPresent()) {
                return v4;
            }
            Optional<Expiry> goog = dated(q, "x-goog-date", "x-goog-expires", "X-Goog-Date and X-Goog-Expires");
            if (goog.isPresent()) {
                return goog;
            }
            if (q.containsKey("expires") && q.containsKey("signature")) {
                return Optional.of(new Expiry(Instant.ofEpochSecond(Long.parseLong(q.get("expires"))), "Expires"));
            }
            if (q.containsKey("se") && q.containsKey("sig")) {
                return Optional.of(new Expiry(isoTime(q.get("se")), "se"));
            }
            if (q.containsKey("cap")) {
                return leaseExpiry(q.get("cap")).map(at -> new Expiry(at, "cap lease's exp"));
            }
        } catch (NumberFormatException | java.time.DateTimeException | ArithmeticException e) {
            // a time written some other way: nothing is known
        }
        return Optional.empty();
    }

    private static Optional<Expiry> dated(Map<String, String> q, String date, String expires, String name) {
        String d = q.get(date);
        String e = q.get(expires);
        if (d == null || e == null) {
            return Optional.empty();
        }
        Instant signed = LocalDateTime.parse(d, COMPACT).toInstant(ZoneOffset.UTC);
        return Optional.of(new Expiry(signed.plusSeconds(Long.parseLong(e)), name));
    }

    /** {@code 2026-11-25T12:00:00Z}, {@code 2026-11-25T12:00Z} or {@code 2026-11-25} (the day's start, UTC). */
    private static Instant isoTime(String text) {
        if (text.length() == 10) {
            return LocalDate.parse(text).atStartOfDay(ZoneOffset.UTC).toInstant();
        }
        return OffsetDateTime.parse(text).toInstant();
    }

    /** The {@code exp} of a Spindle lease token ({@code v1.kid.payload.signature}). */
    private static Optional<Instant> leaseExpiry(String token) {
        String[] parts = token.split("\\.");
        if (parts.length != 4 || !parts[0].equals("v1")) {
            return Optional.empty();
        }
        try (JsonParser p = JSON.createParser(Base64.getUrlDecoder().decode(parts[2]))) {
            if (p.nextToken() != JsonToken.START_OBJECT) {
                return Optional.empty();
            }
            while (p.nextToken() == JsonToken.FIELD_NAME) {
                String name = p.currentName();
                JsonToken value = p.nextToken();
                if (name.equals("exp") && value == JsonToken.VALUE_NUMBER_INT) {
                    return Optional.of(Instant.ofEpochSecond(p.getLongValue()));
                }
                p.skipChildren();
            }
        } catch (IOException | IllegalArgumentException | java.time.DateTimeException e) {
            // not a lease this class can read
        }
        return Optional.empty();
    }

    /** The query's parameters by lower-case name, decoded; the first of a repeated name wins. */
    private static Map<String, String> query(String raw) {
        Map<String, String> out = new TreeMap<>();
        if (raw == null || raw.isEmpty()) {
            return out;
        }
        for (String pair : raw.split("&")) {
            int eq = pair.indexOf('=');
            if (eq <= 0) {
                continue;
            }
            try {
                String name = URLDecoder.decode(pair.substring(0, eq), StandardCharsets.UTF_8).toLowerCase(Locale.ROOT);
                out.putIfAbsent(name, URLDecoder.decode(pair.substring(eq + 1), StandardCharsets.UTF_8));
            } catch (IllegalArgumentException e) {
                // a malformed escape: that parameter is not read
            }
        }
        return out;
    }
}
