package org.spindle.cli;

import java.util.List;

/** A JSON object written field by field; values are strings, numbers, booleans, lists or maps of them. */
final class Json {
    private final StringBuilder sb = new StringBuilder("{");

    Json field(String name, Object value) {
        if (sb.length() > 1) {
            sb.append(", ");
        }
        string(name);
        sb.append(": ");
        value(value);
        return this;
    }

    private void value(Object value) {
        switch (value) {
            case null -> sb.append("null");
            case Number n -> sb.append(n);
            case Boolean b -> sb.append(b);
            case List<?> list -> {
                sb.append('[');
                for (int i = 0; i < list.size(); i++) {
                    if (i > 0) {
                        sb.append(", ");
                    }
                    value(list.get(i));
                }
                sb.append(']');
            }
            case java.util.Map<?, ?> map -> {
                Json nested = new Json();
                map.forEach((k, v) -> nested.field(String.valueOf(k), v));
                sb.append(nested.end());
            }
            default -> string(String.valueOf(value));
        }
    }

    String end() {
        return sb.append('}').toString();
    }

    private void string(String s) {
        sb.append('"');
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            switch (c) {
                case '"' -> sb.append("\\\"");
                case '\\' -> sb.append("\\\\");
                case '\n' -> sb.append("\\n");
                case '\r' -> sb.append("\\r");
                case '\t' -> sb.append("\\t");
                default -> {
                    if (c < 0x20) {
                        sb.append(String.format("\\u%04x", (int) c));
                    } else {
                        sb.append(c);
                    }
                }
            }
        }
        sb.append('"');
    }
}
