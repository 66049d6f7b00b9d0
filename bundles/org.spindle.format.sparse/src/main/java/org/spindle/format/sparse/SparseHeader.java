package org.spindle.format.sparse;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;

import org.spindle.storage.api.StorageException;
import org.spindle.storage.api.StorageException.Kind;

/**
 * The 64-byte header of an AEROSPAR v1 image, all fields little-endian:
 *
 * <pre>
 * 0x00  8  magic "AEROSPAR"        0x18  8  disk size in bytes (non-zero, multiple of 512)
 * 0x08  4  version = 1             0x20  8  table offset = 64
 * 0x0C  4  header size = 64        0x28  8  table entries = ceil(disk size / block size)
 * 0x10  4  block size              0x30  8  data offset = align_up(64 + 8 * entries, block size)
 * 0x14  4  reserved = 0            0x38  8  allocated blocks (data slots in use, high-water mark)
 * </pre>
 *
 * Every derived field is checked against the value it must have, so a parsed header can be trusted
 * for arithmetic: the table fits in memory and no offset overflows.
 */
record SparseHeader(int blockSize, long diskSize, long tableEntries, long dataOffset, long allocatedBlocks) {
    static final int SIZE = 64;
    static final long TABLE_OFFSET = SIZE;
    static final byte[] MAGIC = "AEROSPAR".getBytes(StandardCharsets.US_ASCII);
    /** The legacy layout of the same family, which this format recognises but does not read. */
    static final byte[] LEGACY_MAGIC = "AEROSPRS".getBytes(StandardCharsets.US_ASCII);
    static final int VERSION = 1;
    /** Largest block size accepted when opening, as the layout's documentation allows. */
    static final int MAX_BLOCK_SIZE = 64 << 20;
    /** Largest block size used when creating: the limit the other implementation enforces. */
    static final int MAX_CREATE_BLOCK_SIZE = 16 << 20;
    static final int DEFAULT_BLOCK_SIZE = 1 << 20;
    /** The table is held in memory; this caps it (a 16 TiB disk with 4 KiB blocks would need 32 GiB). */
    static final long MAX_TABLE_BYTES = 128L << 20;

    /** The header of a new, empty image, or an {@code INVALID_CONFIG} naming the bad value. */
    static SparseHeader forNewImage(long diskSize, int blockSize) throws StorageException {
        if (!validBlockSize(blockSize) || blockSize > MAX_CREATE_BLOCK_SIZE) {
            throw new StorageException(Kind.INVALID_CONFIG, "block size " + blockSize
                    + " is not a power of two from 512 bytes to 16 MiB");
        }
        if (diskSize <= 0 || diskSize % 512 != 0) {
            throw new StorageException(Kind.INVALID_CONFIG, "a sparse image's size must be a non-zero multiple of 512 bytes, not "
                    + diskSize);
        }
        long entries = ceilDiv(diskSize, blockSize);
        if (entries > MAX_TABLE_BYTES / 8) {
            throw new StorageException(Kind.INVALID_CONFIG, "a disk of " + diskSize + " bytes with " + blockSize
                    + "-byte blocks needs a block table larger than 128 MiB; choose a larger block size");
        }
        return new SparseHeader(blockSize, diskSize, entries, dataOffsetFor(entries, blockSize), 0);
    }

    /**
     * Parses and validates a header.
     *
     * @throws StorageException {@code CORRUPT_IMAGE} naming the field that is wrong, or
     *         {@code UNSUPPORTED_FEATURE} for another version or a table too large to hold
     */
    static SparseHeader parse(ByteBuffer bytes) throws StorageException {
        if (bytes.remaining() < SIZE) {
            throw corrupt("the header is truncated: " + bytes.remaining() + " of 64 bytes");
        }
        ByteBuffer b = bytes.slice().order(ByteOrder.LITTLE_ENDIAN);
        byte[] magic = new byte[8];
        b.get(0, magic);
        if (java.util.Arrays.equals(magic, LEGACY_MAGIC)) {
            throw new StorageException(Kind.UNSUPPORTED_FEATURE, "this is a legacy AEROSPRS image, not AEROSPAR v1;"
                    + " convert it with the aerosparse_convert tool of the emulator that made it");
        }
        if (!java.util.Arrays.equals(magic, MAGIC)) {
            throw corrupt("the magic is not AEROSPAR");
        }
        int version = b.getInt(0x08);
        if (version != VERSION) {
            throw new StorageException(Kind.UNSUPPORTED_FEATURE, "AEROSPAR version " + Integer.toUnsignedString(version)
                    + " is not supported (only version 1)");
        }
        int headerSize = b.getInt(0x0C);
        if (headerSize != SIZE) {
            throw corrupt("header_size is " + Integer.toUnsignedString(headerSize) + ", not 64");
        }
        int blockSize = b.getInt(0x10);
        if (!validBlockSize(blockSize)) {
            throw corrupt("block_size " + Integer.toUnsignedString(blockSize)
                    + " is not a power of two from 512 bytes to 64 MiB");
        }
        long diskSize = b.getLong(0x18);
        if (diskSize <= 0 || diskSize % 512 != 0) {
            throw corrupt("disk_size_bytes " + Long.toUnsignedString(diskSize) + " is not a non-zero multiple of 512");
        }
        long tableOffset = b.getLong(0x20);
        if (tableOffset != TABLE_OFFSET) {
            throw corrupt("table_offset is " + Long.toUnsignedString(tableOffset) + ", not 64");
        }
        long entries = b.getLong(0x28);
        long expectedEntries = ceilDiv(diskSize, blockSize);
        if (entries != expectedEntries) {
            throw corrupt("table_entries is " + Long.toUnsignedString(entries) + ", but a disk of " + diskSize
                    + " bytes in " + blockSize + "-byte blocks has " + expectedEntries);
        }
        if (entries > MAX_TABLE_BYTES / 8) {
            throw new StorageException(Kind.UNSUPPORTED_FEATURE, "the block table of " + entries
                    + " entries is larger than 128 MiB");
        }
        long dataOffset = b.getLong(0x30);
        long expectedDataOffset = dataOffsetFor(entries, blockSize);
        if (dataOffset != expectedDataOffset) {
            throw corrupt("data_offset is " + Long.toUnsignedString(dataOffset) + ", not " + expectedDataOffset);
        }
        long allocated = b.getLong(0x38);
        if (allocated < 0 || allocated > entries) {
            throw corrupt("allocated_blocks " + Long.toUnsignedString(allocated) + " exceeds table_entries " + entries);
        }
        return new SparseHeader(blockSize, diskSize, entries, dataOffset, allocated);
    }

    /** The 64 bytes of this header. */
    ByteBuffer encode() {
        ByteBuffer b = ByteBuffer.allocate(SIZE).order(ByteOrder.LITTLE_ENDIAN);
        b.put(MAGIC).putInt(VERSION).putInt(SIZE).putInt(blockSize).putInt(0).putLong(diskSize)
                .putLong(TABLE_OFFSET).putLong(tableEntries).putLong(dataOffset).putLong(allocatedBlocks);
        return b.flip();
    }

    SparseHeader withAllocatedBlocks(long value) {
        return new SparseHeader(blockSize, diskSize, tableEntries, dataOffset, value);
    }

    /** The first byte after the table: where the Spindle extension may start. */
    long tableEnd() {
        return TABLE_OFFSET + 8 * tableEntries;
    }

    /** The file offset of data slot {@code slot}. */
    long slotOffset(long slot) {
        return dataOffset + slot * blockSize;
    }

    static boolean validBlockSize(int blockSize) {
        return blockSize >= 512 && blockSize <= MAX_BLOCK_SIZE && Integer.bitCount(blockSize) == 1;
    }

    static long dataOffsetFor(long entries, int blockSize) {
        long tableEnd = TABLE_OFFSET + 8 * entries;
        return (tableEnd + blockSize - 1) & -(long) blockSize;
    }

    private static long ceilDiv(long a, long b) {
        return Math.ceilDiv(a, b);
    }

    static StorageException corrupt(String detail) {
        return new StorageException(Kind.CORRUPT_IMAGE, detail);
    }
}
