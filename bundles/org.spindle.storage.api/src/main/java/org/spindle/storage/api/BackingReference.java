package org.spindle.storage.api;

import java.util.Objects;

/**
 * The base image an overlay names.
 *
 * @param location a backend URI or a path; a relative path is resolved against the overlay's own
 *        location
 * @param format the base's format name, or {@code null} to probe it
 */
public record BackingReference(String location, String format) {
    public BackingReference {
        Objects.requireNonNull(location, "location");
        if (location.isBlank()) {
            throw new IllegalArgumentException("a backing location must not be blank");
        }
    }
}
