package org.spindle.server;

/**
 * The {@code Range} header of a request, as the image server honours it (RFC 9110 §14.2): one range
 * of unit {@code bytes}, closed ({@code a-b}), open ({@code a-}) or a suffix ({@code -n}).
 */
sealed interface ByteRange {
    /** The longest header read; longer is {@link TooLarge}. */
    int MAX_HEADER = 8 * 1024;
    /** The most range specs read; more is {@link TooLarge}. */
    int MAX_SPECS = 1000;

    /** No range (no header, or a unit other than bytes): the whole representation. */
    record Whole() implements ByteRange {
    }

    /** Bytes {@code first} to {@code last}, inclusive, of a representation of {@code size} bytes. */
    record Single(long first, long last, long size) implements ByteRange {
        long length() {
            return last - first + 1;
        }
    }

    /** A range that cannot be served: malformed, outside the representation, or several at once. */
    record Unsatisfiable(String why) implements ByteRange {
    }

    /** A header too long or with too many specs to be worth parsing. */
    record TooLarge(String why) implements ByteRange {
    }

    /** Reads {@code header} (may be {@code null}) against a representation of {@code size} bytes. */
    static ByteRange parse(String header, long size) {
        if (header == null) {
            return new Whole();
        }
        if (header.length() > MAX_HEADER) {
            return new TooLarge("the Range header is longer than " + MAX_HEADER + " bytes");
        }
        String h = header.strip();
        int eq = h.indexOf('=');
        if (eq < 0) {
            return new Unsatisfiable("Range '" + h + "' has no unit");
        }
        if (!h.substring(0, eq).strip().equalsIgnoreCase("bytes")) {
            return new Whole();
        }
        String[] specs = h.substring(eq + 1).split(",", -1);
        if (specs.length > MAX_SPECS) {
            return new TooLarge("the Range header has more than " + MAX_SPECS + " ranges");
        }
        if (specs.length > 1) {
            return new Unsatisfiable("only one range per request is served");
        }
        String spec = specs[0].strip();
        int dash = spec.indexOf('-');
        if (dash < 0) {
            return new Unsatisfiable("'" + spec + "' is not a byte range");
        }
        String a = spec.substring(0, dash).strip();
        String b = spec.substring(dash + 1).strip();
        if (!digits(a) && !a.isEmpty() || !digits(b) && !b.isEmpty() || a.isEmpty() && b.isEmpty()) {
            return new Unsatisfiable("'" + spec + "' is not a byte range");
        }
        long first;
        long last;
        if (a.isEmpty()) {
            long suffix = number(b);
            if (suffix == 0 || size == 0) {
                return new Unsatisfiable("the suffix range '" + spec + "' selects nothing");
            }
            first = Math.max(0, size - suffix);
            last = size - 1;
        } else {
            first = number(a);
            last = b.isEmpty() ? size - 1 : Math.min(number(b), size - 1);
            if (!b.isEmpty() && number(b) < first) {
                return new Unsatisfiable("'" + spec + "' ends before it starts");
            }
            if (first >= size) {
                return new Unsatisfiable("'" + spec + "' starts at or beyond the end (" + size + " bytes)");
            }
        }
        return new Single(first, last, size);
    }

    private static boolean digits(String s) {
        if (s.isEmpty()) {
            return false;
        }
        for (int i = 0; i < s.length(); i++) {
            if (s.charAt(i) < '0' || s.charAt(i) > '9') {
                return false;
            }
        }
        return true;
    }

    /** A decimal number, saturating at {@link Long#MAX_VALUE} (a range past the end is clipped anyway). */
    private static long number(String s) {
        long n = 0;
        for (int i = 0; i < s.length(); i++) {
            int d = s.charAt(i) - '0';
            if (n > (Long.MAX_VALUE - d) / 10) {
                return Long.MAX_VALUE;
            }
            n = n * 10 + d;
        }
        return n;
    }
}
