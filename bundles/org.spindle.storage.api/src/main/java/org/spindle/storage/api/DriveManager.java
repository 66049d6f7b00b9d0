package org.spindle.storage.api;

import java.time.Duration;
import java.util.List;
import java.util.Optional;

import org.osgi.annotation.versioning.ProviderType;

/**
 * The operator's view of drives: every {@code org.spindle.drive} configuration, attached or not, and
 * attaching or detaching one at run time. Attach and detach go through Configuration Admin, so a drive
 * attached here behaves exactly like one configured in a profile.
 */
@ProviderType
public interface DriveManager {

    /** All configured drives, sorted by id. */
    List<DriveDTO> drives();

    Optional<DriveDTO> drive(String id);

    /**
     * Validates {@code spec}, creates its configuration and waits (up to a few seconds) until the drive
     * is attached or has failed; the result says which, and why.
     *
     * @throws StorageException {@code INVALID_CONFIG} naming the bad field (nothing is configured), or
     *         {@code IN_USE} if a drive with this id exists
     */
    DriveDTO attach(DriveSpecDTO spec) throws StorageException;

    /**
     * Removes the drive's configuration; the drive is flushed, unregistered and closed.
     *
     * @return {@code false} if there was no such drive
     */
    boolean detach(String id) throws StorageException;

    /**
     * Waits until no drive is {@link DriveState#PENDING} and every configuration delivered so far has
     * been acted on, then returns {@link #drives()}. Returns what there is when {@code timeout} passes.
     */
    List<DriveDTO> awaitSettled(Duration timeout) throws InterruptedException;
}
