package org.spindle.device.ide;

import java.util.concurrent.Callable;

import org.spindle.device.ata.DeviceThread;
import org.spindle.machine.api.PciSlot;

/**
 * The thread of the machine a controller is plugged into, for its devices' operator calls (a disc
 * changed from the shell): while plugged, calls go to the machine thread; while not, nothing else
 * touches the devices and calls run on the caller's thread, one at a time. Plugging waits for a call
 * running that way, so the guest never meets one half done.
 */
public final class SlotThread implements DeviceThread {
    private final Object lock = new Object();
    private volatile PciSlot slot;

    void attach(PciSlot slot) {
        synchronized (lock) {
            this.slot = slot;
        }
    }

    void detach() {
        synchronized (lock) {
            slot = null;
        }
    }

    @Override
    public Object call(Callable<?> work) throws Exception {
        PciSlot s = slot;
        if (s != null) {
            return s.call(work);
        }
        synchronized (lock) {
            s = slot;
            if (s == null) {
                return work.call();
            }
        }
        return s.call(work);
    }
}
