package org.spindle.backend.http;

import java.net.URI;
import java.net.URISyntaxException;

import org.spindle.storage.api.StorageException;
import org.spindle.storage.api.StorageException.Kind;
import org.spindle.storage.api.StorageException.Operation;

/** The two faces of an image URL: the one requested, and the one safe to show. */
final class HttpLocations {
    private HttpLocations() {
    }

    /**
     * The URL without query, fragment or user information: for messages, logs and {@code location()}.
     * A query may carry a signature, which must not be shown.
     */
    static String display(URI uri) {
        try {
            return new URI(uri.getScheme(), null, uri.getHost(), uri.getPort(), uri.getPath(), null, null).toString();
        } catch (URISyntaxException e) {
            return uri.getScheme() + "://" + uri.getHost();
        }
    }

    /**
     * The URL as it is requested: exactly as written, without the fragment (which holds Spindle's
     * settings). It is not rebuilt from its decoded parts: {@code %2B} in a signature must stay
     * {@code %2B}.
     */
    static URI request(URI uri) {
        String text = uri.toString();
        int hash = text.indexOf('#');
        return hash < 0 ? uri : URI.create(text.substring(0, hash));
    }

    /**
     * Checks that {@code uri} is an absolute http or https URL with a host and no user information.
     *
     * @throws StorageException {@code INVALID_CONFIG} naming what is wrong
     */
    static void check(URI uri) throws StorageException {
        String scheme = uri.getScheme();
        if (scheme == null || !(scheme.equalsIgnoreCase("http") || scheme.equalsIgnoreCase("https"))) {
            throw invalid(uri, "not an http or https URL");
        }
        if (uri.isOpaque() || uri.getHost() == null) {
            throw invalid(uri, "an HTTP image URL needs a host, as in https://images.example/disk.img");
        }
        if (uri.getRawUserInfo() != null) {
            throw invalid(uri, "user information in the URL is not used; give a bearer token through the "
                    + HttpSettings.TOKEN_ENV + " setting (an environment variable) instead");
        }
        if (uri.getPath() == null || uri.getPath().isEmpty() || uri.getPath().endsWith("/")) {
            throw invalid(uri, "the URL names a directory, not an image");
        }
    }

    private static StorageException invalid(URI uri, String why) {
        return new StorageException(Kind.INVALID_CONFIG, why).withLocation(display(uri)).withOperation(Operation.OPEN);
    }
}
