package org.spindle.backend.http;

import java.util.Optional;
import java.util.function.Function;

/**
 * Where a request's {@code Authorization} comes from. Values are held in memory only: they are never
 * logged, put in a message or written to disk (the cache is keyed by size and validator, never by a
 * URL or a token).
 */
interface Credentials {
    /** The {@code Authorization} header value to send now, or empty for none. */
    Optional<String> authorization();

    /**
     * Called after a 401 or 403 of a request that carried {@code refused} (an {@code Authorization}
     * value, or {@code null}): obtains fresh credentials. Returns whether there is anything new to try;
     * {@code false} makes the refusal final.
     */
    boolean renew(String refused);

    /** Why the last attempt to obtain credentials failed (never a secret), or empty. */
    default Optional<String> problem() {
        return Optional.empty();
    }

    /** No credentials: the URL itself grants access (a public image, or a signed URL). */
    Credentials NONE = new Credentials() {
        @Override
        public Optional<String> authorization() {
            return Optional.empty();
        }

        @Override
        public boolean renew(String refused) {
            return false;
        }
    };

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
