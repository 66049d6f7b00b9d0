package org.spindle.machine.core;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Future;
import java.util.concurrent.LinkedTransferQueue;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;

import org.spindle.machine.api.DeviceLifecycle;
import org.spindle.machine.api.DeviceStateDTO;
import org.spindle.machine.api.GuestMemory;
import org.spindle.machine.api.InterruptLine;
import org.spindle.machine.api.IoSpace;
import org.spindle.machine.api.IsaDevice;
import org.spindle.machine.api.Machine;
import org.spindle.machine.api.PciAddress;
import org.spindle.machine.api.PciFunction;
import org.spindle.machine.api.VirtualClock;

/**
 * A PC: the {@code pc} machine (i440FX host bridge at 00:00.0, PIIX3 ISA bridge at 00:01.0, PIIX4
 * power management at 00:01.3 with the ACPI PCI hot-plug registers) or the {@code q35} machine (Q35
 * MCH at 00:00.0 with ECAM, ICH9 LPC bridge at 00:1f.0), with guest RAM and the PCI hole, port I/O and
 * MMIO, the 8259A pair, the I/O APIC, the local APIC message window, CMOS/RTC, fw_cfg, and PCI config
 * mechanism #1. Devices are plugged in by address; everything they do runs on the machine thread.
 */
public final class PcMachine implements Machine, AutoCloseable {
    public static final long ECAM_DEFAULT_BASE = 0xB000_0000L;

    private final MachineConfig config;
    private final GuestRam ram;
    private final MappedSpace io = new MappedSpace("port I/O", 0x1_0000L);
    private final MappedSpace mmio = new MappedSpace("MMIO", PhysicalMemory.ADDRESS_LIMIT);
    private final PhysicalMemory memory;
    private final MachineClock clock = new MachineClock();
    private final PicPair pic = new PicPair();
    private final IoApic ioApic;
    private final ApicWindow apicWindow = new ApicWindow();
    private final CmosRtc rtc;
    private final FwCfg fwCfg;
    private final IrqRouting routing;
    private final PciBus bus;
    private final ConfigMechanism1 cf8;
    private final List<ChipsetFunction> chipset = new ArrayList<>();
    private final AcpiPciHotplug hotplug;
    private IoSpace.Region ecamRegion;
    private final Ecam ecam;
    private final Map<String, IsaDevice> isaDevices = new LinkedHashMap<>();
    private final List<String> problems = new ArrayList<>();
    private final ExecutorService thread;
    private volatile Thread machineThread;
    private Consumer<PciAddress> ejected = a -> { };
    private final java.util.List<Consumer<PciAddress>> ejectWatchers = new java.util.concurrent.CopyOnWriteArrayList<>();

    public PcMachine(MachineConfig config) {
        this.config = config;
        this.ram = new GuestRam(config.ramSize(), config.holeStart());
        this.memory = new PhysicalMemory(ram, mmio);
        // One thread; its queue lock-free, so devices' I/O threads posting completions never wait
        // for a lock the machine thread holds (or park on it) while it works through its queue.
        this.thread = new ThreadPoolExecutor(1, 1, 0, TimeUnit.MILLISECONDS, new LinkedTransferQueue<>(), r -> {
            Thread t = new Thread(r, "spindle-machine-" + config.name());
            t.setDaemon(true);
            machineThread = t;
            return t;
        });
        boolean pc = config.type().equals("pc");
        this.ioApic = new IoApic(memory);
        this.routing = new IrqRouting(pic, ioApic, pc ? 4 : 8, pc ? -1 : 16);
        this.bus = new PciBus(this, routing, config::pirqOf);
        this.cf8 = new ConfigMechanism1(bus, this::reset);
        this.ecam = new Ecam(bus);
        this.rtc = new CmosRtc(clock, routing.isaLine(8), ram.lowSize(), ram.highSize(), config.cpus(), config.rtcStartSeconds());
        this.fwCfg = new FwCfg(config.ramSize(), config.cpus());

        pic.mapInto(io);
        io.map(CmosRtc.PORT, 2, rtc, "CMOS/RTC");
        io.map(FwCfg.PORT, 2, fwCfg, "fw_cfg");
        io.map(ConfigMechanism1.PORT, 8, cf8, "PCI config mechanism #1");
        mmio.map(IoApic.DEFAULT_BASE, 0x1000, ioApic, "I/O APIC");
        mmio.map(ApicWindow.BASE, ApicWindow.LENGTH, apicWindow, "local APIC message window");

        if (pc) {
            plugChipset(PciAddress.of(0, 0), ChipsetFunction.i440fx());
            plugChipset(PciAddress.of(1, 0), ChipsetFunction.piix3(routing));
            plugChipset(PciAddress.of(1, 3), ChipsetFunction.piix4Acpi());
            hotplug = new AcpiPciHotplug(routing.isaLine(9), this::removable, this::eject);
            io.map(AcpiPciHotplug.PORT, AcpiPciHotplug.LENGTH, hotplug.registers, "ACPI PCI hot-plug");
            io.map(AcpiPciHotplug.GPE_PORT, AcpiPciHotplug.GPE_LENGTH, hotplug.gpe, "ACPI GPE0");
        } else {
            plugChipset(PciAddress.of(0, 0), ChipsetFunction.q35Host(this::placeEcam));
            plugChipset(PciAddress.of(31, 0), ChipsetFunction.ich9Lpc(routing));
            hotplug = null;
        }
        applyFirmwareRoutes();
    }

    private void plugChipset(PciAddress address, ChipsetFunction function) {
        bus.plug(address, function);
        chipset.add(function);
        function.apply();
    }

    /** The PIRQ routes the profile asks for, written into the routing registers as firmware would. */
    private void applyFirmwareRoutes() {
        int[] routes = config.pirqRoutes();
        if (routes.length == 0) {
            return;
        }
        PciAddress bridge = config.type().equals("pc") ? PciAddress.of(1, 0) : PciAddress.of(31, 0);
        for (int i = 0; i < routes.length; i++) {
            int offset = i < 4 ? ChipsetFunction.PIRQ_ROUTE + i : ChipsetFunction.PIRQ_ROUTE_EH + i - 4;
            bus.configWrite(0, bridge.devfn(), offset, 1, routes[i]);
        }
    }

    private void placeEcam(long[] window) {
        if (ecamRegion != null && (window == null || ecamRegion.base() != window[0] || ecamRegion.length() != window[1])) {
            ecamRegion.close();
            ecamRegion = null;
        }
        if (window != null && ecamRegion == null) {
            try {
                ecamRegion = mmio.map(window[0], window[1], ecam, "ECAM");
            } catch (IllegalArgumentException e) {
                problem("ECAM at 0x" + Long.toHexString(window[0]) + " not decoded: " + e.getMessage());
            }
        }
    }

    void problem(String text) {
        if (problems.size() < 200) {
            problems.add(text);
        }
    }

    public MachineConfig config() {
        return config;
    }

    @Override
    public String name() {
        return config.name();
    }

    @Override
    public String type() {
        return config.type();
    }

    // ---------------------------------------------------------------------------------------------
    // DeviceContext

    @Override
    public GuestMemory memory() {
        return memory;
    }

    @Override
    public IoSpace io() {
        return io;
    }

    @Override
    public IoSpace mmio() {
        return mmio;
    }

    @Override
    public VirtualClock clock() {
        return clock;
    }

    @Override
    public InterruptLine isaIrq(int irq) {
        return routing.isaLine(irq);
    }

    public PicPair pic() {
        return pic;
    }

    public IoApic ioApic() {
        return ioApic;
    }

    /** How many interrupt messages with {@code vector} reached the local APIC window. */
    public long apicMessages(int vector) {
        return apicWindow.received(vector);
    }

    // ---------------------------------------------------------------------------------------------
    // PCI

    /**
     * Plugs {@code function} at {@code address} while the machine is off or before the guest looks
     * (cold plug).
     *
     * @throws IllegalArgumentException when the address cannot take it (naming what is there)
     */
    public void plug(PciAddress address, PciFunction function) {
        bus.plug(address, function);
    }

    /**
     * Plugs {@code function} at {@code address} into the running machine and tells the guest (ACPI
     * hot-plug, GPE bit 1). A function in a slot of the chipset's own (00:01.1, the PIIX3's IDE, beside
     * the ISA bridge) is part of the board, not a card: it is plugged without an event, as such a slot
     * has none.
     *
     * @throws IllegalArgumentException as {@link #plug}, or on a q35 (its slots are not ACPI hot-plug ones)
     */
    public void hotplug(PciAddress address, PciFunction function) {
        if (hotplug == null) {
            throw new IllegalArgumentException("PCI hot-plug of " + address + ": a " + type()
                    + " has no ACPI PCI hot-plug slots (pc has)");
        }
        boolean board = chipsetSlot(address.device());
        bus.plug(address, function);
        if (!board) {
            hotplug.added(address.device());
        }
    }

    private boolean chipsetSlot(int device) {
        for (int f = 0; f < 8; f++) {
            if (bus.function(PciAddress.of(device, f)) instanceof ChipsetFunction) {
                return true;
            }
        }
        return false;
    }

    /**
     * Asks the guest to give up the device in {@code address}'s slot: on a pc the guest's ACPI code
     * ejects it through 0xAE08, and {@link #onEject} hears of it.
     *
     * @throws IllegalArgumentException when the slot holds no removable device
     */
    @Override
    public void requestUnplug(PciAddress address) {
        if (hotplug == null) {
            throw new IllegalArgumentException("PCI unplug request for " + address + ": a " + type()
                    + " has no ACPI PCI hot-plug slots (pc has)");
        }
        if (!removable(address.device())) {
            throw new IllegalArgumentException("PCI unplug request for " + address + ": slot " + address.device()
                    + " holds no removable device");
        }
        hotplug.removalRequested(address.device());
    }

    /** Takes {@code address}'s function off the bus at once (surprise removal, or machine assembly undone). */
    public PciFunction unplug(PciAddress address) {
        PciFunction f = bus.function(address);
        if (f instanceof ChipsetFunction) {
            throw new IllegalArgumentException("PCI " + address + " is the chipset's " + f + " and stays");
        }
        return bus.unplug(address);
    }

    /** Who hears of each function the guest ejected (after it left the bus). */
    public void onEject(Consumer<PciAddress> listener) {
        this.ejected = listener;
    }

    @Override
    public AutoCloseable watchEjects(Consumer<PciAddress> listener) {
        ejectWatchers.add(listener);
        return () -> ejectWatchers.remove(listener);
    }

    private boolean removable(int device) {
        if (chipsetSlot(device)) {
            return false;
        }
        for (int f = 0; f < 8; f++) {
            if (bus.function(PciAddress.of(device, f)) != null) {
                return true;
            }
        }
        return false;
    }

    private void eject(int device) {
        for (int f = 7; f >= 0; f--) {
            PciAddress a = PciAddress.of(device, f);
            if (bus.unplug(a) != null) {
                ejected.accept(a);
                for (Consumer<PciAddress> w : ejectWatchers) {
                    try {
                        w.accept(a);
                    } catch (RuntimeException e) {
                        problem("a listener to the eject of " + a + " failed: " + e);
                    }
                }
            }
        }
    }

    @Override
    public Map<PciAddress, PciFunction> pciFunctions() {
        return bus.functions();
    }

    /** Whether the guest was asked to remove {@code address}'s device and has not ejected it yet. */
    public boolean removalPending(PciAddress address) {
        return hotplug != null && hotplug.removalPending(address.device());
    }

    // ---------------------------------------------------------------------------------------------
    // ISA

    /**
     * Puts an ISA device in the machine under {@code name}: it maps its registers and takes its lines.
     *
     * @throws IllegalArgumentException when the name is taken, or the device's ports clash (its own message)
     */
    public void plugIsa(String name, IsaDevice device) {
        if (isaDevices.containsKey(name)) {
            throw new IllegalArgumentException("ISA device '" + name + "' is in the machine already");
        }
        device.plugged(this);
        isaDevices.put(name, device);
    }

    public IsaDevice unplugIsa(String name) {
        IsaDevice d = isaDevices.remove(name);
        if (d != null) {
            d.unplugged();
        }
        return d;
    }

    // ---------------------------------------------------------------------------------------------
    // Machine

    /** The most timers one {@link #advanceClock} fires: about a second of work, whatever the step. */
    public static final int MAX_TIMERS_PER_ADVANCE = 10_000_000;

    /**
     * {@inheritDoc} At most {@link #MAX_TIMERS_PER_ADVANCE} timers fire in one call (a guest's periodic
     * interrupt at 8 kHz over a step of days would otherwise hold the machine); when they run out the
     * clock stops short of {@code nanos}, and the return value says where.
     */
    @Override
    public long advanceClock(long nanos) {
        clock.advanceTo(nanos, timerBudget);
        return clock.nanos();
    }

    private int timerBudget = MAX_TIMERS_PER_ADVANCE;

    /** Lowers the bound on timers per {@link #advanceClock} (a fuzzer wants many short steps, not long ones). */
    public void limitTimersPerAdvance(int max) {
        if (max < 1) {
            throw new IllegalArgumentException("a timer budget of " + max);
        }
        timerBudget = Math.min(max, MAX_TIMERS_PER_ADVANCE);
    }

    @Override
    public long nextTimerDeadline() {
        return clock.nextDeadline();
    }

    @Override
    public AutoCloseable watchInterrupts(String controller, InterruptListener listener) {
        switch (controller) {
            case "ioapic" -> {
                ioApic.watch(listener);
                return () -> ioApic.unwatch(listener);
            }
            case "apic" -> {
                apicWindow.listen(listener);
                return () -> apicWindow.unlisten(listener);
            }
            default -> throw new IllegalArgumentException("interrupt controller '" + controller
                    + "': this machine has ioapic (its inputs) and apic (messages by vector)");
        }
    }

    @Override
    public List<String> problems() {
        List<String> all = new ArrayList<>(problems);
        all.addAll(bus.problems());
        all.addAll(ioApic.problems());
        for (PciFunction f : bus.functions().values()) {
            all.addAll(f.config().problems());
        }
        return all;
    }

    @Override
    public void reset() {
        pic.reset();
        ioApic.reset();
        rtc.reset();
        fwCfg.reset();
        cf8.reset();
        if (hotplug != null) {
            hotplug.reset();
        }
        bus.resetConfig();
        for (ChipsetFunction c : chipset) {
            c.apply();
        }
        lifecycles().forEach(DeviceLifecycle::reset);
    }

    static final String PCI_STATE_TYPE = "org.spindle.machine.api.PciConfigSpace";
    static final String HOST_STATE_TYPE = "org.spindle.machine.core.PciHost";

    /**
     * Every state, once each device has finished its work in flight ({@link DeviceLifecycle#quiesce}):
     * what that work changes, such as an interrupt raised at a command's end, is then in the interrupt
     * controllers' state too, taken after it.
     */
    @Override
    public Map<String, DeviceStateDTO> save() {
        List<DeviceLifecycle> quiesced = new ArrayList<>();
        try {
            for (DeviceLifecycle d : lifecycles()) {
                d.quiesce();
                quiesced.add(d);
            }
            return states();
        } finally {
            quiesced.forEach(DeviceLifecycle::resume);
        }
    }

    /** The plugged devices with a life cycle: PCI functions, then ISA devices. */
    private List<DeviceLifecycle> lifecycles() {
        List<DeviceLifecycle> all = new ArrayList<>();
        for (PciFunction f : bus.functions().values()) {
            if (f instanceof DeviceLifecycle d) {
                all.add(d);
            }
        }
        for (IsaDevice d : isaDevices.values()) {
            if (d instanceof DeviceLifecycle l) {
                all.add(l);
            }
        }
        return all;
    }

    private Map<String, DeviceStateDTO> states() {
        Map<String, DeviceStateDTO> state = new LinkedHashMap<>();
        state.put("pic", pic.save());
        state.put("ioapic", ioApic.save());
        state.put("rtc", rtc.save());
        state.put("fw_cfg", fwCfg.save());
        state.put("pci-host", DeviceStates.of(HOST_STATE_TYPE, 1,
                Map.of("address", cf8.address(), "resetControl", cf8.resetControl())));
        if (hotplug != null) {
            state.put("acpi-pci-hotplug", hotplug.save());
        }
        for (Map.Entry<PciAddress, PciFunction> e : bus.functions().entrySet()) {
            state.put("pci " + e.getKey(), DeviceStates.of(PCI_STATE_TYPE, 1, e.getValue().config().save()));
            if (e.getValue() instanceof DeviceLifecycle d) {
                state.put("device " + e.getKey(), d.save());
            }
        }
        for (Map.Entry<String, IsaDevice> e : isaDevices.entrySet()) {
            if (e.getValue() instanceof DeviceLifecycle d) {
                state.put("isa " + e.getKey(), d.save());
            }
        }
        return state;
    }

    /**
     * Takes back a saved state, all of it or nothing: a state that does not fit (a device's part
     * missing, malformed or from another kind of device) is refused, and the machine is put back as it
     * was before, from a save taken first. If that save fails (a device's storage work that does not
     * end), the restore goes on without a way back, as it must to get the machine out of that state;
     * {@link #problems()} says so.
     */
    @Override
    public void restore(Map<String, DeviceStateDTO> state) {
        Map<String, DeviceStateDTO> before;
        try {
            before = save();
        } catch (RuntimeException e) {
            problem("a restore went on without the present state to come back to: " + e.getMessage());
            apply(state);
            return;
        }
        try {
            apply(state);
        } catch (RuntimeException refused) {
            try {
                apply(before);
            } catch (RuntimeException again) {
                refused.addSuppressed(again);
            }
            throw refused;
        }
    }

    private void apply(Map<String, DeviceStateDTO> state) {
        pic.restore(need(state, "pic"));
        ioApic.restore(need(state, "ioapic"));
        rtc.restore(need(state, "rtc"));
        fwCfg.restore(need(state, "fw_cfg"));
        Map<String, Object> host = DeviceStates.values(need(state, "pci-host"), "PCI host", HOST_STATE_TYPE, 1);
        cf8.setAddress(((Number) host.get("address")).intValue());
        cf8.setResetControl(((Number) host.get("resetControl")).intValue());
        if (hotplug != null) {
            hotplug.restore(need(state, "acpi-pci-hotplug"));
        }
        // Configuration spaces and their BARs first, then the devices (which may map or free fixed
        // ports by what their registers say), then the BARs once more for what that freed.
        for (Map.Entry<PciAddress, PciFunction> e : bus.functions().entrySet()) {
            DeviceStateDTO pci = state.get("pci " + e.getKey());
            if (pci != null) {
                e.getValue().config().restore(DeviceStates.values(pci, "PCI " + e.getKey(), PCI_STATE_TYPE, 1));
            }
        }
        bus.decodeAll();
        for (Map.Entry<PciAddress, PciFunction> e : bus.functions().entrySet()) {
            DeviceStateDTO device = state.get("device " + e.getKey());
            if (device != null && e.getValue() instanceof DeviceLifecycle d) {
                d.restore(device);
            }
        }
        bus.decodeAll();
        for (ChipsetFunction c : chipset) {
            c.apply();
        }
        for (Map.Entry<String, IsaDevice> e : isaDevices.entrySet()) {
            DeviceStateDTO s = state.get("isa " + e.getKey());
            if (s != null && e.getValue() instanceof DeviceLifecycle d) {
                d.restore(s);
            }
        }
    }

    private static DeviceStateDTO need(Map<String, DeviceStateDTO> state, String name) {
        DeviceStateDTO s = state.get(name);
        if (s == null) {
            throw new IllegalArgumentException("machine state has no '" + name + "'");
        }
        return s;
    }

    @Override
    public <T> T call(Callable<T> work) throws Exception {
        if (Thread.currentThread() == machineThread) {
            return work.call();
        }
        Future<T> f = thread.submit(work);
        try {
            return f.get();
        } catch (ExecutionException e) {
            if (e.getCause() instanceof Exception ex) {
                throw ex;
            }
            throw e;
        }
    }

    @Override
    public void post(Runnable work) {
        Runnable guarded = () -> {
            try {
                work.run();
            } catch (RuntimeException e) {
                problem("posted work failed: " + e);
            }
        };
        try {
            thread.execute(guarded);
        } catch (RejectedExecutionException e) {
            // The machine is closed: nothing is left to complete.
        }
    }

    @Override
    public void close() {
        for (String name : List.copyOf(isaDevices.keySet())) {
            unplugIsa(name);
        }
        for (PciAddress a : List.copyOf(bus.functions().keySet())) {
            bus.unplug(a);
        }
        // Work queued but never run: its callers are told (they would wait for ever otherwise).
        for (Runnable dropped : thread.shutdownNow()) {
            if (dropped instanceof Future<?> f) {
                f.cancel(false);
            }
        }
        ram.close();
    }

    @Override
    public String toString() {
        return config.toString();
    }
}
