package org.spindle.format.iso;

import java.nio.ByteBuffer;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicBoolean;

import org.spindle.storage.api.AllocationMap;
import org.spindle.storage.api.Bounds;
import org.spindle.storage.api.Discardable;
import org.spindle.storage.api.Extent;
import org.spindle.storage.api.MediaType;
import org.spindle.storage.api.Resizable;
import org.spindle.storage.api.StorageBackend;
import org.spindle.storage.api.StorageException;
import org.spindle.storage.api.StorageException.Kind;
import org.spindle.storage.api.StorageException.Operation;
import org.spindle.storage.api.VirtualDisk;
import org.spindle.storage.api.WriteZeroes;

/**
 * An open CD image. The image has no metadata of its own: its bytes are the disc's user data, so reads
 * pass straight through and every extent is stored data. It is always read-only, as pressed media are.
 *
 * <p>It implements {@link Discardable} and {@link WriteZeroes} only so that a caller holding the class
 * gets {@code READ_ONLY} rather than a cast error; {@link #capability} never offers them.
 */
final class IsoDisk implements VirtualDisk, AllocationMap, Discardable, WriteZeroes {
    private static final int SECTOR = VolumeDescriptors.SECTOR;

    private final StorageBackend backend;
    private final long capacity;
    private final Map<String, Object> details;
    private final AtomicBoolean closed = new AtomicBoolean();

    private IsoDisk(StorageBackend backend, long capacity, VolumeDescriptors descriptors) {
        this.backend = backend;
        this.capacity = capacity;
        Map<String, Object> facts = new LinkedHashMap<>();
        VolumeDescriptors.Primary primary = descriptors.primary();
        if (primary != null) {
            facts.put("volume-id", primary.volumeId());
            facts.put("volume-sectors", primary.sectors());
            facts.put("system-id", primary.systemId());
        }
        facts.put("el-torito", descriptors.elTorito());
        this.details = Collections.unmodifiableMap(facts);
    }

    /**
     * Checks the image and opens it. Capacity is the whole file, so sectors a mastering tool appended
     * after the volume (padding, a second session's tail) stay readable.
     */
    static IsoDisk open(StorageBackend backend) throws StorageException {
        long size = backend.size();
        if (size <= 0 || size % SECTOR != 0) {
            throw VolumeDescriptors.corrupt(size == 0
                    ? "an ISO image holds at least one 2048-byte sector; this one is empty"
                    : "an ISO image is a whole number of 2048-byte sectors; this one is " + size + " bytes");
        }
        long sectors = size / SECTOR;
        VolumeDescriptors descriptors = VolumeDescriptors.read(backend, sectors);
        if (descriptors.primary() != null && descriptors.primary().sectors() > sectors) {
            throw VolumeDescriptors.corrupt("truncated: the volume has " + descriptors.primary().sectors()
                    + " sectors but the file holds only " + sectors);
        }
        return new IsoDisk(backend, size, descriptors);
    }

    @Override
    public int logicalSectorSize() {
        return SECTOR;
    }

    @Override
    public long capacity() {
        return capacity;
    }

    @Override
    public boolean isReadOnly() {
        return true;
    }

    @Override
    public String formatName() {
        return IsoFormat.NAME;
    }

    @Override
    public MediaType mediaType() {
        return MediaType.CDROM;
    }

    @Override
    public Map<String, Object> details() {
        return details;
    }

    @Override
    public void read(long offset, ByteBuffer dst) throws StorageException {
        ensureOpen(Operation.READ);
        Bounds.check(offset, dst.remaining(), capacity, Operation.READ);
        backend.read(offset, dst);
    }

    @Override
    public void write(long offset, ByteBuffer src) throws StorageException {
        throw refused(Operation.WRITE, offset, src.remaining());
    }

    @Override
    public void discard(long offset, long length) throws StorageException {
        throw refused(Operation.DISCARD, offset, length);
    }

    @Override
    public void writeZeroes(long offset, long length) throws StorageException {
        throw refused(Operation.WRITE_ZEROES, offset, length);
    }

    /** Nothing is ever written, so there is nothing to make durable. */
    @Override
    public void flush() throws StorageException {
        ensureOpen(Operation.FLUSH);
    }

    @Override
    public int allocationUnit() {
        return SECTOR;
    }

    @Override
    public Extent extent(long offset, long maxLength) throws StorageException {
        ensureOpen(Operation.READ);
        if (offset < 0 || offset >= capacity || maxLength <= 0) {
            throw new StorageException(Kind.OUT_OF_BOUNDS, "no extent starts at " + offset + " in a disk of "
                    + capacity + " bytes").withOperation(Operation.READ);
        }
        return Extent.data(offset, Math.min(maxLength, capacity - offset), offset);
    }

    @Override
    public <T> Optional<T> capability(Class<T> type) {
        if (type == Discardable.class || type == WriteZeroes.class || type == Resizable.class) {
            return Optional.empty();
        }
        return VirtualDisk.super.capability(type);
    }

    @Override
    public void close() throws StorageException {
        if (closed.compareAndSet(false, true)) {
            backend.close();
        }
    }

    private void ensureOpen(Operation op) throws StorageException {
        if (closed.get()) {
            throw new StorageException(Kind.BACKEND_UNAVAILABLE, "the disk is closed").withOperation(op)
                    .withLocation(backend.location());
        }
    }

    private StorageException refused(Operation op, long offset, long length) throws StorageException {
        ensureOpen(op);
        return new StorageException(Kind.READ_ONLY, "an ISO image is read-only").at(op, offset, length)
                .withLocation(backend.location());
    }

    @Override
    public String toString() {
        return "IsoDisk[" + backend.location() + ", " + capacity / SECTOR + " sectors]";
    }
}
