package org.spindle.storage.api;

import org.osgi.annotation.versioning.ProviderType;

/**
 * Opens the other files an image is made of (a VMDK descriptor's extents, say), through the same
 * backends that opened the image: the opener hands one to a format in {@link OpenOptions} and
 * {@link CreateOptions}. A format without one refuses multi-file images, saying so.
 */
@ProviderType
public interface RelatedFiles {
    /**
     * Opens {@code location}: a path relative to the image's own location, or an absolute path or
     * backend URI.
     */
    StorageBackend open(String location, AccessMode mode) throws StorageException;

    /**
     * Reads the whole of {@code location} (named as for {@link #open}), which must be exactly
     * {@code object.size()} bytes and, when {@code object.sha256()} is given, have that digest: through
     * the provider's {@link WholeObjectReader} when it has one (one plain request), else through a
     * backend opened read-only. Bytes that fail either check are never returned.
     *
     * @throws StorageException {@code CORRUPT_IMAGE} when the object has another size or digest
     * @since 1.4
     */
    default byte[] readWhole(String location, WholeObject object) throws StorageException {
        try (StorageBackend backend = open(location, AccessMode.READ_ONLY)) {
            long size = backend.size();
            if (size != object.size()) {
                throw new StorageException(StorageException.Kind.CORRUPT_IMAGE, location + " is " + size
                        + " bytes, not " + object.size()).withLocation(backend.location())
                        .withOperation(StorageException.Operation.READ);
            }
            java.nio.ByteBuffer bytes = java.nio.ByteBuffer.allocate(object.size());
            backend.read(0, bytes);
            String actual = object.sha256() == null ? null : WholeObject.sha256(bytes.array());
            if (actual != null && !actual.equals(object.sha256())) {
                throw new StorageException(StorageException.Kind.CORRUPT_IMAGE, location + " has SHA-256 " + actual
                        + ", not " + object.sha256()).withLocation(backend.location())
                        .withOperation(StorageException.Operation.READ);
            }
            return bytes.array();
        }
    }
}
