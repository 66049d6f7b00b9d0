package org.spindle.backend.file;

import java.net.URI;
import java.nio.file.Path;
import java.util.Set;

import org.osgi.service.component.annotations.Activate;
import org.osgi.service.component.annotations.Component;
import org.osgi.service.component.annotations.ConfigurationPolicy;
import org.osgi.service.component.annotations.Modified;
import org.osgi.service.metatype.annotations.AttributeDefinition;
import org.osgi.service.metatype.annotations.Designate;
import org.osgi.service.metatype.annotations.ObjectClassDefinition;
import org.spindle.storage.api.AccessMode;
import org.spindle.storage.api.StorageBackend;
import org.spindle.storage.api.StorageBackendProvider;
import org.spindle.storage.api.StorageException;
import org.spindle.storage.api.StorageException.Kind;
import org.spindle.storage.api.StorageException.Operation;

/**
 * Opens {@code file:} URIs: {@code file:/images/disk.img} or {@code file:///images/disk.img}. Only
 * absolute local paths are accepted; the drive layer turns a bare relative path into one.
 *
 * <p>Optional configuration {@value #PID}: {@code mapped.reads} (default true) copies reads from a
 * memory mapping of the file instead of a pread system call per read (see {@link FileBackend}).
 */
@Component(configurationPid = FileBackendProvider.PID, configurationPolicy = ConfigurationPolicy.OPTIONAL,
        property = StorageBackendProvider.SCHEME + "=file")
@Designate(ocd = FileBackendProvider.Config.class)
public final class FileBackendProvider implements StorageBackendProvider {
    public static final String PID = "org.spindle.backend.file";

    @ObjectClassDefinition(name = "Spindle file backend", description = "Images in local files")
    public @interface Config {
        @AttributeDefinition(description = "Read through a memory mapping of each image"
                + " (a copy instead of a system call per read); false: one pread per read")
        boolean mapped_reads() default true;
    }

    private volatile boolean mappedReads;

    /** With the defaults (as {@link java.util.ServiceLoader} makes it). */
    public FileBackendProvider() {
        this.mappedReads = true;
    }

    @Activate
    public FileBackendProvider(Config config) {
        this.mappedReads = config.mapped_reads();
    }

    /** A changed configuration applies to images opened from now on; the service stays registered. */
    @Modified
    void modified(Config config) {
        this.mappedReads = config.mapped_reads();
    }

    @Override
    public Set<String> schemes() {
        return Set.of("file");
    }

    @Override
    public StorageBackend open(URI uri, AccessMode mode) throws StorageException {
        return FileBackend.open(toPath(uri), mode, mappedReads);
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
