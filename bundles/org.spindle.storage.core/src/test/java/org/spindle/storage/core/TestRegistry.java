package org.spindle.storage.core;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

import org.spindle.backend.memory.MemoryBackendProvider;
import org.spindle.format.raw.RawFormat;
import org.spindle.storage.api.DiskFormat;
import org.spindle.storage.api.StorageBackendProvider;

/** A registry a test fills by hand. */
public final class TestRegistry implements StorageRegistry {
    public final Map<String, StorageBackendProvider> providers = new LinkedHashMap<>();
    public final List<DiskFormat> formats = new ArrayList<>();

    public static TestRegistry withMemoryAndRaw(MemoryBackendProvider memory) {
        TestRegistry registry = new TestRegistry();
        registry.providers.put("memory", memory);
        registry.formats.add(new RawFormat());
        return registry;
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
