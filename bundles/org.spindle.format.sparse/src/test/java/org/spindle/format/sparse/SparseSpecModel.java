package org.spindle.format.sparse;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.BitSet;
import java.util.zip.CRC32C;

/**
 * An independent reading of an AEROSPAR v1 image, written from the layout documented on
 * {@link SparseHeader} and {@link SparseExtension} (not from the parser's code), for the fuzz test to
 * compare the real parser against. It answers three questions about a byte array:
 * <ul>
 * <li>must the image open ({@link #opens()}), and if not, is that a header problem or a table problem;</li>
 * <li>what does each block of the disk read ({@link #block(long)}): the data its entry names, or zeros;</li>
 * <li>what must a repair preserve ({@link #usable(long)}).</li>
 * </ul>
 * All arithmetic is exact ({@link Math#ceilDiv}, {@link Math#multiplyExact}): the model has no
 * overflow of its own to share with the code under test.
 */
final class SparseSpecModel {
    static final byte[] MAGIC = "AEROSPAR".getBytes(StandardCharsets.US_ASCII);
    static final byte[] LEGACY = "AEROSPRS".getBytes(StandardCharsets.US_ASCII);
    static final byte[] EXT_MAGIC = "SPNDLEXT".getBytes(StandardCharsets.US_ASCII);
    static final long MAX_ENTRIES = (128L << 20) / 8;

    /** How far the model got: a header it refuses, a header it accepts but a table cut off, or a table. */
    enum Stage { BAD_HEADER, TABLE_CUT_OFF, TABLE }

    final byte[] image;
    final Stage stage;
    /** Why the header was refused, for messages. */
    final String headerProblem;
    int blockSize;
    long diskSize;
    long entries;
    long dataOffset;
    long allocated;
    long[] table;
    /** Whether the padding after the table holds a Spindle extension that is damaged or of another version. */
    boolean extensionBad;
    /** The base the extension names, or {@code null}. */
    String baseLocation;
    /** Entries that make opening refuse: unusable, shared, or naming a slot at or past {@code allocated}. */
    long corruptEntries;
    /** Slots named by a usable entry (the first one to name each). */
    final BitSet usedSlots = new BitSet();
    long usedCount;
    long highestSlotEnd;

    private SparseSpecModel(byte[] image, Stage stage, String headerProblem) {
        this.image = image;
        this.stage = stage;
        this.headerProblem = headerProblem;
    }

    static SparseSpecModel of(byte[] image) {
        if (image.length < 64) {
            return new SparseSpecModel(image, Stage.BAD_HEADER, "shorter than the header");
        }
        ByteBuffer b = ByteBuffer.wrap(image).order(ByteOrder.LITTLE_ENDIAN);
        byte[] magic = Arrays.copyOf(image, 8);
        if (!Arrays.equals(magic, MAGIC)) {
            return new SparseSpecModel(image, Stage.BAD_HEADER, "magic");
        }
        int version = b.getInt(8);
        int headerSize = b.getInt(12);
        int blockSize = b.getInt(16);
        long diskSize = b.getLong(24);
        long tableOffset = b.getLong(32);
        long entries = b.getLong(40);
        long dataOffset = b.getLong(48);
        long allocated = b.getLong(56);
        String problem = null;
        if (version != 1) {
            problem = "version";
        } else if (headerSize != 64) {
            problem = "header size";
        } else if (blockSize < 512 || blockSize > (64 << 20) || Integer.bitCount(blockSize) != 1) {
            problem = "block size";
        } else if (diskSize <= 0 || diskSize % 512 != 0) {
            problem = "disk size";
        } else if (tableOffset != 64) {
            problem = "table offset";
        } else if (entries != Math.ceilDiv(diskSize, blockSize)) {
            problem = "entries";
        } else if (entries > MAX_ENTRIES) {
            problem = "table larger than 128 MiB";
        } else if (dataOffset != alignUp(64 + 8 * entries, blockSize)) {
            problem = "data offset";
        } else if (allocated < 0 || allocated > entries) {
            problem = "allocated blocks";
        }
        if (problem != null) {
            return new SparseSpecModel(image, Stage.BAD_HEADER, problem);
        }
        long tableEnd = 64 + 8 * entries;
        SparseSpecModel model = new SparseSpecModel(image, tableEnd > image.length ? Stage.TABLE_CUT_OFF : Stage.TABLE,
                null);
        model.blockSize = blockSize;
        model.diskSize = diskSize;
        model.entries = entries;
        model.dataOffset = dataOffset;
        model.allocated = allocated;
        if (model.stage == Stage.TABLE) {
            model.readExtension(b, tableEnd);
            model.readTable(b);
        }
        return model;
    }

    private void readExtension(ByteBuffer image, long tableEnd) {
        long end = Math.min(Math.min(dataOffset, tableEnd + 8192), this.image.length);
        if (end - tableEnd < 8) {
            return;
        }
        ByteBuffer p = image.slice((int) tableEnd, (int) (end - tableEnd)).order(ByteOrder.LITTLE_ENDIAN);
        byte[] magic = new byte[8];
        p.get(0, magic);
        if (!Arrays.equals(magic, EXT_MAGIC)) {
            return;
        }
        int layout = p.capacity() < 24 ? 0 : p.getInt(8);
        // version 1: 20 bytes of fields; version 2 adds the base's version length, padding and size
        int fixed = layout == 1 ? 24 : layout == 2 ? 36 : 0;
        if (fixed == 0 || p.capacity() < fixed) {
            extensionBad = true;
            return;
        }
        int length = p.getInt(12);
        int n = Short.toUnsignedInt(p.getShort(16));
        int m = Short.toUnsignedInt(p.getShort(18));
        int k = layout == 2 ? Short.toUnsignedInt(p.getShort(20)) : 0;
        if (length < fixed || length > Math.min(8192, p.capacity()) || length != fixed + n + m + k) {
            extensionBad = true;
            return;
        }
        CRC32C crc = new CRC32C();
        crc.update(p.duplicate().position(0).limit(length - 4));
        if ((int) crc.getValue() != p.getInt(length - 4)) {
            extensionBad = true;
            return;
        }
        byte[] location = new byte[n];
        p.get(fixed - 4, location);
        baseLocation = new String(location, StandardCharsets.UTF_8);
        if (baseLocation.isBlank() || (layout == 2 && p.getLong(24) < -1)) {
            extensionBad = true;
            baseLocation = null;
        }
    }

    private void readTable(ByteBuffer image) {
        table = new long[(int) entries];
        for (int i = 0; i < entries; i++) {
            long e = image.getLong(64 + 8 * i);
            table[i] = e;
            if (e == 0) {
                continue;
            }
            if (!usable(e)) {
                corruptEntries++;
                continue;
            }
            long slot = (e - dataOffset) / blockSize;
            if (slot >= allocated) {
                corruptEntries++;
            }
            if (usedSlots.get((int) slot)) {
                corruptEntries++;
                continue;
            }
            usedSlots.set((int) slot);
            usedCount++;
            highestSlotEnd = Math.max(highestSlotEnd, slot + 1);
        }
    }

    /**
     * Whether an entry names a whole data slot inside the file: at or after the data offset, on a
     * block boundary, ending inside the file, and one of the {@code entries} slots the disk can have.
     */
    boolean usable(long entry) {
        if (entry < dataOffset || (entry - dataOffset) % blockSize != 0) {
            return false;
        }
        if (entry > image.length - (long) blockSize) {
            return false;
        }
        return (entry - dataOffset) / blockSize < entries;
    }

    /** Whether the image must open: the header, the extension and every table entry are sound. */
    boolean opens() {
        return stage == Stage.TABLE && !extensionBad && corruptEntries == 0;
    }

    /** Slots claimed but used by no block, plus whole blocks of file after the last slot. */
    long leaks() {
        long slots = Math.max(allocated, highestSlotEnd);
        long tail = Math.max(0, image.length - (dataOffset + slots * blockSize));
        return slots - usedCount + tail / blockSize;
    }

    /** The number of blocks. */
    long blocks() {
        return entries;
    }

    /** The file offset block {@code block} reads from, or 0 when it reads as zeros. */
    long entry(long block) {
        return table[(int) block];
    }

    /** Copies what the disk reads at {@code [offset, offset + dst.length)} into {@code dst}. */
    void read(long offset, byte[] dst) {
        for (int i = 0; i < dst.length; ) {
            long pos = offset + i;
            long block = pos / blockSize;
            int within = (int) (pos % blockSize);
            int n = Math.min(dst.length - i, blockSize - within);
            long e = table[(int) block];
            if (e == 0) {
                Arrays.fill(dst, i, i + n, (byte) 0);
            } else {
                System.arraycopy(image, (int) (e + within), dst, i, n);
            }
            i += n;
        }
    }

    /** The bytes block {@code block} reads (cut at the end of the disk). */
    byte[] block(long block) {
        long start = block * blockSize;
        byte[] bytes = new byte[(int) Math.min(blockSize, diskSize - start)];
        read(start, bytes);
        return bytes;
    }

    private static long alignUp(long value, int alignment) {
        return Math.ceilDiv(value, alignment) * alignment;
    }

    @Override
    public String toString() {
        return "model[" + stage + (headerProblem != null ? " " + headerProblem : "") + ", bs=" + blockSize
                + ", disk=" + diskSize + ", entries=" + entries + ", data=" + dataOffset + ", allocated=" + allocated
                + ", corrupt=" + corruptEntries + ", extensionBad=" + extensionBad + ", file=" + image.length + "]";
    }
}
