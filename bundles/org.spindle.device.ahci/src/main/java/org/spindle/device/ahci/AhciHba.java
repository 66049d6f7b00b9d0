package org.spindle.device.ahci;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.TimeUnit;

import org.spindle.device.ata.AutoPlacement;
import org.spindle.device.ata.IoMode;
import org.spindle.device.ata.IoThreads;
import org.spindle.device.ata.SlotThread;
import org.spindle.machine.api.DeviceLifecycle;
import org.spindle.machine.api.DeviceStateDTO;
import org.spindle.machine.api.GuestMemory;
import org.spindle.machine.api.IoHandler;
import org.spindle.machine.api.MsiCapability;
import org.spindle.machine.api.PciBar;
import org.spindle.machine.api.PciConfigSpace;
import org.spindle.machine.api.PciFunction;
import org.spindle.machine.api.PciSlot;
import org.spindle.machine.api.VirtualClock;

/**
 * The ICH9 AHCI function (8086:2922, class 01/06/01): an AHCI 1.3.1 host bus adapter with up to 32
 * SATA ports, whose registers (ABAR) are in memory BAR5 and reachable through the index/data pair in
 * I/O BAR4.
 *
 * <p>The HBA queues commands natively (32 slots, 32 tags), takes PACKET commands for ATAPI devices,
 * sends a real COMRESET (the link drops while PxSCTL.DET is 1 and comes up a link delay after it is
 * released), staggers spin-up, lets links go to partial and slumber, and reports devices attached and
 * pulled while the guest runs (PxIS.PCS and PRCS). It interrupts through INTA# or a single MSI vector,
 * and coalesces command completions on request.
 *
 * <p>Registers run on the machine thread. With {@link IoMode#WORKERS} a disk command's data phase runs on
 * one of the HBA's {@link IoThreads} and its completion is posted back to the machine thread, so
 * several ports and tags are in flight at once; with {@link IoMode#INLINE} it runs inside the register
 * write that issued it. {@link IoMode#AUTO} (the components' default) starts each port on the I/O threads and
 * runs it inline once its data phases have shown the storage quick (a page-cached image, where a
 * hand-over costs more than the copy), back on the threads as soon as they wait ({@link AutoPlacement}).
 * CD-ROM commands always run inline: their engine's state belongs to the machine thread.
 */
public final class AhciHba implements PciFunction, DeviceLifecycle {
    public static final int VENDOR_ID = 0x8086;
    public static final int DEVICE_ID = 0x2922;
    /** AHCI 1.3.1. */
    public static final int VERSION = 0x0001_0301;
    public static final int MAX_PORTS = 32;
    public static final int DEFAULT_PORTS = 6;
    /** How long a link takes to come up after COMRESET is released or spin-up is requested, in virtual time. */
    public static final long DEFAULT_LINK_DELAY_NANOS = 10_000;
    static final int STATE_VERSION = 1;

    // Generic host control registers.
    static final int CAP = 0x00;
    static final int GHC = 0x04;
    static final int IS = 0x08;
    static final int PI = 0x0C;
    static final int VS = 0x10;
    static final int CCC_CTL = 0x14;
    static final int CCC_PORTS = 0x18;
    static final int EM_LOC = 0x1C;
    static final int EM_CTL = 0x20;
    static final int CAP2 = 0x24;
    static final int BOHC = 0x28;
    static final int PORTS_BASE = 0x100;
    static final int PORT_STRIDE = 0x80;

    static final int CAP_S64A = 1 << 31;
    static final int CAP_SNCQ = 1 << 30;
    static final int CAP_SSNTF = 1 << 29;
    static final int CAP_SSS = 1 << 27;
    static final int CAP_SALP = 1 << 26;
    static final int CAP_SAL = 1 << 25;
    static final int CAP_SCLO = 1 << 24;
    static final int CAP_ISS_SHIFT = 20;
    static final int CAP_SAM = 1 << 18;
    static final int CAP_PMD = 1 << 15;
    static final int CAP_SSC = 1 << 14;
    static final int CAP_PSC = 1 << 13;
    static final int CAP_NCS_SHIFT = 8;
    static final int CAP_CCCS = 1 << 7;

    static final int GHC_HR = 1;
    static final int GHC_IE = 1 << 1;
    static final int GHC_AE = 1 << 31;

    static final int CAP2_BOH = 1;
    static final int BOHC_BOS = 1;
    static final int BOHC_OOS = 1 << 1;
    static final int BOHC_SOOE = 1 << 2;
    static final int BOHC_OOC = 1 << 3;
    static final int BOHC_BB = 1 << 4;

    /** Gen3: 6 Gbps. */
    static final int SPEED_GEN3 = 3;

    /** BAR4: the index/data pair at 10h/14h, as the SATA capability says. */
    static final int IDP_SIZE = 32;
    static final int IDP_INDEX = 0x10;
    static final int IDP_DATA = 0x14;
    /** Device-specific configuration: port mapping (AHCI mode) and the port control and status register. */
    static final int CONFIG_MAP = 0x90;
    static final int CONFIG_PCS = 0x92;
    /**
     * The most I/O threads an HBA runs (data phases in flight at once over all its ports, under
     * {@link IoMode#WORKERS} or a port of {@link IoMode#AUTO} on the threads): a full queue of 32 tags on
     * storage that makes each of them wait.
     */
    static final int IO_THREADS = 32;

    private final int portCount;
    private final IoMode io;
    private final long linkDelayNanos;
    private final SlotThread thread;
    private final PciConfigSpace config;
    private final AhciPort[] ports;
    private final int cccBit;
    private final List<String> problems = new ArrayList<>();
    /** Written on the machine thread and at unplugging; read by I/O threads (post). */
    private volatile IoThreads worker;
    private volatile PciSlot slot;
    private VirtualClock.Timer cccTimer;

    private int ghc;
    private int is;
    private int cccCtl;
    private int cccPorts;
    private int cccCount;
    private int bohc;
    private int idpIndex;
    private boolean intxDriven;

    /**
     * @param ports how many ports the HBA implements, 1 to 32
     * @param io where disk commands' data phases run
     * @param linkDelayNanos how long a link takes to come up, in virtual time (0: at once)
     * @param thread where operator calls (media, hot-plug) go: this HBA attaches it to its machine
     * @param devices per port, an {@link org.spindle.device.ata.AtaDisk} made for a serial link, an
     *        {@link org.spindle.device.ata.AtapiCdrom}, or {@code null}; fewer than {@code ports} leaves
     *        the rest empty
     */
    public AhciHba(int ports, IoMode io, long linkDelayNanos, SlotThread thread, Object... devices) {
        if (ports < 1 || ports > MAX_PORTS) {
            throw new IllegalArgumentException("an AHCI HBA has 1 to 32 ports, not " + ports);
        }
        if (devices.length > ports) {
            throw new IllegalArgumentException(devices.length + " devices for " + ports + " ports");
        }
        if (linkDelayNanos < 0) {
            throw new IllegalArgumentException("a link delay of " + linkDelayNanos + " ns");
        }
        this.portCount = ports;
        this.io = io;
        this.linkDelayNanos = linkDelayNanos;
        this.thread = thread;
        this.cccBit = ports < MAX_PORTS ? ports : -1;
        long abar = Math.max(0x800, Long.highestOneBit(PORTS_BASE + (long) PORT_STRIDE * ports - 1) << 1);
        config = PciConfigSpace.builder(VENDOR_ID, DEVICE_ID).revision(0x02).classCode(0x01, 0x06, 0x01)
                .interruptPin(1)
                .bar(4, PciBar.io(IDP_SIZE, indexData()))
                .bar(5, PciBar.memory32(abar, registers()))
                .msi(1, true, true)
                // SATA capability 1.0: the index/data pair in BAR4 (BARLOC 1000b) at dword 4.
                .capability(0x12, new byte[] {0x10, 0x00, 0x48, 0x00, 0x00, 0x00}, null)
                // Power management 1.2: D0 and D3hot.
                .capability(PciConfigSpace.CAP_POWER_MANAGEMENT, new byte[] {0x03, 0x00, 0x08, 0x00, 0x00, 0x00},
                        new byte[] {0, 0, 0x03, 0, 0, 0})
                .register(CONFIG_MAP, 1, 0x40, 0)
                .register(CONFIG_PCS, 2, 0, ports >= 6 ? 0x3F : (1 << ports) - 1)
                .build();
        this.ports = new AhciPort[ports];
        for (int i = 0; i < ports; i++) {
            this.ports[i] = new AhciPort(this, i);
        }
        resetGlobal();
        for (int i = 0; i < devices.length; i++) {
            if (devices[i] != null) {
                this.ports[i].attach(SataDevice.of(devices[i]));
            }
        }
        updatePresence();
    }

    /** Six ports, inline I/O, the default link delay, operator calls where they are made. */
    public static AhciHba of(Object... devices) {
        return new AhciHba(DEFAULT_PORTS, IoMode.INLINE, DEFAULT_LINK_DELAY_NANOS, new SlotThread(), devices);
    }

    public int ports() {
        return portCount;
    }

    public IoMode io() {
        return io;
    }

    @Override
    public PciConfigSpace config() {
        return config;
    }

    // ---------------------------------------------------------------------------------------------
    // what the ports ask of the HBA

    boolean staggeredSpinUp() {
        return true;
    }

    boolean address64() {
        return true;
    }

    boolean commandListOverride() {
        return true;
    }

    boolean partialCapable() {
        return true;
    }

    boolean slumberCapable() {
        return true;
    }

    boolean aggressiveLinkPm() {
        return true;
    }

    int interfaceSpeed() {
        return SPEED_GEN3;
    }

    long linkDelayNanos() {
        return linkDelayNanos;
    }

    long clockNanos() {
        return slot == null ? 0 : slot.clock().nanos();
    }

    /**
     * The threads data phases run on under {@link IoMode#WORKERS} (and {@link IoMode#AUTO}), started on first use.
     *
     * @throws RejectedExecutionException once the HBA has left its machine
     */
    IoThreads worker() {
        IoThreads w = worker;
        if (w == null) {
            if (slot == null) {
                throw new RejectedExecutionException("the HBA has left its machine");
            }
            w = new IoThreads("spindle-ahci", IO_THREADS,
                    e -> post(() -> problem("an I/O thread's task failed: " + e)));
            worker = w;
        }
        return w;
    }

    /** Queues work for the machine thread; false when the HBA is not in a machine (the work is dropped). */
    boolean post(Runnable work) {
        PciSlot s = slot;
        if (s == null) {
            return false;
        }
        s.post(work);
        return true;
    }

    GuestMemory memory() {
        return slot.memory();
    }

    boolean plugged() {
        return slot != null;
    }

    void problem(String text) {
        config.problem("AHCI " + text);
    }

    // ---------------------------------------------------------------------------------------------
    // plugging and operator calls

    @Override
    public void plugged(PciSlot slot) {
        thread.attach(slot::call, () -> {
            this.slot = slot;
            cccTimer = slot.clock().timer("AHCI command completion coalescing", this::cccTimeout);
            for (AhciPort p : ports) {
                p.clock(slot.clock());
            }
            updateInterrupts(0);
        });
    }

    /** MSI turned on or off moves the interrupt between INTA# and messages. */
    @Override
    public void configWritten(int offset, int size) {
        updateInterrupts(0);
    }

    @Override
    public void unplugged() {
        thread.detach(() -> {
            for (AhciPort p : ports) {
                p.clock(null);
                p.unplugged();
            }
            if (cccTimer != null) {
                cccTimer.cancel();
                cccTimer = null;
            }
            slot = null;
            intxDriven = false;
            IoThreads w = worker;
            if (w != null) {
                // What is in flight ends (its completion dropped) before the machine's RAM can go.
                quiesce();
                w.close();
                worker = null;
            }
        });
    }

    /**
     * Hot-plug: {@code engine} (a serial {@link org.spindle.device.ata.AtaDisk} or an
     * {@link org.spindle.device.ata.AtapiCdrom}) is connected to {@code port}, which sees COMINIT and
     * brings the link up if it may. Runs on the machine thread.
     *
     * @throws IllegalArgumentException for a port the HBA does not have, or an engine that cannot sit on SATA
     */
    public void attach(int port, Object engine) throws Exception {
        SataDevice d = SataDevice.of(engine);
        thread.call(() -> {
            port(port).attach(d);
            updatePresence();
            return null;
        });
    }

    /**
     * Hot-plug: the device on {@code port} is pulled; the link drops and what it had in progress never
     * completes. Returns the engine that was there, or {@code null}.
     */
    public Object detach(int port) throws Exception {
        return thread.call(() -> {
            SataDevice d = port(port).detach();
            updatePresence();
            return d == null ? null : d.disk != null ? d.disk : d.cdrom;
        });
    }

    /** The engine on {@code port} now, or {@code null}. */
    public Object device(int port) {
        SataDevice d = port(port).device();
        return d == null ? null : d.disk != null ? d.disk : d.cdrom;
    }

    AhciPort port(int port) {
        if (port < 0 || port >= portCount) {
            throw new IllegalArgumentException("port " + port + " of an HBA with " + portCount);
        }
        return ports[port];
    }

    /** PCS bits 13-8 (ICH9): which of the first six ports have a device. */
    private void updatePresence() {
        int present = 0;
        for (int i = 0; i < Math.min(6, portCount); i++) {
            if (ports[i].device() != null) {
                present |= 1 << (8 + i);
            }
        }
        int pcs = (int) config.get(CONFIG_PCS, 2);
        config.set(CONFIG_PCS, 2, pcs & 0xFF | present);
    }

    // ---------------------------------------------------------------------------------------------
    // registers

    private IoHandler registers() {
        return new IoHandler() {
            @Override
            public long read(long offset, int size) {
                return readWide((int) offset, size);
            }

            @Override
            public void write(long offset, int size, long value) {
                writeWide((int) offset, size, value);
            }
        };
    }

    /** BAR4: an index register (an ABAR offset, dword aligned) and a data register that reaches it. */
    private IoHandler indexData() {
        return new IoHandler() {
            @Override
            public long read(long offset, int size) {
                int o = (int) offset;
                if (o >= IDP_INDEX && o < IDP_INDEX + 4) {
                    return (idpIndex >>> (8 * (o - IDP_INDEX))) & mask(size);
                }
                if (o >= IDP_DATA && o < IDP_DATA + 4) {
                    return readWide(idpIndex + (o - IDP_DATA), Math.min(size, 4));
                }
                return 0;
            }

            @Override
            public void write(long offset, int size, long value) {
                int o = (int) offset;
                if (o >= IDP_INDEX && o < IDP_INDEX + 4) {
                    int shift = 8 * (o - IDP_INDEX);
                    int m = (int) (mask(size) << shift);
                    idpIndex = (idpIndex & ~m | (int) (value << shift) & m) & 0x7FC;
                } else if (o >= IDP_DATA && o < IDP_DATA + 4) {
                    writeWide(idpIndex + (o - IDP_DATA), Math.min(size, 4), value);
                }
            }
        };
    }

    private static long mask(int size) {
        return size >= 8 ? -1L : (1L << (8 * size)) - 1;
    }

    long readWide(int offset, int size) {
        if (size == 8) {
            return (readDword(offset & ~3) & 0xFFFF_FFFFL) | (readDword((offset & ~3) + 4) & 0xFFFF_FFFFL) << 32;
        }
        int shift = 8 * (offset & 3);
        return (readDword(offset & ~3) & 0xFFFF_FFFFL) >>> shift & mask(size);
    }

    void writeWide(int offset, int size, long value) {
        if (size == 8) {
            writeDword(offset & ~3, (int) value, -1);
            writeDword((offset & ~3) + 4, (int) (value >>> 32), -1);
            return;
        }
        int shift = 8 * (offset & 3);
        writeDword(offset & ~3, (int) (value << shift), (int) (mask(size) << shift));
    }

    private int readDword(int offset) {
        if (offset >= PORTS_BASE) {
            int p = (offset - PORTS_BASE) / PORT_STRIDE;
            return p < portCount ? ports[p].read((offset - PORTS_BASE) % PORT_STRIDE) : 0;
        }
        return switch (offset) {
            case CAP -> capabilities();
            case GHC -> ghc | GHC_AE | (resetting() ? GHC_HR : 0);
            case IS -> is;
            case PI -> portsImplemented();
            case VS -> VERSION;
            case CCC_CTL -> cccCtl | (cccBit < 0 ? 0 : cccBit << 3);
            case CCC_PORTS -> cccPorts;
            case CAP2 -> CAP2_BOH;
            case BOHC -> bohc;
            default -> 0; // EM_LOC, EM_CTL (no enclosure management), reserved, vendor specific
        };
    }

    private void writeDword(int offset, int value, int mask) {
        if (offset >= PORTS_BASE) {
            int p = (offset - PORTS_BASE) / PORT_STRIDE;
            if (p < portCount) {
                ports[p].write((offset - PORTS_BASE) % PORT_STRIDE, value, mask);
            }
            return;
        }
        switch (offset) {
            case GHC -> writeGhc(ghc & ~mask | value & mask);
            case IS -> {
                is &= ~(value & mask);
                updateInterrupts(0);
            }
            case CCC_CTL -> writeCccCtl(cccCtl & ~mask | value & mask);
            case CCC_PORTS -> cccPorts = (cccPorts & ~mask | value & mask) & portsImplemented();
            case BOHC -> writeBohc(value, mask);
            default -> {
                // CAP, PI, VS, CAP2 are read-only; EM_LOC and EM_CTL are absent.
            }
        }
    }

    int capabilities() {
        return CAP_S64A | CAP_SNCQ | CAP_SSNTF | CAP_SSS | CAP_SALP | CAP_SAL | CAP_SCLO | SPEED_GEN3 << CAP_ISS_SHIFT
                | CAP_SAM | CAP_PMD | CAP_SSC | CAP_PSC | 31 << CAP_NCS_SHIFT | (cccBit >= 0 ? CAP_CCCS : 0)
                | (portCount - 1);
    }

    private int portsImplemented() {
        return portCount == 32 ? -1 : (1 << portCount) - 1;
    }

    private void writeGhc(int v) {
        if ((v & GHC_HR) != 0) {
            hbaReset();
            return;
        }
        int old = ghc;
        ghc = v & GHC_IE;
        if ((old & GHC_IE) == 0 && (ghc & GHC_IE) != 0) {
            updateInterrupts(is);
        } else {
            updateInterrupts(0);
        }
    }

    /**
     * GHC.HR: the ports and GHC, IS and BOHC's OS bits back to their reset values (the command list and
     * FIS addresses and the other global registers stay, AHCI 1.3.1 10.4.3); HR reads 1 until data
     * phases the reset abandoned have stopped moving.
     */
    private void hbaReset() {
        ghc = 0;
        is = 0;
        for (AhciPort p : ports) {
            p.reset(false);
        }
        updateInterrupts(0);
    }

    /** Whether a reset is still waiting for abandoned data phases on workers. */
    private boolean resetting() {
        for (AhciPort p : ports) {
            if (p.inFlight() > 0) {
                return true;
            }
        }
        return false;
    }

    private void resetGlobal() {
        ghc = 0;
        is = 0;
        cccCtl = 0x0001_0100; // TV 1 ms, CC 1, disabled
        cccPorts = 0;
        cccCount = 0;
        if (cccTimer != null) {
            cccTimer.cancel();
        }
        bohc = 0;
        idpIndex = 0;
    }

    /** BIOS/OS handoff: the OS setting OOS records an ownership change (OOC); BOS, SOOE and BB are the firmware's. */
    private void writeBohc(int value, int mask) {
        int w = value & mask;
        int old = bohc;
        int rw = BOHC_BOS | BOHC_OOS | BOHC_SOOE | BOHC_BB;
        bohc = old & ~(rw & mask) | w & rw;
        bohc &= ~(w & BOHC_OOC);
        if ((old & BOHC_OOS) == 0 && (bohc & BOHC_OOS) != 0) {
            bohc |= BOHC_OOC;
        }
    }

    private void writeCccCtl(int v) {
        if ((cccCtl & 1) != 0) {
            // While enabled only EN may change.
            v = cccCtl & ~1 | v & 1;
        }
        if (cccBit < 0) {
            v &= ~1;
        }
        cccCtl = v & 0xFFFF_FF01;
        if ((cccCtl & 1) == 0) {
            cccCount = 0;
            if (cccTimer != null) {
                cccTimer.cancel();
            }
        }
    }

    /** A port completed {@code n} commands: counted for coalescing when the port takes part. */
    void commandsCompleted(AhciPort port, int n) {
        if ((cccCtl & 1) == 0 || (cccPorts & 1 << port.index) == 0) {
            return;
        }
        cccCount += n;
        int threshold = (cccCtl >>> 8) & 0xFF;
        if (threshold != 0 && cccCount >= threshold) {
            cccInterrupt();
        } else if (cccTimer != null && !cccTimer.isScheduled()) {
            long timeout = ((cccCtl >>> 16) & 0xFFFF) * 1_000_000L;
            cccTimer.schedule(slot.clock().nanos() + timeout);
        }
    }

    private void cccTimeout() {
        if (cccCount > 0 && (cccCtl & 1) != 0) {
            cccInterrupt();
        }
    }

    private void cccInterrupt() {
        cccCount = 0;
        if (cccTimer != null) {
            cccTimer.cancel();
        }
        int before = is;
        is |= 1 << cccBit;
        updateInterrupts(is & ~before);
    }

    // ---------------------------------------------------------------------------------------------
    // interrupts

    /** A port's registers may have changed: IS follows the ports' pending interrupts. */
    void portChanged(AhciPort port) {
        updateInterrupts(0);
    }

    /**
     * IS gains the bit of every port with an enabled interrupt pending (clearing it while the port
     * still has one sets it again). INTA# is the level of GHC.IE and IS; with MSI, a message goes out
     * for each new IS bit ({@code fresh}: bits to treat as new).
     */
    private void updateInterrupts(int fresh) {
        int pending = 0;
        for (int i = 0; i < portCount; i++) {
            if (ports[i].pending() != 0) {
                pending |= 1 << i;
            }
        }
        int before = is;
        is |= pending;
        int rising = (is & ~before) | (fresh & is);
        boolean enabled = (ghc & GHC_IE) != 0;
        MsiCapability msi = config.msi();
        if (msi.enabled()) {
            driveIntx(false);
            if (enabled && rising != 0 && slot != null) {
                msi.signal(0);
            }
        } else {
            driveIntx(enabled && is != 0);
        }
    }

    private void driveIntx(boolean level) {
        if (level != intxDriven) {
            intxDriven = level;
            config.setIntx(level);
        }
    }

    // ---------------------------------------------------------------------------------------------
    // lifecycle

    /** Power-on: every register, global and per port. */
    @Override
    public void reset() {
        resetGlobal();
        for (AhciPort p : ports) {
            p.reset(true);
        }
        updateInterrupts(0);
    }

    /** Waits (up to ten seconds) for data phases on workers to end, so nothing moves while the machine is saved. */
    @Override
    public void quiesce() {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        for (AhciPort p : ports) {
            while (p.inFlight() > 0 && System.nanoTime() < deadline) {
                Thread.onSpinWait();
                Thread.yield();
            }
        }
    }

    @Override
    public DeviceStateDTO save() {
        Map<String, Object> v = new LinkedHashMap<>();
        v.put("ports", portCount);
        v.put("ghc", ghc);
        v.put("is", is);
        v.put("cccCtl", cccCtl);
        v.put("cccPorts", cccPorts);
        v.put("cccCount", cccCount);
        v.put("bohc", bohc);
        v.put("idpIndex", idpIndex);
        List<Object> p = new ArrayList<>();
        for (AhciPort port : ports) {
            p.add(port.save());
        }
        v.put("port", p);
        DeviceStateDTO dto = new DeviceStateDTO();
        dto.type = AhciHba.class.getName();
        dto.version = STATE_VERSION;
        dto.values = v;
        return dto;
    }

    @SuppressWarnings("unchecked")
    @Override
    public void restore(DeviceStateDTO state) {
        if (!AhciHba.class.getName().equals(state.type) || state.version != STATE_VERSION) {
            throw new IllegalArgumentException("an AHCI HBA restores " + AhciHba.class.getName() + " version "
                    + STATE_VERSION + ", not " + state.type + " version " + state.version);
        }
        Map<String, Object> v = state.values;
        if (!(v.get("ports") instanceof Number n) || n.intValue() != portCount) {
            throw new IllegalArgumentException("a saved AHCI HBA with " + v.get("ports") + " ports for one with " + portCount);
        }
        if (!(v.get("port") instanceof List<?> saved) || saved.size() != portCount) {
            throw new IllegalArgumentException("a saved AHCI HBA without its ports");
        }
        // Everything is checked before anything changes: a bad state leaves the HBA as it was.
        for (String key : new String[] {"ghc", "is", "cccCtl", "cccPorts", "cccCount", "bohc", "idpIndex"}) {
            num(v, key);
        }
        List<Map<String, Object>> portStates = new ArrayList<>();
        for (int i = 0; i < portCount; i++) {
            if (!(saved.get(i) instanceof Map<?, ?> m)) {
                throw new IllegalArgumentException("a saved AHCI HBA whose port " + i + " is not a map");
            }
            portStates.add((Map<String, Object>) m);
            ports[i].check(portStates.get(i));
        }
        // Devices check their own state as they restore: one that refuses puts the others back.
        List<Map<String, Object>> before = new ArrayList<>();
        for (int i = 0; i < portCount; i++) {
            before.add(ports[i].deviceState());
            try {
                ports[i].restoreDevice(portStates.get(i));
            } catch (RuntimeException e) {
                for (int j = 0; j <= i; j++) {
                    ports[j].putBackDevice(before.get(j));
                }
                throw e;
            }
        }
        ghc = (int) num(v, "ghc");
        is = (int) num(v, "is");
        cccCtl = (int) num(v, "cccCtl");
        cccPorts = (int) num(v, "cccPorts");
        cccCount = (int) num(v, "cccCount");
        bohc = (int) num(v, "bohc");
        idpIndex = (int) num(v, "idpIndex");
        intxDriven = config.intx();
        for (int i = 0; i < portCount; i++) {
            ports[i].restore(portStates.get(i));
        }
        if (cccTimer != null) {
            cccTimer.cancel();
            if ((cccCtl & 1) != 0 && cccCount > 0) {
                // The coalescing timeout under way at the save: a whole period again from now.
                cccTimer.schedule(slot.clock().nanos() + ((cccCtl >>> 16) & 0xFFFF) * 1_000_000L);
            }
        }
        updateInterrupts(0);
    }

    private static long num(Map<String, Object> v, String key) {
        if (!(v.get(key) instanceof Number n)) {
            throw new IllegalArgumentException("an AHCI HBA's saved state has no number '" + key + "'");
        }
        return n.longValue();
    }

    @Override
    public String toString() {
        return "ICH9 AHCI (" + portCount + " ports, " + io.configName() + " I/O)";
    }
}
