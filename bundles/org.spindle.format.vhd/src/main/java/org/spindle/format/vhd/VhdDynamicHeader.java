package org.spindle.format.vhd;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.UUID;

import org.spindle.storage.api.StorageException;
import org.spindle.storage.api.StorageException.Kind;

/**
 * The 1024-byte dynamic disk header of dynamic and differencing VHDs: where the block allocation table
 * is, how many entries it has, the block size, and for a differencing disk its parent (unique ID, time
 * stamp, UTF-16 name and up to eight platform locators). Big-endian.
 */
final class VhdDynamicHeader {
    static final int SIZE = 1024;
    static final byte[] COOKIE = "cxsparse".getBytes(StandardCharsets.US_ASCII);
    static final int DEFAULT_BLOCK_SIZE = 2 << 20;
    /** Largest block Spindle accepts: the bitmap and a block buffer stay bounded. */
    static final int MAX_BLOCK_SIZE = 256 << 20;
    /** Largest table Spindle accepts (the specification's 2040 GiB at 2 MiB blocks needs 4 MiB). */
    static final long MAX_TABLE_BYTES = 128L << 20;

    /** A parent locator: platform code, and where its data lies. */
    record Locator(String code, int dataSpace, int dataLength, long dataOffset) {
    }

    final byte[] raw;
    final long tableOffset;
    final int maxTableEntries;
    final int blockSize;
    final UUID parentId;
    final int parentTimestamp;
    final String parentName;
    final List<Locator> locators;

    private VhdDynamicHeader(byte[] raw) {
        this.raw = raw;
        ByteBuffer b = ByteBuffer.wrap(raw).order(ByteOrder.BIG_ENDIAN);
        this.tableOffset = b.getLong(16);
        this.maxTableEntries = b.getInt(28);
        this.blockSize = b.getInt(32);
        this.parentId = new UUID(b.getLong(40), b.getLong(48));
        this.parentTimestamp = b.getInt(56);
        int end = 64;
        while (end + 1 < 64 + 512 && (raw[end] != 0 || raw[end + 1] != 0)) {
            end += 2;
        }
        this.parentName = new String(raw, 64, end - 64, StandardCharsets.UTF_16BE);
        List<Locator> list = new ArrayList<>();
        for (int i = 0; i < 8; i++) {
            int at = 576 + i * 24;
            int code = b.getInt(at);
            if (code != 0) {
                list.add(new Locator(new String(raw, at, 4, StandardCharsets.ISO_8859_1), b.getInt(at + 4),
                        b.getInt(at + 8), b.getLong(at + 16)));
            }
        }
        this.locators = List.copyOf(list);
    }

    /** Bytes of a block's sector bitmap: one bit per sector, padded to whole sectors. */
    int bitmapBytes() {
        return bitmapBytes(blockSize);
    }

    static int bitmapBytes(int blockSize) {
        int bits = blockSize / 512;
        return ((bits + 7) / 8 + 511) & ~511;
    }

    static VhdDynamicHeader parse(byte[] raw, long capacity, long fileSize) throws StorageException {
        if (raw.length != SIZE || !Arrays.equals(raw, 0, 8, COOKIE, 0, 8)) {
            throw new StorageException(Kind.CORRUPT_IMAGE, "no dynamic disk header (the cookie 'cxsparse' is missing)");
        }
        ByteBuffer b = ByteBuffer.wrap(raw).order(ByteOrder.BIG_ENDIAN);
        int stored = b.getInt(36);
        int computed = VhdFooter.checksum(raw, 36);
        if (stored != computed) {
            throw new StorageException(Kind.CORRUPT_IMAGE, "the dynamic header checksum is 0x"
                    + Integer.toHexString(stored) + " but the header sums to 0x" + Integer.toHexString(computed));
        }
        if (b.getInt(24) >>> 16 != 1) {
            throw new StorageException(Kind.UNSUPPORTED_FEATURE, "dynamic header version 0x"
                    + Integer.toHexString(b.getInt(24)) + " (Spindle reads version 1)");
        }
        VhdDynamicHeader h = new VhdDynamicHeader(raw.clone());
        if (h.blockSize < 512 || h.blockSize > MAX_BLOCK_SIZE || Integer.bitCount(h.blockSize) != 1) {
            throw new StorageException(Kind.CORRUPT_IMAGE, "the block size " + Integer.toUnsignedString(h.blockSize)
                    + " is not a power of two from 512 bytes to 256 MiB");
        }
        long entries = Integer.toUnsignedLong(h.maxTableEntries);
        long needed = (capacity + h.blockSize - 1) / h.blockSize;
        if (entries < needed) {
            throw new StorageException(Kind.CORRUPT_IMAGE, "the block table has " + entries + " entries but the disk of "
                    + capacity + " bytes needs " + needed);
        }
        if (entries * 4 > MAX_TABLE_BYTES) {
            throw new StorageException(Kind.CORRUPT_IMAGE, "the block table of " + entries + " entries is larger than "
                    + MAX_TABLE_BYTES + " bytes");
        }
        if (h.tableOffset < 0 || h.tableOffset % 512 != 0 || h.tableOffset + entries * 4 > fileSize) {
            throw new StorageException(Kind.CORRUPT_IMAGE, "the block table (" + entries * 4 + " bytes at "
                    + Long.toUnsignedString(h.tableOffset) + ") is not a sector-aligned range inside the "
                    + fileSize + "-byte file");
        }
        return h;
    }

    /** A new header. {@code parent} fields are for a differencing disk (else null/0). */
    static VhdDynamicHeader create(long tableOffset, int entries, int blockSize, UUID parentId, int parentTimestamp,
            String parentName, List<Locator> locators) {
        ByteBuffer b = ByteBuffer.allocate(SIZE).order(ByteOrder.BIG_ENDIAN);
        b.put(0, COOKIE);
        b.putLong(8, -1L);
        b.putLong(16, tableOffset);
        b.putInt(24, 0x00010000);
        b.putInt(28, entries);
        b.putInt(32, blockSize);
        if (parentId != null) {
            b.putLong(40, parentId.getMostSignificantBits());
            b.putLong(48, parentId.getLeastSignificantBits());
            b.putInt(56, parentTimestamp);
            byte[] name = parentName.getBytes(StandardCharsets.UTF_16BE);
            b.put(64, name, 0, Math.min(name.length, 510));
            for (int i = 0; i < locators.size() && i < 8; i++) {
                Locator l = locators.get(i);
                int at = 576 + i * 24;
                b.put(at, l.code().getBytes(StandardCharsets.ISO_8859_1));
                b.putInt(at + 4, l.dataSpace());
                b.putInt(at + 8, l.dataLength());
                b.putLong(at + 16, l.dataOffset());
            }
        }
        byte[] raw = b.array();
        ByteBuffer.wrap(raw).order(ByteOrder.BIG_ENDIAN).putInt(36, VhdFooter.checksum(raw, 36));
        return new VhdDynamicHeader(raw);
    }
}
