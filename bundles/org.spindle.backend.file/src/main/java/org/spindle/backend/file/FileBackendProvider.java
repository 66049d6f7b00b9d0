package org.spindle.backend.file;

import java.net.URI;
import java.nio.file.Path;
import java.util.Set;

import org.osgi.service.component.annotations.Component;
import org.spindle.storage.api.AccessMode;
import org.spindle.storage.api.StorageBackend;
import org.spindle.storage.api.StorageBackendProvider;
import org.spindle.storage.api.StorageException;
import org.spindle.storage.api.StorageException.Kind;
import org.spindle.storage.api.StorageException.Operation;

/**
 * Opens {@code file:} URIs: {@code file:/images/disk.img} or {@code file:///images/disk.img}. Only
 * absolute local paths are accepted; the drive layer turns a bare relative path into one.
 */
@Component(property = StorageBackendProvider.SCHEME + "=file")
public final class FileBackendProvider implements StorageBackendProvider {

    @Override
    public Set<String> schemes() {
        return Set.of("file");
    }

    @Override
    public StorageBackend open(URI uri, AccessMode mode) throws StorageException {
        return FileBackend.open(toPath(uri), mode);
    }

    static Path toPath(URI uri) throws StorageException {
        if (!"file".equalsIgnoreCase(uri.getScheme())) {
            throw new StorageException(Kind.INVALID_CONFIG, "not a file: URI").withLocation(uri.toString())
                    .withOperation(Operation.OPEN);
        }
        if (uri.isOpaque() || uri.getPath() == null || uri.getPath().isEmpty()) {
            throw new StorageException(Kind.INVALID_CONFIG,
                    "a file URI needs an absolute path, as in file:/images/disk.img")
                    .withLocation(uri.toString()).withOperation(Operation.OPEN);
        }
        if (uri.getAuthority() != null && !uri.getAuthority().isEmpty() && !"localhost".equals(uri.getAuthority())) {
            throw new StorageException(Kind.INVALID_CONFIG,
                    "remote file URIs are not supported (host '" + uri.getAuthority() + "')")
                    .withLocation(uri.toString()).withOperation(Operation.OPEN);
        }
        if (uri.getQuery() != null) {
            throw new StorageException(Kind.INVALID_CONFIG, "file URIs take no parameters ('?" + uri.getQuery() + "')")
                    .withLocation(uri.toString()).withOperation(Operation.OPEN);
        }
        return Path.of(uri.getPath());
    }
}
