package org.spindle.machine.api;

import java.util.concurrent.Callable;

import org.osgi.annotation.versioning.ProviderType;

/**
 * What a machine offers every device plugged into it: guest memory for DMA and interrupts sent as
 * memory writes, the port I/O and MMIO spaces to map fixed registers into (a PC's legacy ports), the
 * virtual clock, and the ISA interrupt lines.
 */
@ProviderType
public interface DeviceContext {
    GuestMemory memory();

    /** The 64 KiB port I/O space. */
    IoSpace io();

    /** The physical MMIO space. */
    IoSpace mmio();

    VirtualClock clock();

    /**
     * A line into ISA interrupt {@code irq} (0 to 15), of this device's own: lines of several devices
     * on one IRQ are wired together, so the IRQ is raised while any of them is.
     *
     * @throws IllegalArgumentException for an IRQ outside 0 to 15
     */
    InterruptLine isaIrq(int irq);

    /**
     * Runs {@code work} on the machine thread (at once when called on it) and returns its result:
     * everything that touches registers or guest memory from another thread (an operator changing a
     * disc, a backend finishing a request) goes through here. Safe to call from any thread.
     *
     * @since 1.1
     */
    <T> T call(Callable<T> work) throws Exception;

    /**
     * Queues {@code work} to run on the machine thread and returns at once: how a device's own worker
     * (a disk request finishing off the machine thread) hands its completion back without waiting for
     * the machine. Work runs in the order posted; work posted to a closed machine is dropped. What
     * {@code work} throws is noted as a problem of the machine, never thrown to the guest.
     *
     * @since 1.2
     */
    void post(Runnable work);
}
