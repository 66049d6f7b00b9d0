package org.spindle.machine.core;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import org.spindle.machine.api.DeviceLifecycle;
import org.spindle.machine.api.DeviceStateDTO;
import org.spindle.machine.api.GuestMemory;
import org.spindle.machine.api.GuestMemoryException;
import org.spindle.machine.api.InterruptLine;
import org.spindle.machine.api.IoHandler;
import org.spindle.machine.api.Machine;

/**
 * An I/O APIC (82093AA programming model, version 0x20) with 24 inputs: IOREGSEL at offset 0x00 and
 * IOWIN at 0x10 of its MMIO page (0xFEC00000 on a PC), the ID, version and arbitration registers, the
 * redirection table (vector, delivery mode, destination mode, delivery status, polarity, remote IRR,
 * trigger mode, mask, destination), and the EOI register at 0x40.
 *
 * <p>An interrupt goes out as the memory write a local APIC receives: {@code data} (vector, delivery
 * mode, trigger mode) to {@code 0xFEE00000 | destination << 12 | destination mode << 2}, through
 * {@link GuestMemory}, so it lands wherever the platform maps the APIC window. An edge input sends on
 * its rising edge (if unmasked then); a level input sends while asserted and its remote IRR is clear,
 * and the remote IRR stays set until an EOI for its vector ({@link #endOfInterrupt} or the EOI
 * register), after which a still-asserted input sends again. An {@link InterruptLine} carries the
 * logical level (raised means asserted): the polarity bit is kept for the guest to read back, as the
 * board's wiring (active-low PCI interrupts) is already resolved before the line reaches the input.
 */
public final class IoApic implements DeviceLifecycle, IoHandler {
    public static final long DEFAULT_BASE = 0xFEC0_0000L;
    public static final int PINS = 24;
    public static final String STATE_TYPE = "org.spindle.machine.core.IoApic";
    public static final int STATE_VERSION = 1;
    private static final int VERSION = 0x20;
    private static final long MASK = 1L << 16;
    private static final long LEVEL = 1L << 15;
    private static final long REMOTE_IRR = 1L << 14;
    private static final long DELIVERY_STATUS = 1L << 12;
    /** The bits software writes: everything but delivery status and remote IRR. */
    private static final long WRITABLE = ~(DELIVERY_STATUS | REMOTE_IRR) & 0xFF00_0000_0001_FFFFL;

    private final GuestMemory memory;
    private final long[] redirection = new long[PINS];
    /** The wires as devices drive them. */
    private int lines;
    private int id;
    private int select;
    private final List<String> problems = new ArrayList<>();
    private final InterruptLine[] inputs = new InterruptLine[PINS];
    private final List<Machine.InterruptListener> watchers = new java.util.concurrent.CopyOnWriteArrayList<>();

    public IoApic(GuestMemory memory) {
        this.memory = memory;
        for (int pin = 0; pin < PINS; pin++) {
            int p = pin;
            inputs[pin] = new InterruptLine() {
                @Override
                public void raise() {
                    setLine(p, true);
                }

                @Override
                public void lower() {
                    setLine(p, false);
                }

                @Override
                public boolean isRaised() {
                    return (lines & (1 << p)) != 0;
                }
            };
        }
        reset();
    }

    /** The wire into input {@code pin} (a GSI). */
    public InterruptLine input(int pin) {
        if (pin < 0 || pin >= PINS) {
            throw new IllegalArgumentException("I/O APIC input " + pin + " (it has 0 to " + (PINS - 1) + ")");
        }
        return inputs[pin];
    }

    /** Hears every change of an input's level (a test watching the wires, as QEMU's qtest intercepts them). */
    void watch(Machine.InterruptListener listener) {
        watchers.add(listener);
    }

    void unwatch(Machine.InterruptListener listener) {
        watchers.remove(listener);
    }

    /** Deliveries that failed (the APIC window not mapped): kept for diagnosis, never thrown into a device. */
    public List<String> problems() {
        return List.copyOf(problems);
    }

    /** Whether input {@code pin} is asserted: lines carry the logical level, whatever the polarity bit says. */
    private boolean asserted(int pin) {
        return (lines & (1 << pin)) != 0;
    }

    private void setLine(int pin, boolean high) {
        boolean before = asserted(pin);
        if (high) {
            lines |= 1 << pin;
        } else {
            lines &= ~(1 << pin);
        }
        boolean now = asserted(pin);
        if (now != before) {
            for (Machine.InterruptListener w : watchers) {
                w.changed(pin, now);
            }
        }
        long e = redirection[pin];
        if ((e & LEVEL) != 0) {
            if (now) {
                deliver(pin);
            }
        } else if (now && !before) {
            deliver(pin);
        }
    }

    /** Sends input {@code pin}'s interrupt if its entry lets it. */
    private void deliver(int pin) {
        long e = redirection[pin];
        if ((e & MASK) != 0) {
            return;
        }
        boolean level = (e & LEVEL) != 0;
        if (level && (e & REMOTE_IRR) != 0) {
            return;
        }
        int vector = (int) (e & 0xFF);
        int deliveryMode = (int) (e >>> 8) & 7;
        int destMode = (int) (e >>> 11) & 1;
        int destination = (int) (e >>> 56) & 0xFF;
        long address = 0xFEE0_0000L | ((long) destination << 12) | ((long) destMode << 2);
        int data = vector | (deliveryMode << 8) | (level ? 1 << 15 : 0) | (level ? 1 << 14 : 0);
        if (level) {
            redirection[pin] |= REMOTE_IRR;
        }
        try {
            memory.writeInt(address, data);
        } catch (GuestMemoryException ex) {
            if (problems.size() < 100) {
                problems.add("input " + pin + ": " + ex.getMessage());
            }
        }
    }

    /** An EOI for {@code vector} (a local APIC's broadcast, or the EOI register): level inputs with that vector are free again. */
    public void endOfInterrupt(int vector) {
        for (int pin = 0; pin < PINS; pin++) {
            long e = redirection[pin];
            if ((e & 0xFF) == (vector & 0xFF) && (e & REMOTE_IRR) != 0) {
                redirection[pin] &= ~REMOTE_IRR;
                if ((e & LEVEL) != 0 && asserted(pin)) {
                    deliver(pin);
                }
            }
        }
    }

    // ---------------------------------------------------------------------------------------------
    // registers

    @Override
    public long read(long offset, int size) {
        long value;
        if (offset == 0x00) {
            value = select;
        } else if (offset == 0x10) {
            value = readRegister(select);
        } else {
            return size == 8 ? -1L : (1L << (size * 8)) - 1;
        }
        return value;
    }

    private long readRegister(int index) {
        switch (index) {
            case 0x00:
                return (long) id << 24;
            case 0x01:
                return VERSION | ((PINS - 1) << 16);
            case 0x02:
                return (long) id << 24;
            default:
                if (index >= 0x10 && index < 0x10 + 2 * PINS) {
                    long e = redirection[(index - 0x10) / 2];
                    return (index & 1) == 0 ? e & 0xFFFF_FFFFL : e >>> 32;
                }
                return 0;
        }
    }

    @Override
    public void write(long offset, int size, long value) {
        int v = (int) value;
        if (offset == 0x00) {
            select = v & 0xFF;
        } else if (offset == 0x10) {
            writeRegister(select, v);
        } else if (offset == 0x40) {
            endOfInterrupt(v & 0xFF);
        }
    }

    private void writeRegister(int index, int value) {
        if (index == 0x00) {
            id = (value >>> 24) & 0x0F;
            return;
        }
        if (index < 0x10 || index >= 0x10 + 2 * PINS) {
            return; // version and arbitration are read-only
        }
        int pin = (index - 0x10) / 2;
        long old = redirection[pin];
        long updated = (index & 1) == 0
                ? (old & 0xFFFF_FFFF_0000_0000L) | Integer.toUnsignedLong(value)
                : (old & 0xFFFF_FFFFL) | ((long) value << 32);
        redirection[pin] = (updated & WRITABLE) | (old & (REMOTE_IRR | DELIVERY_STATUS));
        if ((redirection[pin] & LEVEL) == 0) {
            redirection[pin] &= ~REMOTE_IRR; // an edge entry has no remote IRR
        }
        // unmasking a level input that is asserted sends it
        if ((old & MASK) != 0 && (redirection[pin] & MASK) == 0 && (redirection[pin] & LEVEL) != 0 && asserted(pin)) {
            deliver(pin);
        }
    }

    // ---------------------------------------------------------------------------------------------

    @Override
    public void reset() {
        for (int pin = 0; pin < PINS; pin++) {
            redirection[pin] = MASK;
        }
        id = 0;
        select = 0;
    }

    @Override
    public DeviceStateDTO save() {
        Map<String, Object> values = new LinkedHashMap<>();
        values.put("id", id);
        values.put("select", select);
        values.put("lines", lines);
        values.put("redirection", redirection.clone());
        return DeviceStates.of(STATE_TYPE, STATE_VERSION, values);
    }

    @Override
    public void restore(DeviceStateDTO state) {
        Map<String, Object> v = DeviceStates.values(state, "an I/O APIC", STATE_TYPE, STATE_VERSION);
        if (!(v.get("redirection") instanceof long[] table) || table.length != PINS
                || !(v.get("id") instanceof Integer savedId) || !(v.get("select") instanceof Integer savedSelect)
                || !(v.get("lines") instanceof Integer savedLines)) {
            throw new IllegalArgumentException("the I/O APIC state lacks its id, select, lines or " + PINS + " redirection entries");
        }
        System.arraycopy(table, 0, redirection, 0, PINS);
        id = savedId & 0x0F;
        select = savedSelect & 0xFF;
        int changed = lines ^ savedLines;
        lines = savedLines;
        // the wires moved with the restore: whoever watches them hears it, as if the devices had driven them
        for (int pin = 0; pin < PINS; pin++) {
            if ((changed & 1 << pin) != 0) {
                for (Machine.InterruptListener w : watchers) {
                    w.changed(pin, asserted(pin));
                }
            }
        }
    }
}
