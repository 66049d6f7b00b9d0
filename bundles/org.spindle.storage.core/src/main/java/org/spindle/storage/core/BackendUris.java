package org.spindle.storage.core;

import java.net.URI;
import java.net.URISyntaxException;
import java.nio.file.InvalidPathException;
import java.nio.file.Path;
import java.util.regex.Pattern;

import org.spindle.storage.api.StorageException;
import org.spindle.storage.api.StorageException.Kind;
import org.spindle.storage.api.StorageException.Operation;

/** Reads what people write as a backend: a URI with a scheme, or a plain file path. */
public final class BackendUris {
    /** A scheme of two or more characters, so that {@code C:\disk.img} stays a path. */
    private static final Pattern SCHEME = Pattern.compile("[A-Za-z][A-Za-z0-9+.-]+:.*", Pattern.DOTALL);

    private BackendUris() {
    }

    /**
     * Returns {@code text} as a URI; a path without a scheme becomes an absolute {@code file:} URI.
     *
     * @throws StorageException {@code INVALID_CONFIG} if it is empty or malformed
     */
    public static URI parse(String text) throws StorageException {
        if (text == null || text.isBlank()) {
            throw new StorageException(Kind.INVALID_CONFIG, "no backend given (a URI such as file:/images/disk.img, or a path)")
                    .withOperation(Operation.CONFIGURE);
        }
        String s = text.strip();
        if (SCHEME.matcher(s).matches()) {
            try {
                return lowerCaseScheme(new URI(s));
            } catch (URISyntaxException e) {
                throw new StorageException(Kind.INVALID_CONFIG, "'" + s + "' is not a valid URI: " + e.getReason()
                        + " at index " + e.getIndex() + " (write a space as %20, or give a plain path)", e)
                        .withOperation(Operation.CONFIGURE);
            }
        }
        try {
            return Path.of(s).toAbsolutePath().normalize().toUri();
        } catch (InvalidPathException e) {
            throw new StorageException(Kind.INVALID_CONFIG, "'" + s + "' is not a valid path: " + e.getReason(), e)
                    .withOperation(Operation.CONFIGURE);
        }
    }

    /** Schemes are case-insensitive (RFC 3986); providers are keyed by the lower-case form. */
    private static URI lowerCaseScheme(URI uri) throws URISyntaxException {
        String scheme = uri.getScheme().toLowerCase(java.util.Locale.ROOT);
        return scheme.equals(uri.getScheme()) ? uri : new URI(scheme + uri.toString().substring(scheme.length()));
    }
}
