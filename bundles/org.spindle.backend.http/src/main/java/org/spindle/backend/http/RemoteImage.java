package org.spindle.backend.http;

import java.net.http.HttpHeaders;
import java.util.Optional;

/**
 * What size discovery learnt about an image: its length and the validator that pins its version.
 *
 * @param size the image's length in bytes
 * @param etag the strong entity tag with its quotes ({@code "abc"}), or {@code null} when the server
 *        sent none or only a weak one
 * @param lastModified the {@code Last-Modified} date as sent, or {@code null}
 */
record RemoteImage(long size, String etag, String lastModified) {

    static RemoteImage of(long size, HttpHeaders headers) {
        String tag = headers.firstValue("ETag").map(String::strip).orElse(null);
        if (tag != null && !isStrong(tag)) {
            tag = null;
        }
        return new RemoteImage(size, tag, headers.firstValue("Last-Modified").map(String::strip).orElse(null));
    }

    /** A strong entity tag: quoted, not {@code W/}-prefixed (RFC 9110 §8.8.3). */
    static boolean isStrong(String tag) {
        return tag.length() >= 2 && tag.charAt(0) == '"' && tag.charAt(tag.length() - 1) == '"';
    }

    /**
     * The value of {@code If-Range} that pins this version: the strong entity tag, else the date. A
     * server whose image changed answers with the whole new image (200) instead of the range, which
     * the client refuses, rather than mixing bytes of two versions.
     */
    Optional<String> ifRange() {
        return Optional.ofNullable(etag != null ? etag : lastModified);
    }

    /** The validator that names this version in the cache, or empty when there is none to trust. */
    Optional<String> validator() {
        if (etag != null) {
            return Optional.of("etag:" + etag);
        }
        return lastModified == null ? Optional.empty() : Optional.of("last-modified:" + lastModified);
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
