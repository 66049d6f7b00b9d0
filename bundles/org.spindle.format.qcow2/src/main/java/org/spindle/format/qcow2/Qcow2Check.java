package org.spindle.format.qcow2;

import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;

import org.spindle.storage.api.CheckReport;
import org.spindle.storage.api.StorageException;
import org.spindle.storage.api.StorageException.Kind;

/**
 * Checks a qcow2 image the way the specification defines consistency: every host cluster's refcount
 * equals the number of references to it (the header, the L1 tables, each L1 table's L2 tables and, per
 * L1 table that reaches them, data clusters; the snapshot table; the refcount table and blocks), and
 * bit 63 ("copied") of active L1 and L2 entries is set exactly where the refcount is one.
 *
 * <p>A refcount below the references is a corruption (the cluster could be handed out again); above them
 * a leak. Repair clears table entries that point at impossible places, writes a fresh refcount
 * structure after the last cluster in use (the old one becomes free space), fixes the copied bits and
 * clears the dirty and corrupt bits: the image is then clean, keeping every readable cluster.
 */
final class Qcow2Check {
    private static final long MAX_CLUSTERS = 1L << 28;
    private static final int MAX_PROBLEMS = 100;

    private final Qcow2File file;
    private final Qcow2Header h;
    private final int cs;
    private final int cb;
    private final long fileClusters;
    private final long[] refs;
    private final List<String> problems = new ArrayList<>();
    private static final String[] KIND_NAMES = {"", "the header", "an L1 table", "an L2 table", "guest data",
        "the refcount structure", "the snapshot table"};
    private final byte[] kinds;
    /** The clusters of the refcount table and blocks as found: a repair replaces them. */
    private final List<Long> refcountStructure = new ArrayList<>();
    private long corruptions;
    private long leaks;
    private long corruptionsRepaired;
    /** Corruptions a repair leaves (those in snapshots' tables, which Spindle does not rewrite). */
    private long unrepairable;
    /** Guest clusters the active L1 table maps to data (as {@code qemu-img check} counts "allocated"). */
    private long guestAllocated;
    private final boolean repair;

    private Qcow2Check(Qcow2File file, boolean repair) throws StorageException {
        this.file = file;
        this.h = file.header;
        this.cs = file.clusterSize;
        this.cb = file.clusterBits;
        this.repair = repair;
        long size = file.size();
        this.fileClusters = (size + cs - 1) >>> cb;
        if (fileClusters > MAX_CLUSTERS) {
            throw new StorageException(Kind.UNSUPPORTED_FEATURE, "the image has " + fileClusters
                    + " clusters; Spindle checks images of up to " + MAX_CLUSTERS);
        }
        this.refs = new long[(int) fileClusters];
        this.kinds = new byte[(int) fileClusters];
    }

    static CheckReport check(Qcow2File file, boolean repair) throws StorageException {
        return new Qcow2Check(file, repair).run();
    }

    private void problemIf(boolean report, String text) {
        if (report) {
            problem(text);
        }
    }

    private void problem(String text) {
        if (problems.size() < MAX_PROBLEMS) {
            problems.add(text);
        }
    }

    // what a cluster holds, for finding structures that overlap
    private static final byte HEADER = 1;
    private static final byte L1 = 2;
    private static final byte L2 = 3;
    private static final byte DATA = 4;
    private static final byte REFCOUNT = 5;
    private static final byte SNAPSHOTS = 6;

    /**
     * Counts one reference to each cluster of the byte range; false if it lies outside the file. A
     * cluster used as two kinds of thing (an L2 table that is also data, say), or as a table that only
     * one owner may have, is a corruption no repair can undo: reported, and left as found.
     */
    private boolean count(long offset, long length, String what, byte kind) {
        if (length <= 0) {
            return true;
        }
        long first = offset >>> cb;
        long last = (offset + Math.max(length, 1) - 1) >>> cb;
        if (offset < 0 || last >= fileClusters) {
            corruptions++;
            problem(what + " at " + Long.toUnsignedString(offset) + " lies beyond the end of the file");
            return false;
        }
        for (long c = first; c <= last; c++) {
            refs[(int) c]++;
            byte was = kinds[(int) c];
            // L2 tables and data may be shared (snapshots); nothing else may, and no two kinds may mix
            if (was != 0 && (was != kind || kind != L2 && kind != DATA)) {
                corruptions++;
                // the refcount structure is rebuilt elsewhere by a repair; other overlaps stay
                if (was != REFCOUNT && kind != REFCOUNT) {
                    unrepairable++;
                }
                problem(what + " uses cluster " + c + ", which also holds " + KIND_NAMES[was]);
            }
            kinds[(int) c] = kind;
        }
        return true;
    }

    private CheckReport run() throws StorageException {
        count(0, cs, "the header", HEADER);
        count(h.l1TableOffset, (long) h.l1Size * 8, "the active L1 table", L1);
        ActiveL1 active = walkL1("the active L1 table", h.l1TableOffset, h.l1Size, true);
        Qcow2Snapshots.Table snapshots = Qcow2Snapshots.read(file);
        if (h.nbSnapshots > 0) {
            if (!count(h.snapshotsOffset, snapshots.bytes(), "the snapshot table", SNAPSHOTS)) {
                unrepairable++;
            }
            java.util.Set<Long> tables = new java.util.HashSet<>();
            tables.add(h.l1TableOffset);
            for (Qcow2Snapshots.Snapshot s : snapshots.snapshots()) {
                String what = "the L1 table of snapshot " + s.id();
                if (s.l1Size() > 0 && !tables.add(s.l1Offset())) {
                    corruptions++;
                    unrepairable++;
                    problem(what + " at " + s.l1Offset() + " is also another table's");
                    continue;
                }
                if (count(s.l1Offset(), (long) s.l1Size() * 8, what, L1)) {
                    walkL1(what, s.l1Offset(), s.l1Size(), false);
                } else {
                    unrepairable++;
                }
            }
        }
        if (count(h.refcountTableOffset, (long) h.refcountTableClusters * cs, "the refcount table", REFCOUNT)) {
            for (int k = 0; k < h.refcountTableClusters; k++) {
                refcountStructure.add((h.refcountTableOffset >>> cb) + k);
            }
        }

        Refcounts stored = null;
        try {
            stored = new Refcounts(file);
            for (int i = 0; i < stored.tableLength(); i++) {
                long block = stored.tableEntry(i);
                if (block != 0 && count(block, cs, "refcount block " + i, REFCOUNT)) {
                    refcountStructure.add(block >>> cb);
                }
            }
        } catch (StorageException e) {
            if (e.kind() != Kind.CORRUPT_IMAGE) {
                throw e;
            }
            corruptions++;
            problem("the refcount table cannot be read: " + e.detail());
        }

        long leaked = 0;
        long refcountErrors = 0;
        if (stored != null) {
            long perBlock = stored.perBlock();
            // blocks past the one holding the end of the file could only count leaks beyond it: a rebuild
            // (repair) drops those anyway, and scanning them would let a damaged table cost unbounded time
            long blocks = Math.min(Math.max(stored.tableLength(), (fileClusters + perBlock - 1) / perBlock),
                    fileClusters / perBlock + 2);
            scan:
            for (long bi = 0; bi < blocks; bi++) {
                boolean present = stored.tableEntry((int) Math.min(bi, Integer.MAX_VALUE)) != 0;
                long end = present ? (bi + 1) * perBlock : Math.min(fileClusters, (bi + 1) * perBlock);
                for (long c = bi * perBlock; c < end; c++) {
                    long have = 0;
                    if (present) {
                        try {
                            have = stored.get(c);
                        } catch (StorageException e) {
                            if (e.kind() != Kind.CORRUPT_IMAGE) {
                                throw e;
                            }
                            corruptions++;
                            problem("the refcount block for cluster " + c + " cannot be read: " + e.detail());
                            break scan;
                        }
                    }
                    long want = c < fileClusters ? refs[(int) c] : 0;
                    if (have < want) {
                        refcountErrors++;
                        problem("cluster " + c + " has refcount " + have + " but " + want + " references");
                    } else if (have > want) {
                        leaked++;
                        problem(want == 0 ? "cluster " + c + " is leaked (refcount " + have + ", no references)"
                                : "cluster " + c + " has refcount " + have + " but only " + want + " references");
                    }
                }
            }
        }
        corruptions += refcountErrors;
        leaks = leaked;
        long copiedErrors = active.checkCopied(true);
        corruptions += copiedErrors;

        long corruptionsRepairedNow = 0;
        long leaksRepaired = 0;
        if (repair && (corruptions > 0 || leaks > 0 || h.dirty() || h.corrupt())) {
            // the old refcount structure is dropped: the copied bits must agree with the counts without it
            for (long c : refcountStructure) {
                refs[(int) c]--;
            }
            active.checkCopied(false);
            active.fix();
            rebuildRefcounts();
            corruptionsRepairedNow = corruptions - unrepairable;
            leaksRepaired = leaks;
        }
        long guestClusters = (h.size + cs - 1) >>> cb;
        return new CheckReport(corruptions, leaks, corruptionsRepairedNow + corruptionsRepaired, leaksRepaired,
                problems, guestAllocated, guestClusters, file.size());
    }

    /** The active L1 table as walked, for the copied-bit check and repair. */
    private final class ActiveL1 {
        final long offset;
        final long[] l1;
        final long[][] l2;
        final boolean[] l1Changed;
        final boolean[] l2Changed;

        ActiveL1(long offset, long[] l1) {
            this.offset = offset;
            this.l1 = l1;
            this.l2 = new long[l1.length][];
            this.l1Changed = new boolean[l1.length];
            this.l2Changed = new boolean[l1.length];
        }

        /** Makes the copied bits agree with the counts; returns (and, if {@code report}, describes) the disagreements. */
        long checkCopied(boolean report) {
            long errors = 0;
            int stride = h.extendedL2() ? 2 : 1;
            for (int i = 0; i < l1.length; i++) {
                long off = l1[i] & Qcow2File.OFFSET_MASK;
                if (off == 0 || l2[i] == null) {
                    continue;
                }
                boolean copied = (l1[i] & Qcow2File.COPIED) != 0;
                boolean one = refs[(int) (off >>> cb)] == 1;
                if (copied != one) {
                    errors++;
                    problemIf(report, "L1 entry " + i + ": the copied bit is " + (copied ? "set" : "clear") + " but the L2 table's"
                            + " refcount is " + refs[(int) (off >>> cb)]);
                    l1[i] ^= Qcow2File.COPIED;
                    l1Changed[i] = true;
                }
                long[] t = l2[i];
                for (int k = 0; k < t.length; k += stride) {
                    long e = t[k];
                    boolean c = (e & Qcow2File.COPIED) != 0;
                    boolean want;
                    if ((e & Qcow2File.COMPRESSED) != 0) {
                        want = false;
                    } else {
                        long host = e & Qcow2File.OFFSET_MASK;
                        want = host != 0 && host >>> cb < fileClusters && refs[(int) (host >>> cb)] == 1;
                    }
                    if (c != want) {
                        errors++;
                        problemIf(report, "L2 entry " + (k / stride) + " of L1 entry " + i + ": the copied bit is "
                                + (c ? "set" : "clear") + " but should be " + (want ? "set" : "clear"));
                        t[k] ^= Qcow2File.COPIED;
                        l2Changed[i] = true;
                    }
                }
            }
            return errors;
        }

        void fix() throws StorageException {
            for (int i = 0; i < l1.length; i++) {
                if (l2Changed[i]) {
                    long off = l1[i] & Qcow2File.OFFSET_MASK;
                    file.write(off, Qcow2File.encodeEntries(l2[i], 0, l2[i].length));
                }
            }
            file.sync();
            boolean any = false;
            for (boolean b : l1Changed) {
                any |= b;
            }
            if (any) {
                file.write(offset, Qcow2File.encodeEntries(l1, 0, l1.length));
            }
        }
    }

    /** A corruption in a table: repairable in the active one, left as it is in a snapshot's. */
    private void tableCorruption(boolean active, String text) {
        corruptions++;
        if (!active) {
            unrepairable++;
        }
        problem(text);
    }

    private ActiveL1 walkL1(String what, long offset, int size, boolean active) throws StorageException {
        long[] l1 = size == 0 ? new long[0] : Qcow2File.readEntries(file.read(offset, size * 8, what), size);
        ActiveL1 result = new ActiveL1(offset, l1);
        int stride = h.extendedL2() ? 2 : 1;
        java.util.Set<Long> seen = new java.util.HashSet<>();
        for (int i = 0; i < l1.length; i++) {
            long e = l1[i];
            long off = e & Qcow2File.OFFSET_MASK;
            if (off == 0) {
                continue;
            }
            if ((off & (cs - 1)) != 0 || (e & Qcow2File.L1_RESERVED) != 0) {
                tableCorruption(active, what + " entry " + i + " (0x" + Long.toHexString(e) + ") is not a valid L2 table offset");
                if (active) {
                    l1[i] = 0;
                    result.l1Changed[i] = true;
                }
                continue;
            }
            if (!seen.add(off)) {
                tableCorruption(active, what + " entry " + i + " points to the L2 table at " + off + ", which an earlier entry uses");
                if (active) {
                    l1[i] = 0;
                    result.l1Changed[i] = true;
                }
                continue;
            }
            if (!count(off, cs, "the L2 table of " + what + " entry " + i, L2)) {
                unrepairable += active ? 0 : 1;
                if (active) {
                    l1[i] = 0;
                    result.l1Changed[i] = true;
                }
                continue;
            }
            long[] t = Qcow2File.readEntries(file.read(off, cs, "an L2 table"), cs / 8);
            if (active) {
                result.l2[i] = t;
            }
            for (int k = 0; k < t.length; k += stride) {
                long entry = t[k];
                String where = "L2 entry " + (k / stride) + " of " + what + " entry " + i;
                if ((entry & Qcow2File.COMPRESSED) != 0) {
                    long[] range = Qcow2File.compressedRange(entry, cb);
                    long host = range[0];
                    long end = host + range[1];
                    if (stride == 2 && t[k + 1] != 0) {
                        tableCorruption(active, where + ": a compressed cluster with a non-zero subcluster bitmap");
                        if (active) {
                            t[k + 1] = 0;
                            result.l2Changed[i] = true;
                        }
                    }
                    if (active) {
                        guestAllocated++;
                    }
                    boolean inFile = count(host, end - host, where + " (compressed data)", DATA);
                    unrepairable += inFile || active ? 0 : 1;
                    if (!inFile && active) {
                        t[k] = 0;
                        if (stride == 2) {
                            t[k + 1] = 0;
                        }
                        result.l2Changed[i] = true;
                    }
                    continue;
                }
                long host = entry & Qcow2File.OFFSET_MASK;
                if (stride == 2) {
                    long bitmap = t[k + 1];
                    if ((bitmap & (bitmap >>> 32) & 0xffff_ffffL) != 0) {
                        tableCorruption(active, where + ": subclusters marked both allocated and zero");
                        if (active) {
                            t[k + 1] &= ~((bitmap & (bitmap >>> 32) & 0xffff_ffffL) << 32);
                            result.l2Changed[i] = true;
                        }
                    }
                    if (host == 0 && (bitmap & 0xffff_ffffL) != 0) {
                        tableCorruption(active, where + ": allocated subclusters without a host cluster");
                        if (active) {
                            t[k + 1] &= ~0xffff_ffffL;
                            result.l2Changed[i] = true;
                        }
                    }
                }
                if (host == 0) {
                    continue;
                }
                boolean reads = stride == 2 ? (t[k + 1] & 0xffff_ffffL) != 0 : (entry & Qcow2File.ZERO) == 0;
                if (active && reads) {
                    guestAllocated++;
                }
                if ((host & (cs - 1)) != 0) {
                    tableCorruption(active, where + " (0x" + Long.toHexString(entry) + ") is not a cluster boundary");
                    if (active) {
                        t[k] = 0;
                        if (stride == 2) {
                            t[k + 1] = 0;
                        }
                        result.l2Changed[i] = true;
                    }
                    continue;
                }
                boolean inFile = count(host, cs, where, DATA);
                unrepairable += inFile || active ? 0 : 1;
                if (!inFile && active) {
                    t[k] = 0;
                    if (stride == 2) {
                        t[k + 1] = 0;
                    }
                    result.l2Changed[i] = true;
                }
            }
        }
        return result;
    }

    /**
     * Writes a fresh refcount structure (blocks, then table) after the last cluster of the file, syncs, and
     * points the header at it with the dirty and corrupt bits cleared.
     */
    private void rebuildRefcounts() throws StorageException {
        long perBlock = ((long) cs * 8) >> h.refcountOrder;
        long maxRefcount = h.refcountOrder == 6 ? Long.MAX_VALUE : (1L << (1 << h.refcountOrder)) - 1;
        long start = fileClusters;
        long blocks = 0;
        long tableClusters = 1;
        while (true) {
            long total = start + blocks + tableClusters;
            long b = (total + perBlock - 1) / perBlock;
            long t = Math.max(1, (b * 8 + cs - 1) / cs);
            if (b == blocks && t == tableClusters) {
                break;
            }
            blocks = b;
            tableClusters = t;
        }
        if (tableClusters * cs > Qcow2Header.MAX_REFCOUNT_TABLE_BYTES) {
            throw new StorageException(Kind.UNSUPPORTED_FEATURE, "the rebuilt refcount table would be larger than "
                    + Qcow2Header.MAX_REFCOUNT_TABLE_BYTES + " bytes");
        }
        long total = start + blocks + tableClusters;
        long[] table = new long[(int) (tableClusters * cs / 8)];
        for (int bi = 0; bi < blocks; bi++) {
            byte[] data = new byte[cs];
            for (long c = bi * perBlock; c < Math.min(total, (bi + 1) * perBlock); c++) {
                long v = c < fileClusters ? refs[(int) c] : 1;
                if (v > maxRefcount) {
                    throw new StorageException(Kind.CORRUPT_IMAGE, "cluster " + c + " has " + v
                            + " references, more than " + (1 << h.refcountOrder) + "-bit refcounts hold");
                }
                Refcounts.putEntry(data, h.refcountOrder, c - bi * perBlock, v);
            }
            long offset = (start + bi) << cb;
            file.write(offset, ByteBuffer.wrap(data));
            table[bi] = offset;
        }
        file.write((start + blocks) << cb, Qcow2File.encodeEntries(table, 0, table.length));
        file.sync();
        h.refcountTableOffset = (start + blocks) << cb;
        h.refcountTableClusters = (int) tableClusters;
        h.incompatible &= ~(Qcow2Header.INCOMPAT_DIRTY | Qcow2Header.INCOMPAT_CORRUPT);
        file.writeHeader();
        file.sync();
    }
}
