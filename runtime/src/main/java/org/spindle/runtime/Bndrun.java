package org.spindle.runtime;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The parts of a {@code .bndrun} file the launcher needs: {@code -runbundles} (as the bnd resolver
 * wrote it) and {@code -runproperties}. Follows bnd's syntax for these: {@code \}-continued lines,
 * {@code #} comment lines, comma-separated clauses, {@code ;}-separated attributes, quoted values.
 */
record Bndrun(List<RunBundle> runBundles, Map<String, String> runProperties) {

    /** One {@code -runbundles} clause: a symbolic name, a version range, and the start level if set. */
    record RunBundle(String symbolicName, String versionRange, int startLevel) {
    }

    static Bndrun read(Path file) throws IOException {
        Map<String, String> instructions = instructions(Files.readAllLines(file));
        List<RunBundle> bundles = new ArrayList<>();
        for (String clause : split(instructions.getOrDefault("-runbundles", ""), ',')) {
            List<String> parts = split(clause, ';');
            if (parts.isEmpty()) {
                continue;
            }
            String version = "0";
            int startLevel = 0;
            for (String attribute : parts.subList(1, parts.size())) {
                int eq = attribute.indexOf('=');
                if (eq < 0) {
                    continue;
                }
                String key = attribute.substring(0, eq).strip();
                String value = unquote(attribute.substring(eq + 1).strip());
                if (key.equals("version")) {
                    version = value;
                } else if (key.equals("startlevel")) {
                    startLevel = Integer.parseInt(value);
                }
            }
            bundles.add(new RunBundle(parts.getFirst().strip(), version, startLevel));
        }
        Map<String, String> properties = new LinkedHashMap<>();
        for (String clause : split(instructions.getOrDefault("-runproperties", ""), ',')) {
            int eq = clause.indexOf('=');
            if (eq > 0) {
                properties.put(clause.substring(0, eq).strip(), unquote(clause.substring(eq + 1).strip()));
            }
        }
        return new Bndrun(List.copyOf(bundles), Map.copyOf(properties));
    }

    /** Joins continued lines and returns {@code key: value} instructions. */
    static Map<String, String> instructions(List<String> lines) {
        Map<String, String> result = new LinkedHashMap<>();
        StringBuilder logical = new StringBuilder();
        for (String raw : lines) {
            String line = raw.strip();
            if (logical.isEmpty() && (line.startsWith("#") || line.isEmpty())) {
                continue;
            }
            if (line.endsWith("\\")) {
                logical.append(line, 0, line.length() - 1);
                continue;
            }
            logical.append(line);
            String text = logical.toString();
            logical.setLength(0);
            int colon = indexOfSeparator(text);
            if (colon > 0) {
                result.put(text.substring(0, colon).strip(), text.substring(colon + 1).strip());
            }
        }
        return result;
    }

    private static int indexOfSeparator(String text) {
        for (int i = 0; i < text.length(); i++) {
            char c = text.charAt(i);
            if (c == ':' || c == '=' || Character.isWhitespace(c)) {
                return i;
            }
        }
        return -1;
    }

    /** Splits on {@code separator} outside single or double quotes; drops empty parts. */
    static List<String> split(String text, char separator) {
        List<String> parts = new ArrayList<>();
        StringBuilder part = new StringBuilder();
        char quote = 0;
        for (int i = 0; i < text.length(); i++) {
            char c = text.charAt(i);
            if (quote != 0) {
                if (c == quote) {
                    quote = 0;
                }
            } else if (c == '\'' || c == '"') {
                quote = c;
            } else if (c == separator) {
                if (!part.toString().isBlank()) {
                    parts.add(part.toString().strip());
                }
                part.setLength(0);
                continue;
            }
            part.append(c);
        }
        if (!part.toString().isBlank()) {
            parts.add(part.toString().strip());
        }
        return parts;
    }

    private static String unquote(String value) {
        if (value.length() >= 2 && (value.charAt(0) == '\'' || value.charAt(0) == '"')
                && value.charAt(value.length() - 1) == value.charAt(0)) {
            return value.substring(1, value.length() - 1);
        }
        return value;
    }
}
