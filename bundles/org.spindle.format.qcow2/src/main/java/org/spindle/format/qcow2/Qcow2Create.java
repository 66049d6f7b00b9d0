package org.spindle.format.qcow2;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;

import org.spindle.storage.api.BackingReference;
import org.spindle.storage.api.StorageBackend;
import org.spindle.storage.api.StorageException;
import org.spindle.storage.api.StorageException.Kind;

/**
 * Writes a new, empty qcow2 image: the header (with a feature name table when it fits, the backing
 * format and name), a one-cluster refcount table, its first block, and an all-zero L1 table sized for
 * the capacity. The L1 table is placed by the same allocator writes use, so any cluster size and
 * refcount width works; the header names the real size only once everything it points at is synced.
 */
final class Qcow2Create {
    private static final Object[][] FEATURE_NAMES = {
        {0, 0, "dirty bit"},
        {0, 1, "corrupt bit"},
        {0, 2, "external data file"},
        {0, 3, "compression type"},
        {0, 4, "extended L2 entries"},
        {1, 0, "lazy refcounts"},
        {2, 0, "bitmaps"},
        {2, 1, "raw external data"},
    };

    private Qcow2Create() {
    }

    static void write(StorageBackend backend, long capacity, Qcow2Format.Settings s, BackingReference backing)
            throws StorageException {
        int cs = 1 << s.clusterBits();
        long l2Coverage = (long) (cs / (s.extendedL2() ? 16 : 8)) << s.clusterBits();
        long l1Entries = (capacity + l2Coverage - 1) / l2Coverage;
        if (l1Entries * 8 > Qcow2Header.MAX_L1_BYTES) {
            throw new StorageException(Kind.INVALID_CONFIG, "a capacity of " + capacity + " bytes needs an L1 table of "
                    + l1Entries * 8 + " bytes with " + cs + "-byte clusters; the most QEMU opens is "
                    + Qcow2Header.MAX_L1_BYTES + " (choose larger clusters)");
        }
        ByteBuffer first = ByteBuffer.allocate(cs).order(ByteOrder.BIG_ENDIAN);
        int headerLength = s.version() == 2 ? Qcow2Header.V2_LENGTH : Qcow2Header.V3_LENGTH;
        first.putInt(0, Qcow2Header.MAGIC);
        first.putInt(Qcow2Header.OFF_VERSION, s.version());
        first.putInt(Qcow2Header.OFF_CLUSTER_BITS, s.clusterBits());
        first.putLong(Qcow2Header.OFF_SIZE, 0);
        first.putLong(Qcow2Header.OFF_REFTABLE_OFFSET, cs);
        first.putInt(Qcow2Header.OFF_REFTABLE_CLUSTERS, 1);
        if (s.version() >= 3) {
            long incompatible = (s.compressionType() != Qcow2Header.COMPRESSION_ZLIB ? Qcow2Header.INCOMPAT_COMPRESSION : 0)
                    | (s.extendedL2() ? Qcow2Header.INCOMPAT_EXTL2 : 0);
            first.putLong(Qcow2Header.OFF_INCOMPAT, incompatible);
            first.putLong(Qcow2Header.OFF_COMPAT, s.lazyRefcounts() ? Qcow2Header.COMPAT_LAZY_REFCOUNTS : 0);
            first.putInt(Qcow2Header.OFF_REFCOUNT_ORDER, s.refcountOrder());
            first.putInt(Qcow2Header.OFF_HEADER_LENGTH, headerLength);
            first.put(Qcow2Header.OFF_COMPRESSION_TYPE, (byte) s.compressionType());
        }
        // extensions: backing format, feature names (if they fit), end; then the backing file name
        byte[] format = backing == null || backing.format() == null ? null
                : Qcow2Format.qemuFormatName(backing.format()).getBytes(StandardCharsets.UTF_8);
        byte[] name = backing == null ? null : Qcow2Format.backingName(backing);
        if (name != null && name.length > Qcow2Header.MAX_BACKING_NAME) {
            throw new StorageException(Kind.INVALID_CONFIG, "the backing file name is " + name.length
                    + " bytes; qcow2 allows at most " + Qcow2Header.MAX_BACKING_NAME);
        }
        int pos = headerLength;
        int needed = pos + (format == null ? 0 : 8 + pad(format.length)) + 8 + (name == null ? 0 : name.length);
        if (needed > cs) {
            throw new StorageException(Kind.INVALID_CONFIG, "the backing file name and format do not fit in a "
                    + cs + "-byte first cluster");
        }
        if (format != null) {
            pos = extension(first, pos, Qcow2Header.EXT_BACKING_FORMAT, format);
        }
        if (s.version() >= 3 && needed + 8 + FEATURE_NAMES.length * 48 <= cs) {
            byte[] table = new byte[FEATURE_NAMES.length * 48];
            for (int i = 0; i < FEATURE_NAMES.length; i++) {
                table[i * 48] = (byte) (int) (Integer) FEATURE_NAMES[i][0];
                table[i * 48 + 1] = (byte) (int) (Integer) FEATURE_NAMES[i][1];
                byte[] text = ((String) FEATURE_NAMES[i][2]).getBytes(StandardCharsets.US_ASCII);
                System.arraycopy(text, 0, table, i * 48 + 2, text.length);
            }
            pos = extension(first, pos, Qcow2Header.EXT_FEATURE_NAMES, table);
        }
        pos += 8; // the end-of-extensions marker: eight zero bytes
        if (name != null) {
            first.put(pos, name);
            first.putLong(Qcow2Header.OFF_BACKING_OFFSET, pos);
            first.putInt(Qcow2Header.OFF_BACKING_SIZE, name.length);
        }
        backend.write(0, first.clear());

        ByteBuffer table = ByteBuffer.allocate(cs).order(ByteOrder.BIG_ENDIAN);
        table.putLong(0, 2L * cs);
        backend.write(cs, table);
        byte[] block = new byte[cs];
        for (int c = 0; c < 3; c++) {
            Refcounts.putEntry(block, s.refcountOrder(), c, 1);
        }
        backend.write(2L * cs, ByteBuffer.wrap(block));

        Qcow2Header header = Qcow2Format.readHeader(backend);
        Qcow2File file = new Qcow2File(backend, header);
        Refcounts refcounts = new Refcounts(file);
        if (l1Entries > 0) {
            int l1Clusters = (int) ((l1Entries * 8 + cs - 1) / cs);
            long l1Offset = refcounts.allocateRun(l1Clusters);
            backend.write(l1Offset, ByteBuffer.allocate(l1Clusters * cs));
            header.l1TableOffset = l1Offset;
            header.l1Size = (int) l1Entries;
        }
        refcounts.write(true);
        backend.flush();
        header.size = capacity;
        file.writeHeader();
        backend.flush();
    }

    private static int pad(int length) {
        return (length + 7) & ~7;
    }

    private static int extension(ByteBuffer b, int pos, int type, byte[] data) {
        b.putInt(pos, type);
        b.putInt(pos + 4, data.length);
        b.put(pos + 8, data);
        return pos + 8 + pad(data.length);
    }
}
