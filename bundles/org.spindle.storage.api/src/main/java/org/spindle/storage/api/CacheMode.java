package org.spindle.storage.api;

import java.util.Locale;

/** How a drive treats the host's write cache, named as in configuration. */
public enum CacheMode {
    /** Writes may sit in the host cache until the guest flushes (the default; safe for guests that flush). */
    WRITEBACK,
    /** Every write is made durable before it completes; guest flushes cost nothing extra. */
    WRITETHROUGH,
    /** Guest flushes are ignored: fastest, and data is lost if the host crashes. For scratch disks only. */
    UNSAFE;

    /** The name used in configuration: lower case. */
    public String configName() {
        return name().toLowerCase(Locale.ROOT);
    }

    /**
     * Parses a configuration value, ignoring case.
     *
     * @throws IllegalArgumentException naming the accepted values
     */
    public static CacheMode parse(String value) {
        for (CacheMode mode : values()) {
            if (mode.name().equalsIgnoreCase(value.trim())) {
                return mode;
            }
        }
        throw new IllegalArgumentException("unknown cache mode '" + value + "' (use writeback, writethrough or unsafe)");
    }
}
