package org.spindle.format.vhdx;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.UUID;

/** Sizes, offsets and identifiers of the VHDX layout (Microsoft's MS-VHDX specification). */
final class VhdxLayout {
    static final long MB = 1 << 20;
    static final int KB64 = 64 << 10;
    static final int PAGE = 4096;
    static final byte[] FILE_SIGNATURE = "vhdxfile".getBytes(StandardCharsets.US_ASCII);
    static final long[] REGION_TABLES = {192 << 10, 256 << 10};
    /** The header section: the identifier, the two headers and the two region tables. */
    static final long HEADER_SECTION = MB;
    static final long MAX_DISK_SIZE = 64L << 40;
    static final long MIN_BLOCK = MB;
    static final long MAX_BLOCK = 256 * MB;
    /** Sectors one 1 MiB sector bitmap block describes. */
    static final long SECTORS_PER_BITMAP_BLOCK = 1L << 23;

    static final UUID REGION_BAT = UUID.fromString("2DC27766-F623-4200-9D64-115E9BFD4A08");
    static final UUID REGION_METADATA = UUID.fromString("8B7CA206-4790-4B9A-B8FE-575F050F886E");
    static final UUID ITEM_FILE_PARAMETERS = UUID.fromString("CAA16737-FA36-4D43-B3B6-33F0AA44E76B");
    static final UUID ITEM_DISK_SIZE = UUID.fromString("2FA54224-CD1B-4876-B211-5DBED83BF4B8");
    static final UUID ITEM_DISK_ID = UUID.fromString("BECA12AB-B2E6-4523-93EF-C309E000C746");
    static final UUID ITEM_LOGICAL_SECTOR = UUID.fromString("8141BF1D-A96F-4709-BA47-F233A8FAAB5F");
    static final UUID ITEM_PHYSICAL_SECTOR = UUID.fromString("CDA348C7-445D-4471-9CC9-E9885251C556");
    static final UUID ITEM_PARENT_LOCATOR = UUID.fromString("A8D35F2D-B30B-454D-ABF7-D3D84834AB0C");
    static final UUID LOCATOR_VHDX = UUID.fromString("B04AEFB7-D19E-4A81-B789-25B8E9445913");

    // BAT entry states
    static final int PAYLOAD_NOT_PRESENT = 0;
    static final int PAYLOAD_UNDEFINED = 1;
    static final int PAYLOAD_ZERO = 2;
    static final int PAYLOAD_UNMAPPED = 3;
    static final int PAYLOAD_FULLY_PRESENT = 6;
    static final int PAYLOAD_PARTIALLY_PRESENT = 7;
    static final int SB_NOT_PRESENT = 0;
    static final int SB_PRESENT = 6;

    private VhdxLayout() {
    }

    static int state(long entry) {
        return (int) (entry & 7);
    }

    static long fileOffset(long entry) {
        return entry & ~(MB - 1);
    }

    static long entry(int state, long fileOffset) {
        return fileOffset | state;
    }

    static String stateName(int state) {
        return switch (state) {
            case PAYLOAD_NOT_PRESENT -> "NOT_PRESENT";
            case PAYLOAD_UNDEFINED -> "UNDEFINED";
            case PAYLOAD_ZERO -> "ZERO";
            case PAYLOAD_UNMAPPED -> "UNMAPPED";
            case PAYLOAD_FULLY_PRESENT -> "FULLY_PRESENT";
            case PAYLOAD_PARTIALLY_PRESENT -> "PARTIALLY_PRESENT";
            default -> "reserved (" + state + ")";
        };
    }

    static long roundUp(long value, long unit) {
        return (value + unit - 1) / unit * unit;
    }

    /** The file type identifier: the signature and the creator, UTF-16. */
    static byte[] fileIdentifier(String creator) {
        byte[] raw = new byte[KB64];
        ByteBuffer b = ByteBuffer.wrap(raw).order(ByteOrder.LITTLE_ENDIAN);
        b.put(0, FILE_SIGNATURE);
        byte[] name = creator.getBytes(StandardCharsets.UTF_16LE);
        b.put(8, name, 0, Math.min(name.length, 510));
        return raw;
    }

    static boolean hasSignature(byte[] head) {
        return head.length >= 8 && Arrays.equals(head, 0, 8, FILE_SIGNATURE, 0, 8);
    }
}
