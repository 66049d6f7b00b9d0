package org.spindle.device.ata;

import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;

import org.spindle.storage.api.Discardable;
import org.spindle.storage.api.MediaType;
import org.spindle.storage.api.StorageException;
import org.spindle.storage.api.VirtualDisk;

/** A disk in a byte array for engine tests: counts flushes, records discards, fails where told to. */
public class ArrayDisk implements VirtualDisk, Discardable {
    public final byte[] data;
    final int sectorSize;
    final boolean readOnly;
    public volatile int flushes;
    int reads;
    final List<long[]> discards = new ArrayList<>();
    /** A read or write touching this byte offset fails with IO. */
    public long failAt = -1;

    public ArrayDisk(int bytes, int sectorSize, boolean readOnly) {
        this.data = new byte[bytes];
        this.sectorSize = sectorSize;
        this.readOnly = readOnly;
        for (int i = 0; i < bytes; i++) {
            data[i] = (byte) (i * 7 + (i >>> 9) * 13);
        }
    }

    public static ArrayDisk disk(int sectors) {
        return new ArrayDisk(sectors * 512, 512, false);
    }

    public static ArrayDisk cd(int blocks) {
        return new ArrayDisk(blocks * 2048, 2048, true);
    }

    @Override
    public int logicalSectorSize() {
        return sectorSize;
    }

    @Override
    public long capacity() {
        return data.length;
    }

    @Override
    public boolean isReadOnly() {
        return readOnly;
    }

    @Override
    public String formatName() {
        return "array";
    }

    @Override
    public MediaType mediaType() {
        return sectorSize == 2048 ? MediaType.CDROM : MediaType.DISK;
    }

    private void check(long offset, int length, StorageException.Operation op) throws StorageException {
        if (offset < 0 || offset + length > data.length) {
            throw new StorageException(StorageException.Kind.OUT_OF_BOUNDS, "past the end").withOperation(op);
        }
        if (failAt >= offset && failAt < offset + length) {
            throw new StorageException(StorageException.Kind.IO, "injected failure").withOperation(op);
        }
    }

    @Override
    public void read(long offset, ByteBuffer dst) throws StorageException {
        check(offset, dst.remaining(), StorageException.Operation.READ);
        reads++;
        dst.put(data, (int) offset, dst.remaining());
    }

    @Override
    public void write(long offset, ByteBuffer src) throws StorageException {
        if (readOnly) {
            throw new StorageException(StorageException.Kind.READ_ONLY, "read-only");
        }
        check(offset, src.remaining(), StorageException.Operation.WRITE);
        src.get(data, (int) offset, src.remaining());
    }

    @Override
    public void flush() {
        flushes++;
    }

    @Override
    public void discard(long offset, long length) {
        discards.add(new long[] {offset, length});
    }

    @Override
    public void close() {
    }

    public byte[] slice(long offset, int length) {
        byte[] b = new byte[length];
        System.arraycopy(data, (int) offset, b, 0, length);
        return b;
    }
}
