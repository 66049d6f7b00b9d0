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
}
