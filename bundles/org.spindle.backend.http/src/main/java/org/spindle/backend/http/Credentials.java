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
     * Called after a 401 or 403: obtains fresh credentials. Returns whether there is anything new to
     * try; {@code false} makes the refusal final.
     */
    boolean renew();

    /** No credentials: the URL itself grants access (a public image, or a signed URL). */
    Credentials NONE = new Credentials() {
        @Override
        public Optional<String> authorization() {
            return Optional.empty();
        }

        @Override
        public boolean renew() {
            return false;
        }
    };

    /**
     * A bearer token read from the environment variable {@code name} at every request, so that a token
     * the host rotates is picked up; renewing reads it again and succeeds when it changed.
     */
    static Credentials bearerFromEnvironment(String name, Function<String, String> environment) {
        return new Credentials() {
            private volatile String used;

            @Override
            public Optional<String> authorization() {
                String token = environment.apply(name);
                used = token;
                return token == null || token.isBlank() ? Optional.empty() : Optional.of("Bearer " + token.strip());
            }

            @Override
            public boolean renew() {
                String now = environment.apply(name);
                return now != null && !now.isBlank() && !now.equals(used);
            }

            @Override
            public String toString() {
                return "bearer token from $" + name;
            }
        };
    }
}
