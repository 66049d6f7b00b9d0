package org.spindle.storage.api;

import java.util.List;

import org.osgi.annotation.versioning.ConsumerType;

/**
 * A capability of images that keep internal snapshots (qcow2): list them, and make one the image's
 * current state again. A snapshot is read by opening the image read-only with the open parameter
 * {@link #OPEN_PARAMETER} naming it.
 */
@ConsumerType
public interface Snapshots {
    /** The open parameter that opens a snapshot (by ID or name) instead of the current state; read-only. */
    String OPEN_PARAMETER = "snapshot";

    /** The image's snapshots, oldest first. */
    List<SnapshotInfo> snapshots() throws StorageException;

    /**
     * Makes the snapshot with this ID (or, failing that, this name) the image's current state: what was
     * written since is dropped. The snapshot itself stays.
     *
     * @throws StorageException {@code NOT_FOUND} when there is no such snapshot
     */
    void revert(String idOrName) throws StorageException;
}
