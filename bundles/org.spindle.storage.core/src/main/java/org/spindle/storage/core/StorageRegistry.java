package org.spindle.storage.core;

import java.util.List;
import java.util.Optional;
import java.util.Set;

import org.osgi.annotation.versioning.ConsumerType;
import org.spindle.storage.api.DiskFormat;
import org.spindle.storage.api.StorageBackendProvider;

/** The backends and formats a {@link DiskOpener} may use. */
@ConsumerType
public interface StorageRegistry {
    /** The provider for {@code scheme} (lower case), if one is installed. */
    Optional<StorageBackendProvider> provider(String scheme);

    /** The schemes of every installed provider, for messages. */
    Set<String> schemes();

    /** Every installed format, most preferred first (it wins ties when probing). */
    List<DiskFormat> formats();

    /** The format named {@code name}, if installed. */
    default Optional<DiskFormat> format(String name) {
        return formats().stream().filter(f -> f.name().equals(name)).findFirst();
    }
}
