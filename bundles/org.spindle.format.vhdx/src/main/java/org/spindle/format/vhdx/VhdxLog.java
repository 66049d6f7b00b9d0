package org.spindle.format.vhdx;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.UUID;

import org.spindle.storage.api.StorageException;
import org.spindle.storage.api.StorageException.Kind;

/**
 * The metadata log: a ring of entries, each a set of 4 KiB updates (or zeroed ranges) to file
 * offsets, written and flushed before the updates themselves. {@link #scan} finds the active
 * sequence the way the specification describes (the newest complete run of entries whose head's
 * tail lies inside it) and returns what replaying it writes; {@link #encode} builds an entry.
 *
 * <p>An entry: one or more descriptor sectors (the 64-byte entry header, then 32-byte descriptors:
 * {@code desc} for a 4 KiB update, {@code zero} for a zeroed range), then one data sector per update,
 * which keeps bytes 8..4091 of the update between the signature {@code data} and the halves of the
 * sequence number; the descriptor keeps the first eight and last four bytes. A CRC-32C covers the
 * whole entry.
 */
final class VhdxLog {
    static final int SECTOR = VhdxLayout.PAGE;
    private static final int FIRST_SECTOR_DESCRIPTORS = 126;
    private static final int MORE_SECTOR_DESCRIPTORS = 128;
    private static final byte[] ENTRY = "loge".getBytes(StandardCharsets.US_ASCII);
    private static final byte[] ZERO = "zero".getBytes(StandardCharsets.US_ASCII);
    private static final byte[] DESC = "desc".getBytes(StandardCharsets.US_ASCII);
    private static final byte[] DATA = "data".getBytes(StandardCharsets.US_ASCII);

    private VhdxLog() {
    }

    /** One update: {@code data} (4 KiB) at {@code offset}, or {@code length} zero bytes when data is null. */
    record Patch(long offset, byte[] data, long length) {
        static Patch page(long offset, byte[] data) {
            return new Patch(offset, data, data.length);
        }

        long end() {
            return offset + length;
        }
    }

    /** An entry of the ring: where it is, how long, its sequence number and tail, and its updates. */
    record Entry(int at, int length, long sequence, int tail, long flushedFileOffset, long lastFileOffset,
            List<Patch> patches) {
    }

    /** What replaying the active sequence does, and the head entry that ends it. */
    record Replay(List<Patch> patches, Entry head) {
    }

    /** The number of 4 KiB sectors an entry of {@code pages} updates takes. */
    static int sectors(int pages) {
        return descriptorSectors(pages) + pages;
    }

    private static int descriptorSectors(long descriptors) {
        return descriptors <= FIRST_SECTOR_DESCRIPTORS ? 1
                : 1 + (int) ((descriptors - FIRST_SECTOR_DESCRIPTORS + MORE_SECTOR_DESCRIPTORS - 1) / MORE_SECTOR_DESCRIPTORS);
    }

    private static int descriptorAt(int i) {
        return i < FIRST_SECTOR_DESCRIPTORS ? 64 + 32 * i
                : SECTOR * (1 + (i - FIRST_SECTOR_DESCRIPTORS) / MORE_SECTOR_DESCRIPTORS)
                        + 32 * ((i - FIRST_SECTOR_DESCRIPTORS) % MORE_SECTOR_DESCRIPTORS);
    }

    /** An entry holding 4 KiB updates, whose tail is itself (everything before it is applied). */
    static byte[] encode(long sequence, int at, UUID logGuid, long flushedFileOffset, long lastFileOffset,
            List<Patch> pages) {
        int n = pages.size();
        int descriptorSectors = descriptorSectors(n);
        byte[] raw = new byte[(descriptorSectors + n) * SECTOR];
        ByteBuffer b = ByteBuffer.wrap(raw).order(ByteOrder.LITTLE_ENDIAN);
        b.put(0, ENTRY);
        b.putInt(8, raw.length);
        b.putInt(12, at);
        b.putLong(16, sequence);
        b.putInt(24, n);
        Guids.write(b, 32, logGuid);
        b.putLong(48, flushedFileOffset);
        b.putLong(56, lastFileOffset);
        for (int i = 0; i < n; i++) {
            Patch p = pages.get(i);
            int d = descriptorAt(i);
            b.put(d, DESC);
            b.put(d + 4, p.data(), SECTOR - 4, 4);
            b.put(d + 8, p.data(), 0, 8);
            b.putLong(d + 16, p.offset());
            b.putLong(d + 24, sequence);
            int s = (descriptorSectors + i) * SECTOR;
            b.put(s, DATA);
            b.putInt(s + 4, (int) (sequence >>> 32));
            b.put(s + 8, p.data(), 8, SECTOR - 12);
            b.putInt(s + SECTOR - 4, (int) sequence);
        }
        Crc.seal(raw, 0, raw.length, 4);
        return raw;
    }

    /**
     * Finds the active sequence of {@code log} (the whole log region) for {@code logGuid}; null when
     * the log holds no valid sequence.
     */
    static Replay scan(byte[] log, UUID logGuid) {
        int ringLength = log.length;
        List<Entry> best = null;
        long bestSequence = 0;
        int currentTail = 0;
        for (int round = 0; round <= ringLength / SECTOR; round++) {
            List<Entry> current = new ArrayList<>();
            int head = currentTail;
            long sequence = 0;
            while (current.size() <= ringLength / SECTOR) {
                Entry e = parse(log, head, logGuid);
                if (e == null || !current.isEmpty() && e.sequence() != sequence + 1) {
                    break;
                }
                current.add(e);
                sequence = e.sequence();
                head = (int) ((head + (long) e.length()) % ringLength);
            }
            int tailIndex = -1;
            if (!current.isEmpty()) {
                int tail = current.get(current.size() - 1).tail();
                for (int i = 0; i < current.size(); i++) {
                    if (current.get(i).at() == tail) {
                        tailIndex = i;
                    }
                }
            }
            boolean valid = tailIndex >= 0;
            if (valid && Long.compareUnsigned(sequence, bestSequence) > 0) {
                best = current.subList(tailIndex, current.size());
                bestSequence = sequence;
            }
            // the next place to look: after this sequence, or the next sector; a wrap ends the scan
            int next = valid ? head : (currentTail + SECTOR) % ringLength;
            if (next <= currentTail) {
                break;
            }
            currentTail = next;
        }
        if (best == null) {
            return null;
        }
        List<Patch> patches = new ArrayList<>();
        for (Entry e : best) {
            patches.addAll(e.patches());
        }
        return new Replay(List.copyOf(patches), best.get(best.size() - 1));
    }

    /** The entry at ring offset {@code at}, or null when there is no valid one there. */
    static Entry parse(byte[] log, int at, UUID logGuid) {
        int ringLength = log.length;
        if (at % SECTOR != 0 || at < 0 || at >= ringLength) {
            return null;
        }
        ByteBuffer h = ByteBuffer.wrap(log, at, SECTOR).slice().order(ByteOrder.LITTLE_ENDIAN);
        if (!Arrays.equals(log, at, at + 4, ENTRY, 0, 4)) {
            return null;
        }
        long length = Integer.toUnsignedLong(h.getInt(8));
        long tail = Integer.toUnsignedLong(h.getInt(12));
        long sequence = h.getLong(16);
        long descriptors = Integer.toUnsignedLong(h.getInt(24));
        if (length == 0 || length % SECTOR != 0 || length > ringLength || tail % SECTOR != 0 || tail >= ringLength
                || sequence == 0 || !Guids.read(h, 32).equals(logGuid)) {
            return null;
        }
        long flushed = h.getLong(48);
        long last = h.getLong(56);
        if (flushed % VhdxLayout.MB != 0 || last % VhdxLayout.MB != 0 || descriptors > length / 32) {
            return null;
        }
        int descriptorSectors = descriptorSectors(descriptors);
        if ((long) descriptorSectors * SECTOR > length) {
            return null;
        }
        byte[] entry = new byte[(int) length];
        int first = Math.min(entry.length, ringLength - at);
        System.arraycopy(log, at, entry, 0, first);
        System.arraycopy(log, 0, entry, first, entry.length - first);
        if (Crc.stored(entry, 4) != Crc.of(entry, 0, entry.length, 4)) {
            return null;
        }
        ByteBuffer b = ByteBuffer.wrap(entry).order(ByteOrder.LITTLE_ENDIAN);
        List<Patch> patches = new ArrayList<>();
        int dataSector = descriptorSectors;
        for (int i = 0; i < descriptors; i++) {
            int d = descriptorAt(i);
            long offset = b.getLong(d + 16);
            if (b.getLong(d + 24) != sequence || offset % SECTOR != 0 || offset < 0) {
                return null;
            }
            if (Arrays.equals(entry, d, d + 4, ZERO, 0, 4)) {
                long zeros = b.getLong(d + 8);
                if (zeros <= 0 || zeros % SECTOR != 0) {
                    return null;
                }
                patches.add(new Patch(offset, null, zeros));
            } else if (Arrays.equals(entry, d, d + 4, DESC, 0, 4)) {
                int s = dataSector * SECTOR;
                if ((long) s + SECTOR > length || !Arrays.equals(entry, s, s + 4, DATA, 0, 4)
                        || b.getInt(s + 4) != (int) (sequence >>> 32) || b.getInt(s + SECTOR - 4) != (int) sequence) {
                    return null;
                }
                byte[] page = new byte[SECTOR];
                System.arraycopy(entry, d + 8, page, 0, 8);
                System.arraycopy(entry, s + 8, page, 8, SECTOR - 12);
                System.arraycopy(entry, d + 4, page, SECTOR - 4, 4);
                patches.add(Patch.page(offset, page));
                dataSector++;
            } else {
                return null;
            }
        }
        return new Entry(at, (int) length, sequence, (int) tail, flushed, last, List.copyOf(patches));
    }

    /**
     * Checks that replaying {@code replay} stays out of the file identifier, the headers and the log
     * (the region tables, the BAT and the metadata are what it updates), and that the
     * file it describes is not shorter than the entry says was flushed.
     */
    static void validate(Replay replay, long fileSize, long logOffset, long logLength) throws StorageException {
        Entry head = replay.head();
        if (Long.compareUnsigned(fileSize, head.flushedFileOffset()) < 0) {
            throw new StorageException(Kind.CORRUPT_IMAGE, "the file is " + fileSize + " bytes, but the log says "
                    + Long.toUnsignedString(head.flushedFileOffset()) + " bytes were flushed: it was truncated");
        }
        long limit = Math.max(fileSize, head.lastFileOffset());
        if (Long.compareUnsigned(head.lastFileOffset(), fileSize + VhdxLayout.MAX_BLOCK) > 0) {
            throw new StorageException(Kind.CORRUPT_IMAGE, "the log would grow the " + fileSize + "-byte file to "
                    + Long.toUnsignedString(head.lastFileOffset()) + " bytes");
        }
        for (Patch p : replay.patches()) {
            if (p.offset() < VhdxLayout.REGION_TABLES[0] || p.end() > limit || p.end() < p.offset()
                    || p.offset() < logOffset + logLength && logOffset < p.end()) {
                throw new StorageException(Kind.CORRUPT_IMAGE, "the log writes " + p.length() + " bytes at "
                        + Long.toUnsignedString(p.offset()) + ", outside the file's metadata and data");
            }
        }
    }
}
