package org.spindle.format.sparse;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.BitSet;
import java.util.List;

import org.spindle.storage.api.StorageBackend;
import org.spindle.storage.api.StorageException;

/**
 * The block table of an image as read from its backend, with every inconsistency found on the way.
 * Opening refuses an image with {@link #corruptions()}; {@code check} reports them and repairs them.
 *
 * <p>An entry is valid when it is block-aligned relative to the data offset, names a slot below the
 * header's {@code allocated_blocks}, lies wholly inside the file, and no other entry names the same
 * slot. Slots below {@code allocated_blocks} that no entry names are leaks: they waste space only.
 */
final class TableScan {
    /** How many problems are described in words; the rest are only counted. */
    private static final int MAX_DESCRIBED = 50;

    final SparseHeader header;
    final long fileSize;
    final long[] table;
    /** Slots named by a valid entry. */
    final BitSet used = new BitSet();
    /** Blocks whose entry is unusable (misaligned, before the data area, past the end of the file). */
    final List<Long> invalidBlocks = new ArrayList<>();
    /** Blocks whose valid entry names a slot an earlier block names too. */
    final List<Long> sharedBlocks = new ArrayList<>();
    /** Blocks whose entry lies inside the file but at or past {@code allocated_blocks}. */
    final List<Long> beyondAllocated = new ArrayList<>();
    final List<String> problems = new ArrayList<>();
    private long described;
    long usedCount;
    /** One past the highest slot named by any valid entry. */
    long highestSlotEnd;

    private TableScan(SparseHeader header, long fileSize) {
        this.header = header;
        this.fileSize = fileSize;
        this.table = new long[Math.toIntExact(header.tableEntries())];
    }

    static TableScan read(StorageBackend backend, SparseHeader header) throws StorageException {
        long fileSize = backend.size();
        if (fileSize < header.tableEnd()) {
            throw SparseHeader.corrupt("the block table is cut off: the file ends at " + fileSize
                    + " bytes, the table at " + header.tableEnd());
        }
        TableScan scan = new TableScan(header, fileSize);
        ByteBuffer chunk = ByteBuffer.allocate(64 * 1024).order(ByteOrder.LITTLE_ENDIAN);
        long entries = header.tableEntries();
        for (long first = 0; first < entries; ) {
            int n = (int) Math.min(entries - first, chunk.capacity() / 8);
            chunk.clear().limit(n * 8);
            backend.read(SparseHeader.TABLE_OFFSET + first * 8, chunk);
            chunk.flip();
            for (int i = 0; i < n; i++) {
                scan.entry(first + i, chunk.getLong(i * 8));
            }
            first += n;
        }
        return scan;
    }

    private void entry(long block, long offset) {
        table[(int) block] = offset;
        if (offset == 0) {
            return;
        }
        int blockSize = header.blockSize();
        long relative = offset - header.dataOffset();
        if (offset < 0 || relative < 0 || relative % blockSize != 0
                || offset > fileSize - blockSize) {
            invalidBlocks.add(block);
            describe("block " + block + " maps to offset " + Long.toUnsignedString(offset)
                    + (relative < 0 || offset < 0 ? ", before the data area"
                    : relative % blockSize != 0 ? ", which is not on a block boundary"
                    : ", past the end of the file (" + fileSize + " bytes)"));
            return;
        }
        long slot = relative / blockSize;
        if (slot >= header.tableEntries()) {
            // more slots than blocks can never be valid, whatever the file size
            invalidBlocks.add(block);
            describe("block " + block + " maps to data slot " + slot + ", beyond the " + header.tableEntries()
                    + " slots the disk can have");
            return;
        }
        if (slot >= header.allocatedBlocks()) {
            beyondAllocated.add(block);
            describe("block " + block + " maps to data slot " + slot + ", but the header counts only "
                    + header.allocatedBlocks() + " allocated blocks");
        }
        if (used.get((int) slot)) {
            sharedBlocks.add(block);
            describe("block " + block + " shares data slot " + slot + " with another block");
            return;
        }
        used.set((int) slot);
        usedCount++;
        highestSlotEnd = Math.max(highestSlotEnd, slot + 1);
    }

    private void describe(String problem) {
        if (described++ < MAX_DESCRIBED) {
            problems.add(problem);
        } else if (described == MAX_DESCRIBED + 1) {
            problems.add("(further problems are counted but not listed)");
        }
    }

    /** Problems that can make a guest read wrong data, or that the layout's other readers refuse. */
    long corruptions() {
        return invalidBlocks.size() + sharedBlocks.size() + beyondAllocated.size();
    }

    /** Slots the header claims that no entry uses, plus whole blocks of file after the last slot. */
    long leaks() {
        long slots = Math.max(header.allocatedBlocks(), highestSlotEnd);
        long tail = Math.max(0, fileSize - header.slotOffset(slots));
        return slots - usedCount + tail / header.blockSize();
    }

    /** The error opening reports for a corrupt table. */
    StorageException corruption() {
        return SparseHeader.corrupt(problems.getFirst()
                + (corruptions() > 1 ? " (and " + (corruptions() - 1) + " more problems)" : "")
                + "; run 'spindle img check --repair' on it");
    }
}
