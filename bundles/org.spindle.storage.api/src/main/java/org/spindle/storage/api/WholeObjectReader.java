package org.spindle.storage.api;

import java.net.URI;

import org.osgi.annotation.versioning.ConsumerType;

/**
 * An optional ability of a {@link StorageBackendProvider} whose locations are objects on a server (an
 * HTTP origin, an object store): reading one whole object with a single plain request (for HTTP, a
 * {@code GET} without {@code Range}), which is what content delivery networks cache best. A provider
 * that has it implements this interface next to {@link StorageBackendProvider}; the opener's
 * {@link RelatedFiles#readWhole} uses it, and opens an ordinary backend otherwise.
 *
 * @since 1.4
 */
@ConsumerType
public interface WholeObjectReader {
    /**
     * Reads the object at {@code uri}, which must be exactly {@code object.size()} bytes with the digest
     * {@code object.sha256()} (when given): bytes that fail either check are never returned, nor kept in
     * a cache. Nothing without a {@link WholeObject#series()} is kept.
     *
     * @return exactly {@code object.size()} bytes, of the digest asked for
     * @throws StorageException {@code CORRUPT_IMAGE} when the object has another size or digest,
     *         {@code NOT_FOUND}, {@code ACCESS_DENIED}, {@code IO}
     */
    byte[] readWhole(URI uri, WholeObject object) throws StorageException;
}
