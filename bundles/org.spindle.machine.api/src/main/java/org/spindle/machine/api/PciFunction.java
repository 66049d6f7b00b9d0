package org.spindle.machine.api;

import org.osgi.annotation.versioning.ConsumerType;

/**
 * A PCI function, as a device model offers it to a machine: its configuration space (with the BARs
 * and capabilities that decide what the guest sees) and what it does when plugged in and out.
 *
 * <p>In the OSGi runtime a device registers its function as a service with {@link #ADDRESS} (and
 * {@link #MACHINE}) as properties; the machine plugs it at that address. Outside OSGi a test plugs it
 * directly. A function that also implements {@link DeviceLifecycle} is reset, quiesced and saved with
 * the machine.
 */
@ConsumerType
public interface PciFunction {
    /** Service property: the function's address, {@code BB:DD.F} ({@link PciAddress#parse}). */
    String ADDRESS = "spindle.pci.address";

    /** Service property: the name of the machine the function belongs to (absent: the only machine). */
    String MACHINE = "spindle.machine";

    /** The function's configuration space; the same object for the function's whole life. */
    PciConfigSpace config();

    /**
     * The function is on the bus (its config space is attached to {@code slot} already): from now on
     * the guest can reach it, and it can reach the guest.
     */
    default void plugged(PciSlot slot) {
    }

    /** The function is off the bus (unplugged, ejected or the machine closed): its BARs are unmapped. */
    default void unplugged() {
    }

    /**
     * The guest wrote configuration space at {@code offset} (after the write took effect and the bus
     * moved any BAR): for device-specific registers.
     */
    default void configWritten(int offset, int size) {
    }
}
