package org.spindle.storage.api;

import java.util.Optional;

import org.osgi.annotation.versioning.ConsumerType;

/**
 * Something whose optional abilities ({@link Discardable}, {@link WriteZeroes}, {@link Resizable}, and
 * those of later API versions) are discovered at run time.
 *
 * <p>Callers must ask {@link #capability(Class)} rather than test {@code instanceof}: a wrapper (a
 * read-only view, a cache) may implement an interface but refuse the ability, or offer one its class
 * does not implement.
 */
@ConsumerType
public interface Capable {
    /**
     * Returns this object's implementation of the capability {@code type}, or empty if it does not have
     * it. The default answers by the object's own class.
     */
    default <T> Optional<T> capability(Class<T> type) {
        return type.isInstance(this) ? Optional.of(type.cast(this)) : Optional.empty();
    }
}
