package org.spindle.machine.api;

import java.util.List;
import java.util.Map;

import org.osgi.annotation.versioning.ProviderType;

/**
 * An assembled machine, as the things that drive it see it: a CPU, firmware, or a test front end
 * playing guest driver (the qtest protocol). It is the machine's {@link DeviceContext} (memory, port
 * I/O, MMIO, clock, ISA lines), plus what only the driver of a machine does: move virtual time, watch
 * interrupt controller inputs, reset, save and restore, and run work on the machine thread.
 *
 * <p>Registered as a service with {@link #NAME} and {@link #TYPE} as properties. Device models never
 * need this interface; they get a {@link PciSlot} or {@link DeviceContext}.
 */
@ProviderType
public interface Machine extends DeviceContext {
    /** Service property: the machine's name. */
    String NAME = "spindle.machine";

    /** Service property: the machine type ({@code pc}, {@code q35}). */
    String TYPE = "spindle.machine.type";

    String name();

    String type();

    /**
     * Moves the virtual clock forward to {@code nanos} (never back), firing the timers due on the way in
     * deadline order. A machine may bound the timers one call fires; then the clock stops short.
     *
     * @return the clock afterwards (less than {@code nanos} when the bound stopped it)
     */
    long advanceClock(long nanos);

    /** The earliest deadline of a scheduled timer, or -1 when none is scheduled. */
    long nextTimerDeadline();

    /**
     * Watches the inputs of an interrupt controller ({@code ioapic}, or {@code pic}): the listener hears
     * every change of an input's level, on the thread that made it, before the access that caused it
     * returns.
     *
     * @return what stops the watching
     * @throws IllegalArgumentException for a controller the machine does not have
     */
    AutoCloseable watchInterrupts(String controller, InterruptListener listener);

    /** Hears interrupt input changes. */
    @FunctionalInterface
    interface InterruptListener {
        void changed(int input, boolean level);
    }

    /** The PCI functions plugged in now, by address. */
    Map<PciAddress, PciFunction> pciFunctions();

    /** What went wrong on the guest's side so far (a BAR placed over another, an interrupt sent to no memory): noted, never thrown. */
    List<String> problems();

    /**
     * Asks the guest to give up the PCI device in {@code address}'s slot, as an operator's unplug
     * request does on real hardware: on a {@code pc} through ACPI PCI hot-plug, whose guest code ejects
     * the device when it is ready ({@link #watchEjects} hears of it).
     *
     * @throws IllegalArgumentException when the machine has no hot-plug slots, or the slot holds no
     *         removable device
     * @since 1.3
     */
    void requestUnplug(PciAddress address);

    /**
     * Hears every PCI function the guest ejects, after it left the bus, on the machine thread; closing
     * the result stops it.
     *
     * @since 1.3
     */
    AutoCloseable watchEjects(java.util.function.Consumer<PciAddress> listener);

    /** The machine's reset: every platform device and every plugged device back to its power-on state. */
    void reset();

    /**
     * The state of the platform devices and of every plugged device that can save one, by name. Each
     * device first finishes its work in flight ({@link DeviceLifecycle#quiesce}, and
     * {@link DeviceLifecycle#resume} once the states are taken), so what that work changes is in every
     * state taken.
     */
    Map<String, DeviceStateDTO> save();

    /**
     * Takes back what {@link #save} returned, all of it or nothing.
     *
     * @throws IllegalArgumentException naming the device whose state does not fit; the machine is then
     *         as it was before the call (unless its present state could not be saved, because a device's
     *         storage work did not end: then the restore goes on without a way back, and
     *         {@link #problems()} says so)
     */
    void restore(Map<String, DeviceStateDTO> state);
}
