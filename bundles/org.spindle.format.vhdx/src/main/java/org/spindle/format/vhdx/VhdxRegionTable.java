package org.spindle.format.vhdx;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.UUID;

import org.spindle.storage.api.StorageException;
import org.spindle.storage.api.StorageException.Kind;

/**
 * The region table (64 KiB, two copies at 192 KiB and 256 KiB): where the BAT, the metadata region
 * and any other regions lie. Regions this implementation does not know are kept; one marked required
 * refuses the file.
 */
record VhdxRegionTable(List<Region> regions) {
    static final int SIZE = VhdxLayout.KB64;
    static final int MAX_ENTRIES = 2047;
    private static final byte[] SIGNATURE = "regi".getBytes(StandardCharsets.US_ASCII);

    record Region(UUID guid, long offset, long length, boolean required) {
        long end() {
            return offset + length;
        }
    }

    static VhdxRegionTable parse(byte[] raw) throws StorageException {
        if (!Arrays.equals(raw, 0, 4, SIGNATURE, 0, 4)) {
            throw new StorageException(Kind.CORRUPT_IMAGE, "no 'regi' signature");
        }
        if (Crc.stored(raw, 4) != Crc.of(raw, 0, SIZE, 4)) {
            throw new StorageException(Kind.CORRUPT_IMAGE, "the checksum does not match");
        }
        ByteBuffer b = ByteBuffer.wrap(raw).order(ByteOrder.LITTLE_ENDIAN);
        long count = Integer.toUnsignedLong(b.getInt(8));
        if (count > MAX_ENTRIES) {
            throw new StorageException(Kind.CORRUPT_IMAGE, count + " entries (at most " + MAX_ENTRIES + ")");
        }
        List<Region> regions = new ArrayList<>();
        Set<UUID> seen = new HashSet<>();
        for (int i = 0; i < count; i++) {
            int at = 16 + i * 32;
            Region r = new Region(Guids.read(b, at), b.getLong(at + 16), Integer.toUnsignedLong(b.getInt(at + 24)),
                    (b.getInt(at + 28) & 1) != 0);
            if (!seen.add(r.guid())) {
                throw new StorageException(Kind.CORRUPT_IMAGE, "region " + r.guid() + " is listed twice");
            }
            if (r.offset() < VhdxLayout.MB || r.offset() % VhdxLayout.MB != 0 || r.length() % VhdxLayout.MB != 0
                    || r.length() == 0 || r.offset() > VhdxLayout.MAX_DISK_SIZE * 2) {
                throw new StorageException(Kind.CORRUPT_IMAGE, "region " + r.guid() + " at " + Long.toUnsignedString(r.offset())
                        + " (" + r.length() + " bytes) is not placed in whole MiB after the header section");
            }
            boolean known = r.guid().equals(VhdxLayout.REGION_BAT) || r.guid().equals(VhdxLayout.REGION_METADATA);
            if (!known && r.required()) {
                throw new StorageException(Kind.UNSUPPORTED_FEATURE, "the file needs region " + r.guid()
                        + ", which this implementation does not know");
            }
            regions.add(r);
        }
        for (Region a : regions) {
            for (Region c : regions) {
                if (a != c && a.offset() < c.end() && c.offset() < a.end()) {
                    throw new StorageException(Kind.CORRUPT_IMAGE, "regions " + a.guid() + " and " + c.guid() + " overlap");
                }
            }
        }
        VhdxRegionTable table = new VhdxRegionTable(List.copyOf(regions));
        table.find(VhdxLayout.REGION_BAT, "BAT");
        table.find(VhdxLayout.REGION_METADATA, "metadata");
        return table;
    }

    Region find(UUID guid, String name) throws StorageException {
        for (Region r : regions) {
            if (r.guid().equals(guid)) {
                return r;
            }
        }
        throw new StorageException(Kind.CORRUPT_IMAGE, "the region table has no " + name + " region");
    }

    byte[] encode() {
        byte[] raw = new byte[SIZE];
        ByteBuffer b = ByteBuffer.wrap(raw).order(ByteOrder.LITTLE_ENDIAN);
        b.put(0, SIGNATURE);
        b.putInt(8, regions.size());
        for (int i = 0; i < regions.size(); i++) {
            Region r = regions.get(i);
            int at = 16 + i * 32;
            Guids.write(b, at, r.guid());
            b.putLong(at + 16, r.offset());
            b.putInt(at + 24, (int) r.length());
            b.putInt(at + 28, r.required() ? 1 : 0);
        }
        Crc.seal(raw, 0, SIZE, 4);
        return raw;
    }
}
