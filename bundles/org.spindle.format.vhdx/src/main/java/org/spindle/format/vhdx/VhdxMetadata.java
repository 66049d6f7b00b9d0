package org.spindle.format.vhdx;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.UUID;

import org.spindle.storage.api.StorageException;
import org.spindle.storage.api.StorageException.Kind;

/**
 * The metadata region's system items: file parameters (block size, leave-blocks-allocated, has-parent),
 * virtual disk size, virtual disk id, logical and physical sector size, and the parent locator of a
 * differencing disk (its key/value pairs). A required item this implementation does not know refuses
 * the file.
 */
record VhdxMetadata(long blockSize, boolean leaveBlockAllocated, boolean hasParent, long diskSize, UUID diskId,
        int logicalSectorSize, int physicalSectorSize, Map<String, String> parentLocator) {
    static final int TABLE_SIZE = VhdxLayout.KB64;
    private static final byte[] SIGNATURE = "metadata".getBytes(StandardCharsets.US_ASCII);
    private static final int IS_USER = 1;
    private static final int IS_VIRTUAL_DISK = 2;
    private static final int IS_REQUIRED = 4;

    /** Reads bytes of the metadata region, relative to its start. */
    interface RegionReader {
        byte[] read(long offset, int length) throws StorageException;
    }

    static VhdxMetadata parse(RegionReader region, long regionLength) throws StorageException {
        if (regionLength < TABLE_SIZE) {
            throw new StorageException(Kind.CORRUPT_IMAGE, "the metadata region is smaller than its table");
        }
        byte[] table = region.read(0, TABLE_SIZE);
        if (!Arrays.equals(table, 0, 8, SIGNATURE, 0, 8)) {
            throw new StorageException(Kind.CORRUPT_IMAGE, "the metadata table has no 'metadata' signature");
        }
        ByteBuffer b = ByteBuffer.wrap(table).order(ByteOrder.LITTLE_ENDIAN);
        int count = Short.toUnsignedInt(b.getShort(10));
        if (count > 2047) {
            throw new StorageException(Kind.CORRUPT_IMAGE, "the metadata table lists " + count + " items (at most 2047)");
        }
        Map<UUID, byte[]> items = new LinkedHashMap<>();
        Set<String> keys = new HashSet<>();
        List<long[]> ranges = new ArrayList<>();
        int users = 0;
        for (int i = 0; i < count; i++) {
            int at = 32 + i * 32;
            UUID id = Guids.read(b, at);
            long offset = Integer.toUnsignedLong(b.getInt(at + 16));
            long length = Integer.toUnsignedLong(b.getInt(at + 20));
            int flags = b.getInt(at + 24);
            boolean user = (flags & IS_USER) != 0;
            users += user ? 1 : 0;
            if (!keys.add(id + "/" + user)) {
                throw new StorageException(Kind.CORRUPT_IMAGE, "metadata item " + id + " is listed twice");
            }
            if (length > VhdxLayout.MB || length == 0 && offset != 0
                    || length > 0 && (offset < TABLE_SIZE || offset + length > regionLength)) {
                throw new StorageException(Kind.CORRUPT_IMAGE, "metadata item " + id + " at " + offset + " (" + length
                        + " bytes) lies outside the metadata region's item area");
            }
            for (long[] r : ranges) {
                if (length > 0 && offset < r[1] && r[0] < offset + length) {
                    throw new StorageException(Kind.CORRUPT_IMAGE, "metadata item " + id + " overlaps another item");
                }
            }
            ranges.add(new long[] {offset, offset + length});
            if (user) {
                continue; // user metadata: kept, never interpreted
            }
            if (!isKnown(id)) {
                if ((flags & IS_REQUIRED) != 0) {
                    throw new StorageException(Kind.UNSUPPORTED_FEATURE, "the file needs metadata item " + id
                            + ", which this implementation does not know");
                }
                continue;
            }
            items.put(id, length == 0 ? new byte[0] : region.read(offset, (int) length));
        }
        if (users > 1024) {
            throw new StorageException(Kind.CORRUPT_IMAGE, users + " user metadata items (at most 1024)");
        }
        ByteBuffer fp = item(items, VhdxLayout.ITEM_FILE_PARAMETERS, "file parameters", 8);
        long blockSize = Integer.toUnsignedLong(fp.getInt(0));
        int fileFlags = fp.getInt(4);
        if (blockSize < VhdxLayout.MIN_BLOCK || blockSize > VhdxLayout.MAX_BLOCK || Long.bitCount(blockSize) != 1) {
            throw new StorageException(Kind.CORRUPT_IMAGE, "the block size " + blockSize
                    + " is not a power of two from 1 MiB to 256 MiB");
        }
        boolean hasParent = (fileFlags & 2) != 0;
        long diskSize = item(items, VhdxLayout.ITEM_DISK_SIZE, "virtual disk size", 8).getLong(0);
        UUID diskId = Guids.read(item(items, VhdxLayout.ITEM_DISK_ID, "virtual disk id", 16), 0);
        int logical = item(items, VhdxLayout.ITEM_LOGICAL_SECTOR, "logical sector size", 4).getInt(0);
        int physical = item(items, VhdxLayout.ITEM_PHYSICAL_SECTOR, "physical sector size", 4).getInt(0);
        if (logical != 512 && logical != 4096) {
            throw new StorageException(Kind.CORRUPT_IMAGE, "the logical sector size " + Integer.toUnsignedString(logical)
                    + " is neither 512 nor 4096");
        }
        if (physical != 512 && physical != 4096) {
            throw new StorageException(Kind.CORRUPT_IMAGE, "the physical sector size " + Integer.toUnsignedString(physical)
                    + " is neither 512 nor 4096");
        }
        if (diskSize <= 0 || diskSize > VhdxLayout.MAX_DISK_SIZE || diskSize % logical != 0) {
            throw new StorageException(Kind.CORRUPT_IMAGE, "the virtual disk size " + Long.toUnsignedString(diskSize)
                    + " is not a whole number of " + logical + "-byte sectors up to 64 TiB");
        }
        Map<String, String> locator = Map.of();
        if (hasParent) {
            byte[] raw = items.get(VhdxLayout.ITEM_PARENT_LOCATOR);
            if (raw == null) {
                throw new StorageException(Kind.CORRUPT_IMAGE, "a differencing file without a parent locator");
            }
            locator = parseLocator(raw);
        }
        return new VhdxMetadata(blockSize, (fileFlags & 1) != 0, hasParent, diskSize, diskId, logical, physical, locator);
    }

    private static boolean isKnown(UUID id) {
        return id.equals(VhdxLayout.ITEM_FILE_PARAMETERS) || id.equals(VhdxLayout.ITEM_DISK_SIZE)
                || id.equals(VhdxLayout.ITEM_DISK_ID) || id.equals(VhdxLayout.ITEM_LOGICAL_SECTOR)
                || id.equals(VhdxLayout.ITEM_PHYSICAL_SECTOR) || id.equals(VhdxLayout.ITEM_PARENT_LOCATOR);
    }

    private static ByteBuffer item(Map<UUID, byte[]> items, UUID id, String name, int size) throws StorageException {
        byte[] raw = items.get(id);
        if (raw == null) {
            throw new StorageException(Kind.CORRUPT_IMAGE, "the metadata has no " + name + " item");
        }
        if (raw.length < size) {
            throw new StorageException(Kind.CORRUPT_IMAGE, "the " + name + " item is " + raw.length + " bytes, not " + size);
        }
        return ByteBuffer.wrap(raw).order(ByteOrder.LITTLE_ENDIAN);
    }

    /** The key/value pairs of a VHDX parent locator. */
    static Map<String, String> parseLocator(byte[] raw) throws StorageException {
        if (raw.length < 20) {
            throw new StorageException(Kind.CORRUPT_IMAGE, "the parent locator is " + raw.length + " bytes, too short");
        }
        ByteBuffer b = ByteBuffer.wrap(raw).order(ByteOrder.LITTLE_ENDIAN);
        UUID type = Guids.read(b, 0);
        if (!type.equals(VhdxLayout.LOCATOR_VHDX)) {
            throw new StorageException(Kind.UNSUPPORTED_FEATURE, "a parent locator of type " + type
                    + " (only VHDX parents are known)");
        }
        int count = Short.toUnsignedInt(b.getShort(18));
        if (20L + count * 12L > raw.length) {
            throw new StorageException(Kind.CORRUPT_IMAGE, "the parent locator's " + count + " entries do not fit in it");
        }
        Map<String, String> pairs = new LinkedHashMap<>();
        for (int i = 0; i < count; i++) {
            int at = 20 + i * 12;
            String key = string(raw, b.getInt(at), Short.toUnsignedInt(b.getShort(at + 8)), "key " + i);
            String value = string(raw, b.getInt(at + 4), Short.toUnsignedInt(b.getShort(at + 10)), "value " + i);
            if (pairs.put(key, value) != null) {
                throw new StorageException(Kind.CORRUPT_IMAGE, "the parent locator has key '" + key + "' twice");
            }
        }
        if (!pairs.containsKey("parent_linkage")) {
            throw new StorageException(Kind.CORRUPT_IMAGE, "the parent locator has no parent_linkage");
        }
        if (!pairs.containsKey("relative_path") && !pairs.containsKey("volume_path")
                && !pairs.containsKey("absolute_win32_path")) {
            throw new StorageException(Kind.CORRUPT_IMAGE, "the parent locator has no path to the parent");
        }
        return Map.copyOf(pairs);
    }

    private static String string(byte[] raw, int offset, int length, String what) throws StorageException {
        long end = Integer.toUnsignedLong(offset) + length;
        if (offset <= 0 || length == 0 || length % 2 != 0 || end > raw.length) {
            throw new StorageException(Kind.CORRUPT_IMAGE, "the parent locator's " + what + " at " + Integer.toUnsignedString(offset)
                    + " (" + length + " bytes) is not a UTF-16 string inside it");
        }
        return new String(raw, offset, length, StandardCharsets.UTF_16LE);
    }

    // ---------------------------------------------------------------------------------------------

    /** The metadata region of a new file (table and items), {@code length} bytes. */
    byte[] encodeRegion(int length) {
        List<UUID> ids = new ArrayList<>(List.of(VhdxLayout.ITEM_FILE_PARAMETERS, VhdxLayout.ITEM_DISK_SIZE,
                VhdxLayout.ITEM_DISK_ID, VhdxLayout.ITEM_LOGICAL_SECTOR, VhdxLayout.ITEM_PHYSICAL_SECTOR));
        List<byte[]> values = new ArrayList<>();
        ByteBuffer fp = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN);
        fp.putInt((int) blockSize).putInt((leaveBlockAllocated ? 1 : 0) | (hasParent ? 2 : 0));
        values.add(fp.array());
        values.add(ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(diskSize).array());
        ByteBuffer id = ByteBuffer.allocate(16);
        Guids.write(id, 0, diskId);
        values.add(id.array());
        values.add(ByteBuffer.allocate(4).order(ByteOrder.LITTLE_ENDIAN).putInt(logicalSectorSize).array());
        values.add(ByteBuffer.allocate(4).order(ByteOrder.LITTLE_ENDIAN).putInt(physicalSectorSize).array());
        if (hasParent) {
            ids.add(VhdxLayout.ITEM_PARENT_LOCATOR);
            values.add(encodeLocator(parentLocator));
        }
        byte[] raw = new byte[length];
        ByteBuffer b = ByteBuffer.wrap(raw).order(ByteOrder.LITTLE_ENDIAN);
        b.put(0, SIGNATURE);
        b.putShort(10, (short) ids.size());
        int offset = TABLE_SIZE;
        for (int i = 0; i < ids.size(); i++) {
            int at = 32 + i * 32;
            UUID item = ids.get(i);
            Guids.write(b, at, item);
            b.putInt(at + 16, offset);
            b.putInt(at + 20, values.get(i).length);
            boolean virtualDisk = !item.equals(VhdxLayout.ITEM_FILE_PARAMETERS) && !item.equals(VhdxLayout.ITEM_PARENT_LOCATOR);
            b.putInt(at + 24, (virtualDisk ? IS_VIRTUAL_DISK : 0) | IS_REQUIRED);
            b.put(offset, values.get(i));
            offset += values.get(i).length;
        }
        return raw;
    }

    private static byte[] encodeLocator(Map<String, String> pairs) {
        List<byte[]> strings = new ArrayList<>();
        for (Map.Entry<String, String> e : pairs.entrySet()) {
            strings.add(e.getKey().getBytes(StandardCharsets.UTF_16LE));
            strings.add(e.getValue().getBytes(StandardCharsets.UTF_16LE));
        }
        int size = 20 + pairs.size() * 12 + strings.stream().mapToInt(s -> s.length).sum();
        ByteBuffer b = ByteBuffer.allocate(size).order(ByteOrder.LITTLE_ENDIAN);
        Guids.write(b, 0, VhdxLayout.LOCATOR_VHDX);
        b.putShort(18, (short) pairs.size());
        int data = 20 + pairs.size() * 12;
        for (int i = 0; i < pairs.size(); i++) {
            byte[] key = strings.get(2 * i);
            byte[] value = strings.get(2 * i + 1);
            int at = 20 + i * 12;
            b.putInt(at, data);
            b.put(data, key);
            data += key.length;
            b.putInt(at + 4, data);
            b.put(data, value);
            data += value.length;
            b.putShort(at + 8, (short) key.length);
            b.putShort(at + 10, (short) value.length);
        }
        return b.array();
    }
}
