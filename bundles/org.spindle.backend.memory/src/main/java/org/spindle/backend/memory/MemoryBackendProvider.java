package org.spindle.backend.memory;

import java.net.URI;
import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.regex.Pattern;

import org.osgi.service.component.annotations.Component;
import org.spindle.storage.api.AccessMode;
import org.spindle.storage.api.ByteSize;
import org.spindle.storage.api.StorageBackend;
import org.spindle.storage.api.StorageBackendProvider;
import org.spindle.storage.api.StorageException;
import org.spindle.storage.api.StorageException.Kind;
import org.spindle.storage.api.StorageException.Operation;

/**
 * Opens {@code memory:} URIs.
 *
 * <ul>
 * <li>{@code memory:NAME?size=64M}: the named volume; created with that size on the first writable
 * open, and kept (with its data) after it is closed, for as long as this provider runs. A later open
 * may leave out the size.</li>
 * <li>{@code memory:?size=64M}: a new anonymous volume, gone when closed.</li>
 * </ul>
 * A volume has at most one writer, and no writer while it has readers ({@code IN_USE}). Named volumes
 * live as long as this bundle is active.
 */
// immediate: a delayed component would be disposed, with every volume's data, whenever no drive used it
@Component(property = StorageBackendProvider.SCHEME + "=memory", immediate = true)
public final class MemoryBackendProvider implements StorageBackendProvider {
    private static final Pattern NAME = Pattern.compile("[A-Za-z0-9._-]{1,128}");

    private final Map<String, MemoryVolume> volumes = new ConcurrentHashMap<>();

    @Override
    public Set<String> schemes() {
        return Set.of("memory");
    }

    @Override
    public StorageBackend open(URI uri, AccessMode mode) throws StorageException {
        String location = uri.toString();
        if (!"memory".equalsIgnoreCase(uri.getScheme())) {
            throw invalid(location, "not a memory: URI");
        }
        String ssp = uri.getRawSchemeSpecificPart();
        int q = ssp.indexOf('?');
        String name = decode(q < 0 ? ssp : ssp.substring(0, q));
        Map<String, String> params = parameters(q < 0 ? "" : ssp.substring(q + 1), location);
        Long size = null;
        if (params.containsKey("size")) {
            try {
                size = ByteSize.parse(params.get("size"));
            } catch (IllegalArgumentException e) {
                throw invalid(location, "parameter size: " + e.getMessage());
            }
            if (size > MemoryVolume.MAX_SIZE) {
                throw invalid(location, "parameter size: at most " + ByteSize.format(MemoryVolume.MAX_SIZE));
            }
        }
        params.remove("size");
        if (!params.isEmpty()) {
            throw invalid(location, "unknown parameter(s) " + params.keySet() + " (memory: URIs take only size)");
        }
        if (name.isEmpty()) {
            if (size == null) {
                throw invalid(location, "an anonymous memory volume needs a size, as in memory:?size=64M");
            }
            if (mode == AccessMode.READ_ONLY) {
                throw invalid(location, "an anonymous memory volume opened read-only would always be empty");
            }
            MemoryVolume volume = new MemoryVolume(size);
            volume.opened(true);
            return new MemoryBackend(volume, location, false, () -> { });
        }
        if (!NAME.matcher(name).matches()) {
            throw invalid(location, "a memory volume name has 1 to 128 letters, digits, '.', '_' or '-'");
        }
        synchronized (volumes) {
            MemoryVolume volume = volumes.get(name);
            if (volume == null) {
                if (mode == AccessMode.READ_ONLY || size == null) {
                    throw new StorageException(Kind.NOT_FOUND, "no memory volume named '" + name + "'"
                            + (size == null ? "; give ?size= to create one" : " to open read-only"))
                            .withLocation(location).withOperation(Operation.OPEN);
                }
                volume = new MemoryVolume(size);
                volumes.put(name, volume);
            } else if (mode == AccessMode.CREATE_NEW) {
                throw new StorageException(Kind.ALREADY_EXISTS, "the memory volume '" + name + "' exists already")
                        .withLocation(location).withOperation(Operation.CREATE);
            } else if (size != null && size != volume.size()) {
                throw invalid(location, "the memory volume '" + name + "' exists with size " + volume.size()
                        + ", not " + size + " (leave out the size to open it)");
            }
            boolean writable = mode.writable();
            if (volume.isOpenForWriting() || (writable && volume.openCount() > 0)) {
                throw new StorageException(Kind.IN_USE, volume.isOpenForWriting()
                        ? "the memory volume '" + name + "' is open for writing"
                        : "the memory volume '" + name + "' is open for reading")
                        .withLocation(location).withOperation(Operation.OPEN);
            }
            volume.opened(writable);
            MemoryVolume opened = volume;
            return new MemoryBackend(volume, location, !writable, () -> volumes.remove(name, opened));
        }
    }

    /** The named volume, or {@code null}: for tests and introspection. */
    MemoryVolume volume(String name) {
        return volumes.get(name);
    }

    private static Map<String, String> parameters(String query, String location) throws StorageException {
        Map<String, String> params = new LinkedHashMap<>();
        if (query.isEmpty()) {
            return params;
        }
        for (String pair : query.split("&")) {
            int eq = pair.indexOf('=');
            if (eq <= 0) {
                throw invalid(location, "malformed parameter '" + pair + "' (write name=value)");
            }
            params.put(decode(pair.substring(0, eq)), decode(pair.substring(eq + 1)));
        }
        return params;
    }

    private static String decode(String s) {
        return URLDecoder.decode(s, StandardCharsets.UTF_8);
    }

    private static StorageException invalid(String location, String detail) {
        return new StorageException(Kind.INVALID_CONFIG, detail).withLocation(location).withOperation(Operation.OPEN);
    }
}
