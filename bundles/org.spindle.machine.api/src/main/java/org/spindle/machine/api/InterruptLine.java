package org.spindle.machine.api;

import org.osgi.annotation.versioning.ProviderType;

/**
 * An interrupt request line from a device to an interrupt controller (an ISA IRQ, a PCI INTx pin
 * after routing). Level-triggered use: {@link #raise} while the condition holds, {@link #lower} when
 * the guest clears it. Edge-triggered use: {@link #pulse}.
 */
@ProviderType
public interface InterruptLine {
    void raise();

    void lower();

    /** Whether the line is raised now. */
    boolean isRaised();

    default void set(boolean level) {
        if (level) {
            raise();
        } else {
            lower();
        }
    }

    /** A rising edge and back: how an edge-triggered device signals. */
    default void pulse() {
        raise();
        lower();
    }
}
