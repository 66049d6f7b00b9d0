package org.spindle.format.sparse;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.List;

import org.spindle.storage.api.CheckReport;
import org.spindle.storage.api.StorageBackend;
import org.spindle.storage.api.StorageException;
import org.spindle.storage.api.StorageException.Kind;
import org.spindle.storage.api.StorageException.Operation;

/**
 * {@code img check} for sparse images: finds the problems {@link TableScan} describes and, when asked,
 * repairs them so that every block reads what it read before, wherever it could be read at all:
 * <ul>
 * <li>an entry outside the data area, off a block boundary or past the end of the file names no data a
 * guest could read: it is cleared, and the block reads as zeros;</li>
 * <li>an entry past {@code allocated_blocks} but inside the file names real data: the count is raised;</li>
 * <li>blocks sharing a slot each get their own copy of it;</li>
 * <li>leaked slots and a tail after the last slot are given back by compaction.</li>
 * </ul>
 * Each step is synced before the next one relies on it, as in {@link SparseDisk}.
 */
final class SparseCheck {
    private SparseCheck() {
    }

    static CheckReport check(StorageBackend backend, boolean repair) throws StorageException {
        SparseHeader header = SparseDisk.readHeader(backend);
        List<String> unrepairable = new ArrayList<>();
        try {
            SparseDisk.readExtension(backend, header);
        } catch (StorageException e) {
            unrepairable.add(e.detail() + " (not repairable: the overlay's base is not known)");
        }
        TableScan before = TableScan.read(backend, header);
        List<String> problems = new ArrayList<>(unrepairable);
        problems.addAll(before.problems);
        if (before.leaks() > 0) {
            problems.add(before.leaks() + " blocks of storage are allocated but used by no block of the disk");
        }
        // with its base unknown the image cannot be opened, so nothing is changed: report only
        if (!repair || !unrepairable.isEmpty() || (before.corruptions() == 0 && before.leaks() == 0)) {
            return new CheckReport(before.corruptions() + unrepairable.size(), before.leaks(), 0, 0, problems,
                    before.usedCount, header.tableEntries(), before.fileSize);
        }
        if (backend.isReadOnly()) {
            throw new StorageException(Kind.READ_ONLY, "the image is open read-only, so it cannot be repaired")
                    .withOperation(Operation.CHECK).withLocation(backend.location());
        }
        if (before.corruptions() > 0) {
            repairTable(backend, before);
        }
        try (SparseDisk disk = SparseDisk.open(new BorrowedBackend(backend), false, 512)) {
            disk.reclaimLeaks();
        }
        TableScan after = TableScan.read(backend, SparseDisk.readHeader(backend));
        return new CheckReport(after.corruptions() + unrepairable.size(), after.leaks(),
                before.corruptions() - after.corruptions(), Math.max(0, before.leaks() - after.leaks()), problems,
                after.usedCount, header.tableEntries(), after.fileSize);
    }

    /** Clears unusable entries, gives shared slots one copy per block, and makes the slot count cover all. */
    private static void repairTable(StorageBackend backend, TableScan scan) throws StorageException {
        SparseHeader header = scan.header;
        int blockSize = header.blockSize();
        long[] table = scan.table.clone();
        java.util.BitSet taken = (java.util.BitSet) scan.used.clone();
        long high = Math.max(header.allocatedBlocks(), scan.highestSlotEnd);
        List<long[]> copies = new ArrayList<>();
        for (long block : scan.sharedBlocks) {
            int target = taken.nextClearBit(0);
            taken.set(target);
            copies.add(new long[] {block, target});
            high = Math.max(high, target + 1L);
        }
        // a larger slot count first: on its own it only leaks
        backend.write(0, header.withAllocatedBlocks(high).encode());
        for (long[] copy : copies) {
            long to = header.slotOffset(copy[1]);
            SparseDisk.copyBlock(backend, table[(int) copy[0]], to, blockSize);
            table[(int) copy[0]] = to;
        }
        backend.flush();
        ByteBuffer entry = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN);
        for (long block : scan.invalidBlocks) {
            table[(int) block] = 0;
        }
        for (long block : scan.invalidBlocks) {
            backend.write(SparseHeader.TABLE_OFFSET + block * 8, entry.clear().putLong(0, 0).limit(8));
        }
        for (long[] copy : copies) {
            backend.write(SparseHeader.TABLE_OFFSET + copy[0] * 8,
                    entry.clear().putLong(0, table[(int) copy[0]]).limit(8));
        }
        backend.flush();
    }
}
