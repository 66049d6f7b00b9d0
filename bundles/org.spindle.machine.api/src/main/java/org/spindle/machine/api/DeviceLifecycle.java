package org.spindle.machine.api;

import org.osgi.annotation.versioning.ConsumerType;

/**
 * What every device model does for the machine: reset like the hardware's reset line, stop taking
 * new work and finish what is in flight (quiesce) and go on (resume), and save and restore its state.
 */
@ConsumerType
public interface DeviceLifecycle {
    /** Puts every register in its power-on state. */
    void reset();

    /** Finishes in-flight work and starts no new work until {@link #resume}. */
    default void quiesce() {
    }

    default void resume() {
    }

    /** The device's state, complete enough that {@link #restore} gives identical register reads. */
    DeviceStateDTO save();

    /**
     * Takes back a state {@link #save} returned.
     *
     * @throws IllegalArgumentException when the state is of another type or a version this device
     *         cannot read (naming both)
     */
    void restore(DeviceStateDTO state);
}
