package org.spindle.storage.api;

import java.util.Objects;

/**
 * The base image an overlay names, and optionally the version of it the overlay was made over.
 *
 * @param location a backend URI or a path; a relative path is resolved against the overlay's own
 *        location
 * @param format the base's format name, or {@code null} to probe it
 * @param size the base's capacity in bytes when the overlay was made, or -1 when not recorded
 * @param version the base's {@link ContentVersion} when the overlay was made (for HTTP, its strong
 *        validator), or {@code null} when not recorded. A base whose size or version differs is
 *        another image: the overlay's writes were made over the old one, so the opener refuses it.
 */
public record BackingReference(String location, String format, long size, String version) {
    /** The longest {@link #version} recorded: an entity tag, a date or a digest fits easily. */
    public static final int MAX_VERSION_LENGTH = 1024;

    public BackingReference {
        Objects.requireNonNull(location, "location");
        if (location.isBlank()) {
            throw new IllegalArgumentException("a backing location must not be blank");
        }
        if (size < -1) {
            throw new IllegalArgumentException("a base size must be -1 (unknown) or at least 0, not " + size);
        }
        if (version != null && (version.isBlank() || version.length() > MAX_VERSION_LENGTH)) {
            throw new IllegalArgumentException("a base version must be 1 to " + MAX_VERSION_LENGTH
                    + " characters, not blank");
        }
    }

    /** A reference by location and format only: any image there is taken as the base. */
    public BackingReference(String location, String format) {
        this(location, format, -1, null);
    }

    /**
     * This reference, pinned to the base's size and version (either may be unknown: -1, {@code null}).
     *
     * @since 1.5
     */
    public BackingReference pinned(long size, String version) {
        return new BackingReference(location, format, size, version);
    }
}
