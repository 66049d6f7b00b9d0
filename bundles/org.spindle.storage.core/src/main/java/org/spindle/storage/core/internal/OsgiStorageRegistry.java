package org.spindle.storage.core.internal;

import java.util.Collection;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.CopyOnWriteArrayList;

import org.osgi.framework.Constants;
import org.spindle.storage.api.DiskFormat;
import org.spindle.storage.api.StorageBackendProvider;
import org.spindle.storage.core.StorageRegistry;

/**
 * The providers and formats registered as OSGi services, in service order (highest ranking, then
 * oldest first), as DS hands them to the drive manager.
 */
final class OsgiStorageRegistry implements StorageRegistry {
    private record Entry<T>(T service, Map<String, Object> props) {
        int ranking() {
            return props.get(Constants.SERVICE_RANKING) instanceof Integer i ? i : 0;
        }

        long serviceId() {
            return props.get(Constants.SERVICE_ID) instanceof Long l ? l : Long.MAX_VALUE;
        }
    }

    private static final Comparator<Entry<?>> SERVICE_ORDER =
            Comparator.<Entry<?>>comparingInt(Entry::ranking).reversed().thenComparingLong(Entry::serviceId);

    private final List<Entry<StorageBackendProvider>> providers = new CopyOnWriteArrayList<>();
    private final List<Entry<DiskFormat>> formats = new CopyOnWriteArrayList<>();

    void addProvider(StorageBackendProvider provider, Map<String, Object> props) {
        providers.add(new Entry<>(provider, props));
    }

    void removeProvider(StorageBackendProvider provider) {
        providers.removeIf(e -> e.service() == provider);
    }

    void addFormat(DiskFormat format, Map<String, Object> props) {
        formats.add(new Entry<>(format, props));
    }

    void removeFormat(DiskFormat format) {
        formats.removeIf(e -> e.service() == format);
    }

    @Override
    public Optional<StorageBackendProvider> provider(String scheme) {
        return providers.stream().filter(e -> schemesOf(e).contains(scheme)).sorted(SERVICE_ORDER)
                .map(Entry::service).findFirst();
    }

    @Override
    public Set<String> schemes() {
        Set<String> all = new TreeSet<>();
        providers.forEach(e -> all.addAll(schemesOf(e)));
        return all;
    }

    @Override
    public List<DiskFormat> formats() {
        return formats.stream().sorted(SERVICE_ORDER).map(Entry::service).toList();
    }

    @Override
    public Optional<DiskFormat> format(String name) {
        return formats.stream().filter(e -> name.equals(nameOf(e))).sorted(SERVICE_ORDER).map(Entry::service)
                .findFirst();
    }

    private static Set<String> schemesOf(Entry<StorageBackendProvider> e) {
        Set<String> schemes = new TreeSet<>();
        Object value = e.props().get(StorageBackendProvider.SCHEME);
        if (value instanceof String s) {
            schemes.add(s.toLowerCase(Locale.ROOT));
        } else if (value instanceof String[] array) {
            for (String s : array) {
                schemes.add(s.toLowerCase(Locale.ROOT));
            }
        } else if (value instanceof Collection<?> c) {
            c.forEach(s -> schemes.add(String.valueOf(s).toLowerCase(Locale.ROOT)));
        } else {
            e.service().schemes().forEach(s -> schemes.add(s.toLowerCase(Locale.ROOT)));
        }
        return schemes;
    }

    private static String nameOf(Entry<DiskFormat> e) {
        return e.props().get(DiskFormat.NAME) instanceof String s ? s : e.service().name();
    }
}
