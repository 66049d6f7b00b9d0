package org.spindle.qemu;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * One QEMU option argument in QEMU's key=value syntax: {@code ahci,id=ahci0,bus=pcie.0}. Pairs are
 * separated by commas and a doubled comma stands for a comma in a value ({@code file=a,,b.img} is the
 * file {@code a,b.img}). Some options let their first element go without its key (the machine type of
 * {@code -machine pc}, the driver of {@code -device ahci}): that is the <em>implied</em> key. A key
 * given twice keeps its last value, as QEMU does.
 */
final class QemuOptions {
    private final String option;
    private final Map<String, String> values;
    private final Set<String> used = new java.util.HashSet<>();

    private QemuOptions(String option, Map<String, String> values) {
        this.option = option;
        this.values = values;
    }

    /**
     * Parses {@code text}, the argument of {@code option} ({@code -device}, say).
     *
     * @param implied the key of a first element without '=' ({@code null}: every element needs a key)
     * @throws QemuCommandLineException for an empty key or an element without '=' where one is needed
     */
    static QemuOptions parse(String option, String text, String implied) throws QemuCommandLineException {
        Map<String, String> values = new LinkedHashMap<>();
        List<String> parts = split(text);
        for (int i = 0; i < parts.size(); i++) {
            String part = parts.get(i);
            int eq = part.indexOf('=');
            if (eq < 0) {
                if (i == 0 && implied != null) {
                    values.put(implied, part);
                    continue;
                }
                if (part.isEmpty()) {
                    continue;
                }
                throw new QemuCommandLineException(option + " " + text + ": '" + part + "' is not key=value");
            }
            String key = part.substring(0, eq);
            if (key.isEmpty()) {
                throw new QemuCommandLineException(option + " " + text + ": an empty key before '='");
            }
            values.put(key, part.substring(eq + 1));
        }
        return new QemuOptions(option, values);
    }

    /** Splits at single commas; a doubled comma is one comma in the text. */
    private static List<String> split(String text) {
        List<String> parts = new ArrayList<>();
        StringBuilder current = new StringBuilder();
        for (int i = 0; i < text.length(); i++) {
            char c = text.charAt(i);
            if (c == ',') {
                if (i + 1 < text.length() && text.charAt(i + 1) == ',') {
                    current.append(',');
                    i++;
                    continue;
                }
                parts.add(current.toString());
                current.setLength(0);
                continue;
            }
            current.append(c);
        }
        parts.add(current.toString());
        return parts;
    }

    /** The value of {@code key}, or {@code fallback}; the key counts as understood. */
    String get(String key, String fallback) {
        used.add(key);
        return values.getOrDefault(key, fallback);
    }

    /** The value of {@code key}, which must be present. */
    String require(String key) throws QemuCommandLineException {
        String v = get(key, null);
        if (v == null) {
            throw new QemuCommandLineException(option + ": '" + key + "' is missing");
        }
        return v;
    }

    /** The value of {@code key}, which must be one of {@code allowed} (or absent: {@code fallback}). */
    String oneOf(String key, String fallback, String... allowed) throws QemuCommandLineException {
        String v = get(key, fallback);
        if (v == null) {
            return null;
        }
        for (String a : allowed) {
            if (a.equals(v)) {
                return v;
            }
        }
        throw new QemuCommandLineException(option + ": " + key + "=" + v + " is not supported (Spindle takes "
                + String.join(", ", allowed) + ")");
    }

    /** A QEMU boolean: on/off, yes/no, true/false. */
    boolean flag(String key, boolean fallback) throws QemuCommandLineException {
        String v = get(key, null);
        if (v == null) {
            return fallback;
        }
        return switch (v) {
            case "on", "yes", "true" -> true;
            case "off", "no", "false" -> false;
            default -> throw new QemuCommandLineException(option + ": " + key + "=" + v + " is not on or off");
        };
    }

    /**
     * Fails naming the keys given that no {@link #get} asked for: Spindle does not know them, and
     * taking them silently would run something other than what was asked.
     */
    void rejectUnused() throws QemuCommandLineException {
        List<String> unknown = values.keySet().stream().filter(k -> !used.contains(k)).toList();
        if (!unknown.isEmpty()) {
            throw new QemuCommandLineException(option + ": " + String.join(", ", unknown)
                    + (unknown.size() == 1 ? " is" : " are") + " not supported by Spindle");
        }
    }
}
