package org.spindle.storage.api;

import java.net.URI;

import org.osgi.annotation.versioning.ConsumerType;

/**
 * Opens backends for one or more URI schemes. Registered as an OSGi service with the
 * {@link #SCHEME} property (outside OSGi, through {@link java.util.ServiceLoader}).
 */
@ConsumerType
public interface StorageBackendProvider {
    /** Service property ({@code String} or {@code String[]}): the URI schemes handled, e.g. {@code file}. */
    String SCHEME = "spindle.backend.scheme";

    /** The schemes handled, the same as the {@link #SCHEME} service property. */
    java.util.Set<String> schemes();

    /**
     * Opens the backend named by {@code uri}. Failures: {@code NOT_FOUND}, {@code ACCESS_DENIED},
     * {@code IN_USE} (locked by another writer), {@code ALREADY_EXISTS} (for {@code CREATE_NEW}),
     * {@code INVALID_CONFIG} (a malformed URI or parameter), {@code IO}.
     */
    StorageBackend open(URI uri, AccessMode mode) throws StorageException;
}
