package org.spindle.storage.core.crash;

import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

import org.spindle.storage.api.StorageBackend;
import org.spindle.storage.api.StorageException;
import org.spindle.storage.api.StorageException.Kind;

/**
 * An in-memory backend that logs every write and every flush, so a test can rebuild the file as a
 * crash would have left it at any moment of its history. Where {@link CrashHarness} kills a real
 * process at random moments, this one visits every moment, deterministically.
 *
 * <p>Two crash models: {@link #cutAfter(int)} is a process kill (the first {@code k} writes all
 * reached the file, in order; a write is whole, as a syscall is); {@link #cutAfter(int, long)} is a
 * power cut (everything before the last flush is durable, and any subset of the writes issued since
 * then survived, in any order).
 */
public final class CutBackend implements StorageBackend {
    private final String location;
    private byte[] data;
    private int size;
    private final List<long[]> writeOffsets = new ArrayList<>();
    private final List<byte[]> writeBytes = new ArrayList<>();
    /** For each flush: how many writes came before it, and the file as it was then. */
    private final List<Integer> flushedAt = new ArrayList<>();
    private final List<byte[]> flushedImages = new ArrayList<>();
    private boolean readOnly;

    /** An empty file. */
    public CutBackend(String location) {
        this(location, new byte[0], false);
    }

    /** A file holding {@code content}, all of it durable. */
    public CutBackend(String location, byte[] content, boolean readOnly) {
        this.location = location;
        this.data = content.clone();
        this.size = content.length;
        this.readOnly = readOnly;
        flushedAt.add(0);
        flushedImages.add(content.clone());
    }

    /** How many writes happened so far (the crash points are 0 to this, inclusive). */
    public int writes() {
        return writeBytes.size();
    }

    /** The index of the flush that was the last one before write {@code k}. */
    private int lastFlush(int k) {
        int f = flushedAt.size() - 1;
        while (flushedAt.get(f) > k) {
            f--;
        }
        return f;
    }

    /** How many writes had been issued but not flushed when write {@code k} was about to start. */
    public int unflushedAt(int k) {
        return k - flushedAt.get(lastFlush(k));
    }

    /** The file after a process kill just before write {@code k}: exactly the first {@code k} writes landed. */
    public byte[] cutAfter(int k) {
        return cutAfter(k, -1L);
    }

    /**
     * The file after a power cut just before write {@code k}: the content of the last flush before it,
     * plus those of the unflushed writes whose bit (in issue order, bit 0 the oldest) is set in
     * {@code survivors}.
     */
    public byte[] cutAfter(int k, long survivors) {
        int f = lastFlush(k);
        byte[] image = flushedImages.get(f).clone();
        for (int i = flushedAt.get(f), bit = 0; i < k; i++, bit++) {
            if (bit < 64 && (survivors & (1L << bit)) == 0) {
                continue;
            }
            int offset = (int) writeOffsets.get(i)[0];
            byte[] bytes = writeBytes.get(i);
            if (offset + bytes.length > image.length) {
                image = Arrays.copyOf(image, offset + bytes.length);
            }
            System.arraycopy(bytes, 0, image, offset, bytes.length);
        }
        return image;
    }

    /** The file now, as if everything were flushed. */
    public byte[] content() {
        return Arrays.copyOf(data, size);
    }

    @Override
    public String location() {
        return location;
    }

    @Override
    public long size() {
        return size;
    }

    @Override
    public boolean isReadOnly() {
        return readOnly;
    }

    @Override
    public void read(long offset, ByteBuffer dst) throws StorageException {
        if (offset < 0 || offset + dst.remaining() > size) {
            throw new StorageException(Kind.OUT_OF_BOUNDS, "read of " + dst.remaining() + " bytes at " + offset
                    + " beyond the " + size + "-byte file");
        }
        dst.put(data, (int) offset, dst.remaining());
    }

    @Override
    public void write(long offset, ByteBuffer src) throws StorageException {
        if (readOnly) {
            throw new StorageException(Kind.READ_ONLY, location + " is read-only");
        }
        if (offset < 0 || offset + src.remaining() > Integer.MAX_VALUE - 8) {
            throw new StorageException(Kind.OUT_OF_BOUNDS, "write at " + offset + " beyond an in-memory test file");
        }
        byte[] bytes = new byte[src.remaining()];
        src.get(bytes);
        int end = (int) offset + bytes.length;
        if (end > data.length) {
            data = Arrays.copyOf(data, Math.max(end, data.length * 2));
        }
        System.arraycopy(bytes, 0, data, (int) offset, bytes.length);
        size = Math.max(size, end);
        writeOffsets.add(new long[] {offset});
        writeBytes.add(bytes);
    }

    @Override
    public void flush() {
        flushedAt.add(writeBytes.size());
        flushedImages.add(content());
    }

    @Override
    public void close() {
        readOnly = true;
    }
}
