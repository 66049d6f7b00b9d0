package org.spindle.shell;

import java.util.ArrayList;
import java.util.List;

import org.spindle.storage.api.ByteSize;
import org.spindle.storage.api.CacheStatsDTO;
import org.spindle.storage.api.TransferStatsDTO;
import org.spindle.storage.api.DriveDTO;

/** How drives read on a terminal: one line each in a table, or every field for one drive. */
final class DriveFormat {
    /** Minimum column widths, so that lines printed one at a time (Gogo prints lists so) still align. */
    private static final int[] MIN_WIDTHS = {8, 8, 6, 8, 12, 0};

    private DriveFormat() {
    }

    static String table(List<DriveDTO> drives) {
        if (drives.isEmpty()) {
            return "no drives configured";
        }
        List<String[]> rows = new ArrayList<>();
        rows.add(new String[] {"ID", "STATE", "FORMAT", "SIZE", "MODE", "BACKEND"});
        for (DriveDTO d : drives) {
            // a drive whose configuration did not parse has only an id, a state and a failure
            rows.add(new String[] {orDash(d.id), String.valueOf(d.state),
                    orDash(d.format != null ? d.format : d.requestedFormat),
                    d.format != null ? ByteSize.format(d.capacity) : "-",
                    d.cache == null ? "-" : (d.readOnly ? "ro" : "rw") + "," + d.cache, orDash(d.backend)});
        }
        int[] widths = MIN_WIDTHS.clone();
        for (String[] row : rows) {
            for (int i = 0; i < row.length; i++) {
                widths[i] = Math.max(widths[i], row[i].length());
            }
        }
        StringBuilder sb = new StringBuilder();
        for (String[] row : rows) {
            for (int i = 0; i < row.length; i++) {
                sb.append(i == row.length - 1 ? row[i] : pad(row[i], widths[i] + 2));
            }
            sb.append('\n');
        }
        for (DriveDTO d : drives) {
            if (d.failure != null) {
                sb.append("  ").append(d.id).append(": ").append(d.failure).append('\n');
            }
        }
        return sb.toString().stripTrailing();
    }

    static String line(DriveDTO d) {
        return table(List.of(d)).lines().skip(1).findFirst().orElse(d.id);
    }

    static String details(DriveDTO d) {
        StringBuilder sb = new StringBuilder();
        field(sb, "id", d.id);
        field(sb, "state", d.state);
        field(sb, "backend", d.backend);
        field(sb, "format", d.format == null ? "(requested " + d.requestedFormat + ")" : d.format
                + ("auto".equals(d.requestedFormat) ? " (probed)" : ""));
        if (d.format != null) {
            field(sb, "capacity", ByteSize.format(d.capacity) + " (" + d.capacity + " bytes)");
            field(sb, "sector size", d.sectorSize);
            field(sb, "capabilities", d.capabilities.length == 0 ? "none" : String.join(", ", d.capabilities));
            field(sb, "media", d.media);
            for (int i = 0; i < d.chain.length; i++) {
                field(sb, i == 0 ? "overlay of" : "  over", d.chain[i]);
            }
        }
        field(sb, "read-only", d.readOnly);
        field(sb, "cache", d.cache);
        if (d.blockCache != null) {
            CacheStatsDTO c = d.blockCache;
            field(sb, "block cache", ByteSize.format(c.usedBytes) + " of " + ByteSize.format(c.capacityBytes) + " in "
                    + ByteSize.format(c.blockSize) + " blocks, " + c.mode + ", " + ByteSize.format(c.dirtyBytes) + " dirty");
            field(sb, "  counters", c.hits + " hits, " + c.misses + " misses, " + c.evictions + " evictions, "
                    + c.writeBacks + " write-backs" + (c.failedWriteBacks > 0 ? ", " + c.failedWriteBacks
                    + " FAILED write-backs" : ""));
        }
        for (TransferStatsDTO t : d.transfers) {
            field(sb, "network", t.location + " (" + t.transport + ")");
            field(sb, "  traffic", ByteSize.format(t.bytesFetched) + " fetched for " + ByteSize.format(t.bytesRead)
                    + " read" + (t.bytesRead > 0 ? String.format(java.util.Locale.ROOT, " (%.2fx)", t.amplification) : "")
                    + ", " + t.requests + " requests, " + t.retries + " retries, " + t.failures + " failures");
            field(sb, "  chunks", t.hits + " hits, " + t.misses + " misses, " + t.readAheads + " read ahead");
            if (t.persistentCapacityBytes > 0) {
                field(sb, "  disk cache", ByteSize.format(t.persistentUsedBytes) + " of "
                        + ByteSize.format(t.persistentCapacityBytes) + " (shared), " + t.persistentEvictions + " evictions");
            }
        }
        field(sb, "configuration", d.configuration);
        if (d.failure != null) {
            field(sb, "failure", d.failure);
        }
        return sb.toString().stripTrailing();
    }

    private static String orDash(String s) {
        return s == null ? "-" : s;
    }

    private static void field(StringBuilder sb, String name, Object value) {
        sb.append(pad(name, 15)).append(value).append('\n');
    }

    private static String pad(String s, int width) {
        return s.length() >= width ? s + " " : s + " ".repeat(width - s.length());
    }
}
