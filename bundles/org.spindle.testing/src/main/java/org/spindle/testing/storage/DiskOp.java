package org.spindle.testing.storage;

import org.osgi.annotation.versioning.ProviderType;

/** One step of a model-based disk test. Sealed: only the steps below exist. */
@ProviderType
public sealed interface DiskOp {
    /** Reads {@code length} bytes at {@code offset} and compares them with the model. */
    record Read(long offset, int length) implements DiskOp {
    }

    /** Writes {@code length} bytes, generated from {@code seed}, at {@code offset}. */
    record Write(long offset, int length, long seed) implements DiskOp {
    }

    /** Reads whole sectors. */
    record ReadSectors(long lba, int count) implements DiskOp {
    }

    /** Writes whole sectors, generated from {@code seed}. */
    record WriteSectors(long lba, int count, long seed) implements DiskOp {
    }

    /**
     * Discards a range, if the disk can: afterwards each byte reads as before or as zero, and keeps
     * reading so.
     */
    record Discard(long offset, long length) implements DiskOp {
    }

    /** Zeroes a range through {@code WriteZeroes}, if the disk can (otherwise by writing zeros). */
    record WriteZeroes(long offset, long length) implements DiskOp {
    }

    /** Flushes. */
    record Flush() implements DiskOp {
    }

    /** Closes the disk and opens it again: what was written (and flushed) must still be there. */
    record Reopen() implements DiskOp {
    }
}
