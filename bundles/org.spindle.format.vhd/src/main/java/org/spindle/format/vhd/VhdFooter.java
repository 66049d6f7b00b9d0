package org.spindle.format.vhd;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.UUID;

import org.spindle.storage.api.StorageException;
import org.spindle.storage.api.StorageException.Kind;

/**
 * The 512-byte VHD footer (Microsoft's "Virtual Hard Disk Image Format Specification"): at the end of
 * every VHD, and copied at offset 0 of dynamic and differencing ones. Big-endian.
 *
 * <p>The size rules: the footer carries both a byte size ({@code current_size}) and a CHS geometry.
 * Virtual PC (and QEMU when it writes creator {@code qemu}) size a disk by its geometry; Hyper-V,
 * Disk2vhd, XenServer and QEMU with {@code force_size} (creator {@code qem2}) by {@code current_size}.
 * A geometry at its maximum (65535/16/255) means the size did not fit it, so {@code current_size}
 * counts then too. {@link #virtualSize} applies those rules; {@link VhdGeometry} computes geometries
 * the specification's way.
 */
final class VhdFooter {
    static final int SIZE = 512;
    static final byte[] COOKIE = "conectix".getBytes(StandardCharsets.US_ASCII);
    static final long FIXED_DATA_OFFSET = -1L;
    static final int VERSION = 0x00010000;
    static final int FEATURES_RESERVED = 0x2;
    static final int TYPE_FIXED = 2;
    static final int TYPE_DYNAMIC = 3;
    static final int TYPE_DIFFERENCING = 4;
    /** Seconds from the Unix epoch to the VHD epoch, 2000-01-01 00:00:00 UTC. */
    static final long VHD_EPOCH = 946_684_800L;
    static final String CREATOR = "spnd";

    final byte[] raw;

    private VhdFooter(byte[] raw) {
        this.raw = raw;
    }

    private ByteBuffer b() {
        return ByteBuffer.wrap(raw).order(ByteOrder.BIG_ENDIAN);
    }

    long dataOffset() {
        return b().getLong(16);
    }

    int timestamp() {
        return b().getInt(24);
    }

    String creatorApp() {
        return new String(raw, 28, 4, StandardCharsets.ISO_8859_1);
    }

    long originalSize() {
        return b().getLong(40);
    }

    long currentSize() {
        return b().getLong(48);
    }

    VhdGeometry geometry() {
        ByteBuffer b = b();
        return new VhdGeometry(Short.toUnsignedInt(b.getShort(56)), Byte.toUnsignedInt(b.get(58)),
                Byte.toUnsignedInt(b.get(59)));
    }

    int diskType() {
        return b().getInt(60);
    }

    UUID uniqueId() {
        ByteBuffer b = b();
        return new UUID(b.getLong(68), b.getLong(76));
    }

    byte[] uniqueIdBytes() {
        return Arrays.copyOfRange(raw, 68, 84);
    }

    /** The disk's size in bytes by the rules in the class comment. */
    long virtualSize() {
        VhdGeometry g = geometry();
        String creator = creatorApp();
        boolean chs = (creator.equals("vpc ") || creator.equals("qemu")) && !g.isMaximum();
        return chs ? g.bytes() : currentSize();
    }

    /** Parses and checks a footer: cookie, checksum, version, disk type. */
    static VhdFooter parse(byte[] raw) throws StorageException {
        if (raw.length != SIZE || !Arrays.equals(raw, 0, 8, COOKIE, 0, 8)) {
            throw new StorageException(Kind.CORRUPT_IMAGE, "no VHD footer (the cookie 'conectix' is missing)");
        }
        VhdFooter f = new VhdFooter(raw.clone());
        int stored = f.b().getInt(64);
        int computed = checksum(raw, 64);
        if (stored != computed) {
            throw new StorageException(Kind.CORRUPT_IMAGE, "the footer checksum is 0x" + Integer.toHexString(stored)
                    + " but the footer sums to 0x" + Integer.toHexString(computed));
        }
        int version = f.b().getInt(12);
        if (version >>> 16 != 1) {
            throw new StorageException(Kind.UNSUPPORTED_FEATURE, "VHD file format version " + (version >>> 16) + "."
                    + (version & 0xffff) + " (Spindle reads version 1)");
        }
        int type = f.diskType();
        if (type != TYPE_FIXED && type != TYPE_DYNAMIC && type != TYPE_DIFFERENCING) {
            throw new StorageException(Kind.UNSUPPORTED_FEATURE, "VHD disk type " + Integer.toUnsignedString(type)
                    + " (known: 2 fixed, 3 dynamic, 4 differencing)");
        }
        long size = f.virtualSize();
        if (size < 0 || size % 512 != 0) {
            throw new StorageException(Kind.CORRUPT_IMAGE, "the disk size " + Long.toUnsignedString(size)
                    + " is not a whole number of 512-byte sectors");
        }
        if (type != TYPE_FIXED && (f.dataOffset() < SIZE || f.dataOffset() % 512 != 0)) {
            throw new StorageException(Kind.CORRUPT_IMAGE, "the dynamic header offset " + Long.toUnsignedString(f.dataOffset())
                    + " is not a sector boundary after the footer copy");
        }
        return f;
    }

    /** A new footer; {@code geometry} and {@code currentSize} as the caller settled them. */
    static VhdFooter create(int type, long currentSize, VhdGeometry geometry, long dataOffset, UUID id, long unixSeconds) {
        ByteBuffer b = ByteBuffer.allocate(SIZE).order(ByteOrder.BIG_ENDIAN);
        b.put(0, COOKIE);
        b.putInt(8, FEATURES_RESERVED);
        b.putInt(12, VERSION);
        b.putLong(16, type == TYPE_FIXED ? FIXED_DATA_OFFSET : dataOffset);
        b.putInt(24, (int) Math.max(0, unixSeconds - VHD_EPOCH));
        b.put(28, CREATOR.getBytes(StandardCharsets.US_ASCII));
        b.putInt(32, 0x00010000); // creator version 1.0
        b.put(36, "Wi2k".getBytes(StandardCharsets.US_ASCII)); // the host OS code readers expect
        b.putLong(40, currentSize);
        b.putLong(48, currentSize);
        b.putShort(56, (short) geometry.cylinders());
        b.put(58, (byte) geometry.heads());
        b.put(59, (byte) geometry.sectorsPerTrack());
        b.putInt(60, type);
        b.putLong(68, id.getMostSignificantBits());
        b.putLong(76, id.getLeastSignificantBits());
        byte[] raw = b.array();
        ByteBuffer.wrap(raw).order(ByteOrder.BIG_ENDIAN).putInt(64, checksum(raw, 64));
        return new VhdFooter(raw);
    }

    /** The one's complement of the byte sum, the checksum field (4 bytes at {@code at}) counted as zero. */
    static int checksum(byte[] raw, int at) {
        int sum = 0;
        for (int i = 0; i < raw.length; i++) {
            if (i < at || i >= at + 4) {
                sum += raw[i] & 0xff;
            }
        }
        return ~sum;
    }
}
