package org.spindle.server;

import java.nio.file.Path;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * What the image server is configured with (see {@link ImageServerComponent.Config} for each setting).
 *
 * @param leaseKeys signing keys by id; empty when leases are off
 */
record ServerSettings(Path dir, boolean publicByDefault, List<String> corsOrigins, String corp, int maxConcurrent,
        long maxRangeBytes, Map<String, byte[]> leaseKeys, String leaseKid, String audience, long leaseTtl,
        long maxLeaseTtl, String issuerToken, boolean metrics, String metricsToken) {

    ServerSettings {
        if (dir == null) {
            throw new IllegalArgumentException("dir: the directory of images to serve is not set");
        }
        if (!List.of("same-origin", "same-site", "cross-origin").contains(corp)) {
            throw new IllegalArgumentException("corp must be same-origin, same-site or cross-origin, not '" + corp + "'");
        }
        if (maxConcurrent < 1) {
            throw new IllegalArgumentException("max.concurrent must be at least 1, not " + maxConcurrent);
        }
        if (maxRangeBytes < 1) {
            throw new IllegalArgumentException("max.range must be at least 1 byte, not " + maxRangeBytes);
        }
        if (leaseTtl < 1 || maxLeaseTtl < leaseTtl) {
            throw new IllegalArgumentException("lease.ttl must be from 1 s to lease.max.ttl (" + maxLeaseTtl
                    + " s), not " + leaseTtl);
        }
        for (String origin : corsOrigins) {
            if (!origin.equals("*") && !origin.matches("https?://[A-Za-z0-9.-]+(:[0-9]{1,5})?")) {
                throw new IllegalArgumentException("cors.origins: '" + origin + "' is neither * nor an origin such as"
                        + " https://app.example");
            }
        }
        corsOrigins = List.copyOf(corsOrigins);
        leaseKeys = Map.copyOf(leaseKeys);
        if ((leaseKid == null || leaseKid.isBlank()) && leaseKeys.size() == 1) {
            // one key: it signs
            leaseKid = leaseKeys.keySet().iterator().next();
        }
        if (!leaseKeys.isEmpty() && !leaseKeys.containsKey(leaseKid)) {
            throw new IllegalArgumentException("lease.kid '" + leaseKid + "' is not among lease.keys " + leaseKeys.keySet());
        }
    }

    /** Whether leases can be issued and checked. */
    boolean leases() {
        return !leaseKeys.isEmpty();
    }

    /** {@code kid=base64} pairs into keys. */
    static Map<String, byte[]> keys(String[] pairs) {
        Map<String, byte[]> keys = new LinkedHashMap<>();
        for (String pair : pairs == null ? new String[0] : pairs) {
            if (pair.isBlank()) {
                continue;
            }
            int eq = pair.indexOf('=');
            if (eq <= 0) {
                throw new IllegalArgumentException("lease.keys: each entry is kid=base64-key, not '" + pair.strip()
                        .replaceAll("(?<=.{4}).", "*") + "'");
            }
            try {
                keys.put(pair.substring(0, eq).strip(), Base64.getDecoder().decode(pair.substring(eq + 1).strip()));
            } catch (IllegalArgumentException e) {
                throw new IllegalArgumentException("lease.keys: the key of '" + pair.substring(0, eq).strip()
                        + "' is not base64");
            }
        }
        return keys;
    }
}
