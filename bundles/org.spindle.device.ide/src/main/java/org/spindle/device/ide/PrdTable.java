package org.spindle.device.ide;

import java.util.ArrayList;
import java.util.List;

import org.spindle.machine.api.GuestMemory;
import org.spindle.machine.api.GuestMemoryException;
import org.spindle.machine.api.SgEntry;
import org.spindle.machine.api.SgList;

/**
 * A bus-master IDE physical region descriptor table, parsed: 8-byte entries of a 32-bit address, a
 * 16-bit byte count (0 meaning 64 KiB; bit 0 of both is ignored, as the controller moves words) and
 * the end-of-table bit (bit 15 of the last word).
 *
 * @param list the regions, or {@code null} when the table has no end-of-table entry within the limit
 * @param memoryError whether the table itself was not readable (a master abort)
 */
record PrdTable(SgList list, boolean memoryError) {
    static final int EOT = 0x8000;

    /** Reads the table at {@code address}, at most {@code maxEntries} entries. */
    static PrdTable read(GuestMemory memory, long address, int maxEntries) {
        List<SgEntry> entries = new ArrayList<>();
        for (int i = 0; i < maxEntries; i++) {
            long entry;
            try {
                entry = memory.readLong(address + 8L * i);
            } catch (GuestMemoryException e) {
                return new PrdTable(null, true);
            }
            long base = entry & 0xFFFF_FFFEL;
            int count = (int) (entry >>> 32) & 0xFFFE;
            long length = count == 0 ? 0x10000 : count;
            entries.add(new SgEntry(base, length));
            if (((entry >>> 48) & EOT) != 0) {
                return new PrdTable(SgList.of(entries), false);
            }
        }
        return new PrdTable(null, false);
    }
}
