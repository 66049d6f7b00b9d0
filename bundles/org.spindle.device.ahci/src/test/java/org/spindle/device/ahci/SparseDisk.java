package org.spindle.device.ahci;

import java.nio.ByteBuffer;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

import org.spindle.storage.api.Discardable;
import org.spindle.storage.api.StorageException;
import org.spindle.storage.api.VirtualDisk;

/** A large disk that holds only the sectors written (the rest read as zeros): for 48-bit addresses. */
final class SparseDisk implements VirtualDisk, Discardable {
    int flushes;
    private final long capacity;
    private final Map<Long, byte[]> sectors = new ConcurrentHashMap<>();

    SparseDisk(long capacity) {
        this.capacity = capacity;
    }

    @Override
    public int logicalSectorSize() {
        return 512;
    }

    @Override
    public long capacity() {
        return capacity;
    }

    @Override
    public boolean isReadOnly() {
        return false;
    }

    @Override
    public String formatName() {
        return "sparse-test";
    }

    @Override
    public void read(long offset, ByteBuffer dst) throws StorageException {
        check(offset, dst.remaining());
        while (dst.hasRemaining()) {
            long lba = offset / 512;
            int in = (int) (offset % 512);
            int n = Math.min(512 - in, dst.remaining());
            byte[] s = sectors.get(lba);
            if (s == null) {
                for (int i = 0; i < n; i++) {
                    dst.put((byte) 0);
                }
            } else {
                dst.put(s, in, n);
            }
            offset += n;
        }
    }

    @Override
    public void write(long offset, ByteBuffer src) throws StorageException {
        check(offset, src.remaining());
        while (src.hasRemaining()) {
            long lba = offset / 512;
            int in = (int) (offset % 512);
            int n = Math.min(512 - in, src.remaining());
            byte[] s = sectors.computeIfAbsent(lba, k -> new byte[512]);
            src.get(s, in, n);
            offset += n;
        }
    }

    private void check(long offset, int length) throws StorageException {
        if (offset < 0 || offset + length > capacity) {
            throw new StorageException(StorageException.Kind.OUT_OF_BOUNDS, "past the end");
        }
    }

    @Override
    public void flush() {
        flushes++;
    }

    @Override
    public void discard(long offset, long length) throws StorageException {
        check(offset, (int) Math.min(length, Integer.MAX_VALUE));
        for (long lba = offset / 512; lba < (offset + length) / 512; lba++) {
            sectors.remove(lba);
        }
    }

    /** Whether a sector holds written data. */
    boolean holds(long lba) {
        return sectors.containsKey(lba);
    }

    @Override
    public void close() {
    }
}
