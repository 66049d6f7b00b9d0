package org.spindle.storage.api;

import java.util.Objects;
import java.util.regex.Pattern;

/**
 * One object read whole, in a single plain request: a chunk of a chunked image. Says what it must be,
 * so that whoever reads it can refuse anything else, and how a cache may keep it.
 *
 * @param size its exact length in bytes (at least 1)
 * @param sha256 its SHA-256 as 64 lower-case hexadecimal digits, or {@code null} when the source gives
 *        none
 * @param series names the immutable set the object belongs to (a chunked image's version), for a cache
 *        to key it by instead of by its URL; {@code null} when it must not be cached
 * @param index the object's number within {@code series} (0 or more)
 * @since 1.4
 */
public record WholeObject(int size, String sha256, String series, long index) {
    private static final Pattern SHA256 = Pattern.compile("[0-9a-f]{64}");

    /** @throws IllegalArgumentException for a size below 1, a malformed digest or a negative index */
    public WholeObject {
        if (size < 1) {
            throw new IllegalArgumentException("an object's size must be at least 1 byte, not " + size);
        }
        if (sha256 != null && !SHA256.matcher(sha256).matches()) {
            throw new IllegalArgumentException("a SHA-256 must be 64 lower-case hex digits, not '" + sha256 + "'");
        }
        if (index < 0) {
            throw new IllegalArgumentException("an object's index must not be negative, not " + index);
        }
    }

    /** An object of {@code size} bytes with no digest, not cached. */
    public static WholeObject ofSize(int size) {
        return new WholeObject(size, null, null, 0);
    }

    /** The SHA-256 of {@code bytes} as 64 lower-case hex digits, the form {@link #sha256()} takes. */
    public static String sha256(byte[] bytes) {
        try {
            return java.util.HexFormat.of().formatHex(java.security.MessageDigest.getInstance("SHA-256").digest(bytes));
        } catch (java.security.NoSuchAlgorithmException e) {
            throw new IllegalStateException("the JDK has no SHA-256", e);
        }
    }

    /** Whether {@code series} lets a cache keep it. */
    public boolean cacheable() {
        return series != null;
    }

    @Override
    public String toString() {
        return "WholeObject[size=" + size + ", sha256=" + Objects.requireNonNullElse(sha256, "-") + ", series="
                + Objects.requireNonNullElse(series, "-") + ", index=" + index + "]";
    }
}
