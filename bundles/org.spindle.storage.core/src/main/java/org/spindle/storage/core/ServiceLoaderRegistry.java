package org.spindle.storage.core;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.ServiceLoader;
import java.util.Set;
import java.util.TreeMap;

import org.spindle.storage.api.DiskFormat;
import org.spindle.storage.api.StorageBackendProvider;

/**
 * A registry of the providers and formats that {@link ServiceLoader} finds on a class path: how tools
 * that run without OSGi (the {@code spindle img} command) see the same bundles as jars. Formats are
 * ordered by name, so probing ties break the same way every run.
 */
public final class ServiceLoaderRegistry implements StorageRegistry {
    private final Map<String, StorageBackendProvider> providers;
    private final List<DiskFormat> formats;

    private ServiceLoaderRegistry(Map<String, StorageBackendProvider> providers, List<DiskFormat> formats) {
        this.providers = providers;
        this.formats = formats;
    }

    public static ServiceLoaderRegistry load(ClassLoader loader) {
        Map<String, StorageBackendProvider> providers = new TreeMap<>();
        for (StorageBackendProvider provider : ServiceLoader.load(StorageBackendProvider.class, loader)) {
            for (String scheme : provider.schemes()) {
                providers.putIfAbsent(scheme.toLowerCase(java.util.Locale.ROOT), provider);
            }
        }
        List<DiskFormat> formats = new ArrayList<>();
        ServiceLoader.load(DiskFormat.class, loader).forEach(formats::add);
        formats.sort(Comparator.comparing(DiskFormat::name));
        return new ServiceLoaderRegistry(providers, List.copyOf(formats));
    }

    @Override
    public Optional<StorageBackendProvider> provider(String scheme) {
        return Optional.ofNullable(providers.get(scheme));
    }

    @Override
    public Set<String> schemes() {
        return providers.keySet();
    }

    @Override
    public List<DiskFormat> formats() {
        return formats;
    }
}
