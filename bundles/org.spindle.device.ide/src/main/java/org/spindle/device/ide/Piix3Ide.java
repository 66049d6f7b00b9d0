package org.spindle.device.ide;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.RejectedExecutionException;

import org.spindle.device.ata.AtaDisk;
import org.spindle.device.ata.AtapiCdrom;
import org.spindle.device.ata.IoMode;
import org.spindle.device.ata.IoThreads;
import org.spindle.device.ata.SlotThread;
import org.spindle.machine.api.DeviceLifecycle;
import org.spindle.machine.api.DeviceStateDTO;
import org.spindle.machine.api.InterruptLine;
import org.spindle.machine.api.IoHandler;
import org.spindle.machine.api.IoSpace;
import org.spindle.machine.api.PciBar;
import org.spindle.machine.api.PciConfigSpace;
import org.spindle.machine.api.PciFunction;
import org.spindle.machine.api.PciSlot;

/**
 * The PIIX3 IDE function (8086:7010, class 01/01): two channels and the bus-master IDE registers in
 * BAR4.
 *
 * <p>A channel in compatibility mode answers at the legacy ports (primary 1F0h-1F7h and 3F6h on ISA
 * IRQ 14, secondary 170h-177h and 376h on IRQ 15), as on the PIIX3. A channel in native mode (the PCI
 * IDE Controller Specification's other mode, which the PIIX3 itself lacks and QEMU-era guests and
 * firmware know) answers at its BARs instead (BAR0/BAR1 primary, BAR2/BAR3 secondary: an 8-byte
 * command block and a 4-byte control block whose byte 2 is the alternate status and device control)
 * and interrupts through INTA#. Which mode the guest sees and whether it may change it is the
 * {@link Mode}. Ports and BARs answer while the command register's I/O Space Enable is set. The IDE
 * timing registers (40h-44h) hold what firmware writes and change nothing, as transfer timing means
 * nothing here.
 *
 * <p>Where the devices' storage work runs is the {@link IoMode}: inline in the guest's register
 * write, or on up to {@link #IO_THREADS} I/O threads of the controller while the guest sees the
 * command in flight (see {@link IdeChannel}).
 */
public final class Piix3Ide implements PciFunction, DeviceLifecycle {
    public static final int VENDOR_ID = 0x8086;
    public static final int DEVICE_ID = 0x7010;
    public static final int PRIMARY_IRQ = 14;
    public static final int SECONDARY_IRQ = 15;
    static final int STATE_VERSION = 2;
    /** I/O threads: one per device, the most storage work in flight at once. */
    static final int IO_THREADS = 4;

    /** The programming interface byte: the channels' operating modes and whether the guest may change them. */
    public enum Mode {
        /** 80h: both channels in compatibility mode, fixed (the PIIX3 as Intel made it). */
        COMPATIBILITY(0x80, 0),
        /** 8Ah: both channels start in compatibility mode; the guest may switch each to native (bits 0 and 2). */
        SWITCHABLE(0x8A, 0x05),
        /** 8Fh: both channels start in native mode; the guest may switch each back (bits 0 and 2). */
        NATIVE(0x8F, 0x05);

        final int progIf;
        final int writable;

        Mode(int progIf, int writable) {
            this.progIf = progIf;
            this.writable = writable;
        }

        /** The configuration name: {@code compatibility}, {@code switchable} or {@code native}. */
        public String configName() {
            return name().toLowerCase(Locale.ROOT);
        }

        /** @throws IllegalArgumentException naming the accepted values */
        public static Mode parse(String text) {
            for (Mode m : values()) {
                if (m.configName().equals(text)) {
                    return m;
                }
            }
            throw new IllegalArgumentException("IDE mode '" + text + "' (compatibility, switchable or native)");
        }
    }

    private static final int[] LEGACY_COMMAND = {0x1F0, 0x170};
    private static final int[] LEGACY_CONTROL = {0x3F6, 0x376};
    private static final int[] LEGACY_IRQ = {PRIMARY_IRQ, SECONDARY_IRQ};
    /** Native-mode control block: the alternate status and device control register's offset in it. */
    private static final int CONTROL_REGISTER = 2;

    private final Mode mode;
    private final IoMode io;
    private final SlotThread thread;
    private final PciConfigSpace config;
    final IdeChannel primary;
    final IdeChannel secondary;
    private final IdeChannel[] channels;
    private final ChannelLine[] lines = new ChannelLine[2];
    private final IoSpace.Region[][] legacy = new IoSpace.Region[2][];
    /** Whether a channel's legacy ports were refused (and said so) since it last had them. */
    private final boolean[] legacyRefused = new boolean[2];
    /** Written on the machine thread; read by I/O threads (posting their completions). */
    private volatile PciSlot slot;
    /** Started on first use, closed when the controller leaves its machine. */
    private volatile IoThreads worker;

    /**
     * A controller in compatibility mode with inline I/O, its devices' operator calls run where they are made.
     *
     * @param devices the four positions, primary master, primary slave, secondary master, secondary
     *        slave; each an {@link AtaDisk}, an {@link AtapiCdrom}, or {@code null} for none
     */
    public Piix3Ide(Object... devices) {
        this(Mode.COMPATIBILITY, IoMode.INLINE, new SlotThread(), devices);
    }

    /** With inline I/O: as {@link #Piix3Ide(Mode, IoMode, SlotThread, Object...)}. */
    public Piix3Ide(Mode mode, SlotThread thread, Object... devices) {
        this(mode, IoMode.INLINE, thread, devices);
    }

    /**
     * @param mode the channels' modes as the programming interface shows them
     * @param io where the devices' storage work runs
     * @param thread the thread the devices' operator calls go to: this controller attaches it to the
     *        machine it is plugged into
     * @param devices as {@link #Piix3Ide(Object...)}
     */
    public Piix3Ide(Mode mode, IoMode io, SlotThread thread, Object... devices) {
        if (devices.length != 4) {
            throw new IllegalArgumentException("an IDE controller has four device positions, not " + devices.length);
        }
        this.mode = mode;
        this.io = java.util.Objects.requireNonNull(io);
        this.thread = thread;
        IdeChannel.Offload offload = new Offload();
        primary = new IdeChannel("primary", device(devices[0]), device(devices[1]), offload);
        secondary = new IdeChannel("secondary", device(devices[2]), device(devices[3]), offload);
        channels = new IdeChannel[] {primary, secondary};
        PciConfigSpace.Builder b = PciConfigSpace.builder(VENDOR_ID, DEVICE_ID).classCode(0x01, 0x01, mode.progIf)
                .bar(4, PciBar.io(16, busMaster()))
                .register(0x40, 2, 0, 0xFFFF) // IDETIM, primary
                .register(0x42, 2, 0, 0xFFFF) // IDETIM, secondary
                .register(0x44, 1, 0, 0xFF); // SIDETIM
        if (mode != Mode.COMPATIBILITY) {
            b.programmingInterfaceWriteMask(mode.writable).interruptPin(1)
                    .bar(0, PciBar.io(8, nativeCommand(0))).bar(1, PciBar.io(4, nativeControl(0)))
                    .bar(2, PciBar.io(8, nativeCommand(1))).bar(3, PciBar.io(4, nativeControl(1)));
        }
        config = b.build();
    }

    private static IdeDevice device(Object o) {
        return switch (o) {
            case null -> IdeDevice.absent();
            case AtaDisk d -> IdeDevice.disk(d);
            case AtapiCdrom c -> IdeDevice.cdrom(c);
            default -> throw new IllegalArgumentException("an IDE device is an AtaDisk or an AtapiCdrom, not " + o);
        };
    }

    public Mode mode() {
        return mode;
    }

    public IoMode io() {
        return io;
    }

    /** What the channels need to run storage work off the machine thread. */
    private final class Offload implements IdeChannel.Offload {
        @Override
        public IoMode io() {
            return io;
        }

        @Override
        public void execute(Runnable work) {
            IoThreads w = worker;
            if (w == null) {
                if (slot == null) {
                    throw new RejectedExecutionException("the IDE controller has left its machine");
                }
                w = new IoThreads("spindle-ide", IO_THREADS, e -> post(() -> problem("an I/O thread's task failed: " + e)));
                worker = w;
            }
            w.execute(work);
        }

        @Override
        public boolean post(Runnable work) {
            PciSlot s = slot;
            if (s == null) {
                return false;
            }
            s.post(work);
            return true;
        }

        @Override
        public void problem(String text) {
            config.problem("IDE " + text);
        }
    }

    /** Whether channel {@code index} (0 primary, 1 secondary) is in native mode now. */
    public boolean nativeMode(int index) {
        return (config.get(PciConfigSpace.CLASS_PROG, 1) & (1 << 2 * index)) != 0;
    }

    @Override
    public PciConfigSpace config() {
        return config;
    }

    @Override
    public void plugged(PciSlot slot) {
        // Operator calls wait while the devices get their machine, and go to its thread afterwards.
        thread.attach(slot::call, () -> {
            this.slot = slot;
            for (int i = 0; i < 2; i++) {
                lines[i] = new ChannelLine(slot.isaIrq(LEGACY_IRQ[i]), nativeMode(i));
            }
            for (int i = 0; i < 2; i++) {
                channels[i].attach(slot.memory(), lines[i]);
            }
            followMode();
        });
    }

    @Override
    public void unplugged() {
        thread.detach(() -> {
            for (int i = 0; i < 2; i++) {
                unmapLegacy(i);
                channels[i].detach(); // waits for storage work in flight, dropping its completion
            }
            lines[0] = lines[1] = null;
            slot = null;
            IoThreads w = worker;
            if (w != null) {
                w.close();
                worker = null;
            }
        });
    }

    /**
     * Follows the programming interface, and retries legacy ports another device held before (the
     * guest may just have moved a BAR off them).
     */
    @Override
    public void configWritten(int offset, int size) {
        followMode();
    }

    /**
     * Brings the legacy port mappings and the interrupt outputs in line with the channels' modes: a
     * native channel leaves the legacy ports free (its BARs may be placed there) and interrupts through
     * INTA#.
     */
    private void followMode() {
        if (slot == null) {
            return;
        }
        for (int i = 0; i < 2; i++) {
            boolean n = nativeMode(i);
            if (n) {
                unmapLegacy(i);
            } else if (legacy[i] == null) {
                mapLegacy(i);
            }
            lines[i].route(n);
        }
        config.setIntx(lines[0].nativeLevel() || lines[1].nativeLevel());
    }

    private void mapLegacy(int i) {
        String name = "IDE " + channels[i].name;
        boolean noted = legacyRefused[i];
        legacyRefused[i] = true;
        try {
            IoSpace.Region command = slot.io().map(LEGACY_COMMAND[i], 8, taskFile(channels[i]), name);
            try {
                IoSpace.Region control = slot.io().map(LEGACY_CONTROL[i], 1, control(channels[i]), name + " control");
                legacy[i] = new IoSpace.Region[] {command, control};
            } catch (IllegalArgumentException e) {
                command.close();
                throw e;
            }
        } catch (IllegalArgumentException e) {
            // Another device holds the ports (a native channel's BAR the guest placed there): the
            // channel is unreachable until that moves, as on a real bus where both would contend.
            if (!noted) {
                config.problem(name + " legacy ports not decoded: " + e.getMessage());
            }
            return;
        }
        legacyRefused[i] = false;
    }

    private void unmapLegacy(int i) {
        if (legacy[i] != null) {
            for (IoSpace.Region r : legacy[i]) {
                r.close();
            }
            legacy[i] = null;
        }
    }

    /**
     * A channel's INTRQ: to its ISA IRQ in compatibility mode, into INTA# (shared by both channels) in
     * native mode.
     */
    private final class ChannelLine implements IdeChannel.Intrq {
        private final InterruptLine isa;
        private boolean raised;
        private boolean routedNative;

        ChannelLine(InterruptLine isa, boolean routedNative) {
            this.isa = isa;
            this.routedNative = routedNative;
        }

        void route(boolean toNative) {
            routedNative = toNative;
            isa.set(raised && !toNative);
        }

        /**
         * Takes the route a restored configuration space says, before the channel's restored level
         * arrives: a line leaving its ISA IRQ is lowered there, and none is raised on a stale level
         * (an edge the interrupt controller would keep).
         */
        void reroute(boolean toNative) {
            if (toNative) {
                isa.set(false);
            }
            routedNative = toNative;
        }

        boolean nativeLevel() {
            return raised && routedNative;
        }

        @Override
        public void set(boolean level) {
            raised = level;
            if (routedNative) {
                config.setIntx(lines[0].nativeLevel() || lines[1].nativeLevel());
            } else {
                isa.set(level);
            }
        }
    }

    private IoHandler taskFile(IdeChannel channel) {
        return new IoHandler() {
            @Override
            public long read(long offset, int size) {
                long ones = -1L >>> (64 - 8 * size);
                if (!config.ioEnabled()) {
                    return ones;
                }
                if (offset == IdeChannel.DATA) {
                    return channel.read(IdeChannel.DATA, size);
                }
                // The other registers are a byte wide; the rest of a wider read floats high.
                return channel.read((int) offset, 1) | (ones & ~0xFFL);
            }

            @Override
            public void write(long offset, int size, long value) {
                if (config.ioEnabled()) {
                    channel.write((int) offset, offset == IdeChannel.DATA ? size : 1, value);
                }
            }
        };
    }

    private IoHandler control(IdeChannel channel) {
        return new IoHandler() {
            @Override
            public long read(long offset, int size) {
                return config.ioEnabled() ? channel.altStatus() : 0xFF;
            }

            @Override
            public void write(long offset, int size, long value) {
                if (config.ioEnabled()) {
                    channel.writeControl((int) value & 0xFF);
                }
            }
        };
    }

    /** BAR0 / BAR2: the command block of channel {@code i}, answering only in native mode. */
    private IoHandler nativeCommand(int i) {
        return new IoHandler() {
            private final IoHandler ports = taskFile(channels[i]);

            @Override
            public long read(long offset, int size) {
                return nativeMode(i) ? ports.read(offset, size) : -1L >>> (64 - 8 * size);
            }

            @Override
            public void write(long offset, int size, long value) {
                if (nativeMode(i)) {
                    ports.write(offset, size, value);
                }
            }
        };
    }

    /** BAR1 / BAR3: the control block of channel {@code i}; only byte 2 is a register. */
    private IoHandler nativeControl(int i) {
        return new IoHandler() {
            private final IoHandler register = control(channels[i]);

            @Override
            public long read(long offset, int size) {
                long value = -1L >>> (64 - 8 * size);
                if (nativeMode(i) && offset <= CONTROL_REGISTER && CONTROL_REGISTER < offset + size) {
                    int shift = 8 * (int) (CONTROL_REGISTER - offset);
                    value = value & ~(0xFFL << shift) | (register.read(0, 1) & 0xFF) << shift;
                }
                return value;
            }

            @Override
            public void write(long offset, int size, long value) {
                if (nativeMode(i) && offset <= CONTROL_REGISTER && CONTROL_REGISTER < offset + size) {
                    register.write(0, 1, value >>> 8 * (CONTROL_REGISTER - offset) & 0xFF);
                }
            }
        };
    }

    private IoHandler busMaster() {
        return new IoHandler() {
            @Override
            public long read(long offset, int size) {
                IdeChannel c = offset < 8 ? primary : secondary;
                return c.readBm((int) offset & 7, size);
            }

            @Override
            public void write(long offset, int size, long value) {
                IdeChannel c = offset < 8 ? primary : secondary;
                c.writeBm((int) offset & 7, size, value);
            }
        };
    }

    @Override
    public void reset() {
        config.reset();
        primary.reset();
        secondary.reset();
        followMode();
        for (IdeChannel c : List.of(primary, secondary)) {
            for (IdeDevice d : c.devices) {
                if (d.disk != null) {
                    d.disk.reset();
                }
                if (d.cdrom != null) {
                    d.cdrom.reset();
                }
            }
        }
    }

    /** Finishes storage work in flight and reports its commands to the guest; on the machine thread. */
    @Override
    public void quiesce() {
        primary.finishInFlight();
        secondary.finishInFlight();
    }

    /**
     * The controller's state; storage work in flight is finished first, so that no command is saved
     * half-way through a piece of it.
     *
     * @throws IllegalStateException when storage work has not ended after {@link IdeChannel#SETTLE_NANOS}
     */
    @Override
    public DeviceStateDTO save() {
        quiesce();
        DeviceStateDTO dto = new DeviceStateDTO();
        dto.type = Piix3Ide.class.getName();
        dto.version = STATE_VERSION;
        dto.values = new LinkedHashMap<>();
        dto.values.put("primary", IdeState.save(primary));
        dto.values.put("secondary", IdeState.save(secondary));
        return dto;
    }

    @Override
    public void restore(DeviceStateDTO state) {
        if (!Piix3Ide.class.getName().equals(state.type) || state.version != STATE_VERSION) {
            throw new IllegalArgumentException("a " + Piix3Ide.class.getName() + " v" + STATE_VERSION
                    + " cannot restore " + state.type + " v" + state.version);
        }
        @SuppressWarnings("unchecked")
        Map<String, Object> p = (Map<String, Object>) state.values.get("primary");
        @SuppressWarnings("unchecked")
        Map<String, Object> s = (Map<String, Object>) state.values.get("secondary");
        int fixed = ~mode.writable & 0xFF;
        int progIf = (int) config.get(PciConfigSpace.CLASS_PROG, 1);
        if ((progIf & fixed) != (mode.progIf & fixed)) {
            throw new IllegalArgumentException(String.format("a %s IDE controller (programming interface %02Xh) cannot"
                    + " restore one saved with %02Xh", mode.configName(), mode.progIf, progIf));
        }
        if (slot != null) {
            for (int i = 0; i < 2; i++) {
                lines[i].reroute(nativeMode(i));
            }
        }
        primary.abandonInFlight();
        secondary.abandonInFlight();
        IdeState.restore(primary, p);
        IdeState.restore(secondary, s);
        followMode();
    }
}
