package org.spindle.storage.api;

import org.osgi.annotation.versioning.ConsumerType;

/** The ability to make a byte range read as zeros, cheaper than writing a buffer of zeros. */
@ConsumerType
public interface WriteZeroes {
    void writeZeroes(long offset, long length) throws StorageException;
}
