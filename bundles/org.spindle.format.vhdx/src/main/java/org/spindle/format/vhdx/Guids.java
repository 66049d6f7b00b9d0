package org.spindle.format.vhdx;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Locale;
import java.util.UUID;

/**
 * GUIDs as VHDX stores them: Microsoft's binary form, whose first three fields are little-endian
 * (Data1 u32, Data2 u16, Data3 u16) and whose last eight bytes are stored as they read.
 */
final class Guids {
    static final UUID ZERO = new UUID(0, 0);

    private Guids() {
    }

    static UUID read(ByteBuffer b, int at) {
        long d1 = Integer.toUnsignedLong(b.order(ByteOrder.LITTLE_ENDIAN).getInt(at));
        long d2 = Short.toUnsignedLong(b.getShort(at + 4));
        long d3 = Short.toUnsignedLong(b.getShort(at + 6));
        long low = b.order(ByteOrder.BIG_ENDIAN).getLong(at + 8);
        b.order(ByteOrder.LITTLE_ENDIAN);
        return new UUID(d1 << 32 | d2 << 16 | d3, low);
    }

    static void write(ByteBuffer b, int at, UUID id) {
        long high = id.getMostSignificantBits();
        b.order(ByteOrder.LITTLE_ENDIAN);
        b.putInt(at, (int) (high >>> 32));
        b.putShort(at + 4, (short) (high >>> 16));
        b.putShort(at + 6, (short) high);
        b.order(ByteOrder.BIG_ENDIAN).putLong(at + 8, id.getLeastSignificantBits());
        b.order(ByteOrder.LITTLE_ENDIAN);
    }

    /** The text form parent locators use: braces, lower case. */
    static String braced(UUID id) {
        return "{" + id.toString().toLowerCase(Locale.ROOT) + "}";
    }

    /** Parses a GUID with or without braces, in either case; null when it is not one. */
    static UUID parseBraced(String text) {
        String t = text.strip();
        if (t.startsWith("{") && t.endsWith("}")) {
            t = t.substring(1, t.length() - 1);
        }
        if (!t.matches("[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}")) {
            return null;
        }
        return UUID.fromString(t);
    }
}
