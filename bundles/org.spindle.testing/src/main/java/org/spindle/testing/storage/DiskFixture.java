package org.spindle.testing.storage;

import org.osgi.annotation.versioning.ConsumerType;
import org.spindle.storage.api.StorageException;
import org.spindle.storage.api.VirtualDisk;

/** How {@link DiskModelCheck} gets a disk under test: a fresh one, and the same one opened again. */
@ConsumerType
public interface DiskFixture extends AutoCloseable {
    /**
     * Creates a new disk of {@code capacity} bytes: zero-filled, or holding the initial content the
     * test gave {@link DiskModelCheck#check(DiskFixture, byte[], int, java.util.List)}.
     */
    VirtualDisk create(long capacity, int sectorSize) throws StorageException;

    /** Opens the disk last created again, after the caller closed it. */
    VirtualDisk reopen() throws StorageException;

    /** Removes what {@link #create} made. */
    @Override
    void close() throws Exception;
}
