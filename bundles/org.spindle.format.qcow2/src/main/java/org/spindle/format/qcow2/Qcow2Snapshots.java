package org.spindle.format.qcow2;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;

import org.spindle.storage.api.StorageException;
import org.spindle.storage.api.StorageException.Kind;

/** The snapshot table: one variable-length entry per internal snapshot. */
final class Qcow2Snapshots {
    /** QEMU's limit on the whole table, kept so that hostile images cannot make Spindle allocate more. */
    static final int MAX_TABLE_BYTES = 64 << 20;
    static final int MAX_EXTRA = 1024;

    /** One internal snapshot. {@code diskSize} is the virtual size it was taken at. */
    record Snapshot(long l1Offset, int l1Size, String id, String name, Instant date, long vmClockNanos,
            long vmStateSize, long diskSize, byte[] extra) {
    }

    private Qcow2Snapshots() {
    }

    /** The snapshots of the image, and the byte length of the table. */
    record Table(List<Snapshot> snapshots, long bytes) {
    }

    static Table read(Qcow2File file) throws StorageException {
        Qcow2Header h = file.header;
        List<Snapshot> list = new ArrayList<>();
        if (h.nbSnapshots == 0) {
            return new Table(list, 0);
        }
        long fileSize = file.size();
        long pos = h.snapshotsOffset;
        for (int i = 0; i < h.nbSnapshots; i++) {
            if (pos - h.snapshotsOffset > MAX_TABLE_BYTES) {
                throw new StorageException(Kind.CORRUPT_IMAGE, "the snapshot table is larger than " + MAX_TABLE_BYTES + " bytes");
            }
            ByteBuffer fixed = file.read(pos, 40, "snapshot " + i + " of the snapshot table");
            long l1Offset = fixed.getLong(0);
            int l1Size = fixed.getInt(8);
            int idLength = Short.toUnsignedInt(fixed.getShort(12));
            int nameLength = Short.toUnsignedInt(fixed.getShort(14));
            long seconds = Integer.toUnsignedLong(fixed.getInt(16));
            long nanos = Integer.toUnsignedLong(fixed.getInt(20));
            long vmClock = fixed.getLong(24);
            long vmState = Integer.toUnsignedLong(fixed.getInt(32));
            long extraSize = Integer.toUnsignedLong(fixed.getInt(36));
            if (extraSize > MAX_EXTRA) {
                throw new StorageException(Kind.CORRUPT_IMAGE, "snapshot " + i + " has " + extraSize
                        + " bytes of extra data (at most " + MAX_EXTRA + ")");
            }
            if (h.version >= 3 && extraSize < 16) {
                throw new StorageException(Kind.CORRUPT_IMAGE, "snapshot " + i + " has " + extraSize
                        + " bytes of extra data; version 3 needs at least 16");
            }
            if ((l1Offset & (file.clusterSize - 1)) != 0 || l1Offset <= 0 && l1Size != 0 || l1Offset > fileSize) {
                throw new StorageException(Kind.CORRUPT_IMAGE, "snapshot " + i + " has its L1 table at "
                        + Long.toUnsignedString(l1Offset) + ", not a cluster boundary inside the file");
            }
            if (Integer.toUnsignedLong(l1Size) * 8 > Qcow2Header.MAX_L1_BYTES) {
                throw new StorageException(Kind.CORRUPT_IMAGE, "snapshot " + i + " has an L1 table of "
                        + Integer.toUnsignedString(l1Size) + " entries, more than QEMU's 32 MiB");
            }
            int variable = (int) extraSize + idLength + nameLength;
            ByteBuffer rest = file.read(pos + 40, variable, "snapshot " + i + " of the snapshot table");
            byte[] extra = new byte[(int) extraSize];
            rest.get(0, extra);
            long diskSize = h.size;
            if (extraSize >= 8) {
                vmState = rest.getLong(0);
            }
            if (extraSize >= 16) {
                diskSize = rest.getLong(8);
            }
            byte[] id = new byte[idLength];
            rest.get((int) extraSize, id);
            byte[] name = new byte[nameLength];
            rest.get((int) extraSize + idLength, name);
            list.add(new Snapshot(l1Offset, l1Size, new String(id, StandardCharsets.UTF_8),
                    new String(name, StandardCharsets.UTF_8), Instant.ofEpochSecond(seconds, Math.min(nanos, 999_999_999)),
                    vmClock, vmState, diskSize, extra));
            pos += (40 + variable + 7) & ~7L;
        }
        return new Table(list, pos - h.snapshotsOffset);
    }

    /** The snapshot whose ID or, failing that, name is {@code key}. */
    static Snapshot find(List<Snapshot> snapshots, String key) throws StorageException {
        for (Snapshot s : snapshots) {
            if (s.id().equals(key)) {
                return s;
            }
        }
        for (Snapshot s : snapshots) {
            if (s.name().equals(key)) {
                return s;
            }
        }
        throw new StorageException(Kind.NOT_FOUND, "the image has no snapshot with ID or name '" + key + "'");
    }
}
