package org.spindle.device.ahci;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;

import org.spindle.device.ata.Ata;
import org.spindle.device.ata.AtaCommand;
import org.spindle.device.ata.AtaResult;
import org.spindle.device.ata.AutoPlacement;
import org.spindle.device.ata.IoMode;
import org.spindle.device.ata.Taskfile;
import org.spindle.device.ata.Transfer;
import org.spindle.machine.api.DmaMapping;
import org.spindle.machine.api.GuestMemory;
import org.spindle.machine.api.GuestMemoryException;
import org.spindle.machine.api.SgEntry;
import org.spindle.machine.api.SgList;
import org.spindle.machine.api.VirtualClock;

/**
 * One port of the HBA (AHCI 1.3.1, 3.3): its registers, its SATA link, and the command list engine
 * that fetches command headers, sends their FISes to the device, moves data through the PRDT and
 * writes what the device answers into the received-FIS area.
 *
 * <p>Everything here runs on the machine thread, except a command's data phase against a disk when the
 * HBA runs I/O on workers: the worker moves the data and hands the outcome back through
 * {@link #drain}, which the machine thread runs. Work that an event abandons (the engine stopped, a
 * reset, the drive pulled, an NCQ error, a restore) is recognised by its generation and dropped.
 */
final class AhciPort {
    // Register offsets within the port's 80h bytes.
    static final int CLB = 0x00;
    static final int CLBU = 0x04;
    static final int FB = 0x08;
    static final int FBU = 0x0C;
    static final int IS = 0x10;
    static final int IE = 0x14;
    static final int CMD = 0x18;
    static final int TFD = 0x20;
    static final int SIG = 0x24;
    static final int SSTS = 0x28;
    static final int SCTL = 0x2C;
    static final int SERR = 0x30;
    static final int SACT = 0x34;
    static final int CI = 0x38;
    static final int SNTF = 0x3C;

    // PxIS / PxIE.
    static final int IS_DHRS = 1;
    static final int IS_PSS = 1 << 1;
    static final int IS_DSS = 1 << 2;
    static final int IS_SDBS = 1 << 3;
    static final int IS_UFS = 1 << 4;
    static final int IS_DPS = 1 << 5;
    static final int IS_PCS = 1 << 6;
    static final int IS_PRCS = 1 << 22;
    static final int IS_IPMS = 1 << 23;
    static final int IS_OFS = 1 << 24;
    static final int IS_INFS = 1 << 26;
    static final int IS_IFS = 1 << 27;
    static final int IS_HBDS = 1 << 28;
    static final int IS_HBFS = 1 << 29;
    static final int IS_TFES = 1 << 30;
    /** The bits software clears by writing ones; PCS, PRCS and UFS follow PxSERR instead. */
    static final int IS_W1C = IS_TFES | IS_HBFS | IS_HBDS | IS_IFS | IS_INFS | IS_OFS | IS_IPMS | IS_DPS | IS_SDBS
            | IS_DSS | IS_PSS | IS_DHRS;
    /** The interrupt sources this port has (no cold presence detect, no mechanical switch). */
    static final int IE_MASK = IS_W1C | IS_PRCS | IS_PCS | IS_UFS;
    /** The errors after which the port stops processing its command list until software clears PxCMD.ST. */
    static final int IS_FATAL = IS_TFES | IS_HBFS | IS_HBDS | IS_IFS | IS_OFS;

    // PxCMD.
    static final int CMD_ST = 1;
    static final int CMD_SUD = 1 << 1;
    static final int CMD_POD = 1 << 2;
    static final int CMD_CLO = 1 << 3;
    static final int CMD_FRE = 1 << 4;
    static final int CMD_FR = 1 << 14;
    static final int CMD_CR = 1 << 15;
    static final int CMD_HPCP = 1 << 18;
    static final int CMD_ATAPI = 1 << 24;
    static final int CMD_DLAE = 1 << 25;
    static final int CMD_ALPE = 1 << 26;
    static final int CMD_ASP = 1 << 27;
    static final int CMD_ICC_SHIFT = 28;
    private static final int CMD_WRITABLE = CMD_ST | CMD_SUD | CMD_FRE | CMD_ATAPI | CMD_DLAE | CMD_ALPE | CMD_ASP;

    // PxSERR.
    static final int SERR_PROTOCOL = 1 << 10;
    static final int SERR_INTERNAL = 1 << 11;
    static final int SERR_DIAG_N = 1 << 16;
    static final int SERR_DIAG_X = 1 << 26;
    private static final int SERR_MASK = 0x07FF_0F03;

    // PxSSTS / PxSCTL fields.
    static final int DET_NONE = 0;
    static final int DET_PRESENT = 1;
    static final int DET_ESTABLISHED = 3;
    static final int DET_OFFLINE = 4;
    static final int IPM_ACTIVE = 1;
    static final int IPM_PARTIAL = 2;
    static final int IPM_SLUMBER = 6;
    static final int ICC_ACTIVE = 1;
    static final int ICC_PARTIAL = 2;
    static final int ICC_SLUMBER = 6;

    /** Where a command header's flags put the ATAPI bit, the write bit, reset and clear-busy-on-R_OK. */
    private static final int HDR_ATAPI = 1 << 5;
    private static final int HDR_CLEAR_BUSY = 1 << 10;
    /** The command table: the command FIS at 0, the ATAPI command at 40h, the PRDT at 80h. */
    private static final int TABLE_ACMD = 0x40;
    private static final int TABLE_PRDT = 0x80;
    /** Most PRDT entries read from guest memory at once. */
    private static final int PRDT_BATCH = 256;
    private static final long[] NO_ENDS = new long[0];
    /** The status of a device that has taken a queued command or finished one cleanly. */
    private static final int STATUS_READY = Ata.DRDY | Ata.DSC;
    /** PxTFD.STS while no device answers (AHCI 1.3.1, 3.3.14: set on COMRESET). */
    private static final int STATUS_NO_DEVICE = 0x7F;

    private final AhciHba hba;
    final int index;
    private VirtualClock.Timer linkTimer;

    // Registers.
    private long clb;
    private long fb;
    private int is;
    private int ie;
    private int cmd;
    private int tfdStatus;
    private int tfdError;
    private int sig;
    private int sctl;
    private int serr;
    private int sact;
    private int ci;
    private int sntf;

    // The link and the device.
    private SataDevice device;
    private boolean linkUp;
    /** When a link-up is under way (the device answering COMRESET), the clock time it completes; else -1. */
    private long linkDue = -1;
    private int ipm;
    private int speed;

    // The command list engine.
    private int fetched;
    private int activeSlot = -1;
    private int queued;
    private int completedTags;
    private boolean halted;
    private boolean softReset;
    private int nextSlot;
    /** PxCMD.CCS: the slot the engine took last (0 after ST is set). */
    private int ccs;
    private int generation;

    /** Where the engine reads a command header and a batch of PRDs (on the machine thread only). */
    private final ByteBuffer headerScratch = ByteBuffer.allocate(16).order(ByteOrder.LITTLE_ENDIAN);
    private final ByteBuffer prdScratch = ByteBuffer.allocate(16 * PRDT_BATCH).order(ByteOrder.LITTLE_ENDIAN);

    // Hand-back from workers.
    private final ConcurrentLinkedQueue<Done> done = new ConcurrentLinkedQueue<>();
    private final AtomicBoolean drainPosted = new AtomicBoolean();
    private final AtomicInteger inFlight = new AtomicInteger();
    /** Under {@link IoMode#AUTO}: where this port's data phases run (machine thread). */
    private final AutoPlacement placement = new AutoPlacement();

    AhciPort(AhciHba hba, int index) {
        this.hba = hba;
        this.index = index;
        reset();
    }

    /**
     * The machine's clock, once plugged in: a link-up that was waiting for it (a device attached
     * before) takes its time from now.
     */
    void clock(VirtualClock clock) {
        if (linkTimer != null) {
            linkTimer.cancel();
        }
        linkTimer = clock == null ? null : clock.timer("AHCI port " + index + " link", this::linkEstablished);
        if (linkTimer != null && linkDue >= 0) {
            if (hba.linkDelayNanos() == 0) {
                // no delay: the link is up now, not at a timer that only a moving clock would fire
                linkEstablished();
                return;
            }
            linkDue = hba.clockNanos() + hba.linkDelayNanos();
            linkTimer.schedule(linkDue);
        }
    }

    // ---------------------------------------------------------------------------------------------
    // reset and link

    /**
     * The port's power-on and HBA-reset state: the engine stopped, nothing issued, spin-up not yet
     * requested when the HBA staggers it (the link listens), otherwise a COMRESET under way.
     */
    void reset() {
        reset(true);
    }

    /**
     * @param powerOn whether this is power-on (everything) or GHC.HR, which leaves the command list
     *        and FIS base addresses as they were (AHCI 1.3.1, 10.4.3)
     */
    void reset(boolean powerOn) {
        abandonWork();
        if (powerOn) {
            clb = fb = 0;
        }
        is = ie = 0;
        cmd = CMD_POD | CMD_HPCP | (hba.staggeredSpinUp() ? 0 : CMD_SUD);
        sig = 0xFFFF_FFFF;
        sctl = 0;
        serr = 0;
        sact = ci = sntf = 0;
        completedTags = 0;
        nextSlot = 0;
        ccs = 0;
        halted = false;
        softReset = false;
        tfdStatus = STATUS_NO_DEVICE;
        tfdError = 0;
        linkDown(false);
        if (device != null) {
            device.reset();
            startLink();
        }
    }

    /** The HBA left the machine: what workers still finish is dropped. */
    void unplugged() {
        generation++;
        done.clear();
        drainPosted.set(false);
    }

    /** Drops every command in progress: what is still moving lands nowhere. */
    private void abandonWork() {
        generation++;
        fetched = 0;
        activeSlot = -1;
        queued = 0;
        completedTags = 0;
    }

    private boolean spunUp() {
        return (cmd & CMD_SUD) != 0;
    }

    private int det() {
        return sctl & 0xF;
    }

    /** The link goes down (COMRESET asserted, the port offline, the device gone); a PhyRdy change if it was up. */
    private void linkDown(boolean phyChange) {
        if (linkTimer != null) {
            linkTimer.cancel();
        }
        linkDue = -1;
        if (linkUp && phyChange) {
            serr |= SERR_DIAG_N;
        }
        linkUp = false;
        ipm = 0;
        speed = 0;
    }

    /**
     * Out-of-band signalling with the device, if one is there, spin-up is allowed and COMRESET is not
     * held: the device answers with COMINIT at once (PxSERR.DIAG.X), and the link is up after the HBA's
     * link delay.
     */
    private void startLink() {
        if (device == null || !spunUp() || det() != DET_NONE || linkUp || linkDue >= 0) {
            return;
        }
        serr |= SERR_DIAG_X;
        tfdStatus = Ata.BSY; // COMINIT seen: busy until the signature arrives
        tfdError = 0;
        if (linkTimer == null) {
            linkDue = 0; // timed once the port has a clock
            return;
        }
        if (hba.linkDelayNanos() == 0) {
            linkEstablished();
            return;
        }
        linkDue = hba.clockNanos() + hba.linkDelayNanos();
        linkTimer.schedule(linkDue);
        hba.portChanged(this);
    }

    /** The PHY is ready: PxSSTS says so, and the device's signature FIS arrives (without an interrupt). */
    private void linkEstablished() {
        linkDue = -1;
        if (device == null || det() != DET_NONE || !spunUp()) {
            return;
        }
        linkUp = true;
        ipm = IPM_ACTIVE;
        int limit = (sctl >>> 4) & 0xF;
        speed = limit == 0 ? hba.interfaceSpeed() : Math.min(limit, hba.interfaceSpeed());
        serr |= SERR_DIAG_N;
        deviceReady();
        hba.portChanged(this);
        kick();
    }

    /** After COMRESET or SRST: the device's signature FIS, which fills PxSIG and PxTFD. */
    private void deviceReady() {
        softReset = false;
        tfdStatus = device.resetStatus();
        tfdError = 0x01;
        sig = device.signature();
        receive(Fis.AREA_D2H, Fis.d2h(false, tfdStatus, tfdError, device.signatureRegisters()));
    }

    private int ssts() {
        int d;
        if (det() == DET_OFFLINE) {
            d = DET_OFFLINE;
        } else if (linkUp) {
            d = DET_ESTABLISHED;
        } else if (device != null && det() == DET_NONE) {
            // Listening (spin-up not requested) or the link coming up: the device's COMINIT was seen.
            d = DET_PRESENT;
        } else {
            d = DET_NONE;
        }
        return linkUp ? ipm << 8 | speed << 4 | d : d;
    }

    // ---------------------------------------------------------------------------------------------
    // hot-plug

    /** A device is attached to the port: it sends COMINIT and, if the port may spin up, the link comes up. */
    void attach(SataDevice d) {
        if (device != null) {
            detach();
        }
        device = d;
        d.reset();
        placement.reset();
        if (det() == DET_NONE && !spunUp()) {
            serr |= SERR_DIAG_X;
        }
        startLink();
        hba.portChanged(this);
    }

    /** The device is pulled: the link drops (PhyRdy change), and what it had in progress never completes. */
    SataDevice detach() {
        SataDevice old = device;
        if (old == null) {
            return null;
        }
        generation++;
        activeSlot = -1;
        queued = 0;
        completedTags = 0;
        device = null;
        linkDown(true);
        tfdStatus = STATUS_NO_DEVICE;
        tfdError = 0;
        hba.portChanged(this);
        return old;
    }

    SataDevice device() {
        return device;
    }

    boolean linkUp() {
        return linkUp;
    }

    // ---------------------------------------------------------------------------------------------
    // registers

    /** PxIS bits that ask for an interrupt. */
    int pending() {
        return interruptStatus() & ie;
    }

    int read(int offset) {
        return switch (offset) {
            case CLB -> (int) clb;
            case CLBU -> (int) (clb >>> 32);
            case FB -> (int) fb;
            case FBU -> (int) (fb >>> 32);
            case IS -> interruptStatus();
            case IE -> ie;
            case CMD -> cmdValue();
            case TFD -> tfdError << 8 | tfdStatus;
            case SIG -> sig;
            case SSTS -> ssts();
            case SCTL -> sctl;
            case SERR -> serr;
            case SACT -> sact;
            case CI -> ci;
            case SNTF -> sntf;
            default -> 0;
        };
    }

    private int interruptStatus() {
        int v = is & ~(IS_PCS | IS_PRCS);
        if ((serr & SERR_DIAG_X) != 0) {
            v |= IS_PCS;
        }
        if ((serr & SERR_DIAG_N) != 0) {
            v |= IS_PRCS;
        }
        return v;
    }

    private int cmdValue() {
        int v = cmd & ~(CMD_CR | CMD_FR | 0x1F00);
        if ((cmd & CMD_ST) != 0) {
            v |= CMD_CR;
        }
        if ((cmd & CMD_FRE) != 0) {
            v |= CMD_FR;
        }
        if (inFlight.get() > 0) {
            // Data phases abandoned by a stop still moving: the engine is not idle until they end.
            v |= CMD_CR;
        }
        return v | ((cmd & CMD_ST) != 0 ? ccs << 8 : 0);
    }

    /**
     * A write of the bytes in {@code mask} of register {@code offset}.
     */
    void write(int offset, int value, int mask) {
        switch (offset) {
            case CLB -> {
                if (!running()) {
                    clb = clb & 0xFFFF_FFFF_0000_0000L | (merge((int) clb, value, mask) & 0xFFFF_FC00L);
                }
            }
            case CLBU -> {
                if (!running() && hba.address64()) {
                    clb = clb & 0xFFFF_FFFFL | (long) merge((int) (clb >>> 32), value, mask) << 32;
                }
            }
            case FB -> {
                if ((cmd & CMD_FRE) == 0) {
                    fb = fb & 0xFFFF_FFFF_0000_0000L | (merge((int) fb, value, mask) & 0xFFFF_FF00L);
                }
            }
            case FBU -> {
                if ((cmd & CMD_FRE) == 0 && hba.address64()) {
                    fb = fb & 0xFFFF_FFFFL | (long) merge((int) (fb >>> 32), value, mask) << 32;
                }
            }
            case IS -> is &= ~(value & mask & IS_W1C);
            case IE -> ie = merge(ie, value, mask) & IE_MASK;
            case CMD -> writeCmd(merge(cmdValue(), value, mask), value & mask);
            case SCTL -> writeSctl(merge(sctl, value, mask) & 0x000F_FFFF);
            case SERR -> serr &= ~(value & mask & SERR_MASK);
            case SACT -> {
                if ((cmd & CMD_ST) != 0) {
                    sact |= value & mask;
                }
            }
            case CI -> {
                if ((cmd & CMD_ST) != 0) {
                    ci |= value & mask;
                    kick();
                }
            }
            case SNTF -> sntf &= ~(value & mask & 0xFFFF);
            default -> {
                // Read-only or reserved: TFD, SIG, SSTS, FBS (no FIS-based switching), DEVSLP (no DevSleep).
            }
        }
        hba.portChanged(this);
    }

    private static int merge(int old, int value, int mask) {
        return old & ~mask | value & mask;
    }

    private boolean running() {
        return (cmd & CMD_ST) != 0;
    }

    private void writeCmd(int v, int written) {
        int old = cmd;
        int writable = CMD_WRITABLE & ~(hba.staggeredSpinUp() ? 0 : CMD_SUD);
        cmd = old & ~writable | v & writable;
        // Interface communication control: a request, answered at once and read back as idle (0).
        int icc = v >>> CMD_ICC_SHIFT;
        if ((written >>> CMD_ICC_SHIFT) != 0 && icc != 0) {
            requestPowerState(icc);
        }
        if ((v & CMD_CLO) != 0 && hba.commandListOverride()) {
            // Command list override: BSY and DRQ drop so a reset can be sent whatever the device's state.
            tfdStatus &= ~(Ata.BSY | Ata.DRQ);
        }
        if ((old & CMD_SUD) == 0 && (cmd & CMD_SUD) != 0) {
            startLink();
        } else if ((old & CMD_SUD) != 0 && (cmd & CMD_SUD) == 0) {
            // Back to listen mode.
            linkDown(true);
        }
        if ((old & CMD_ST) != 0 && (cmd & CMD_ST) == 0) {
            // Stopped: every issued command is forgotten (PxCI and PxSACT clear), errors may be recovered.
            abandonWork();
            ci = 0;
            sact = 0;
            halted = false;
            nextSlot = 0;
        } else if ((old & CMD_ST) == 0 && (cmd & CMD_ST) != 0) {
            nextSlot = 0;
            ccs = 0;
            halted = false;
            kick();
        }
    }

    private void writeSctl(int v) {
        int oldDet = det();
        sctl = v;
        int det = det();
        if (det == 1) {
            // COMRESET held: the link is down, the device resets, PxTFD shows no device.
            if (oldDet != 1) {
                linkDown(true);
                abandonWork();
                tfdStatus = STATUS_NO_DEVICE;
                tfdError = 0;
                if (device != null) {
                    device.reset();
                }
            }
        } else if (det == DET_OFFLINE) {
            linkDown(true);
        } else if (det == DET_NONE && oldDet != DET_NONE) {
            startLink();
        }
        if (linkUp && !powerStateAllowed(ipm)) {
            ipm = IPM_ACTIVE;
        }
    }

    private boolean powerStateAllowed(int state) {
        int restrict = (sctl >>> 8) & 0xF;
        return switch (state) {
            case IPM_ACTIVE -> true;
            case IPM_PARTIAL -> hba.partialCapable() && (restrict & 1) == 0;
            case IPM_SLUMBER -> hba.slumberCapable() && (restrict & 2) == 0;
            default -> false;
        };
    }

    /** PxCMD.ICC: the link goes to the state asked for if it is up, idle and allowed to. */
    private void requestPowerState(int icc) {
        if (!linkUp) {
            return;
        }
        int target = switch (icc) {
            case ICC_ACTIVE -> IPM_ACTIVE;
            case ICC_PARTIAL -> IPM_PARTIAL;
            case ICC_SLUMBER -> IPM_SLUMBER;
            default -> 0;
        };
        if (target == IPM_ACTIVE || (target != 0 && idle() && powerStateAllowed(target))) {
            ipm = target;
        }
    }

    private boolean idle() {
        return activeSlot < 0 && queued == 0 && (ci & ~fetched) == 0;
    }

    /** Aggressive link power management: an idle link goes to partial or slumber by itself. */
    private void maybeSleep() {
        if (linkUp && (cmd & CMD_ALPE) != 0 && hba.aggressiveLinkPm() && idle() && ipm == IPM_ACTIVE) {
            int target = (cmd & CMD_ASP) != 0 ? IPM_SLUMBER : IPM_PARTIAL;
            if (powerStateAllowed(target)) {
                ipm = target;
            }
        }
    }

    // ---------------------------------------------------------------------------------------------
    // the command list engine

    /** A command fetched from the list: its header's flags, PRDT length and table address, and its command FIS. */
    private record Command(int slot, int flags, int prdtl, long table, byte[] cfis) {
        boolean atapi() {
            return (flags & HDR_ATAPI) != 0;
        }
    }

    /** How a data phase ended: the device's result, the bytes moved, a host-side error (PxIS bit) and PRDT interrupts. */
    private record Outcome(AtaResult result, long moved, int hostError, boolean descriptorIrq) {
    }

    /** A data phase ready to run anywhere: the transfer and the guest buffers it moves. */
    private record Job(Transfer transfer, List<ByteBuffer> buffers, long[] interruptEnds) {
        Outcome run() {
            boolean ok = switch (transfer.direction()) {
                case NONE -> true; // its work is in finish()
                case IN -> transfer.toHost(buffers);
                case OUT -> transfer.fromHost(buffers);
            };
            AtaResult result = ok ? transfer.finish() : transfer.result();
            boolean dps = false;
            for (long end : interruptEnds) {
                dps |= end <= transfer.done();
            }
            return new Outcome(result, transfer.done(), 0, dps);
        }
    }

    /** A finished data phase on its way back to the machine thread. */
    private record Done(int generation, int slot, boolean queued, boolean packet, Command command, Taskfile tf,
            Transfer transfer, Outcome outcome, boolean slow) {
    }

    /** Issues what PxCI holds, in slot order from where the engine left off, while the device can take commands. */
    void kick() {
        while (running() && !halted && linkUp && device != null && activeSlot < 0) {
            int pending = ci & ~fetched;
            if (pending == 0) {
                break;
            }
            int slot = nextPending(pending);
            nextSlot = (slot + 1) & 31;
            ccs = slot;
            fetched |= 1 << slot;
            if (ipm != IPM_ACTIVE) {
                ipm = IPM_ACTIVE; // the link wakes before the FIS goes out
            }
            issue(slot);
        }
        flushCompletions();
        maybeSleep();
        hba.portChanged(this);
    }

    private int nextPending(int pending) {
        int rotated = Integer.rotateRight(pending, nextSlot);
        return (Integer.numberOfTrailingZeros(rotated) + nextSlot) & 31;
    }

    private void issue(int slot) {
        Command c;
        try {
            c = fetch(slot);
        } catch (GuestMemoryException e) {
            hostBusFatal("command " + slot + ": " + e.getMessage());
            return;
        }
        if (c == null) {
            return;
        }
        if (!Fis.isCommand(c.cfis)) {
            control(c);
            return;
        }
        if (softReset) {
            // A device held in reset takes no command: the slot stays issued until software recovers.
            return;
        }
        Taskfile tf = Fis.taskfile(c.cfis);
        tfdStatus |= Ata.BSY;
        AtaCommand command = device.parse(tf);
        if (command instanceof AtaCommand.Queued q && device.disk != null) {
            queue(c, tf, q);
        } else {
            direct(c, tf, command);
        }
    }

    /**
     * Reads the header at PxCLB + slot * 32 and its command FIS. A FIS the device cannot take (too
     * short, not a register host-to-device FIS) is an interface error: the port stops.
     */
    private Command fetch(int slot) throws GuestMemoryException {
        Command header = header(slot);
        int length = header.flags & 0x1F;
        if (length < 5) {
            interfaceFatal(slot, "command " + slot + " has a " + length + "-dword command FIS (a register FIS is 5)");
            return null;
        }
        byte[] cfis = new byte[length * 4];
        readRam(header.table, ByteBuffer.wrap(cfis));
        if ((cfis[0] & 0xFF) != Fis.REGISTER_H2D) {
            interfaceFatal(slot, String.format("command %d's FIS has type %02Xh (a register host-to-device FIS is 27h)",
                    slot, cfis[0] & 0xFF));
            return null;
        }
        return new Command(slot, header.flags, header.prdtl, header.table, cfis);
    }

    /**
     * A FIS with the device control register: SRST asserted holds the device in reset; released, the
     * device answers with its signature. With the header's C bit the HBA completes the slot once the
     * FIS is sent.
     */
    private void control(Command c) {
        boolean srst = (Fis.control(c.cfis) & 0x04) != 0;
        int bit = 1 << c.slot;
        if (srst) {
            softReset = true;
            abandonDeviceQueue();
            tfdStatus = Ata.BSY;
        } else if (softReset) {
            deviceReady();
            retire(bit);
            return;
        }
        if ((c.flags & HDR_CLEAR_BUSY) != 0) {
            tfdStatus &= ~Ata.BSY;
            retire(bit);
        }
    }

    /** The device drops its queue (a reset, an NCQ error): those commands never complete. */
    private void abandonDeviceQueue() {
        if (queued != 0 || activeSlot >= 0) {
            generation++;
        }
        queued = 0;
    }

    /** The slot is done: its PxCI bit clears. */
    private void retire(int bit) {
        ci &= ~bit;
        fetched &= ~bit;
    }

    private void direct(Command c, Taskfile tf, AtaCommand command) {
        if (queued != 0 && device.disk != null) {
            // A command that is not queued while queued ones are outstanding: the device aborts them all.
            flushCompletions();
            abandonDeviceQueue();
            AtaResult abort = AtaResult.aborted();
            device.disk.queuedFailed(0, true, abort);
            finishDirect(c, tf, null, false, new Outcome(abort, 0, 0, false));
            return;
        }
        byte[] cdb = null;
        if (command instanceof AtaCommand.Packet) {
            cdb = new byte[12];
            try {
                readRam(c.table + TABLE_ACMD, ByteBuffer.wrap(cdb));
            } catch (GuestMemoryException e) {
                hostBusFatal("command " + c.slot + "'s ATAPI command: " + e.getMessage());
                return;
            }
        }
        activeSlot = c.slot;
        Transfer t = device.execute(command, tf, cdb);
        boolean packet = cdb != null;
        if (t.direction() == Transfer.Direction.NONE) {
            if (t.result() != null) {
                finishDirect(c, tf, t, packet, new Outcome(t.result(), 0, 0, false));
            } else {
                dispatch(new Job(t, List.of(), NO_ENDS), c, tf, false, packet); // a flush, a verify
            }
            return;
        }
        Object prepared = prepare(c, t);
        if (prepared instanceof Outcome o) {
            finishDirect(c, tf, t, packet, o);
        } else {
            dispatch((Job) prepared, c, tf, false, packet);
        }
    }

    private void queue(Command c, Taskfile tf, AtaCommand.Queued q) {
        int bit = 1 << q.tag();
        if ((queued & bit) != 0 || device.disk.queueHalted()) {
            // A tag already in use, or the queue halted by an error the host has not read: refused.
            flushCompletions();
            abandonDeviceQueue();
            AtaResult abort = AtaResult.aborted();
            if (!device.disk.queueHalted()) {
                device.disk.queuedFailed(q.tag(), false, abort);
            }
            finishDirect(c, tf, null, false, new Outcome(abort, 0, 0, false));
            return;
        }
        // The device takes the command: a register FIS clears BSY, and the HBA clears its PxCI bit.
        queued |= bit;
        tfdStatus = STATUS_READY;
        tfdError = 0;
        receive(Fis.AREA_D2H, Fis.d2h(false, tfdStatus, 0, tf));
        retire(1 << c.slot);
        startQueued(q, tf);
    }

    /** The data phase of an accepted queued command, through the PRDT of the slot its tag names. */
    private void startQueued(AtaCommand.Queued q, Taskfile tf) {
        Transfer t = device.disk.execute(q, tf);
        Command table;
        try {
            table = header(q.tag());
        } catch (GuestMemoryException e) {
            hostBusFatal("queued command " + q.tag() + ": " + e.getMessage());
            return;
        }
        if (t.direction() == Transfer.Direction.NONE) {
            // a queued command is data or nothing: what has no data has failed already
            completeQueued(q.tag(), t, new Outcome(t.finish(), 0, 0, false));
            return;
        }
        Object prepared = prepare(table, t);
        if (prepared instanceof Outcome o) {
            completeQueued(q.tag(), t, o);
        } else {
            dispatch((Job) prepared, table, tf, true, false);
        }
    }

    /** The header of {@code slot} (its flags, PRDT length and table), without the command FIS. */
    private Command header(int slot) throws GuestMemoryException {
        ByteBuffer h = headerScratch.clear();
        readRam(clb + 32L * slot, h);
        int dw0 = h.getInt(0);
        long table = (h.getInt(8) & 0xFFFF_FF80L) | (hba.address64() ? (h.getInt(12) & 0xFFFF_FFFFL) << 32 : 0);
        return new Command(slot, dw0 & 0xFFFF, dw0 >>> 16, table, null);
    }

    /**
     * Reads the PRDT as far as the transfer needs and maps it onto guest RAM. Returns a {@link Job},
     * or the {@link Outcome} of a command that cannot move its data: a PRDT shorter than the data
     * (overflow) or reaching outside RAM (host bus fatal). Nothing has moved in either case.
     */
    private Object prepare(Command c, Transfer t) {
        long want = t.length();
        List<SgEntry> entries = new ArrayList<>(Math.min(c.prdtl, PRDT_BATCH));
        long[] interruptEnds = NO_ENDS;
        int interrupts = 0;
        long total = 0;
        try {
            ByteBuffer prd = prdScratch;
            for (int i = 0; i < c.prdtl && total < want; i += PRDT_BATCH) {
                int n = Math.min(PRDT_BATCH, c.prdtl - i);
                prd.clear().limit(16 * n);
                readRam(c.table + TABLE_PRDT + 16L * i, prd);
                for (int k = 0; k < n && total < want; k++) {
                    long base = (prd.getInt(16 * k) & 0xFFFF_FFFEL)
                            | (hba.address64() ? (prd.getInt(16 * k + 4) & 0xFFFF_FFFFL) << 32 : 0);
                    int dw3 = prd.getInt(16 * k + 12);
                    long count = (dw3 & 0x3F_FFFF) + 1L;
                    if (base < 0 || base + count < 0) {
                        throw new GuestMemoryException(base, count, "a PRD past the end of the address space");
                    }
                    entries.add(new SgEntry(base, count));
                    total += count;
                    if (dw3 < 0) {
                        if (interrupts == interruptEnds.length) {
                            interruptEnds = java.util.Arrays.copyOf(interruptEnds, Math.max(4, interrupts * 2));
                        }
                        interruptEnds[interrupts++] = total;
                    }
                }
            }
        } catch (GuestMemoryException e) {
            t.abort(Ata.ABRT);
            return new Outcome(t.result(), 0, IS_HBFS, false);
        }
        if (total < want) {
            // The device has more data than the PRDT describes.
            t.abort(Ata.ABRT);
            hba.problem("port " + index + " command " + c.slot + ": " + want + " bytes of data, " + total
                    + " in its PRDT");
            return new Outcome(t.result(), 0, IS_OFS, false);
        }
        DmaMapping m = memory().map(SgList.of(entries).limit(want));
        if (!m.complete()) {
            t.abort(Ata.ABRT);
            hba.problem("port " + index + " command " + c.slot + ": PRDT outside RAM: "
                    + m.failure().map(Throwable::getMessage).orElse(""));
            return new Outcome(t.result(), 0, IS_HBFS, false);
        }
        return new Job(t, m.buffers(), interrupts == interruptEnds.length ? interruptEnds
                : java.util.Arrays.copyOf(interruptEnds, interrupts));
    }

    /**
     * Runs a data phase here, or on a worker when the HBA runs disk I/O there and the transfer reaches
     * the medium (data from the engine's memory, IDENTIFY or a log, moves at once: nothing to wait
     * for, and a log read is never left half-way at a save). Under {@link IoMode#AUTO} the port's
     * {@link AutoPlacement} decides from how long its data phases took.
     */
    private void dispatch(Job job, Command c, Taskfile tf, boolean isQueued, boolean packet) {
        IoMode io = hba.io();
        boolean storage = device.disk != null && job.transfer.usesStorage();
        boolean timed = storage && io == IoMode.AUTO;
        if (!storage || io == IoMode.INLINE || timed && !placement.onWorkers()) {
            long start = timed ? System.nanoTime() : 0;
            Outcome o = runGuarded(job, false);
            if (timed) {
                placement.ranInline(System.nanoTime() - start, job.transfer.length());
            }
            if (isQueued) {
                completeQueued(c.slot, job.transfer, o);
            } else {
                finishDirect(c, tf, job.transfer, packet, o);
            }
            return;
        }
        int gen = generation;
        inFlight.incrementAndGet();
        try {
            hba.worker().execute(() -> {
                try {
                    long start = timed ? System.nanoTime() : 0;
                    Outcome o = runGuarded(job, true);
                    done.add(new Done(gen, c.slot, isQueued, packet, c, tf, job.transfer, o,
                            timed && AutoPlacement.slow(System.nanoTime() - start, job.transfer.length())));
                } finally {
                    inFlight.decrementAndGet();
                    if (drainPosted.compareAndSet(false, true) && !hba.post(this::drain)) {
                        drainPosted.set(false);
                    }
                }
            });
        } catch (RejectedExecutionException closed) {
            // The HBA is being unplugged: the command never completes, as for a pulled disk.
            inFlight.decrementAndGet();
        }
    }

    /** Under {@link IoMode#AUTO}, where this port runs its data phases now. */
    AutoPlacement placement() {
        return placement;
    }

    /** A data phase that fails inside the disk stack (a backend's bug, memory) ends as an aborted command, never as an exception in the machine. */
    private Outcome runGuarded(Job job, boolean onWorker) {
        try {
            return job.run();
        } catch (RuntimeException | Error e) {
            String text = "port " + index + ": a data phase failed: " + e;
            if (!onWorker) {
                hba.problem(text);
            } else {
                hba.post(() -> hba.problem(text)); // problems are the machine thread's
            }
            return new Outcome(job.transfer.abort(Ata.ABRT), job.transfer.done(), 0, false);
        }
    }

    /** On the machine thread: what workers finished, reported to the guest. */
    void drain() {
        drainPosted.set(false);
        if (!hba.plugged()) {
            done.clear();
            return;
        }
        Done d;
        boolean any = false;
        while ((d = done.poll()) != null) {
            if (d.generation != generation) {
                continue;
            }
            any = true;
            if (hba.io() == IoMode.AUTO) {
                placement.ranOnWorker(d.slow);
            }
            if (d.queued) {
                completeQueued(d.slot, d.transfer, d.outcome);
            } else {
                finishDirect(d.command, d.tf, d.transfer, d.packet, d.outcome);
            }
        }
        if (any) {
            kick();
        }
    }

    /** Commands whose data phase runs on a worker now. */
    int inFlight() {
        return inFlight.get();
    }

    /**
     * The end of a command that is not queued: PRDBC, the FISes its protocol ends with (a PIO setup FIS
     * for PIO data-in, a register FIS otherwise), PxTFD, and the interrupt status. A device error stops
     * the port with the slot still issued (task file error); so does a host-side error.
     */
    private void finishDirect(Command c, Taskfile tf, Transfer t, boolean packet, Outcome o) {
        int bit = 1 << c.slot;
        activeSlot = -1;
        writeByteCount(c.slot, o.moved);
        if (hostError(o)) {
            return;
        }
        AtaResult r = o.result;
        Taskfile regs = r.outputs() != null ? r.outputs() : tf;
        boolean failed = (r.status() & (Ata.ERR | Ata.DF)) != 0;
        if (t != null && !t.dma() && !packet && t.direction() == Transfer.Direction.IN && !failed) {
            // ATA PIO data-in: the PIO setup FIS carries the ending status; no register FIS follows.
            receive(Fis.AREA_PIO_SETUP, Fis.pioSetup(true, true, STATUS_READY | Ata.DRQ, 0, regs, r.status(),
                    (int) Math.min(o.moved, 0xFFFF)));
            is |= IS_PSS;
        } else {
            if (t != null && !t.dma() && t.direction() == Transfer.Direction.OUT) {
                receive(Fis.AREA_PIO_SETUP, Fis.pioSetup(false, false, STATUS_READY | Ata.DRQ, 0, regs, r.status(),
                        (int) Math.min(o.moved, 0xFFFF)));
            }
            receive(Fis.AREA_D2H, Fis.d2h(true, r.status(), r.error(), regs));
            is |= IS_DHRS;
        }
        tfdStatus = r.status() & ~(Ata.BSY | Ata.DRQ);
        tfdError = r.error();
        if (o.descriptorIrq) {
            is |= IS_DPS;
        }
        if (failed) {
            is |= IS_TFES;
            halted = true;
        } else {
            retire(bit);
            hba.commandsCompleted(this, 1);
        }
        hba.portChanged(this);
    }

    /**
     * A queued command's end: on success its tag joins the next set device bits FIS; on failure the
     * device reports the error with a set device bits FIS (ERR), abandons the rest of its queue and
     * keeps the failed tag in its NCQ error log; the port stops on the task file error.
     */
    private void completeQueued(int tag, Transfer t, Outcome o) {
        int bit = 1 << tag;
        if ((queued & bit) == 0) {
            return;
        }
        queued &= ~bit;
        if (hostError(o)) {
            return;
        }
        AtaResult r = o.result;
        if (r.failed()) {
            abandonDeviceQueue();
            device.disk.queuedFailed(tag, false, r);
            flushCompletions();
            int status = (r.status() | Ata.ERR) & ~(Ata.BSY | Ata.DRQ);
            receive(Fis.AREA_SET_DEVICE_BITS, Fis.setDeviceBits(true, status, r.error(), 0));
            tfdStatus = tfdStatus & 0x88 | status & 0x77;
            tfdError = r.error();
            is |= IS_SDBS | IS_TFES;
            halted = true;
            hba.portChanged(this);
            return;
        }
        receive(Fis.AREA_DMA_SETUP, Fis.dmaSetup(t.direction() == Transfer.Direction.IN, tag, o.moved));
        if (o.descriptorIrq) {
            is |= IS_DPS;
        }
        completedTags |= bit;
    }

    /** A data phase the HBA could not run (PRDT outside RAM, too short): the port stops on that error. */
    private boolean hostError(Outcome o) {
        if (o.hostError == 0) {
            return false;
        }
        is |= o.hostError;
        halted = true;
        hba.portChanged(this);
        return true;
    }

    /** Tags completed since the last set device bits FIS, reported in one. */
    private void flushCompletions() {
        if (completedTags == 0) {
            return;
        }
        int tags = completedTags;
        completedTags = 0;
        receive(Fis.AREA_SET_DEVICE_BITS, Fis.setDeviceBits(true, STATUS_READY, 0, tags));
        sact &= ~tags;
        tfdStatus = tfdStatus & 0x88 | STATUS_READY;
        tfdError = 0;
        is |= IS_SDBS;
        hba.commandsCompleted(this, Integer.bitCount(tags));
        hba.portChanged(this);
    }

    private void writeByteCount(int slot, long bytes) {
        long at = clb + 32L * slot + 4;
        if (!memory().isRam(at, 4)) {
            hostBusFatal("PRDBC of command " + slot + " at 0x" + Long.toHexString(at) + " is not RAM");
            return;
        }
        try {
            memory().writeInt(at, (int) bytes);
        } catch (GuestMemoryException e) {
            hba.problem("port " + index + ": PRDBC of command " + slot + ": " + e.getMessage());
        }
    }

    /** Copies a FIS from the device into the received-FIS area, while FIS receive is enabled. */
    private void receive(int offset, byte[] fis) {
        if ((cmd & CMD_FRE) == 0) {
            return;
        }
        if (!memory().isRam(fb + offset, fis.length)) {
            // The HBA's DMA reaches RAM only (never, say, its own registers).
            hostBusFatal("received FIS area at 0x" + Long.toHexString(fb) + " is not RAM");
            return;
        }
        try {
            memory().write(fb + offset, ByteBuffer.wrap(fis));
        } catch (GuestMemoryException e) {
            hostBusFatal("received FIS area: " + e.getMessage());
        }
    }

    /** A read of the command list or a table: from RAM only, as the HBA's DMA reaches nothing else. */
    private void readRam(long address, ByteBuffer dst) throws GuestMemoryException {
        if (address < 0 || !memory().isRam(address, dst.remaining())) {
            throw new GuestMemoryException(address, dst.remaining(), "not RAM");
        }
        memory().read(address, dst);
    }

    private void hostBusFatal(String what) {
        hba.problem("port " + index + ": " + what);
        is |= IS_HBFS;
        halted = true;
    }

    private void interfaceFatal(int slot, String what) {
        hba.problem("port " + index + ": " + what);
        serr |= SERR_PROTOCOL;
        is |= IS_IFS;
        halted = true;
        activeSlot = -1;
    }

    private GuestMemory memory() {
        return hba.memory();
    }

    // ---------------------------------------------------------------------------------------------
    // save and restore

    /**
     * The port's registers, link and device, and the commands the device holds. Those commands are
     * not saved half-done: after a restore they run again from the command list, which the guest
     * keeps until they complete.
     */
    Map<String, Object> save() {
        Map<String, Object> s = new LinkedHashMap<>();
        s.put("clb", clb);
        s.put("fb", fb);
        s.put("is", is);
        s.put("ie", ie);
        s.put("cmd", cmd);
        s.put("tfdStatus", tfdStatus);
        s.put("tfdError", tfdError);
        s.put("sig", sig);
        s.put("sctl", sctl);
        s.put("serr", serr);
        s.put("sact", sact);
        s.put("ci", ci);
        s.put("sntf", sntf);
        s.put("linkUp", linkUp);
        s.put("linkDueIn", linkDue < 0 ? -1 : Math.max(0, linkDue - hba.clockNanos()));
        s.put("ipm", ipm);
        s.put("speed", speed);
        s.put("fetched", fetched);
        s.put("activeSlot", activeSlot);
        s.put("queued", queued);
        s.put("completedTags", completedTags);
        s.put("halted", halted);
        s.put("softReset", softReset);
        s.put("nextSlot", nextSlot);
        s.put("ccs", ccs);
        s.put("device", device == null ? null : device.save());
        return s;
    }

    /** The numbers a saved port holds. */
    private static final String[] SAVED_NUMBERS = {"clb", "fb", "is", "ie", "cmd", "tfdStatus", "tfdError", "sig", "sctl",
        "serr", "sact", "ci", "sntf", "linkDueIn", "ipm", "speed", "fetched", "activeSlot", "queued", "completedTags",
        "nextSlot", "ccs"};

    /**
     * Checks a saved port before anything changes: every register there, a device saved where one is
     * attached now and none where none is.
     *
     * @throws IllegalArgumentException naming what is wrong
     */
    void check(Map<String, Object> s) {
        for (String key : SAVED_NUMBERS) {
            num(s, key);
        }
        int active = (int) num(s, "activeSlot");
        if (active < -1 || active > 31) {
            throw new IllegalArgumentException("port " + index + " was saved running command slot " + active);
        }
        Object saved = s.get("device");
        if ((saved == null) != (device == null)) {
            throw new IllegalArgumentException("port " + index + " was saved " + (saved == null ? "empty" : "with a device")
                    + " and now " + (device == null ? "is empty" : "holds a device"));
        }
        if (saved != null && !(saved instanceof Map<?, ?>)) {
            throw new IllegalArgumentException("port " + index + "'s saved device is not a map");
        }
    }

    /** The attached device's state (null when empty), taken so a restore that fails can put it back. */
    Map<String, Object> deviceState() {
        return device == null ? null : device.save();
    }

    /** The attached device from its saved state (the port {@link #check}ed first). */
    @SuppressWarnings("unchecked")
    void restoreDevice(Map<String, Object> s) {
        Object saved = s.get("device");
        if (device != null && saved != null) {
            device.restore((Map<String, Object>) saved);
        }
    }

    /** Puts back a device state {@link #deviceState} took. */
    void putBackDevice(Map<String, Object> state) {
        if (device != null && state != null) {
            device.restore(state);
        }
    }

    /**
     * The port's registers and link from a saved state the port {@link #check}ed (its device restored
     * already by {@link #restoreDevice}); what the device held runs again from the command list.
     */
    void restore(Map<String, Object> s) {
        generation++;
        done.clear();
        clb = num(s, "clb");
        fb = num(s, "fb");
        is = (int) num(s, "is");
        ie = (int) num(s, "ie");
        cmd = (int) num(s, "cmd");
        tfdStatus = (int) num(s, "tfdStatus");
        tfdError = (int) num(s, "tfdError");
        sig = (int) num(s, "sig");
        sctl = (int) num(s, "sctl");
        serr = (int) num(s, "serr");
        sact = (int) num(s, "sact");
        ci = (int) num(s, "ci");
        sntf = (int) num(s, "sntf");
        linkUp = Boolean.TRUE.equals(s.get("linkUp"));
        long dueIn = num(s, "linkDueIn");
        linkDue = dueIn < 0 ? -1 : hba.clockNanos() + dueIn;
        ipm = (int) num(s, "ipm");
        speed = (int) num(s, "speed");
        fetched = (int) num(s, "fetched");
        int active = (int) num(s, "activeSlot");
        int held = (int) num(s, "queued");
        completedTags = (int) num(s, "completedTags");
        halted = Boolean.TRUE.equals(s.get("halted"));
        softReset = Boolean.TRUE.equals(s.get("softReset"));
        nextSlot = (int) num(s, "nextSlot") & 31;
        ccs = (int) num(s, "ccs") & 31;
        if (linkTimer != null) {
            linkTimer.cancel();
            if (linkDue >= 0) {
                linkTimer.schedule(linkDue);
            }
        }
        // The command in progress goes back to the list; the queued ones start again from their tables.
        activeSlot = -1;
        queued = 0;
        if (active >= 0) {
            fetched &= ~(1 << active);
        }
        for (int tag = 0; tag < 32; tag++) {
            if ((held & 1 << tag) != 0 && device != null && device.disk != null) {
                restartQueued(tag);
            }
        }
        kick();
    }

    /** A queued command the device held at the save, run again from the command table of its tag. */
    private void restartQueued(int tag) {
        try {
            Command c = fetch(tag);
            if (c == null) {
                return;
            }
            Taskfile tf = Fis.taskfile(c.cfis);
            if (device.parse(tf) instanceof AtaCommand.Queued q) {
                queued |= 1 << q.tag();
                startQueued(q, tf);
            }
        } catch (GuestMemoryException e) {
            hostBusFatal("queued command " + tag + " after restore: " + e.getMessage());
        }
    }

    private static long num(Map<String, Object> s, String key) {
        if (!(s.get(key) instanceof Number n)) {
            throw new IllegalArgumentException("an AHCI port's saved state has no number '" + key + "'");
        }
        return n.longValue();
    }
}
