package org.spindle.machine.api;

import org.osgi.annotation.versioning.ProviderType;

/**
 * The place on a PCI bus a function is plugged into: its address, the machine around it, and the
 * wire of its INTx pin (which the bus routes to an interrupt controller). A function drives INTx
 * through {@link PciConfigSpace#setIntx}, which honours the command register's Interrupt Disable bit;
 * the raw wire here is for the config space.
 */
@ProviderType
public interface PciSlot extends DeviceContext {
    PciAddress address();

    /** The wire of the function's interrupt pin, after the board's routing; a no-op line when the pin is 0. */
    InterruptLine intx();
}
