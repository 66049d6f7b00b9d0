package org.spindle.device.ata;

import java.util.concurrent.Callable;

/**
 * The thread of the machine a controller is plugged into, for its devices' operator calls (a disc
 * changed from the shell, a drive hot-plugged): while attached, calls go to the machine thread; while
 * not, nothing else touches the devices and calls run on the caller's thread, one at a time. Attaching
 * and detaching wait for a call running that way, and such calls wait for them, so no two threads are
 * ever in the devices at once and the guest never meets a change half done.
 *
 * @since 1.2
 */
public final class SlotThread implements DeviceThread {
    private final Object lock = new Object();
    private volatile DeviceThread machine;

    /**
     * Runs {@code plugging} (the machine thread's part of plugging in) with operator calls held off,
     * then sends them to {@code machine} (a PCI slot's {@code call}).
     */
    public void attach(DeviceThread machine, Runnable plugging) {
        synchronized (lock) {
            plugging.run();
            this.machine = machine;
        }
    }

    /** Runs {@code unplugging} with operator calls held off; afterwards they run where they are made. */
    public void detach(Runnable unplugging) {
        synchronized (lock) {
            machine = null;
            unplugging.run();
        }
    }

    @Override
    public Object call(Callable<?> work) throws Exception {
        Callable<?> held = () -> {
            synchronized (lock) {
                return work.call();
            }
        };
        DeviceThread m = machine;
        if (m != null) {
            // On the machine thread, and still one at a time with a call that found the device unplugged.
            return m.call(held);
        }
        synchronized (lock) {
            m = machine;
            if (m == null) {
                return work.call();
            }
        }
        return m.call(held);
    }
}
