package org.spindle.storage.api;

/** Where a configured drive stands. */
public enum DriveState {
    /** Configured; opening is deferred until the framework has started all bundles. */
    PENDING,
    /** Attached: the disk is open and registered as a {@link Drive} service. */
    ATTACHED,
    /**
     * Not attached because something it needs is missing now (the backend provider for its scheme, or
     * its format); retried automatically when that appears.
     */
    WAITING,
    /** Not attached because of its configuration or its image; retried when the configuration changes. */
    FAILED
}
