package org.spindle.storage.api;

import org.osgi.annotation.versioning.ConsumerType;

/**
 * The ability to forget the contents of a byte range (TRIM, UNMAP, DEALLOCATE). Discard is advisory:
 * an implementation may release only whole allocation units, and afterwards the range reads either as
 * before or as zeros.
 */
@ConsumerType
public interface Discardable {
    void discard(long offset, long length) throws StorageException;
}
