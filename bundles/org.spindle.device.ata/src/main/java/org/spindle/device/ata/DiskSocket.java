package org.spindle.device.ata;

import java.nio.ByteBuffer;
import java.util.Optional;

import org.spindle.storage.api.Discardable;
import org.spindle.storage.api.StorageException;
import org.spindle.storage.api.VirtualDisk;

/**
 * A fixed disk's place for the drive behind it, which may go away and come back while the guest runs
 * (its configuration changed, its backend moved): the device keeps the geometry it was built with, and
 * while no drive is connected every request fails with {@code BACKEND_UNAVAILABLE} naming the drive,
 * which the device reports to the guest as a media error. A drive that comes back is connected only
 * with the same sector size and capacity, and writable if the disk was, as a guest cannot follow a
 * fixed disk changing shape.
 *
 * <p>Connecting and disconnecting must happen where no request is running (the machine thread);
 * requests may come from there only. Closing the socket closes nothing: the drives belong to whoever
 * attached them.
 *
 * @since 1.1
 */
public final class DiskSocket implements VirtualDisk, Discardable {
    private final String name;
    private final int sectorSize;
    private final long capacity;
    private final boolean readOnly;
    private final boolean discards;
    private volatile VirtualDisk disk;

    /** A socket shaped like {@code disk}, and connected to it. */
    public DiskSocket(String name, VirtualDisk disk) {
        this.name = name;
        this.sectorSize = disk.logicalSectorSize();
        this.capacity = disk.capacity();
        this.readOnly = disk.isReadOnly();
        this.discards = !readOnly && disk.capability(Discardable.class).isPresent();
        this.disk = disk;
    }

    /** The drive's name, as errors name it. */
    public String name() {
        return name;
    }

    /**
     * Connects {@code next} in place of whatever was connected.
     *
     * @throws StorageException {@code INVALID_CONFIG} when its sector size or capacity differs from the
     *         socket's (naming both); the socket stays as it was
     */
    public void connect(VirtualDisk next) throws StorageException {
        if (next.logicalSectorSize() != sectorSize || next.capacity() != capacity) {
            throw new StorageException(StorageException.Kind.INVALID_CONFIG, "drive " + name + " came back with "
                    + next.capacity() + " bytes in " + next.logicalSectorSize() + "-byte sectors; the guest's disk has "
                    + capacity + " bytes in " + sectorSize + "-byte sectors (restart the controller to change it)");
        }
        if (next.isReadOnly() && !readOnly) {
            throw new StorageException(StorageException.Kind.INVALID_CONFIG, "drive " + name
                    + " came back read-only; the guest's disk is writable (restart the controller to change it)");
        }
        disk = next;
    }

    /** Disconnects the drive: requests fail until one is connected again. */
    public void disconnect() {
        disk = null;
    }

    /** The drive connected now, if any. */
    public Optional<VirtualDisk> connected() {
        return Optional.ofNullable(disk);
    }

    private VirtualDisk disk(StorageException.Operation op) throws StorageException {
        VirtualDisk d = disk;
        if (d == null) {
            throw new StorageException(StorageException.Kind.BACKEND_UNAVAILABLE, "drive " + name
                    + " is detached").withOperation(op);
        }
        return d;
    }

    @Override
    public int logicalSectorSize() {
        return sectorSize;
    }

    @Override
    public long capacity() {
        return capacity;
    }

    @Override
    public boolean isReadOnly() {
        return readOnly;
    }

    @Override
    public String formatName() {
        VirtualDisk d = disk;
        return d == null ? "detached" : d.formatName();
    }

    @Override
    public <T> Optional<T> capability(Class<T> type) {
        if (type == Discardable.class) {
            return discards ? Optional.of(type.cast(this)) : Optional.empty();
        }
        return Optional.empty();
    }

    @Override
    public void read(long offset, ByteBuffer dst) throws StorageException {
        disk(StorageException.Operation.READ).read(offset, dst);
    }

    @Override
    public void write(long offset, ByteBuffer src) throws StorageException {
        disk(StorageException.Operation.WRITE).write(offset, src);
    }

    @Override
    public void flush() throws StorageException {
        disk(StorageException.Operation.FLUSH).flush();
    }

    /** Discards through the connected drive; a drive that cannot discard ignores it (a discard is a hint). */
    @Override
    public void discard(long offset, long length) throws StorageException {
        Optional<Discardable> d = disk(StorageException.Operation.DISCARD).capability(Discardable.class);
        if (d.isPresent()) {
            d.get().discard(offset, length);
        }
    }

    @Override
    public void close() {
        disk = null;
    }
}
