package org.spindle.storage.api;

import org.osgi.annotation.versioning.ConsumerType;

/** The ability to change the size (of a backend) or the capacity (of a disk). */
@ConsumerType
public interface Resizable {
    /** Grows or shrinks to exactly {@code newSize} bytes; grown space reads as zeros. */
    void resize(long newSize) throws StorageException;
}
