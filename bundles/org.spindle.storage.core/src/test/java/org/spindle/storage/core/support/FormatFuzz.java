package org.spindle.storage.core.support;

import java.nio.ByteBuffer;
import java.util.SplittableRandom;

import org.spindle.backend.memory.MemoryBackendProvider;
import org.spindle.storage.api.AccessMode;
import org.spindle.storage.api.AllocationMap;
import org.spindle.storage.api.Deletable;
import org.spindle.storage.api.DiskFormat;
import org.spindle.storage.api.OpenOptions;
import org.spindle.storage.api.StorageBackend;
import org.spindle.storage.api.Extent;
import org.spindle.storage.api.StorageException;
import org.spindle.storage.api.VirtualDisk;

/**
 * What every format's parser fuzz test does with a disk that opened: budgeted reads (the first MiB,
 * then random ranges) and a bounded walk of its allocation map, whose extents must tile the disk.
 * A {@link StorageException} on the way is a damaged image found, not a failure.
 */
public final class FormatFuzz {
    private static final MemoryBackendProvider MEMORY = new MemoryBackendProvider();
    private static int counter;

    private FormatFuzz() {
    }

    /**
     * The whole round for one fuzzed image, as every format's fuzz test runs it: opened read-only and
     * {@link #readAndWalk read and walked}, checked, checked with repair, then opened writable for a
     * write of a few sectors and a flush. Each step either works or fails with a
     * {@link StorageException}; anything else escapes to the fuzzer as a finding.
     */
    public static void exercise(DiskFormat format, byte[] image, SplittableRandom random) throws StorageException {
        String name = "fuzz" + (counter++);
        try (StorageBackend backend = MEMORY.open(java.net.URI.create("memory:" + name + "?size=0"), AccessMode.CREATE_NEW)) {
            backend.write(0, ByteBuffer.wrap(image));
        }
        try {
            VirtualDisk reader = open(format, name, true);
            if (reader != null) {
                try (reader) {
                    readAndWalk(reader, random);
                }
            }
            for (boolean repair : new boolean[] {false, true}) {
                try (StorageBackend b = MEMORY.open(java.net.URI.create("memory:" + name),
                        repair ? AccessMode.READ_WRITE : AccessMode.READ_ONLY)) {
                    format.check(b, repair);
                } catch (StorageException e) {
                    // refused
                }
            }
            VirtualDisk disk = open(format, name, false);
            if (disk != null) {
                try (disk) {
                    long capacity = Math.min(disk.capacity(), 64L << 20);
                    if (capacity >= 512) {
                        long offset = random.nextLong(capacity / 512) * 512;
                        int length = (int) Math.min(capacity - offset, 512 * (1 + random.nextInt(16)));
                        byte[] data = new byte[length];
                        random.nextBytes(data);
                        disk.write(offset, ByteBuffer.wrap(data));
                        disk.flush();
                    }
                } catch (StorageException e) {
                    // a damaged table found on the way
                }
            }
        } finally {
            MEMORY.open(java.net.URI.create("memory:" + name), AccessMode.READ_WRITE).capability(Deletable.class)
                    .orElseThrow().closeAndDelete();
        }
    }

    private static VirtualDisk open(DiskFormat format, String name, boolean readOnly) throws StorageException {
        StorageBackend backend = MEMORY.open(java.net.URI.create("memory:" + name),
                readOnly ? AccessMode.READ_ONLY : AccessMode.READ_WRITE);
        try {
            return format.open(backend, OpenOptions.defaults().withReadOnly(readOnly));
        } catch (StorageException e) {
            backend.close();
            return null;
        }
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
