package org.spindle.storage.api;

/** Range checks shared by every disk and backend, so that all of them word their errors alike. */
public final class Bounds {
    private Bounds() {
    }

    /**
     * Fails with {@code OUT_OF_BOUNDS} unless {@code [offset, offset + length)} lies within
     * {@code [0, limit)}; overflow counts as out of bounds.
     */
    public static void check(long offset, long length, long limit, StorageException.Operation op)
            throws StorageException {
        if (offset < 0 || length < 0 || offset > limit || length > limit - offset) {
            throw new StorageException(StorageException.Kind.OUT_OF_BOUNDS,
                    "the range ends beyond the size of " + limit + " bytes").at(op, offset, length);
        }
    }
}
