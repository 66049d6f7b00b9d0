package org.spindle.format.vhd;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

import org.spindle.storage.api.CheckReport;
import org.spindle.storage.api.StorageBackend;
import org.spindle.storage.api.StorageException;
import org.spindle.storage.api.StorageException.Kind;

/**
 * Checks a VHD: the footer and dynamic header checksums (an image whose footer or header cannot be
 * read is refused, as opening it would be), the footer copy at the start of a dynamic disk, and the
 * block table: every entry inside the file, after the table, and no two blocks overlapping. Blocks no
 * entry names (a crash between growing the file and the next flush leaves them) are leaks.
 *
 * <p>Repair rewrites a footer copy that differs from the footer and clears table entries that point
 * at impossible places or at a block another entry already has (so no two guest blocks share data).
 */
final class VhdCheck {
    private VhdCheck() {
    }

    static CheckReport check(StorageBackend backend, boolean repair) throws StorageException {
        List<String> problems = new ArrayList<>();
        long fileSize = backend.size();
        // opening checks the footer, header and table bounds the way reads need them
        if (fileSize < VhdFooter.SIZE) {
            throw new StorageException(Kind.CORRUPT_IMAGE, "the file is too short for a VHD footer");
        }
        VhdFooter footer = VhdDisk.readFooter(backend, fileSize);
        byte[] tail = VhdDisk.read(backend, fileSize - VhdFooter.SIZE, VhdFooter.SIZE);
        long capacity = footer.virtualSize();
        long corruptions = 0;
        long repaired = 0;
        if (!Arrays.equals(tail, footer.raw)) {
            // only a dynamic disk gets here: its copy at the start stands in
            corruptions++;
            problems.add("the footer at the end of the file is damaged; the copy at the start stands in for it");
            if (repair) {
                long end = (fileSize + 511) & ~511L;
                backend.write(end, ByteBuffer.wrap(footer.raw));
                backend.flush();
                fileSize = end + VhdFooter.SIZE;
                repaired++;
            }
        }
        if (footer.diskType() == VhdFooter.TYPE_FIXED) {
            if (capacity > fileSize - VhdFooter.SIZE) {
                corruptions++;
                problems.add("the fixed disk's data ends beyond the file");
            }
            return new CheckReport(corruptions, 0, 0, 0, problems, capacity / 512, capacity / 512, fileSize);
        }
        byte[] head = new byte[VhdFooter.SIZE];
        backend.read(0, ByteBuffer.wrap(head));
        if (!Arrays.equals(head, footer.raw)) {
            corruptions++;
            problems.add("the footer copy at the start of the file differs from the footer");
            if (repair) {
                backend.write(0, ByteBuffer.wrap(footer.raw));
                repaired++;
            }
        }
        byte[] rawHeader = new byte[VhdDynamicHeader.SIZE];
        if (footer.dataOffset() + VhdDynamicHeader.SIZE > fileSize) {
            throw new StorageException(Kind.CORRUPT_IMAGE, "the dynamic header lies beyond the end of the file");
        }
        backend.read(footer.dataOffset(), ByteBuffer.wrap(rawHeader));
        VhdDynamicHeader header = VhdDynamicHeader.parse(rawHeader, capacity, fileSize);
        int entries = header.maxTableEntries;
        ByteBuffer table = ByteBuffer.allocate(entries * 4).order(ByteOrder.BIG_ENDIAN);
        backend.read(header.tableOffset, table);
        long span = (long) header.bitmapBytes() + header.blockSize;
        long tableEnd = header.tableOffset + (((long) entries * 4 + 511) & ~511L);
        long dataEnd = fileSize - VhdFooter.SIZE;
        long[][] blocks = new long[entries][];
        int used = 0;
        boolean tableChanged = false;
        for (int i = 0; i < entries; i++) {
            int e = table.getInt(i * 4);
            if (e == VhdDisk.UNUSED) {
                continue;
            }
            long start = Integer.toUnsignedLong(e) * 512;
            if (start < tableEnd || start + span > dataEnd) {
                corruptions++;
                problems.add("block " + i + " at " + start + " lies outside the data area [" + tableEnd + ", " + dataEnd + ")");
                if (repair) {
                    table.putInt(i * 4, VhdDisk.UNUSED);
                    tableChanged = true;
                    repaired++;
                }
                continue;
            }
            blocks[used++] = new long[] {start, i};
        }
        long[][] sorted = Arrays.copyOf(blocks, used);
        Arrays.sort(sorted, (a, b) -> Long.compare(a[0], b[0]));
        // gaps of whole blocks between blocks are orphans (smaller ones may hold parent locators)
        long covered = tableEnd;
        long leaked = 0;
        for (long[] b : sorted) {
            if (b[0] < covered) {
                corruptions++;
                problems.add("block " + b[1] + " at " + b[0] + " overlaps another block");
                if (repair) {
                    table.putInt((int) b[1] * 4, VhdDisk.UNUSED);
                    tableChanged = true;
                    repaired++;
                }
                continue;
            }
            leaked += (b[0] - covered) / span;
            covered = b[0] + span;
        }
        if (dataEnd - covered >= span) {
            leaked += (dataEnd - covered) / span;
            problems.add((dataEnd - covered) + " bytes before the footer belong to no block");
        }
        if (tableChanged) {
            backend.write(header.tableOffset, table.clear());
            backend.flush();
        }
        long total = (capacity + header.blockSize - 1) / header.blockSize;
        return new CheckReport(corruptions, leaked, repaired, 0, problems, used, total, fileSize);
    }
}
