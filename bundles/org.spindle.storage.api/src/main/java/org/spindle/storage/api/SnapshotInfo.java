package org.spindle.storage.api;

import java.time.Instant;

/**
 * One internal snapshot.
 *
 * @param id the image's unique ID for it
 * @param name its name (may be empty)
 * @param diskSize the virtual size it was taken at
 * @param vmStateSize bytes of saved machine state, 0 if none
 * @param date when it was taken
 * @param vmClockNanos how long the guest had been running then
 */
public record SnapshotInfo(String id, String name, long diskSize, long vmStateSize, Instant date, long vmClockNanos) {
}
