package org.spindle.storage.api;

import java.nio.ByteBuffer;

import org.osgi.annotation.versioning.ConsumerType;

/**
 * The guest-visible disk: a fixed array of logical sectors, as a controller sees it.
 *
 * <p>Byte-offset access ({@link #read}, {@link #write}) may start and end anywhere inside
 * {@link #capacity()}; sector access ({@link #readSectors}, {@link #writeSectors}) requires whole
 * sectors and fails with {@link StorageException.Kind#UNALIGNED} otherwise. A request that reaches
 * past the capacity fails with {@code OUT_OF_BOUNDS} and transfers nothing. A write to a read-only disk
 * fails with {@code READ_ONLY} and changes nothing.
 *
 * <p>{@link #flush()} is a durability barrier: when it returns, every write that completed before it
 * was called survives a host crash.
 */
@ConsumerType
public interface VirtualDisk extends Capable, AutoCloseable {

    /** The logical sector size the guest sees: 512 or 4096, or 2048 for CD media. */
    int logicalSectorSize();

    /** The capacity in bytes. */
    long capacity();

    /** The number of whole logical sectors. */
    default long sectorCount() {
        return capacity() / logicalSectorSize();
    }

    boolean isReadOnly();

    /** The name of the image format, e.g. {@code raw}. */
    String formatName();

    /**
     * The kind of medium this disk is: a CD image says {@link MediaType#CDROM}. A drive may present a
     * disk image as another type when configured to.
     *
     * @since 1.1
     */
    default MediaType mediaType() {
        return MediaType.DISK;
    }

    /**
     * Facts about the image a person may want to see ({@code img info}): block size, allocation,
     * version. Keys are short lower-case words; values are strings, numbers or booleans.
     *
     * @since 1.1
     */
    default java.util.Map<String, Object> details() {
        return java.util.Map.of();
    }

    /** Reads {@code dst.remaining()} bytes at byte {@code offset}. */
    void read(long offset, ByteBuffer dst) throws StorageException;

    /** Writes {@code src.remaining()} bytes at byte {@code offset}. */
    void write(long offset, ByteBuffer src) throws StorageException;

    void flush() throws StorageException;

    /** Reads whole sectors starting at {@code lba}. */
    default void readSectors(long lba, ByteBuffer dst) throws StorageException {
        read(sectorOffset(lba, dst.remaining(), StorageException.Operation.READ), dst);
    }

    /** Writes whole sectors starting at {@code lba}. */
    default void writeSectors(long lba, ByteBuffer src) throws StorageException {
        write(sectorOffset(lba, src.remaining(), StorageException.Operation.WRITE), src);
    }

    /**
     * Checks a sector-addressed request and returns its byte offset: the length must be a whole number
     * of sectors and the range must not overflow.
     */
    default long sectorOffset(long lba, int byteLength, StorageException.Operation op) throws StorageException {
        int sectorSize = logicalSectorSize();
        if (byteLength % sectorSize != 0) {
            throw new StorageException(StorageException.Kind.UNALIGNED,
                    byteLength + " bytes is not a whole number of " + sectorSize + "-byte sectors")
                    .withOperation(op);
        }
        if (lba < 0 || lba > Long.MAX_VALUE / sectorSize) {
            throw new StorageException(StorageException.Kind.OUT_OF_BOUNDS,
                    "sector " + Long.toUnsignedString(lba) + " is beyond any disk").withOperation(op);
        }
        return lba * sectorSize;
    }

    /** Releases the disk and its backend. A second close does nothing. */
    @Override
    void close() throws StorageException;
}
