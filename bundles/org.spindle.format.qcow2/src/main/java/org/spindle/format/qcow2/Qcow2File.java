package org.spindle.format.qcow2;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;

import org.spindle.storage.api.StorageBackend;
import org.spindle.storage.api.StorageException;
import org.spindle.storage.api.StorageException.Kind;

/**
 * The image file and its header: whole-buffer reads and writes, and the table entry layouts shared by
 * the disk, the refcount structure and the checker.
 */
final class Qcow2File {
    /** Bits 9–55 of an L1, L2 or refcount table entry: a host offset. */
    static final long OFFSET_MASK = 0x00ff_ffff_ffff_fe00L;
    /** Bit 63: the entry's cluster has a refcount of exactly one. */
    static final long COPIED = 1L << 63;
    /** Bit 62 of an L2 entry: a compressed cluster. */
    static final long COMPRESSED = 1L << 62;
    /** Bit 0 of a standard L2 entry (version 3, no extended entries): reads as zeros. */
    static final long ZERO = 1L;
    /** Reserved bits of an L1 entry (0–8 and 56–62). */
    static final long L1_RESERVED = 0x7f00_0000_0000_01ffL;
    /** Reserved bits of a standard L2 entry (1–8 and 56–61). */
    static final long L2_RESERVED = 0x3f00_0000_0000_01feL;

    final StorageBackend backend;
    final Qcow2Header header;
    final int clusterBits;
    final int clusterSize;

    Qcow2File(StorageBackend backend, Qcow2Header header) {
        this.backend = backend;
        this.header = header;
        this.clusterBits = header.clusterBits;
        this.clusterSize = header.clusterSize;
    }

    String location() {
        return backend.location();
    }

    long size() throws StorageException {
        return backend.size();
    }

    /** Reads {@code length} bytes at {@code offset}; a range past the end of the file is a corrupt image. */
    ByteBuffer read(long offset, int length, String what) throws StorageException {
        ByteBuffer b = ByteBuffer.allocate(length).order(ByteOrder.BIG_ENDIAN);
        readFully(offset, b, what);
        return b.flip();
    }

    void readFully(long offset, ByteBuffer dst, String what) throws StorageException {
        long fileSize = backend.size();
        if (offset < 0 || offset > fileSize - dst.remaining()) {
            throw new StorageException(Kind.CORRUPT_IMAGE, what + " (" + dst.remaining() + " bytes at "
                    + Long.toUnsignedString(offset) + ") lies beyond the end of the " + fileSize + "-byte file");
        }
        backend.read(offset, dst);
    }

    void write(long offset, ByteBuffer src) throws StorageException {
        backend.write(offset, src);
    }

    void sync() throws StorageException {
        backend.flush();
    }

    /** Rewrites the fixed header (the extensions after it are left as they are). */
    void writeHeader() throws StorageException {
        backend.write(0, ByteBuffer.wrap(header.encode()));
    }

    /**
     * Host offset and byte length of a compressed cluster's data: the descriptor holds the offset in
     * its low {@code 62 - (cluster_bits - 8)} bits and, above them, how many 512-byte sectors follow
     * the one the offset lies in.
     */
    static long[] compressedRange(long entry, int clusterBits) {
        int x = 62 - (clusterBits - 8);
        long host = entry & ((1L << x) - 1);
        long sectors = ((entry & ~(COPIED | COMPRESSED)) >>> x) + 1;
        long end = (host & ~511L) + sectors * 512;
        return new long[] {host, end - host};
    }

    static long[] readEntries(ByteBuffer b, int count) {
        long[] entries = new long[count];
        for (int i = 0; i < count; i++) {
            entries[i] = b.getLong(i * 8);
        }
        return entries;
    }

    static ByteBuffer encodeEntries(long[] entries, int from, int to) {
        ByteBuffer b = ByteBuffer.allocate((to - from) * 8).order(ByteOrder.BIG_ENDIAN);
        for (int i = from; i < to; i++) {
            b.putLong(entries[i]);
        }
        return b.flip();
    }
}
