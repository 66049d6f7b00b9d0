package org.spindle.machine.core;

import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;

import org.spindle.machine.api.IoHandler;
import org.spindle.machine.api.Machine;

/**
 * The local APIC's message window at 0xFEE00000 (1 MiB): a 32-bit write there is an interrupt message
 * (from the I/O APIC, or a device's MSI), not memory. Address bits 19:12 carry the destination and bit
 * 2 the destination mode; data bits 7:0 the vector, 10:8 the delivery mode, 15 the trigger mode. Each
 * message goes to the listeners (the CPU's local APIC, or a test watching the {@code apic}
 * controller, told the vector); the count of messages per vector is kept. Reads return 0.
 */
final class ApicWindow implements IoHandler {
    static final long BASE = 0xFEE0_0000L;
    static final long LENGTH = 0x10_0000L;

    private final List<Machine.InterruptListener> listeners = new CopyOnWriteArrayList<>();
    private final long[] received = new long[256];

    void listen(Machine.InterruptListener listener) {
        listeners.add(listener);
    }

    void unlisten(Machine.InterruptListener listener) {
        listeners.remove(listener);
    }

    /** How many messages with {@code vector} arrived. */
    long received(int vector) {
        return received[vector & 0xFF];
    }

    @Override
    public long read(long offset, int size) {
        return 0;
    }

    @Override
    public void write(long offset, int size, long value) {
        if (size != 4 && size != 8) {
            return; // a message is a dword write
        }
        int vector = (int) value & 0xFF;
        received[vector]++;
        for (Machine.InterruptListener l : listeners) {
            l.changed(vector, true);
        }
    }
}
