package org.spindle.cli;

import java.net.URI;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;

import org.spindle.storage.api.AccessMode;
import org.spindle.storage.api.ByteSize;
import org.spindle.storage.api.StorageBackend;
import org.spindle.storage.api.StorageException;
import org.spindle.storage.api.StorageException.Kind;
import org.spindle.storage.core.BackendUris;
import org.spindle.storage.core.DiskOpener;

import picocli.CommandLine;

/** What the {@code img} commands share: reading locations, sizes and {@code -o} options. */
final class Images {
    private Images() {
    }

    static URI uri(String text) throws StorageException {
        return BackendUris.parse(text);
    }

    /** A location as people wrote it: a path for files, the URI otherwise. */
    static String display(URI uri) {
        return "file".equals(uri.getScheme()) ? Path.of(uri).toString() : uri.toString();
    }

    /**
     * Parses {@code -o} options as {@code qemu-img} takes them: {@code key=value} pairs separated by
     * commas, where a doubled comma is a literal one.
     */
    static Map<String, String> options(java.util.List<String> given) {
        Map<String, String> options = new LinkedHashMap<>();
        for (String group : given) {
            for (String pair : group.replace(",,", "\u0000").split(",")) {
                String item = pair.replace('\u0000', ',').strip();
                if (item.isEmpty()) {
                    continue;
                }
                int eq = item.indexOf('=');
                if (eq <= 0) {
                    throw new CommandLine.ParameterException(new CommandLine(new Object()),
                            "option '" + item + "' is not key=value");
                }
                options.put(item.substring(0, eq).strip(), item.substring(eq + 1).strip());
            }
        }
        return options;
    }

    /** A size as {@code qemu-img} takes it: bytes, or with a binary suffix (k, M, G, T; B and iB allowed). */
    static long size(String text) throws StorageException {
        try {
            return ByteSize.parse(text);
        } catch (IllegalArgumentException e) {
            throw new StorageException(Kind.INVALID_CONFIG, e.getMessage());
        }
    }

    /** The size of the image's storage (the file), or -1 when its backend cannot tell. */
    static long storedSize(DiskOpener opener, URI uri) {
        if ("file".equals(uri.getScheme())) {
            try {
                // blocks actually used, as du counts them: a sparse file takes less than its length
                Object blocks = java.nio.file.Files.getAttribute(Path.of(uri), "unix:blocks");
                if (blocks instanceof Long n) {
                    return n * 512;
                }
            } catch (java.io.IOException | UnsupportedOperationException | IllegalArgumentException e) {
                // fall back to the length below
            }
        }
        try (StorageBackend backend = opener.openBackend(uri, AccessMode.READ_ONLY)) {
            return backend.size();
        } catch (StorageException e) {
            return -1;
        }
    }
}
