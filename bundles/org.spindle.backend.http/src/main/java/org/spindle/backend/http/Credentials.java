package org.spindle.backend.http;

import java.net.URI;
import java.net.http.HttpRequest;
import java.time.Clock;
import java.util.Optional;
import java.util.function.Function;

/**
 * What grants a request access: its {@code Authorization}, or the signed URL it goes to. Values are
 * held in memory only: they are never logged, put in a message or written to disk (the cache is keyed
 * by size and validator, never by a URL or a token).
 */
interface Credentials {
    /** The {@code Authorization} header value to send now, or empty for none. */
    default Optional<String> authorization() {
        return Optional.empty();
    }

    /**
     * The URL a request for the image at {@code configured} goes to now: {@code configured} itself, or
     * a signed URL that stands for it until it expires.
     */
    default URI target(URI configured) {
        return configured;
    }

    /**
     * What the request {@code sent} presented, as {@link #renew} wants it back after a refusal: its
     * {@code Authorization} (or {@code null}), or for signed URLs the URL.
     */
    default String presented(HttpRequest sent) {
        return sent.headers().firstValue("Authorization").orElse(null);
    }

    /**
     * Called after a 401 or 403 of a request that presented {@code refused} (see {@link #presented}):
     * obtains fresh credentials. Returns whether there is anything new to try; {@code false} makes the
     * refusal final. Without a source of fresh credentials, nothing.
     */
    default boolean renew(String refused) {
        return false;
    }

    /** Why the last attempt to obtain credentials failed (never a secret), or empty. */
    default Optional<String> problem() {
        return Optional.empty();
    }

    /** No credentials: the URL itself grants access (a public image, or a signed URL). */
    Credentials NONE = new Credentials() {
    };

    /**
     * A URL signed by its issuer, used as given: nothing can renew it, but when its query says when it
     * expires ({@link SignedUrls#expiry}), a refusal after that time says so, so that the operator
     * knows to give a fresh one (or to use leases, which are renewed).
     */
    static Credentials signed(URI url, Clock clock) {
        Optional<SignedUrls.Expiry> expiry = SignedUrls.expiry(url);
        if (expiry.isEmpty()) {
            return NONE;
        }
        return new Credentials() {
            @Override
            public Optional<String> problem() {
                SignedUrls.Expiry e = expiry.get();
                return clock.instant().isBefore(e.at()) ? Optional.empty()
                        : Optional.of("the signed URL expired at " + e.at() + " (its " + e.parameter()
                                + "); give a fresh one, or take leases from a lease service (lease.url)");
            }

            @Override
            public String toString() {
                return "a signed URL valid until " + expiry.get().at();
            }
        };
    }

    /**
     * A bearer token read from the environment variable {@code name} at every request, so that a token
     * the host rotates is picked up; renewing reads it again and succeeds when it changed.
     */
    static Credentials bearerFromEnvironment(String name, Function<String, String> environment) {
        return new Credentials() {
            @Override
            public Optional<String> authorization() {
                String token = environment.apply(name);
                return token == null || token.isBlank() ? Optional.empty() : Optional.of("Bearer " + token.strip());
            }

            @Override
            public boolean renew(String refused) {
                // a token rotated since that request was sent is worth one more try
                Optional<String> now = authorization();
                return now.isPresent() && !now.get().equals(refused);
            }

            @Override
            public String toString() {
                return "bearer token from $" + name;
            }
        };
    }
}
