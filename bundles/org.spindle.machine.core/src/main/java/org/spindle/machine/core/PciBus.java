package org.spindle.machine.core;

import static org.spindle.machine.api.PciConfigSpace.UNMAPPED;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.Callable;
import java.util.function.IntBinaryOperator;

import org.spindle.machine.api.DeviceContext;
import org.spindle.machine.api.GuestMemory;
import org.spindle.machine.api.InterruptLine;
import org.spindle.machine.api.IoSpace;
import org.spindle.machine.api.PciAddress;
import org.spindle.machine.api.PciBar;
import org.spindle.machine.api.PciConfigSpace;
import org.spindle.machine.api.PciFunction;
import org.spindle.machine.api.PciSlot;
import org.spindle.machine.api.VirtualClock;

/**
 * PCI bus 0: the functions plugged into it, configuration accesses (which config mechanism #1 and ECAM
 * both come down to), live BAR decoding, and each slot's INTx wire.
 *
 * <p>After every configuration write the bus compares each BAR's decoded address with where its
 * registers are mapped, and maps, moves or unmaps them: a BAR decodes while its space is enabled in the
 * command register and its range fits the space. A BAR placed over another region stays unmapped and
 * the clash is noted in {@link #problems()} (QEMU lets the higher-priority region win; real hardware
 * leaves it undefined). Function 1 to 7 of a device are seen only while function 0 is there, and a
 * function 0 beside other functions must be multi-function, as QEMU requires.
 */
public final class PciBus {
    private static final InterruptLine NO_PIN = new InterruptLine() {
        @Override
        public void raise() {
        }

        @Override
        public void lower() {
        }

        @Override
        public boolean isRaised() {
            return false;
        }
    };

    private final DeviceContext context;
    private final IrqRouting routing;
    private final IntBinaryOperator swizzle;
    private final Slot[] slots = new Slot[256];
    private final List<String> problems = new ArrayList<>();

    /**
     * @param swizzle the board's wiring: (device, pin 0-3 for INTA#-INTD#) to the PIRQ
     */
    PciBus(DeviceContext context, IrqRouting routing, IntBinaryOperator swizzle) {
        this.context = context;
        this.routing = routing;
        this.swizzle = swizzle;
    }

    /** A function on the bus: its slot (what it sees of the machine) and where its BARs are mapped. */
    final class Slot implements PciSlot {
        final PciAddress address;
        final PciFunction function;
        final PciConfigSpace config;
        final InterruptLine intx;
        final IoSpace.Region[] regions = new IoSpace.Region[6];
        /** Where each BAR last failed to map, so that a clash is noted once, not at every decode. */
        final long[] refused = {UNMAPPED, UNMAPPED, UNMAPPED, UNMAPPED, UNMAPPED, UNMAPPED};

        Slot(PciAddress address, PciFunction function) {
            this.address = address;
            this.function = function;
            this.config = function.config();
            int pin = config.interruptPin();
            this.intx = pin == 0 ? NO_PIN : routing.pirqLine(swizzle.applyAsInt(address.device(), pin - 1));
        }

        @Override
        public PciAddress address() {
            return address;
        }

        @Override
        public InterruptLine intx() {
            return intx;
        }

        @Override
        public GuestMemory memory() {
            return context.memory();
        }

        @Override
        public IoSpace io() {
            return context.io();
        }

        @Override
        public IoSpace mmio() {
            return context.mmio();
        }

        @Override
        public VirtualClock clock() {
            return context.clock();
        }

        @Override
        public InterruptLine isaIrq(int irq) {
            return context.isaIrq(irq);
        }

        @Override
        public <T> T call(Callable<T> work) throws Exception {
            return context.call(work);
        }

        @Override
        public void post(Runnable work) {
            context.post(work);
        }

        /** Brings each BAR's mapping in line with its register and the command register. */
        void decode() {
            for (int i = 0; i < 6; i++) {
                PciBar bar = config.bar(i);
                if (bar == null) {
                    continue;
                }
                long want = config.decodedAddress(i);
                IoSpace.Region region = regions[i];
                if (region != null && (want == PciConfigSpace.UNMAPPED || region.base() != want)) {
                    region.close();
                    regions[i] = null;
                }
                if (want != PciConfigSpace.UNMAPPED && regions[i] == null) {
                    IoSpace space = bar.kind() == PciBar.Kind.IO ? context.io() : context.mmio();
                    try {
                        regions[i] = space.map(want, bar.size(), bar.handler(), address + " BAR" + i);
                        refused[i] = UNMAPPED;
                    } catch (IllegalArgumentException e) {
                        if (refused[i] != want) {
                            refused[i] = want;
                            problem(address + " BAR" + i + " at 0x" + Long.toHexString(want) + " not decoded: "
                                    + e.getMessage());
                        }
                    }
                } else if (want == PciConfigSpace.UNMAPPED) {
                    refused[i] = UNMAPPED;
                }
            }
        }

        void unmapAll() {
            for (int i = 0; i < 6; i++) {
                if (regions[i] != null) {
                    regions[i].close();
                    regions[i] = null;
                }
            }
        }

        @Override
        public String toString() {
            return address + " " + String.format("%04x:%04x", config.vendorId(), config.deviceId());
        }
    }

    void problem(String text) {
        if (problems.size() < 200) {
            problems.add(text);
        }
    }

    /** What went wrong on the guest's side (BARs that clash): noted, never thrown. */
    public List<String> problems() {
        return List.copyOf(problems);
    }

    /**
     * Plugs {@code function} at {@code address} (bus 0): its config space is attached, its BARs decode
     * as programmed, and it is told.
     *
     * @throws IllegalArgumentException when the address is taken, not on bus 0, or breaks the
     *         multi-function rule (naming what is there)
     */
    public void plug(PciAddress address, PciFunction function) {
        if (address.bus() != 0) {
            throw new IllegalArgumentException("PCI " + address + ": this machine has bus 0 only");
        }
        int devfn = address.devfn();
        if (slots[devfn] != null) {
            throw new IllegalArgumentException("PCI " + address + " is taken by " + slots[devfn]);
        }
        PciConfigSpace config = function.config();
        Slot zero = slots[address.device() << 3];
        if (address.function() != 0 && zero != null && !zero.config.multifunction()) {
            throw new IllegalArgumentException("PCI " + address + ": function 0 of device " + address.device()
                    + " (" + zero + ") is not multi-function");
        }
        if (address.function() == 0 && !config.multifunction()) {
            for (int f = 1; f < 8; f++) {
                if (slots[devfn + f] != null) {
                    throw new IllegalArgumentException("PCI " + address + ": device " + address.device() + " has function " + f
                            + " (" + slots[devfn + f] + "), so function 0 must be multi-function");
                }
            }
        }
        Slot slot = new Slot(address, function);
        slots[devfn] = slot;
        config.attach(slot);
        slot.decode();
        function.plugged(slot);
    }

    /**
     * Takes the function at {@code address} off the bus: its BARs are unmapped, INTx let go, and it is
     * told.
     *
     * @return the function, or null when none was there
     */
    public PciFunction unplug(PciAddress address) {
        if (address.bus() != 0) {
            return null;
        }
        Slot slot = slots[address.devfn()];
        if (slot == null) {
            return null;
        }
        slots[address.devfn()] = null;
        slot.unmapAll();
        slot.config.detach();
        slot.function.unplugged();
        return slot.function;
    }

    /** The function at {@code address}, or null. */
    public PciFunction function(PciAddress address) {
        Slot s = address.bus() == 0 ? slots[address.devfn()] : null;
        return s == null ? null : s.function;
    }

    /** Every function on the bus, by address. */
    public Map<PciAddress, PciFunction> functions() {
        Map<PciAddress, PciFunction> all = new TreeMap<>();
        for (Slot s : slots) {
            if (s != null) {
                all.put(s.address, s.function);
            }
        }
        return Collections.unmodifiableMap(all);
    }

    /** The slot a guest's configuration access reaches, or null (function 1-7 hide while function 0 is absent). */
    private Slot visible(int bus, int devfn) {
        if (bus != 0 || devfn < 0 || devfn > 255) {
            return null;
        }
        Slot s = slots[devfn];
        if (s != null && (devfn & 7) != 0 && slots[devfn & ~7] == null) {
            return null;
        }
        return s;
    }

    /** A guest's configuration read; all ones where no function answers or past its space. */
    public long configRead(int bus, int devfn, int offset, int size) {
        Slot s = visible(bus, devfn);
        if (s == null) {
            return size >= 8 ? -1L : (1L << (8 * size)) - 1;
        }
        return s.config.read(offset, size);
    }

    /**
     * A guest's configuration write: BARs are decoded again, the function told, and its BARs decoded
     * once more, as what it did may have freed or taken ports a BAR wants (an IDE channel leaving its
     * legacy ports).
     */
    public void configWrite(int bus, int devfn, int offset, int size, long value) {
        Slot s = visible(bus, devfn);
        if (s == null) {
            return;
        }
        s.config.write(offset, size, value);
        s.decode();
        s.function.configWritten(offset, size);
        s.decode();
    }

    /** The bus's reset: every function's config space to its power-on state, every BAR unmapped. */
    void resetConfig() {
        for (Slot s : slots) {
            if (s != null) {
                s.config.reset();
                s.decode();
            }
        }
    }

    /** Decodes every function's BARs again (after a restore). */
    void decodeAll() {
        for (Slot s : slots) {
            if (s != null) {
                s.decode();
            }
        }
    }
}
