package org.spindle.format.vhdx;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.TreeSet;

import org.spindle.storage.api.CheckReport;
import org.spindle.storage.api.Resizable;
import org.spindle.storage.api.StorageBackend;
import org.spindle.storage.api.StorageException;

/**
 * Checks a VHDX: both headers and both region tables, the log (a sequence not yet replayed is
 * reported, and replayed by repair), and every BAT entry: its state valid for the kind of file, its
 * block inside the file and clear of the log, the regions and every other block, and a sector
 * bitmap for every partially present block. MiB of the file that belong to nothing are leaks.
 *
 * <p>Repair replays the log, rewrites a damaged header (a header update writes both) or region table
 * copy, sets entries that point at impossible places to not present (through the log, as every BAT
 * change), and cuts leaked MiB off the end of the file when the backend can shrink.
 */
final class VhdxCheck {
    private VhdxCheck() {
    }

    static CheckReport check(StorageBackend backend, boolean repair) throws StorageException {
        List<String> problems = new ArrayList<>();
        long corruptions = 0;
        long repaired = 0;
        // an image whose headers, region table or metadata cannot be read is refused, as opening it would be
        VhdxFile file = VhdxFile.open(backend, true);
        if (file.replayed) {
            problems.add("the log holds updates not yet written in place (the file was not closed cleanly)"
                    + (repair ? "; replayed" : ""));
        }
        problems.addAll(file.notes);
        corruptions += file.damagedHeaders.size() + file.damagedRegionTables.size();
        byte[][] tables = new byte[2][];
        for (int i = 0; i < 2; i++) {
            tables[i] = VhdxFile.read(file.backend, VhdxLayout.REGION_TABLES[i], VhdxRegionTable.SIZE);
        }
        boolean tablesDiffer = file.damagedRegionTables.isEmpty() && !Arrays.equals(tables[0], tables[1]);
        if (tablesDiffer) {
            corruptions++;
            problems.add("the two region table copies differ (the first is used)");
        }
        if (repair) {
            // opening writable replays the log in place
            file = VhdxFile.open(backend, false);
            if (!file.damagedHeaders.isEmpty()) {
                file.beginModification(); // a header update writes both slots
                repaired += file.damagedHeaders.size();
            }
            int good = file.damagedRegionTables.contains(0) ? 1 : 0;
            byte[] table = VhdxFile.read(backend, VhdxLayout.REGION_TABLES[good], VhdxRegionTable.SIZE);
            for (int copy = 0; copy < 2; copy++) {
                if (copy != good && (file.damagedRegionTables.contains(copy) || tablesDiffer)) {
                    List<VhdxLog.Patch> pages = new ArrayList<>();
                    for (int i = 0; i < table.length; i += VhdxLayout.PAGE) {
                        pages.add(VhdxLog.Patch.page(VhdxLayout.REGION_TABLES[copy] + i,
                                Arrays.copyOfRange(table, i, i + VhdxLayout.PAGE)));
                    }
                    long size = backend.size();
                    file.logAndApply(pages, size / VhdxLayout.MB * VhdxLayout.MB, VhdxLayout.roundUp(size, VhdxLayout.MB));
                    repaired++;
                }
            }
        }
        VhdxFile f = file;
        StorageBackend view = f.backend;
        long size = view.size();
        long c = f.chunkRatio();
        long entries = f.batEntries();
        long blockSize = f.metadata.blockSize();
        boolean differencing = f.metadata.hasParent();
        ByteBuffer raw = ByteBuffer.wrap(VhdxFile.read(view, f.bat.offset(), (int) (entries * 8))).order(ByteOrder.LITTLE_ENDIAN);
        long[] bat = new long[(int) entries];
        // the MiB units in use: the header section, the log, the regions, then every block
        long units = (size + VhdxLayout.MB - 1) / VhdxLayout.MB;
        java.util.BitSet used = new java.util.BitSet((int) Math.min(units, Integer.MAX_VALUE));
        used.set(0, 1);
        mark(used, f.header().logOffset(), f.header().logLength());
        for (VhdxRegionTable.Region r : f.regions.regions()) {
            mark(used, r.offset(), r.length());
        }
        TreeSet<Integer> changedPages = new TreeSet<>();
        long allocated = 0;
        long firstBlock = units;
        for (int i = 0; i < entries; i++) {
            bat[i] = raw.getLong(i * 8);
            boolean bitmapEntry = i % (c + 1) == c;
            int state = VhdxLayout.state(bat[i]);
            String what = bitmapEntry ? "sector bitmap entry " + i : "BAT entry " + i;
            String bad = null;
            long length = bitmapEntry ? VhdxLayout.MB : blockSize;
            boolean present;
            if (bitmapEntry) {
                present = state == VhdxLayout.SB_PRESENT;
                if (state != VhdxLayout.SB_NOT_PRESENT && !present || present && !differencing) {
                    bad = "has state " + state + (differencing ? "" : " in a file without a parent");
                }
            } else {
                present = state == VhdxLayout.PAYLOAD_FULLY_PRESENT || state == VhdxLayout.PAYLOAD_PARTIALLY_PRESENT;
                if (state == 4 || state == 5 || state == VhdxLayout.PAYLOAD_PARTIALLY_PRESENT && !differencing) {
                    bad = "has state " + VhdxLayout.stateName(state);
                }
            }
            long at = VhdxLayout.fileOffset(bat[i]);
            if (bad == null && present) {
                if (at < VhdxLayout.HEADER_SECTION || at + length > size || at + length < at) {
                    bad = "places a block at " + Long.toUnsignedString(at) + ", outside the " + size + "-byte file";
                } else if (overlaps(used, at, length)) {
                    bad = "places a block at " + at + ", over the log, a region or another block";
                }
            }
            if (bad != null) {
                corruptions++;
                problems.add(what + " " + bad);
                if (repair) {
                    bat[i] = 0;
                    changedPages.add(i / 512);
                    repaired++;
                }
                continue;
            }
            if (present) {
                mark(used, at, length);
                allocated += bitmapEntry ? 0 : 1;
                firstBlock = Math.min(firstBlock, at / VhdxLayout.MB);
            }
        }
        if (differencing) {
            for (long k = 0; k < f.payloadBlocks(); k++) {
                int pi = (int) (k + k / c);
                int si = (int) ((k / c) * (c + 1) + c);
                if (VhdxLayout.state(bat[pi]) == VhdxLayout.PAYLOAD_PARTIALLY_PRESENT
                        && VhdxLayout.state(bat[si]) != VhdxLayout.SB_PRESENT) {
                    corruptions++;
                    problems.add("payload block " + k + " is partially present but its chunk has no sector bitmap");
                    if (repair) {
                        bat[pi] = 0;
                        changedPages.add(pi / 512);
                        repaired++;
                    }
                }
            }
        }
        if (repair && !changedPages.isEmpty()) {
            List<VhdxLog.Patch> pages = new ArrayList<>();
            long entriesInRegion = f.bat.length() / 8;
            for (int page : changedPages) {
                byte[] content = VhdxFile.read(view, f.bat.offset() + (long) page * VhdxLayout.PAGE, VhdxLayout.PAGE);
                ByteBuffer b = ByteBuffer.wrap(content).order(ByteOrder.LITTLE_ENDIAN);
                for (int i = 0; i < 512 && page * 512L + i < Math.min(entries, entriesInRegion); i++) {
                    b.putLong(i * 8, bat[page * 512 + i]);
                }
                pages.add(VhdxLog.Patch.page(f.bat.offset() + (long) page * VhdxLayout.PAGE, content));
            }
            f.logAndApply(pages, size / VhdxLayout.MB * VhdxLayout.MB, VhdxLayout.roundUp(size, VhdxLayout.MB));
        }
        // leaks: whole MiB nothing uses, from the first sound block on (creators may pad before their first block)
        long leaked = 0;
        long lastUsed = used.length();
        for (int u = used.nextClearBit((int) Math.min(firstBlock, Integer.MAX_VALUE)); u < units; u = used.nextClearBit(u + 1)) {
            leaked++;
        }
        long leaksRepaired = 0;
        if (leaked > 0) {
            problems.add(leaked + " MiB of the file belong to no structure");
            if (repair && lastUsed < units && !f.readOnly) {
                var resizable = backend.capability(Resizable.class);
                if (resizable.isPresent()) {
                    backend.flush();
                    resizable.get().resize(lastUsed * VhdxLayout.MB);
                    backend.flush();
                    leaksRepaired = units - lastUsed;
                }
            }
        }
        if (!f.readOnly) {
            f.close();
            backend.flush();
        }
        long total = f.payloadBlocks();
        return new CheckReport(corruptions, leaked, repaired, leaksRepaired, problems, allocated, total, size);
    }

    private static void mark(java.util.BitSet used, long offset, long length) {
        if (length <= 0) {
            return;
        }
        long from = offset / VhdxLayout.MB;
        long to = (offset + length + VhdxLayout.MB - 1) / VhdxLayout.MB;
        if (to <= Integer.MAX_VALUE) {
            used.set((int) from, (int) to);
        }
    }

    private static boolean overlaps(java.util.BitSet used, long offset, long length) {
        long from = offset / VhdxLayout.MB;
        long to = (offset + length + VhdxLayout.MB - 1) / VhdxLayout.MB;
        if (to > Integer.MAX_VALUE) {
            return true;
        }
        int next = used.nextSetBit((int) from);
        return next >= 0 && next < to;
    }
}
