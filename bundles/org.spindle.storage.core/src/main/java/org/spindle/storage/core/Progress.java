package org.spindle.storage.core;

import org.osgi.annotation.versioning.ConsumerType;

/** Told how far a long piece of image work (convert, commit, compare) has come. */
@ConsumerType
@FunctionalInterface
public interface Progress {
    /** Reports nothing. */
    Progress NONE = (done, total) -> { };

    /** {@code done} of {@code total} bytes are handled; called often, from the working thread. */
    void update(long done, long total);
}
