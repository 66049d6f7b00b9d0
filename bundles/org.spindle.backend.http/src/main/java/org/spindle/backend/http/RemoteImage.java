package org.spindle.backend.http;

import java.net.http.HttpHeaders;
import java.time.Instant;
import java.time.ZonedDateTime;
import java.time.format.DateTimeFormatter;
import java.time.format.DateTimeParseException;
import java.util.Optional;

/**
 * What size discovery learnt about an image: its length and the validator that pins its version.
 *
 * @param size the image's length in bytes
 * @param etag the strong entity tag with its quotes ({@code "abc"}), or {@code null} when the server
 *        sent none or only a weak one
 * @param lastModified the {@code Last-Modified} date as sent, or {@code null}
 * @param dateStrong whether {@code lastModified} is a strong validator (RFC 9110 §8.8.2.2): the
 *        response's {@code Date} is at least a second later, so no change within the same second
 *        can hide behind it
 */
record RemoteImage(long size, String etag, String lastModified, boolean dateStrong) {

    static RemoteImage of(long size, HttpHeaders headers) {
        String tag = headers.firstValue("ETag").map(String::strip).orElse(null);
        if (tag != null && !isStrong(tag)) {
            tag = null;
        }
        String modified = headers.firstValue("Last-Modified").map(String::strip).orElse(null);
        Optional<Instant> lm = date(modified);
        Optional<Instant> now = date(headers.firstValue("Date").map(String::strip).orElse(null));
        boolean strong = lm.isPresent() && now.isPresent() && !now.get().isBefore(lm.get().plusSeconds(1));
        return new RemoteImage(size, tag, modified, strong);
    }

    private static Optional<Instant> date(String value) {
        if (value == null) {
            return Optional.empty();
        }
        try {
            return Optional.of(ZonedDateTime.parse(value, DateTimeFormatter.RFC_1123_DATE_TIME).toInstant());
        } catch (DateTimeParseException e) {
            return Optional.empty();
        }
    }

    /** A strong entity tag: quoted, not {@code W/}-prefixed (RFC 9110 §8.8.3). */
    static boolean isStrong(String tag) {
        return tag.length() >= 2 && tag.charAt(0) == '"' && tag.charAt(tag.length() - 1) == '"';
    }

    /**
     * The value of {@code If-Range} that pins this version: the strong entity tag, else the date when
     * it is a strong validator (RFC 9110 §13.1.5 forbids sending a weak one). A server whose image
     * changed answers with the whole new image (200) instead of the range, which the client refuses,
     * rather than mixing bytes of two versions.
     */
    Optional<String> ifRange() {
        return Optional.ofNullable(etag != null ? etag : dateStrong ? lastModified : null);
    }

    /**
     * The validator that names this version in the persistent cache, or empty when there is none to
     * trust: a weak date could name two versions written within one second.
     */
    Optional<String> validator() {
        if (etag != null) {
            return Optional.of("etag:" + etag);
        }
        return lastModified == null || !dateStrong ? Optional.empty() : Optional.of("last-modified:" + lastModified);
    }

    /**
     * Why a response's headers show a different version than this one, or empty when they agree (or
     * do not say).
     */
    Optional<String> changeIn(HttpHeaders headers) {
        Optional<String> tag = headers.firstValue("ETag").map(String::strip);
        if (etag != null && tag.isPresent() && !tag.get().equals(etag)) {
            return Optional.of("its ETag was " + etag + " and is now " + tag.get());
        }
        Optional<String> date = headers.firstValue("Last-Modified").map(String::strip);
        if (etag == null && lastModified != null && date.isPresent() && !date.get().equals(lastModified)) {
            return Optional.of("its Last-Modified was " + lastModified + " and is now " + date.get());
        }
        return Optional.empty();
    }
}
