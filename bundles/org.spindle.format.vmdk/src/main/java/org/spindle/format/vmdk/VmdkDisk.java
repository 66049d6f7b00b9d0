package org.spindle.format.vmdk;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.zip.DataFormatException;
import java.util.zip.Inflater;

import org.spindle.storage.api.AllocationMap;
import org.spindle.storage.api.Bounds;
import org.spindle.storage.api.Extent;
import org.spindle.storage.api.StorageBackend;
import org.spindle.storage.api.StorageException;
import org.spindle.storage.api.StorageException.Kind;
import org.spindle.storage.api.StorageException.Operation;
import org.spindle.storage.api.VirtualDisk;
import org.spindle.storage.api.Zeros;

/**
 * A VMDK hosted sparse extent (VMware's "Virtual Disk Format 1.1"), read-only, for import: a
 * {@code monolithicSparse} image (grain directory and grain tables, plain grains) or a
 * {@code streamOptimized} one (deflate-compressed grains each behind a grain marker, the directory
 * usually found through the footer at the end of the file).
 *
 * <p>The header is little-endian: magic {@code KDMV}, version 1 to 3, flags, capacity and grain size
 * in sectors, the embedded descriptor, {@code numGTEsPerGT}, the grain directory offset, the
 * compression algorithm. A grain table entry of 0 is an unallocated grain (zeros: a delta disk's
 * parent is not supported), 1 a zeroed grain, anything else the grain's sector.
 */
final class VmdkDisk implements VirtualDisk, AllocationMap {
    static final int MAGIC = 0x564d444b; // "KDMV" little-endian
    static final long GD_AT_END = -1L;
    static final int FLAG_COMPRESSED = 1 << 16;
    static final int FLAG_MARKERS = 1 << 17;
    /** Bounds that keep a hostile header from making Spindle allocate without limit. */
    static final long MAX_GRAIN_BYTES = 16L << 20;
    static final long MAX_GD_BYTES = 64L << 20;

    private final StorageBackend backend;
    private final int sectorSize;
    private final long capacity;
    private final long grainBytes;
    private final int gtes;
    private final long[] gd;
    private final boolean compressed;
    private final String createType;
    private final int version;
    private final Map<Long, int[]> tables = new ConcurrentHashMap<>();
    private volatile boolean closed;

    private VmdkDisk(StorageBackend backend, int sectorSize, long capacity, long grainBytes, int gtes, long[] gd,
            boolean compressed, String createType, int version) {
        this.backend = backend;
        this.sectorSize = sectorSize;
        this.capacity = capacity;
        this.grainBytes = grainBytes;
        this.gtes = gtes;
        this.gd = gd;
        this.compressed = compressed;
        this.createType = createType;
        this.version = version;
    }

    static VmdkDisk open(StorageBackend backend, int sectorSize) throws StorageException {
        long fileSize = backend.size();
        if (fileSize < 512) {
            throw new StorageException(Kind.CORRUPT_IMAGE, "the file is " + fileSize + " bytes, too short for a VMDK header");
        }
        ByteBuffer h = read(backend, 0, 512);
        if (h.getInt(0) != MAGIC) {
            throw new StorageException(Kind.CORRUPT_IMAGE, "not a VMDK sparse extent (no KDMV magic)");
        }
        long gdOffset = h.getLong(56);
        if (gdOffset == GD_AT_END) {
            // streamOptimized: the footer (a header copy) sits in the second-last sector, before the end marker
            if (fileSize < 1536) {
                throw new StorageException(Kind.CORRUPT_IMAGE, "the grain directory is at the end, but the file has no footer");
            }
            h = read(backend, fileSize - 1024, 512);
            if (h.getInt(0) != MAGIC) {
                throw new StorageException(Kind.CORRUPT_IMAGE, "the grain directory is at the end, but the footer is missing");
            }
            gdOffset = h.getLong(56);
        }
        int version = h.getInt(4);
        if (version < 1 || version > 3) {
            throw new StorageException(Kind.UNSUPPORTED_FEATURE, "VMDK sparse extent version " + Integer.toUnsignedString(version)
                    + " (known: 1 to 3)");
        }
        int flags = h.getInt(8);
        long capacitySectors = h.getLong(12);
        long grainSectors = h.getLong(20);
        long descriptorOffset = h.getLong(28);
        long descriptorSize = h.getLong(36);
        int gtes = h.getInt(44);
        int algorithm = Short.toUnsignedInt(h.getShort(77));
        if (grainSectors < 1 || Long.bitCount(grainSectors) != 1 || grainSectors * 512 > MAX_GRAIN_BYTES) {
            throw new StorageException(Kind.CORRUPT_IMAGE, "the grain size of " + grainSectors
                    + " sectors is not a power of two up to 16 MiB");
        }
        if (gtes <= 0 || gtes > 1 << 16) {
            throw new StorageException(Kind.CORRUPT_IMAGE, "numGTEsPerGT is " + Integer.toUnsignedString(gtes));
        }
        if (capacitySectors < 0 || capacitySectors > (Long.MAX_VALUE >> 10)) {
            throw new StorageException(Kind.CORRUPT_IMAGE, "the capacity of " + Long.toUnsignedString(capacitySectors)
                    + " sectors is too large");
        }
        boolean compressed = (flags & FLAG_COMPRESSED) != 0;
        if (compressed && algorithm != 1) {
            throw new StorageException(Kind.UNSUPPORTED_FEATURE, "compression algorithm " + algorithm + " (known: 1, deflate)");
        }
        long capacity = capacitySectors * 512;
        if (capacity % sectorSize != 0) {
            throw new StorageException(Kind.INVALID_CONFIG, "the capacity " + capacity + " is not a whole number of "
                    + sectorSize + "-byte sectors");
        }
        String createType = "monolithicSparse";
        if (descriptorOffset > 0 && descriptorSize > 0) {
            if (descriptorSize > 2048 || descriptorOffset * 512 + descriptorSize * 512 > fileSize) {
                throw new StorageException(Kind.CORRUPT_IMAGE, "the embedded descriptor (" + descriptorSize
                        + " sectors at sector " + descriptorOffset + ") does not fit the file");
            }
            String text = new String(read(backend, descriptorOffset * 512, (int) descriptorSize * 512).array(),
                    StandardCharsets.UTF_8);
            int nul = text.indexOf('\0');
            text = nul >= 0 ? text.substring(0, nul) : text;
            Matcher type = Pattern.compile("(?m)^\\s*createType\\s*=\\s*\"([^\"]*)\"").matcher(text);
            if (type.find()) {
                createType = type.group(1);
            }
            if (!createType.equals("monolithicSparse") && !createType.equals("streamOptimized")) {
                throw new StorageException(Kind.UNSUPPORTED_FEATURE, "VMDK createType \"" + createType
                        + "\" (Spindle reads monolithicSparse and streamOptimized)");
            }
            Matcher parent = Pattern.compile("(?m)^\\s*parentCID\\s*=\\s*([0-9a-fA-F]+)").matcher(text);
            if (parent.find() && !parent.group(1).equalsIgnoreCase("ffffffff")) {
                throw new StorageException(Kind.UNSUPPORTED_FEATURE, "a VMDK delta disk (parentCID=" + parent.group(1)
                        + "); Spindle reads standalone VMDKs");
            }
        }
        long grainBytes = grainSectors * 512;
        long coverage = grainBytes * gtes;
        long gdEntries = (capacity + coverage - 1) / coverage;
        if (gdEntries * 4 > MAX_GD_BYTES || gdOffset <= 0 || gdOffset * 512 + gdEntries * 4 > fileSize) {
            throw new StorageException(Kind.CORRUPT_IMAGE, "the grain directory (" + gdEntries + " entries at sector "
                    + Long.toUnsignedString(gdOffset) + ") does not fit the " + fileSize + "-byte file");
        }
        ByteBuffer dir = read(backend, gdOffset * 512, (int) (gdEntries * 4));
        long[] gd = new long[(int) gdEntries];
        for (int i = 0; i < gdEntries; i++) {
            gd[i] = Integer.toUnsignedLong(dir.getInt(i * 4));
        }
        return new VmdkDisk(backend, sectorSize, capacity, grainBytes, gtes, gd, compressed, createType, version);
    }

    private static ByteBuffer read(StorageBackend backend, long offset, int length) throws StorageException {
        ByteBuffer b = ByteBuffer.allocate(length).order(ByteOrder.LITTLE_ENDIAN);
        backend.read(offset, b);
        return b.flip();
    }

    @Override
    public int logicalSectorSize() {
        return sectorSize;
    }

    @Override
    public long capacity() {
        return capacity;
    }

    @Override
    public boolean isReadOnly() {
        return true;
    }

    @Override
    public String formatName() {
        return VmdkFormat.NAME;
    }

    @Override
    public Map<String, Object> details() {
        Map<String, Object> d = new LinkedHashMap<>();
        d.put("create_type", createType);
        d.put("version", version);
        d.put("grain_size", grainBytes);
        d.put("compressed", compressed);
        return d;
    }

    @Override
    public int allocationUnit() {
        return (int) grainBytes;
    }

    private static final int ABSENT = 0;
    private static final int ZERO = 1;
    private static final int DATA = 2;

    /** The grain table entry of grain {@code grain}: 0 unallocated, 1 zeroed, else a sector. */
    private long entry(long grain) throws StorageException {
        int gdIndex = (int) (grain / gtes);
        long gtSector = gd[gdIndex];
        if (gtSector == 0) {
            return 0;
        }
        int[] table = tables.get(gtSector);
        if (table == null) {
            long fileSize = backend.size();
            if (gtSector * 512 + (long) gtes * 4 > fileSize) {
                throw new StorageException(Kind.CORRUPT_IMAGE, "grain table " + gdIndex + " at sector " + gtSector
                        + " lies beyond the end of the file");
            }
            ByteBuffer b = read(backend, gtSector * 512, gtes * 4);
            table = new int[gtes];
            for (int i = 0; i < gtes; i++) {
                table[i] = b.getInt(i * 4);
            }
            if (tables.size() > 4096) {
                tables.clear();
            }
            tables.put(gtSector, table);
        }
        return Integer.toUnsignedLong(table[(int) (grain % gtes)]);
    }

    private static int kind(long entry) {
        return entry == 0 ? ABSENT : entry == 1 ? ZERO : DATA;
    }

    @Override
    public Extent extent(long offset, long maxLength) throws StorageException {
        if (offset < 0 || offset >= capacity || maxLength <= 0) {
            throw new StorageException(Kind.OUT_OF_BOUNDS, "no extent at " + offset + " in a disk of " + capacity
                    + " bytes").withOperation(Operation.READ);
        }
        long max = Math.min(maxLength, capacity - offset);
        long firstGrain = offset / grainBytes;
        long grain = firstGrain;
        long first = entry(grain);
        int kind = kind(first);
        long length = Math.min(max, (grain + 1) * grainBytes - offset);
        while (length < max) {
            long next = entry(grain + 1);
            // data merges only where it lies on in the file (plain grains in order)
            boolean same = kind(next) == kind && (kind != DATA
                    || !compressed && next == first + (grain + 1 - firstGrain) * (grainBytes / 512));
            if (!same) {
                break;
            }
            grain++;
            length = Math.min(max, (grain + 1) * grainBytes - offset);
        }
        return switch (kind) {
            case DATA -> new Extent(offset, length, true, true, false, 0,
                    compressed ? -1 : first * 512 + offset % grainBytes);
            case ZERO -> Extent.zero(offset, length);
            default -> Extent.absent(offset, length); // no parent (delta disks are refused): reads as zeros
        };
    }

    @Override
    public void read(long offset, ByteBuffer dst) throws StorageException {
        int length = dst.remaining();
        Bounds.check(offset, length, capacity, Operation.READ);
        if (closed) {
            throw new StorageException(Kind.NO_MEDIUM, "the VMDK is closed").at(Operation.READ, offset, length);
        }
        try {
            long pos = offset;
            long end = offset + length;
            while (pos < end) {
                long grain = pos / grainBytes;
                int inGrain = (int) (pos % grainBytes);
                int n = (int) Math.min(end - pos, grainBytes - inGrain);
                long e = entry(grain);
                int limit = dst.limit();
                dst.limit(dst.position() + n);
                try {
                    if (kind(e) != DATA) {
                        Zeros.put(dst, dst.remaining());
                    } else if (compressed) {
                        dst.put(grain(e, grain), inGrain, n);
                    } else {
                        backend.read(e * 512 + inGrain, dst);
                    }
                } finally {
                    dst.limit(limit);
                }
                pos += n;
            }
        } catch (StorageException e) {
            throw e.at(Operation.READ, offset, length);
        }
    }

    /** A compressed grain: the marker (its LBA and the compressed size), then a zlib stream. */
    private byte[] grain(long sector, long grain) throws StorageException {
        long fileSize = backend.size();
        long at = sector * 512;
        if (at + 12 > fileSize) {
            throw new StorageException(Kind.CORRUPT_IMAGE, "grain " + grain + " at sector " + sector + " lies beyond the file");
        }
        ByteBuffer marker = read(backend, at, 12);
        long lba = marker.getLong(0);
        long size = Integer.toUnsignedLong(marker.getInt(8));
        if (lba != grain * (grainBytes / 512)) {
            throw new StorageException(Kind.CORRUPT_IMAGE, "the grain at sector " + sector + " says it holds sector " + lba
                    + ", not " + grain * (grainBytes / 512));
        }
        if (size == 0 || size > grainBytes + 4096 || at + 12 + size > fileSize) {
            throw new StorageException(Kind.CORRUPT_IMAGE, "the compressed grain at sector " + sector + " claims "
                    + size + " bytes");
        }
        byte[] in = read(backend, at + 12, (int) size).array();
        byte[] out = new byte[(int) grainBytes];
        Inflater inflater = new Inflater();
        try {
            inflater.setInput(in);
            int produced = 0;
            while (produced < out.length) {
                int n = inflater.inflate(out, produced, out.length - produced);
                produced += n;
                if (n == 0 && (inflater.finished() || inflater.needsInput() || inflater.needsDictionary())) {
                    break;
                }
            }
            // a last grain may be cut by the capacity: the rest of the buffer stays zero
            return out;
        } catch (DataFormatException e) {
            throw new StorageException(Kind.CORRUPT_IMAGE, "the grain at sector " + sector + " is not a valid zlib stream: "
                    + e.getMessage(), e);
        } finally {
            inflater.end();
        }
    }

    /**
     * Walks the grain directory and every grain table: a table or grain that lies beyond the end of the
     * file, or a compressed grain whose marker names another sector, is a corruption.
     */
    org.spindle.storage.api.CheckReport check() throws StorageException {
        java.util.List<String> problems = new java.util.ArrayList<>();
        long fileSize = backend.size();
        long corruptions = 0;
        long allocated = 0;
        long grains = (capacity + grainBytes - 1) / grainBytes;
        for (long g = 0; g < grains; g++) {
            long e;
            try {
                e = entry(g);
            } catch (StorageException ex) {
                corruptions++;
                if (problems.size() < 100) {
                    problems.add(ex.detail());
                }
                g = (g / gtes + 1) * gtes - 1; // skip the rest of that table
                continue;
            }
            if (kind(e) != DATA) {
                continue;
            }
            allocated++;
            boolean bad = compressed ? e * 512 + 12 > fileSize : e * 512 + grainBytes > fileSize;
            if (!bad && compressed) {
                ByteBuffer marker = read(backend, e * 512, 12);
                bad = marker.getLong(0) != g * (grainBytes / 512);
            }
            if (bad) {
                corruptions++;
                if (problems.size() < 100) {
                    problems.add("grain " + g + " at sector " + e + (compressed ? " has a bad marker or" : "")
                            + " lies beyond the end of the file");
                }
            }
        }
        return new org.spindle.storage.api.CheckReport(corruptions, 0, 0, 0, problems, allocated, grains, fileSize);
    }

    @Override
    public void write(long offset, ByteBuffer src) throws StorageException {
        throw new StorageException(Kind.READ_ONLY, "Spindle reads " + createType + " VMDKs for import; convert them to"
                + " write (img convert -O qcow2)").at(Operation.WRITE, offset, src.remaining());
    }

    @Override
    public void flush() {
    }

    @Override
    public void close() throws StorageException {
        closed = true;
        backend.close();
    }

    @Override
    public String toString() {
        return "VmdkDisk[" + backend.location() + ", " + createType + "]";
    }
}
