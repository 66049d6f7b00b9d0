package org.spindle.device.ide;

import java.util.concurrent.Callable;

import org.spindle.device.ata.DeviceThread;
import org.spindle.machine.api.PciSlot;

/**
 * The thread of the machine a controller is plugged into, for its devices' operator calls (a disc
 * changed from the shell): while plugged, calls go to the machine thread; while not, nothing else
 * touches the devices and calls run on the caller's thread, one at a time. Plugging and unplugging
 * wait for a call running that way, and such calls wait for them, so no two threads are ever in the
 * devices at once and the guest never meets a change half done.
 */
public final class SlotThread implements DeviceThread {
    private final Object lock = new Object();
    private volatile PciSlot slot;

    /** Runs {@code plugging} (the machine thread's part of plugging in) with operator calls held off, then sends them to the slot's thread. */
    void attach(PciSlot slot, Runnable plugging) {
        synchronized (lock) {
            plugging.run();
            this.slot = slot;
        }
    }

    /** Runs {@code unplugging} with operator calls held off; afterwards they run where they are made. */
    void detach(Runnable unplugging) {
        synchronized (lock) {
            slot = null;
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
        PciSlot s = slot;
        if (s != null) {
            // On the machine thread, and still one at a time with a call that found the device unplugged.
            return s.call(held);
        }
        synchronized (lock) {
            s = slot;
            if (s == null) {
                return work.call();
            }
        }
        return s.call(held);
    }
}
