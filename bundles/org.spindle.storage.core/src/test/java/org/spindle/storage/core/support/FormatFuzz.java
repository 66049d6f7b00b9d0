package org.spindle.storage.core.support;

import java.nio.ByteBuffer;
import java.util.SplittableRandom;

import org.spindle.storage.api.AllocationMap;
import org.spindle.storage.api.Extent;
import org.spindle.storage.api.StorageException;
import org.spindle.storage.api.VirtualDisk;

/**
 * What every format's parser fuzz test does with a disk that opened: budgeted reads (the first MiB,
 * then random ranges) and a bounded walk of its allocation map, whose extents must tile the disk.
 * A {@link StorageException} on the way is a damaged image found, not a failure.
 */
public final class FormatFuzz {
    private FormatFuzz() {
    }

    public static void readAndWalk(VirtualDisk disk, SplittableRandom random) {
        long capacity = disk.capacity();
        disk.details();
        long budget = 4L << 20;
        for (int i = 0; i < 16 && capacity > 0 && budget > 0; i++) {
            int length = (int) Math.min(capacity, 1 + random.nextInt(i == 0 ? 1 << 20 : 70_000));
            long offset = i == 0 ? 0 : random.nextLong(capacity - length + 1);
            budget -= length;
            try {
                disk.read(offset, ByteBuffer.allocate(length));
            } catch (StorageException e) {
                // a damaged table found on the way
            }
        }
        try {
            AllocationMap map = disk.capability(AllocationMap.class).orElseThrow();
            long pos = 0;
            for (int calls = 0; pos < capacity && calls < 4096; calls++) {
                Extent e = map.extent(pos, capacity - pos);
                if (e.offset() != pos || e.length() <= 0 || e.end() > capacity) {
                    throw new AssertionError("extent " + e + " asked at " + pos + " in a disk of " + capacity);
                }
                pos = e.end();
            }
        } catch (StorageException e) {
            // a damaged table
        }
    }
}
