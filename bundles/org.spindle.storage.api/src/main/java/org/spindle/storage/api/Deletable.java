package org.spindle.storage.api;

import org.osgi.annotation.versioning.ConsumerType;

/**
 * The ability of a backend to remove its data for good. Used to take back an image whose creation
 * failed, so that no half-written image is left behind.
 */
@ConsumerType
public interface Deletable {
    /** Closes the backend and deletes what it holds (the file, the named volume). */
    void closeAndDelete() throws StorageException;
}
