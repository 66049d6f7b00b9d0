package org.spindle.storage.api;

/** How a backend is opened. */
public enum AccessMode {
    /** Existing data, reads only; a lock shared with other readers where the backend has locks. */
    READ_ONLY,
    /** Existing data, reads and writes; an exclusive lock where the backend has locks. */
    READ_WRITE,
    /** A new, empty backend that must not exist yet; then as {@link #READ_WRITE}. */
    CREATE_NEW;

    public boolean writable() {
        return this != READ_ONLY;
    }
}
