package org.spindle.format.qcow2;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

import org.spindle.storage.api.StorageException;
import org.spindle.storage.api.StorageException.Kind;

/**
 * The qcow2 header (QEMU's {@code docs/interop/qcow2.txt}): the fixed fields, the version 3 feature
 * bitmaps, the header extensions and the backing file name, parsed and checked once at open.
 *
 * <p>Every rule here is one the specification states: the magic and version, cluster bits (9 to 21, the
 * 2 MiB limit QEMU also keeps), refcount order at most 6, a header length that is a multiple of 8, tables
 * aligned to clusters, a compression type that agrees with its feature bit, and so on. Incompatible
 * feature bits that Spindle does not implement refuse the image, naming the bit (and its name from the
 * image's feature name table when it has one). Encryption and external data files are refused as
 * {@code UNSUPPORTED_FEATURE} naming the field.
 *
 * <p>The raw bytes of the fixed header are kept so that a header rewrite preserves fields this version
 * does not know (rule 2 of the specification's "additional fields").
 */
final class Qcow2Header {
    static final int MAGIC = 0x514649fb; // "QFI\xfb"
    static final int V2_LENGTH = 72;
    static final int V3_MIN_LENGTH = 104;
    /** The length Spindle writes for version 3: the compression type field, padded to 8. */
    static final int V3_LENGTH = 112;
    static final int MIN_CLUSTER_BITS = 9;
    static final int MAX_CLUSTER_BITS = 21;
    static final int MAX_BACKING_NAME = 1023;
    /** QEMU's limits, kept so that every image Spindle accepts QEMU accepts too. */
    static final long MAX_L1_BYTES = 32L << 20;
    static final long MAX_REFCOUNT_TABLE_BYTES = 8L << 20;
    static final int MAX_SNAPSHOTS = 65536;

    // incompatible feature bits
    static final long INCOMPAT_DIRTY = 1L;
    static final long INCOMPAT_CORRUPT = 1L << 1;
    static final long INCOMPAT_DATA_FILE = 1L << 2;
    static final long INCOMPAT_COMPRESSION = 1L << 3;
    static final long INCOMPAT_EXTL2 = 1L << 4;
    static final long INCOMPAT_KNOWN = INCOMPAT_DIRTY | INCOMPAT_CORRUPT | INCOMPAT_DATA_FILE
            | INCOMPAT_COMPRESSION | INCOMPAT_EXTL2;
    // compatible feature bits
    static final long COMPAT_LAZY_REFCOUNTS = 1L;
    // autoclear feature bits
    static final long AUTOCLEAR_BITMAPS = 1L;
    static final long AUTOCLEAR_DATA_FILE_RAW = 1L << 1;

    // header extension types
    static final int EXT_END = 0;
    static final int EXT_BACKING_FORMAT = 0xe2792aca;
    static final int EXT_FEATURE_NAMES = 0x6803f857;
    static final int EXT_BITMAPS = 0x23852875;
    static final int EXT_CRYPTO = 0x0537be77;
    static final int EXT_DATA_FILE = 0x44415441;

    static final int COMPRESSION_ZLIB = 0;
    static final int COMPRESSION_ZSTD = 1;

    // field offsets
    static final int OFF_VERSION = 4;
    static final int OFF_BACKING_OFFSET = 8;
    static final int OFF_BACKING_SIZE = 16;
    static final int OFF_CLUSTER_BITS = 20;
    static final int OFF_SIZE = 24;
    static final int OFF_CRYPT = 32;
    static final int OFF_L1_SIZE = 36;
    static final int OFF_L1_OFFSET = 40;
    static final int OFF_REFTABLE_OFFSET = 48;
    static final int OFF_REFTABLE_CLUSTERS = 56;
    static final int OFF_NB_SNAPSHOTS = 60;
    static final int OFF_SNAPSHOTS_OFFSET = 64;
    static final int OFF_INCOMPAT = 72;
    static final int OFF_COMPAT = 80;
    static final int OFF_AUTOCLEAR = 88;
    static final int OFF_REFCOUNT_ORDER = 96;
    static final int OFF_HEADER_LENGTH = 100;
    static final int OFF_COMPRESSION_TYPE = 104;

    /** A feature bit: its bitmap (0 incompatible, 1 compatible, 2 autoclear) and bit number. */
    record Feature(int type, int bit) {
    }

    /** A header extension Spindle does not interpret, kept as found. */
    record Extension(int type, byte[] data) {
    }

    final int version;
    final int clusterBits;
    final int clusterSize;
    long size;
    final int cryptMethod;
    int l1Size;
    long l1TableOffset;
    long refcountTableOffset;
    int refcountTableClusters;
    int nbSnapshots;
    long snapshotsOffset;
    long incompatible;
    long compatible;
    long autoclear;
    final int refcountOrder;
    final int headerLength;
    final int compressionType;
    final String backingFile;
    final String backingFormat;
    final Map<Feature, String> featureNames;
    final List<Extension> otherExtensions;
    final boolean hasBitmapsExtension;
    /** The fixed header as read: {@link #encode} patches the fields Spindle changes into a copy. */
    private final byte[] raw;

    private Qcow2Header(byte[] raw, int version, int clusterBits, long size, int cryptMethod, int l1Size,
            long l1TableOffset, long refcountTableOffset, int refcountTableClusters, int nbSnapshots,
            long snapshotsOffset, long incompatible, long compatible, long autoclear, int refcountOrder,
            int headerLength, int compressionType, String backingFile, String backingFormat,
            Map<Feature, String> featureNames, List<Extension> otherExtensions, boolean hasBitmapsExtension) {
        this.raw = raw;
        this.version = version;
        this.clusterBits = clusterBits;
        this.clusterSize = 1 << clusterBits;
        this.size = size;
        this.cryptMethod = cryptMethod;
        this.l1Size = l1Size;
        this.l1TableOffset = l1TableOffset;
        this.refcountTableOffset = refcountTableOffset;
        this.refcountTableClusters = refcountTableClusters;
        this.nbSnapshots = nbSnapshots;
        this.snapshotsOffset = snapshotsOffset;
        this.incompatible = incompatible;
        this.compatible = compatible;
        this.autoclear = autoclear;
        this.refcountOrder = refcountOrder;
        this.headerLength = headerLength;
        this.compressionType = compressionType;
        this.backingFile = backingFile;
        this.backingFormat = backingFormat;
        this.featureNames = featureNames;
        this.otherExtensions = otherExtensions;
        this.hasBitmapsExtension = hasBitmapsExtension;
    }

    boolean extendedL2() {
        return (incompatible & INCOMPAT_EXTL2) != 0;
    }

    boolean lazyRefcounts() {
        return (compatible & COMPAT_LAZY_REFCOUNTS) != 0;
    }

    boolean dirty() {
        return (incompatible & INCOMPAT_DIRTY) != 0;
    }

    boolean corrupt() {
        return (incompatible & INCOMPAT_CORRUPT) != 0;
    }

    int refcountBits() {
        return 1 << refcountOrder;
    }

    /** Guest bytes one L2 table maps. */
    long l2Coverage() {
        return (long) l2Entries() << clusterBits;
    }

    int l2Entries() {
        return clusterSize / (extendedL2() ? 16 : 8);
    }

    /** L1 entries needed to map {@code capacity} bytes. */
    long l1EntriesFor(long capacity) {
        long coverage = l2Coverage();
        return (capacity + coverage - 1) / coverage;
    }

    String compressionName() {
        return compressionType == COMPRESSION_ZSTD ? "zstd" : "zlib";
    }

    /** The name an image gives a feature bit, or a plain description of the bit. */
    String featureName(int type, int bit) {
        String name = featureNames.get(new Feature(type, bit));
        String kind = switch (type) {
            case 0 -> "incompatible";
            case 1 -> "compatible";
            default -> "autoclear";
        };
        return kind + " feature bit " + bit + (name == null || name.isEmpty() ? "" : " (" + name + ")");
    }

    /** Reads and checks the header of the image whose first bytes (at least one cluster, if the file has it) are {@code head}. */
    static Qcow2Header parse(ByteBuffer head, long fileSize) throws StorageException {
        ByteBuffer b = head.duplicate().order(ByteOrder.BIG_ENDIAN);
        if (b.remaining() < V2_LENGTH) {
            throw corrupt("the file is " + fileSize + " bytes, too short for a qcow2 header (72 bytes)");
        }
        if (b.getInt(0) != MAGIC) {
            throw corrupt("not a qcow2 image (bad magic)");
        }
        int version = b.getInt(OFF_VERSION);
        if (version != 2 && version != 3) {
            throw new StorageException(Kind.UNSUPPORTED_FEATURE, "qcow2 version " + Integer.toUnsignedString(version)
                    + " (only versions 2 and 3 exist)");
        }
        long backingOffset = b.getLong(OFF_BACKING_OFFSET);
        int backingSize = b.getInt(OFF_BACKING_SIZE);
        int clusterBits = b.getInt(OFF_CLUSTER_BITS);
        if (clusterBits < MIN_CLUSTER_BITS || clusterBits > MAX_CLUSTER_BITS) {
            throw new StorageException(clusterBits > MAX_CLUSTER_BITS && clusterBits < 64 ? Kind.UNSUPPORTED_FEATURE
                    : Kind.CORRUPT_IMAGE, "cluster_bits is " + Integer.toUnsignedString(clusterBits)
                    + " (must be 9 to 21: clusters of 512 bytes to 2 MiB)");
        }
        int clusterSize = 1 << clusterBits;
        long size = b.getLong(OFF_SIZE);
        int crypt = b.getInt(OFF_CRYPT);
        int l1Size = b.getInt(OFF_L1_SIZE);
        long l1Offset = b.getLong(OFF_L1_OFFSET);
        long refOffset = b.getLong(OFF_REFTABLE_OFFSET);
        int refClusters = b.getInt(OFF_REFTABLE_CLUSTERS);
        int nbSnapshots = b.getInt(OFF_NB_SNAPSHOTS);
        long snapshotsOffset = b.getLong(OFF_SNAPSHOTS_OFFSET);

        long incompatible = 0;
        long compatible = 0;
        long autoclear = 0;
        int refcountOrder = 4;
        int headerLength = V2_LENGTH;
        int compressionType = COMPRESSION_ZLIB;
        if (version == 3) {
            if (b.remaining() < V3_MIN_LENGTH) {
                throw corrupt("the file is " + fileSize + " bytes, too short for a version 3 header (104 bytes)");
            }
            incompatible = b.getLong(OFF_INCOMPAT);
            compatible = b.getLong(OFF_COMPAT);
            autoclear = b.getLong(OFF_AUTOCLEAR);
            refcountOrder = b.getInt(OFF_REFCOUNT_ORDER);
            headerLength = b.getInt(OFF_HEADER_LENGTH);
            if (headerLength < V3_MIN_LENGTH || headerLength % 8 != 0 || headerLength > clusterSize) {
                throw corrupt("header_length is " + Integer.toUnsignedString(headerLength)
                        + " (must be a multiple of 8, at least 104 and within the first cluster)");
            }
            if (b.remaining() < headerLength) {
                throw corrupt("the file ends inside the " + headerLength + "-byte header");
            }
            if (headerLength > OFF_COMPRESSION_TYPE) {
                compressionType = Byte.toUnsignedInt(b.get(OFF_COMPRESSION_TYPE));
            }
        }
        byte[] raw = new byte[headerLength];
        b.get(0, raw);

        // extensions come first: the feature name table names the bits refused below
        Map<Feature, String> names = new HashMap<>();
        List<Extension> others = new ArrayList<>();
        String backingFormat = null;
        boolean bitmaps = false;
        boolean crypto = false;
        String dataFile = null;
        int pos = headerLength;
        int limit = Math.min(b.limit(), clusterSize);
        java.util.Set<Integer> seen = new java.util.HashSet<>();
        while (true) {
            if (pos + 8 > limit) {
                if (pos >= limit && pos == b.limit() && fileSize <= pos) {
                    break; // a bare header at the very end of a file without extension area
                }
                throw corrupt("the header extensions run past the first cluster (at byte " + pos + ")");
            }
            int type = b.getInt(pos);
            long length = Integer.toUnsignedLong(b.getInt(pos + 4));
            if (type == EXT_END) {
                break;
            }
            long padded = (length + 7) & ~7L;
            if (pos + 8 + padded > limit) {
                throw corrupt("header extension 0x" + Integer.toHexString(type) + " of " + length
                        + " bytes runs past the first cluster");
            }
            byte[] data = new byte[(int) length];
            b.get(pos + 8, data);
            boolean known = type == EXT_BACKING_FORMAT || type == EXT_FEATURE_NAMES || type == EXT_BITMAPS
                    || type == EXT_CRYPTO || type == EXT_DATA_FILE;
            if (known && !seen.add(type)) {
                throw corrupt("header extension 0x" + Integer.toHexString(type) + " appears twice");
            }
            switch (type) {
                case EXT_BACKING_FORMAT -> backingFormat = new String(data, StandardCharsets.UTF_8);
                case EXT_FEATURE_NAMES -> {
                    for (int i = 0; i + 48 <= data.length; i += 48) {
                        int end = i + 2;
                        while (end < i + 48 && data[end] != 0) {
                            end++;
                        }
                        names.put(new Feature(data[i] & 0xff, data[i + 1] & 0xff),
                                new String(data, i + 2, end - i - 2, StandardCharsets.UTF_8));
                    }
                    others.add(new Extension(type, data));
                }
                case EXT_BITMAPS -> {
                    bitmaps = true;
                    others.add(new Extension(type, data));
                }
                case EXT_CRYPTO -> crypto = true;
                case EXT_DATA_FILE -> dataFile = new String(data, StandardCharsets.UTF_8);
                default -> others.add(new Extension(type, data));
            }
            pos += 8 + (int) padded;
        }
        Qcow2Header probe = new Qcow2Header(raw, version, clusterBits, size, crypt, l1Size, l1Offset, refOffset,
                refClusters, nbSnapshots, snapshotsOffset, incompatible, compatible, autoclear, refcountOrder,
                headerLength, compressionType, null, backingFormat, Map.copyOf(names), List.copyOf(others), bitmaps);

        // features: unknown incompatible bits first, then the known ones Spindle does not implement
        long unknown = incompatible & ~INCOMPAT_KNOWN;
        if (unknown != 0) {
            int bit = Long.numberOfTrailingZeros(unknown);
            throw new StorageException(Kind.UNSUPPORTED_FEATURE, "the image needs "
                    + probe.featureName(0, bit) + ", which Spindle does not know (incompatible_features = 0x"
                    + Long.toHexString(incompatible) + ")");
        }
        if ((incompatible & INCOMPAT_DATA_FILE) != 0 || dataFile != null) {
            throw new StorageException(Kind.UNSUPPORTED_FEATURE, "the image keeps its data in an external data file"
                    + (dataFile == null ? "" : " '" + dataFile + "'")
                    + " (incompatible_features bit 2, external data file); Spindle does not support external data files");
        }
        if (crypt != 0 || crypto) {
            String method = switch (crypt) {
                case 1 -> "1 (AES)";
                case 2 -> "2 (LUKS)";
                default -> Integer.toUnsignedString(crypt);
            };
            throw new StorageException(Kind.UNSUPPORTED_FEATURE, "the image is encrypted (crypt_method = " + method
                    + "); Spindle does not support encrypted qcow2 images");
        }
        if (refcountOrder < 0 || refcountOrder > 6) {
            throw corrupt("refcount_order is " + Integer.toUnsignedString(refcountOrder) + " (must be 0 to 6)");
        }
        boolean compressionBit = (incompatible & INCOMPAT_COMPRESSION) != 0;
        if (compressionBit && compressionType == COMPRESSION_ZLIB) {
            throw corrupt("incompatible feature bit 3 (compression type) is set but compression_type is zlib or absent");
        }
        if (!compressionBit && compressionType != COMPRESSION_ZLIB) {
            throw corrupt("compression_type is " + compressionType + " but incompatible feature bit 3 is clear");
        }
        if (compressionType > COMPRESSION_ZSTD) {
            throw new StorageException(Kind.UNSUPPORTED_FEATURE, "compression_type " + compressionType
                    + " (known: 0 zlib, 1 zstd)");
        }
        if ((incompatible & INCOMPAT_EXTL2) != 0 && clusterBits < 14) {
            throw corrupt("extended L2 entries need clusters of at least 16 KiB, the image has " + clusterSize + " bytes");
        }
        if (size < 0) {
            throw corrupt("the virtual size " + Long.toUnsignedString(size) + " is too large");
        }
        if (size % 512 != 0) {
            throw new StorageException(Kind.UNSUPPORTED_FEATURE, "the virtual size " + size
                    + " is not a whole number of 512-byte sectors");
        }

        // tables
        checkTable("the L1 table (l1_table_offset)", l1Offset, clusterSize, (long) Integer.toUnsignedLong(l1Size) * 8,
                MAX_L1_BYTES);
        long needed = probe.l1EntriesFor(size);
        if (Integer.toUnsignedLong(l1Size) < needed) {
            throw corrupt("the L1 table has " + Integer.toUnsignedString(l1Size) + " entries but the virtual size of "
                    + size + " bytes needs " + needed);
        }
        if (refClusters == 0) {
            throw corrupt("refcount_table_clusters is 0");
        }
        checkTable("the refcount table (refcount_table_offset)", refOffset, clusterSize,
                Integer.toUnsignedLong(refClusters) * clusterSize, MAX_REFCOUNT_TABLE_BYTES);
        if (Integer.toUnsignedLong(nbSnapshots) > MAX_SNAPSHOTS) {
            throw corrupt("nb_snapshots is " + Integer.toUnsignedString(nbSnapshots) + " (at most 65536)");
        }
        if (nbSnapshots != 0) {
            checkTable("the snapshot table (snapshots_offset)", snapshotsOffset, clusterSize, 40, Long.MAX_VALUE);
        }

        String backing = null;
        if (backingOffset != 0) {
            if (Integer.toUnsignedLong(backingSize) > MAX_BACKING_NAME || backingSize == 0) {
                throw corrupt("the backing file name is " + Integer.toUnsignedString(backingSize)
                        + " bytes (must be 1 to 1023)");
            }
            if (backingOffset < 0 || backingOffset + backingSize > b.limit()) {
                throw corrupt("the backing file name (" + backingSize + " bytes at " + Long.toUnsignedString(backingOffset)
                        + ") lies outside the first cluster");
            }
            byte[] name = new byte[backingSize];
            b.get((int) backingOffset, name);
            backing = new String(name, StandardCharsets.UTF_8);
        }
        if (backing == null && backingFormat != null) {
            backingFormat = null; // a stray format name without a backing file means nothing
        }
        return new Qcow2Header(raw, version, clusterBits, size, crypt, l1Size, l1Offset, refOffset, refClusters,
                nbSnapshots, snapshotsOffset, incompatible, compatible, autoclear, refcountOrder, headerLength,
                compressionType, backing, backingFormat, Map.copyOf(names), List.copyOf(others), bitmaps);
    }

    private static void checkTable(String what, long offset, int clusterSize, long bytes, long max)
            throws StorageException {
        if (bytes > max) {
            throw corrupt(what + " is " + bytes + " bytes, more than the " + max + " bytes allowed");
        }
        if (offset <= 0 && bytes > 0 || (offset & (clusterSize - 1)) != 0) {
            throw corrupt(what + " starts at " + Long.toUnsignedString(offset)
                    + ", which is not a cluster boundary after the header");
        }
        if (offset > (1L << 56) || offset + bytes > (1L << 56)) {
            throw corrupt(what + " at " + Long.toUnsignedString(offset) + " lies beyond the 64 PiB qcow2 limit");
        }
    }

    /** The fixed header with the current values of the fields Spindle changes; other bytes as read. */
    byte[] encode() {
        ByteBuffer b = ByteBuffer.wrap(raw.clone()).order(ByteOrder.BIG_ENDIAN);
        b.putLong(OFF_SIZE, size);
        b.putInt(OFF_L1_SIZE, l1Size);
        b.putLong(OFF_L1_OFFSET, l1TableOffset);
        b.putLong(OFF_REFTABLE_OFFSET, refcountTableOffset);
        b.putInt(OFF_REFTABLE_CLUSTERS, refcountTableClusters);
        b.putInt(OFF_NB_SNAPSHOTS, nbSnapshots);
        b.putLong(OFF_SNAPSHOTS_OFFSET, snapshotsOffset);
        if (version >= 3) {
            b.putLong(OFF_INCOMPAT, incompatible);
            b.putLong(OFF_COMPAT, compatible);
            b.putLong(OFF_AUTOCLEAR, autoclear);
        }
        return b.array();
    }

    private static StorageException corrupt(String detail) {
        return new StorageException(Kind.CORRUPT_IMAGE, detail);
    }
}
