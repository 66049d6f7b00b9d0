package org.spindle.storage.api;

import java.util.Optional;

import org.osgi.annotation.versioning.ConsumerType;

/**
 * An optional ability of a {@link StorageBackend} whose bytes can change under it without its location
 * changing (an object on a web server that can be replaced): a name of the version that was opened. An
 * overlay made over such a base records it (with the base's size), and the opener refuses a base whose
 * version is no longer that one rather than mix the overlay's writes with another image's bytes.
 *
 * @since 1.5
 */
@ConsumerType
public interface ContentVersion {
    /**
     * The version of the bytes this backend reads, as a strong validator (for HTTP {@code etag:"…"},
     * or {@code last-modified:…} when that date is a strong validator); empty when the source gives
     * none that can be trusted to change with every change of the bytes.
     */
    Optional<String> contentVersion();
}
