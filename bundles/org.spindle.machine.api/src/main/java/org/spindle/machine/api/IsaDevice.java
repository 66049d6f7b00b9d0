package org.spindle.machine.api;

import org.osgi.annotation.versioning.ConsumerType;

/**
 * A device on the PC's ISA side (fixed ports, ISA IRQs), as a device model offers it to a machine. When
 * plugged it maps its own registers into {@link DeviceContext#io()} and takes its IRQ lines. In the
 * OSGi runtime a device registers it as a service with {@link #NAME} (and {@link PciFunction#MACHINE})
 * as properties. A device that also implements {@link DeviceLifecycle} is reset, quiesced and saved
 * with the machine.
 */
@ConsumerType
public interface IsaDevice {
    /** Service property: the device's name in the machine (unique there). */
    String NAME = "spindle.isa.name";

    /** The device is in the machine: map the registers, take the lines. */
    void plugged(DeviceContext context);

    /** The device leaves the machine: unmap everything mapped in {@link #plugged}. */
    void unplugged();
}
