package org.spindle.storage.api;

import java.nio.ByteBuffer;

import org.osgi.annotation.versioning.ConsumerType;

/**
 * A capability of formats that can store data compressed (qcow2): {@code img convert -c} writes
 * through it. Compression works on whole, aligned units; a unit that does not get smaller, or that
 * already holds data, is written the ordinary way.
 */
@ConsumerType
public interface CompressedWrites {
    /** The unit compressed data is written in, in bytes (a power of two). */
    int compressionUnit();

    /**
     * Writes {@code src} compressed at {@code offset}: one whole unit, or the rest of the disk when
     * the disk ends inside the unit.
     *
     * @throws StorageException {@code UNALIGNED} when the range is not one whole unit
     */
    void writeCompressed(long offset, ByteBuffer src) throws StorageException;
}
