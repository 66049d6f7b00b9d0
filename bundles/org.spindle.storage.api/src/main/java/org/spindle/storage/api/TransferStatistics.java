package org.spindle.storage.api;

import org.osgi.annotation.versioning.ConsumerType;

/**
 * An optional ability of a {@link StorageBackend} or a {@link VirtualDisk} that reads over a network:
 * counters of what its reads cost. Found through {@link Capable#capability}; the drive manager shows
 * them in {@link DriveDTO#transfers} for every image of a drive's chain that has them.
 *
 * @since 1.5
 */
@ConsumerType
public interface TransferStatistics {
    /** The counters now: a new object at every call, safe to keep. Never blocks on the network. */
    TransferStatsDTO transferStats();
}
