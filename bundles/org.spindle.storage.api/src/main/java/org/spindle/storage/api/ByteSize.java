package org.spindle.storage.api;

import java.util.Locale;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** Byte counts as people write them: {@code 512}, {@code 64K}, {@code 64KiB}, {@code 1.5G}; all binary. */
public final class ByteSize {
    private static final Pattern SIZE =
            Pattern.compile("\\s*(\\d+(?:\\.\\d+)?)\\s*(?:([kKmMgGtTpPeE])(?:[iI]?[bB])?|[bB])?\\s*");
    private static final String[] UNITS = {"B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};

    private ByteSize() {
    }

    /**
     * Parses a size: a number with an optional binary unit (K, M, G, T, P with optional {@code iB} or
     * {@code B}; case is ignored).
     *
     * @throws IllegalArgumentException naming the value when it is not a size or does not fit a long
     */
    public static long parse(String text) {
        Matcher m = SIZE.matcher(text);
        if (!m.matches()) {
            throw new IllegalArgumentException("not a size: '" + text + "' (write e.g. 512, 64K, 10MiB or 2G)");
        }
        int shift = m.group(2) == null ? 0 : 10 * ("KMGTPE".indexOf(Character.toUpperCase(m.group(2).charAt(0))) + 1);
        String number = m.group(1);
        if (number.contains(".")) {
            double value = Double.parseDouble(number) * Math.pow(2, shift);
            if (value >= 0x1p63) {
                throw new IllegalArgumentException("size out of range: '" + text + "'");
            }
            return (long) value;
        }
        try {
            long value = Long.parseLong(number);
            if (value > (Long.MAX_VALUE >> shift)) {
                throw new IllegalArgumentException("size out of range: '" + text + "'");
            }
            return value << shift;
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("size out of range: '" + text + "'", e);
        }
    }

    /** Formats a byte count for people: {@code 64 MiB}, {@code 1.5 GiB}, {@code 512 B}. */
    public static String format(long bytes) {
        if (bytes < 1024) {
            return bytes + " B";
        }
        int unit = 0;
        double value = bytes;
        while (value >= 1024 && unit < UNITS.length - 1) {
            value /= 1024;
            unit++;
        }
        // three significant digits (four from 1000 to 1023), without trailing zeros
        String pattern = value >= 100 ? "%.0f" : value >= 10 ? "%.1f" : "%.2f";
        String number = String.format(Locale.ROOT, pattern, value);
        if (number.contains(".")) {
            number = number.replaceAll("0+$", "").replaceAll("\\.$", "");
        }
        return number + " " + UNITS[unit];
    }
}
