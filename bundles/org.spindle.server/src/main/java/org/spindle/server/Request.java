package org.spindle.server;

import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;

/**
 * One HTTP request as the server sees it, apart from any servlet container: what {@link ImageServer}
 * decides from.
 *
 * @param method the method, upper case
 * @param path the decoded path below the server root, e.g. {@code /v1/images/win7.img}
 * @param query the raw query string, or {@code null}
 * @param headers header values by lower-case name, in the order received
 * @param body the request body (read only for {@code POST}, bounded by the caller)
 * @param base the scheme, host and port the client used, e.g. {@code http://127.0.0.1:8080}, for URLs
 *        the server hands out
 */
public record Request(String method, String path, String query, Map<String, List<String>> headers, byte[] body,
        String base) {
    public Request {
        TreeMap<String, List<String>> lower = new TreeMap<>();
        headers.forEach((k, v) -> lower.computeIfAbsent(k.toLowerCase(Locale.ROOT), x -> new java.util.ArrayList<>())
                .addAll(v));
        headers = java.util.Collections.unmodifiableMap(lower);
        body = body == null ? new byte[0] : body;
    }

    /** The first value of header {@code name}. */
    public Optional<String> header(String name) {
        List<String> values = headers.get(name.toLowerCase(Locale.ROOT));
        return values == null || values.isEmpty() ? Optional.empty() : Optional.of(values.get(0));
    }

    /** Every value of header {@code name}. */
    public List<String> headers(String name) {
        return headers.getOrDefault(name.toLowerCase(Locale.ROOT), List.of());
    }

    /** The value of query parameter {@code name} (percent-decoded), if given. */
    public Optional<String> parameter(String name) {
        if (query == null) {
            return Optional.empty();
        }
        for (String pair : query.split("&")) {
            int eq = pair.indexOf('=');
            String key = java.net.URLDecoder.decode(eq < 0 ? pair : pair.substring(0, eq),
                    java.nio.charset.StandardCharsets.UTF_8);
            if (key.equals(name)) {
                return Optional.of(eq < 0 ? "" : java.net.URLDecoder.decode(pair.substring(eq + 1),
                        java.nio.charset.StandardCharsets.UTF_8));
            }
        }
        return Optional.empty();
    }
}
