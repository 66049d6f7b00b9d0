package org.spindle.device.ide;

import java.nio.ByteBuffer;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.TimeUnit;

import org.spindle.device.ata.Ata;
import org.spindle.device.ata.AtaCommand;
import org.spindle.device.ata.AtaParser;
import org.spindle.device.ata.AtaResult;
import org.spindle.device.ata.AutoPlacement;
import org.spindle.device.ata.IoMode;
import org.spindle.device.ata.Taskfile;
import org.spindle.device.ata.Transfer;
import org.spindle.machine.api.DmaMapping;
import org.spindle.machine.api.GuestMemory;

/**
 * One IDE channel: a master and a slave behind one set of task file registers, the device control
 * register (nIEN, SRST, HOB), the interrupt line, and the channel's half of the bus-master IDE
 * registers (command, status, PRD table address).
 *
 * <p>Every register access comes from the guest on the machine thread and never throws. A DMA command
 * runs when both it and the bus master's start bit are there, in one go: the PRD table is read and
 * checked (direction, length, RAM) before any byte moves, so a write the guest set up wrongly never
 * reaches the disk.
 *
 * <p>Work that reaches a disk's storage (a DMA transfer, a PIO block of a read or write, a cache flush,
 * a verify) runs where the controller's {@link IoMode} puts it (a CD-ROM's, always inline): inline in the register write, or on an
 * I/O thread while the guest sees the command in flight (BSY for PIO and non-data commands; DRQ and the
 * bus master active for DMA), its completion posted back to the machine thread. A device has at most
 * one such piece in flight. A reset (SRST, DEVICE RESET, the machine's) and the guest stopping the bus
 * master wait for it first, as a drive finishes or cancels its media access before it answers; the
 * bus master's stop then completes the command, a reset drops what it reported.
 */
final class IdeChannel {
    // Task file register offsets.
    static final int DATA = 0;
    static final int ERROR_FEATURE = 1;
    static final int COUNT = 2;
    static final int LBA_LOW = 3;
    static final int LBA_MID = 4;
    static final int LBA_HIGH = 5;
    static final int DEVICE = 6;
    static final int STATUS_COMMAND = 7;

    // Device control register.
    static final int NIEN = 0x02;
    static final int SRST = 0x04;
    static final int HOB = 0x80;

    // Bus-master registers.
    static final int BM_START = 0x01;
    /** Bus master writes memory: device to host. */
    static final int BM_TO_MEMORY = 0x08;
    static final int BM_ACTIVE = 0x01;
    static final int BM_ERROR = 0x02;
    static final int BM_INTERRUPT = 0x04;
    static final int BM_DMA_CAPABLE = 0x60;

    /** PRD tables are read at most this far: 64 KiB of entries, as the hardware stops at its boundary. */
    static final int MAX_PRD_ENTRIES = 8192;
    /**
     * How long a reset or the bus master's stop waits for storage work in flight before it gives up on
     * it (the storage hangs, or a request waits for an operator): its completion is then dropped.
     */
    static final long SETTLE_NANOS = TimeUnit.SECONDS.toNanos(10);

    /** Where the channel's storage work goes off the machine thread: the controller's I/O threads. */
    interface Offload {
        IoMode io();

        /**
         * Runs {@code work} on an I/O thread.
         *
         * @throws RejectedExecutionException when the controller is leaving its machine
         */
        void execute(Runnable work);

        /** Queues {@code work} for the machine thread; false when the controller is not in a machine. */
        boolean post(Runnable work);

        /** Reports a problem the guest caused or met (on the machine thread). */
        void problem(String text);
    }

    /** Storage work: moves data or finishes a transfer; false when the medium failed (the transfer says how). */
    private interface Step {
        boolean run();
    }

    /** What follows storage work, on the machine thread. */
    private interface Landing {
        void land(boolean ok);
    }

    final String name;
    final IdeDevice[] devices = new IdeDevice[2];
    /** Where the channel's INTRQ goes: the controller routes it by the channel's mode. */
    interface Intrq {
        void set(boolean level);
    }

    private Intrq irq;
    private GuestMemory memory;
    private final Offload offload;
    /** Storage work in flight on an I/O thread, per device (machine thread). */
    private final Flight[] flights = new Flight[2];

    private int selected;
    private int control;
    private int bmCommand;
    private int bmStatus;
    private long prdTable;

    IdeChannel(String name, IdeDevice master, IdeDevice slave, Offload offload) {
        this.name = name;
        this.offload = offload;
        devices[0] = master;
        devices[1] = slave;
        reset();
    }

    void attach(GuestMemory memory, Intrq irq) {
        this.memory = memory;
        this.irq = irq;
        updateIrq();
    }

    void detach() {
        abandonInFlight();
        if (irq != null) {
            irq.set(false);
        }
        irq = null;
        memory = null;
    }

    /** Power-on: both devices reset with their signatures, device 0 selected, the bus master stopped. */
    void reset() {
        abandonInFlight();
        control = 0;
        bmCommand = 0;
        bmStatus = 0;
        prdTable = 0;
        softReset();
    }

    private IdeDevice current() {
        return devices[selected];
    }

    private boolean empty() {
        return !devices[0].present() && !devices[1].present();
    }

    // ---- task file registers ----

    long read(int reg, int size) {
        if (reg == DATA) {
            return readData(size);
        }
        if (empty()) {
            return 0xFF;
        }
        IdeDevice d = current();
        boolean hob = (control & HOB) != 0;
        return switch (reg) {
            case ERROR_FEATURE -> d.present() ? d.error : 0;
            case COUNT, LBA_LOW, LBA_MID, LBA_HIGH -> hob ? d.hob[reg] : d.regs[reg];
            case DEVICE -> d.device;
            default -> {
                // Reading status acknowledges the interrupt.
                if (!d.present()) {
                    yield 0;
                }
                d.interrupt = false;
                updateIrq();
                yield d.status;
            }
        };
    }

    /** The alternate status register: status without acknowledging the interrupt. */
    int altStatus() {
        if (empty()) {
            return 0xFF;
        }
        IdeDevice d = current();
        return d.present() ? d.status : 0;
    }

    void write(int reg, int size, long value) {
        if (reg == DATA) {
            writeData(size, value);
            return;
        }
        int v = (int) value & 0xFF;
        control &= ~HOB; // a write to the command block clears HOB
        for (IdeDevice d : devices) {
            if (reg >= ERROR_FEATURE && reg <= LBA_HIGH) {
                d.write(reg, v);
            } else if (reg == DEVICE) {
                d.device = v;
            }
        }
        if (reg == DEVICE) {
            selected = (v >> 4) & 1;
            updateIrq();
        } else if (reg == STATUS_COMMAND) {
            command(v);
        }
    }

    /** The device control register. */
    void writeControl(int value) {
        int old = control;
        control = value & (HOB | SRST | NIEN);
        if ((value & SRST) != 0 && (old & SRST) == 0) {
            abandonInFlight();
            for (IdeDevice d : devices) {
                d.idle();
                d.status = Ata.BSY;
            }
        } else if ((value & SRST) == 0 && (old & SRST) != 0) {
            softReset();
        }
        updateIrq();
    }

    /** The end of SRST (and power-on): signatures, device 0 selected, no data phase, no interrupt. */
    private void softReset() {
        selected = 0;
        for (IdeDevice d : devices) {
            signature(d);
            d.regs[ERROR_FEATURE] = d.hob[ERROR_FEATURE] = 0;
        }
        updateIrq();
    }

    /** A device after a reset or diagnostic: idle, its signature in the registers, diagnostic code 01h. */
    private static void signature(IdeDevice d) {
        d.idle();
        d.interrupt = false;
        d.device = 0;
        d.load(Ata.signature(d.packet()));
        d.error = 0x01;
        d.status = d.present() && !d.packet() ? Ata.DRDY | Ata.DSC : 0;
    }

    // ---- commands ----

    private void command(int opcode) {
        IdeDevice d = current();
        if (!d.present()) {
            return; // an absent device ignores commands
        }
        boolean deviceReset = opcode == Ata.DEVICE_RESET && d.packet();
        if ((d.status & (Ata.BSY | Ata.DRQ)) != 0 && !deviceReset) {
            return; // only a PACKET device takes DEVICE RESET while busy (ATA8-ACS); a disk ignores commands then
        }
        if (deviceReset) {
            settle(selected, false); // the reset ends what the device was doing
        }
        d.interrupt = false;
        Taskfile tf = d.taskfile(opcode);
        if (opcode == Ata.EXECUTE_DEVICE_DIAGNOSTIC) {
            abandonInFlight();
            diagnostic();
            return;
        }
        AtaCommand cmd = AtaParser.parse(tf, d.geometry());
        if (d.packet() && cmd instanceof AtaCommand.Packet p) {
            d.idle();
            d.packetDma = p.dma();
            d.byteCountLimit = p.byteCountLimit();
            d.prepareBuffer(IdeDevice.CDB_SIZE);
            d.phase = IdeDevice.Phase.PACKET;
            d.reason(Ata.COD);
            d.status = Ata.DRDY | Ata.DRQ;
            updateIrq();
            return;
        }
        Transfer t = d.packet() ? d.cdrom.executeAta(cmd, tf) : d.disk.execute(cmd, tf);
        start(d, t, opcode != Ata.DEVICE_RESET);
    }

    /** EXECUTE DEVICE DIAGNOSTIC runs on both devices; device 0 reports for the pair and interrupts. */
    private void diagnostic() {
        selected = 0;
        for (IdeDevice d : devices) {
            signature(d);
        }
        devices[0].interrupt = devices[0].present();
        bmStatus |= devices[0].present() ? BM_INTERRUPT : 0;
        updateIrq();
    }

    /** Begins the data phase of {@code t}, or completes the command when it has none. */
    private void start(IdeDevice d, Transfer t, boolean interrupt) {
        d.idle();
        if (t.direction() == Transfer.Direction.NONE || t.ended()) {
            complete(d, t, interrupt);
            return;
        }
        d.transfer = t;
        if (t.dma()) {
            d.phase = IdeDevice.Phase.DMA;
            d.status = Ata.DRDY | Ata.DSC | Ata.DRQ;
            if (d.packet()) {
                d.reason(t.direction() == Transfer.Direction.IN ? Ata.IO : 0);
            }
            if ((bmCommand & BM_START) != 0) {
                runDma();
            }
            return;
        }
        nextPioBlock(d);
    }

    /** Sets up the next DRQ block of a PIO data phase, or completes the command when none is left. */
    private void nextPioBlock(IdeDevice d) {
        Transfer t = d.transfer;
        if (t.ended()) {
            complete(d, t, d.packet() || t.direction() == Transfer.Direction.OUT);
            return;
        }
        int block = blockSize(d, t);
        d.prepareBuffer(block);
        if (t.direction() == Transfer.Direction.IN) {
            ByteBuffer into = ByteBuffer.wrap(d.buffer, 0, block);
            storage(d, t, block, Ata.DRDY | Ata.DSC | Ata.BSY, () -> t.toHost(into) && finishAtEnd(t), ok -> {
                if (ok) {
                    pioBlockReady(d, t, block);
                } else {
                    complete(d, t, true);
                }
            });
            return;
        }
        d.phase = IdeDevice.Phase.PIO_OUT;
        pioBlockReady(d, t, block);
    }

    /** A PIO block is there to move: DRQ, and the interrupt that goes with it. */
    private void pioBlockReady(IdeDevice d, Transfer t, int block) {
        if (t.direction() == Transfer.Direction.IN) {
            d.phase = IdeDevice.Phase.PIO_IN;
        }
        d.status = Ata.DRDY | Ata.DSC | Ata.DRQ;
        if (d.packet()) {
            d.byteCount(block);
            d.reason(t.direction() == Transfer.Direction.IN ? Ata.IO : 0);
            raise(d);
        } else if (t.direction() == Transfer.Direction.IN || t.done() > 0) {
            // PIO in: an interrupt for each block; PIO out: for each block after the first.
            raise(d);
        }
    }

    private static int blockSize(IdeDevice d, Transfer t) {
        if (!d.packet()) {
            return (int) Math.min(t.drqBlock(), t.remaining());
        }
        int limit = d.byteCountLimit;
        if (limit == 0 || limit == 0xFFFF) {
            limit = 0xFFFE;
        }
        limit &= ~1;
        if (limit == 0) {
            limit = 2;
        }
        int chunk = (int) Math.min(limit, t.remaining());
        // Whole blocks per DRQ when the limit allows, as drives send them.
        if (chunk < t.remaining() && chunk >= t.drqBlock() && t.drqBlock() > 0) {
            chunk -= chunk % t.drqBlock();
        }
        return chunk;
    }

    /**
     * Ends a command: its registers, the status, and the interrupt. When ending it reaches the medium
     * (a flush, a verify, a write that goes through the cache), that work runs first, where the
     * controller runs storage work.
     */
    private void complete(IdeDevice d, Transfer t, boolean interrupt) {
        if (t.result() == null && t.usesStorage()) {
            storage(d, t, 0, Ata.DRDY | Ata.BSY, () -> finishAtEnd(t), ok -> report(d, t, interrupt));
            return;
        }
        report(d, t, interrupt);
    }

    /** Reports how a command ended (its result known). */
    private void report(IdeDevice d, Transfer t, boolean interrupt) {
        AtaResult r = t.finish();
        d.idle();
        d.status = r.status();
        d.error = r.error();
        Taskfile out = r.outputs();
        if (out != null) {
            d.load(out);
            d.device = (d.device & 0x10) | (out.device() & ~0x10);
        }
        if (d.packet() && out == null) {
            d.reason(Ata.IO | Ata.COD);
        }
        if (interrupt) {
            raise(d);
        }
    }

    // ---- the data register ----

    private long readData(int size) {
        IdeDevice d = current();
        if (d.phase != IdeDevice.Phase.PIO_IN) {
            return 0;
        }
        long v = 0;
        int n = Math.min(size, d.end - d.pos);
        for (int i = 0; i < n; i++) {
            v |= (d.buffer[d.pos + i] & 0xFFL) << (8 * i);
        }
        d.pos += n;
        if (d.pos >= d.end) {
            nextPioBlock(d);
        }
        return v;
    }

    private void writeData(int size, long value) {
        IdeDevice d = current();
        if (d.phase != IdeDevice.Phase.PIO_OUT && d.phase != IdeDevice.Phase.PACKET) {
            return;
        }
        int n = Math.min(size, d.end - d.pos);
        for (int i = 0; i < n; i++) {
            d.buffer[d.pos + i] = (byte) (value >>> (8 * i));
        }
        d.pos += n;
        if (d.pos < d.end) {
            return;
        }
        if (d.phase == IdeDevice.Phase.PACKET) {
            byte[] cdb = java.util.Arrays.copyOf(d.buffer, IdeDevice.CDB_SIZE);
            d.status = Ata.DRDY | Ata.BSY;
            start(d, d.cdrom.execute(cdb, d.packetDma), true);
            return;
        }
        Transfer t = d.transfer;
        ByteBuffer from = ByteBuffer.wrap(d.buffer, 0, d.end);
        storage(d, t, d.end, Ata.DRDY | Ata.DSC | Ata.BSY, () -> t.fromHost(from) && finishAtEnd(t), ok -> {
            if (ok) {
                nextPioBlock(d);
            } else {
                complete(d, t, true);
            }
        });
    }

    // ---- bus master ----

    long readBm(int offset, int size) {
        long v = 0;
        for (int i = 0; i < size; i++) {
            v |= (long) bmByte(offset + i) << (8 * i);
        }
        return v;
    }

    private int bmByte(int offset) {
        return switch (offset) {
            case 0 -> bmCommand;
            case 2 -> bmStatus;
            case 4, 5, 6, 7 -> (int) (prdTable >>> (8 * (offset - 4))) & 0xFF;
            default -> 0;
        };
    }

    void writeBm(int offset, int size, long value) {
        for (int i = 0; i < size; i++) {
            writeBmByte(offset + i, (int) (value >>> (8 * i)) & 0xFF);
        }
    }

    private void writeBmByte(int offset, int v) {
        switch (offset) {
            case 0 -> {
                int old = bmCommand;
                bmCommand = v & (BM_START | BM_TO_MEMORY);
                if ((v & BM_START) == 0) {
                    // A transfer under way ends first: the guest may reuse its buffers once stopped.
                    for (int i = 0; i < 2; i++) {
                        if (flights[i] != null && flights[i].dma) {
                            settle(i, true);
                        }
                    }
                    bmStatus &= ~BM_ACTIVE;
                } else if ((old & BM_START) == 0) {
                    bmStatus |= BM_ACTIVE;
                    runDma();
                }
            }
            case 2 -> bmStatus = (bmStatus & ~BM_DMA_CAPABLE | v & BM_DMA_CAPABLE) & ~(v & (BM_ERROR | BM_INTERRUPT));
            case 4, 5, 6, 7 -> {
                int shift = 8 * (offset - 4);
                long mask = 0xFFL << shift;
                prdTable = (prdTable & ~mask | ((long) v << shift) & mask) & 0xFFFF_FFFCL;
            }
            default -> {
            }
        }
    }

    /** Runs the selected device's pending DMA command through the PRD table, if there is one. */
    private void runDma() {
        IdeDevice d = current();
        if (d.phase != IdeDevice.Phase.DMA || (bmStatus & BM_ACTIVE) == 0 || memory == null
                || flights[0] != null && flights[0].dma || flights[1] != null && flights[1].dma) {
            return; // one transfer at a time through the bus master
        }
        Transfer t = d.transfer;
        boolean toMemory = t.direction() == Transfer.Direction.IN;
        if (((bmCommand & BM_TO_MEMORY) != 0) != toMemory) {
            dmaFailed(d, t, true);
            return;
        }
        PrdTable prd = PrdTable.read(memory, prdTable, MAX_PRD_ENTRIES);
        if (prd.memoryError()) {
            dmaFailed(d, t, true);
            return;
        }
        if (prd.list() == null || prd.list().totalLength() < t.remaining()) {
            dmaFailed(d, t, false);
            return;
        }
        DmaMapping mapping = memory.map(prd.list().limit(t.remaining()));
        if (!mapping.complete()) {
            dmaFailed(d, t, true);
            return;
        }
        List<ByteBuffer> buffers = mapping.buffers();
        boolean tableEnds = prd.list().totalLength() == t.length();
        storage(d, t, t.remaining(), 0, () -> (toMemory ? t.toHost(buffers) : t.fromHost(buffers)) && finishAtEnd(t),
                ok -> {
                    if (tableEnds) {
                        bmStatus &= ~BM_ACTIVE; // the table ended with the transfer
                    }
                    complete(d, t, true);
                });
    }

    /**
     * A DMA the bus master could not run: the command aborts, nothing more moves, and the bus master
     * stops with its interrupt bit (and its error bit when memory or the direction was wrong).
     */
    private void dmaFailed(IdeDevice d, Transfer t, boolean busError) {
        t.abort(Ata.ABRT);
        bmStatus &= ~BM_ACTIVE;
        if (busError) {
            bmStatus |= BM_ERROR;
        }
        complete(d, t, true);
    }

    // ---- storage work ----

    /** Finishes a transfer whose data has all moved (its end may reach the medium); true unless that failed. */
    private static boolean finishAtEnd(Transfer t) {
        return !t.ended() || !t.finish().failed();
    }

    /**
     * Runs {@code step}, storage work of device {@code d}'s transfer {@code t} moving {@code bytes},
     * then {@code landing} with whether it succeeded: at once on this thread, or on an I/O thread with
     * the landing posted back, when the controller's {@link IoMode} (and under {@code auto} the
     * device's {@link AutoPlacement}) says so. Meanwhile the device shows {@code busyStatus} (0: as it
     * is, for DMA).
     */
    private void storage(IdeDevice d, Transfer t, long bytes, int busyStatus, Step step, Landing landing) {
        // Data from memory (IDENTIFY, logs) moves here at once. So do a CD-ROM's reads, as on AHCI: an
        // operator changes its disc on this thread.
        IoMode io = d.disk == null || !t.usesStorage() ? IoMode.INLINE : offload.io();
        boolean timed = io == IoMode.AUTO;
        if (io == IoMode.INLINE || timed && !d.placement.onWorkers()) {
            long start = timed ? System.nanoTime() : 0;
            boolean ok = guarded(t, step, false);
            if (timed) {
                d.placement.ranInline(System.nanoTime() - start, bytes);
            }
            landing.land(ok);
            return;
        }
        int i = d == devices[0] ? 0 : 1;
        if (busyStatus != 0) {
            d.phase = IdeDevice.Phase.BUSY;
            d.status = busyStatus;
        }
        Flight f = new Flight(i, t, step, landing, busyStatus == 0, timed, bytes);
        flights[i] = f;
        try {
            offload.execute(f);
        } catch (RejectedExecutionException leaving) {
            // The controller is leaving its machine: the command never completes, as for a pulled drive.
            flights[i] = null;
        }
    }

    /** Runs storage work; a failure inside the disk stack (a backend's bug) aborts the command, never reaching the machine. */
    private boolean guarded(Transfer t, Step step, boolean onWorker) {
        try {
            return step.run();
        } catch (VirtualMachineError e) {
            throw e;
        } catch (RuntimeException | Error e) {
            String text = name + " channel: storage work failed: " + e;
            if (onWorker) {
                offload.post(() -> offload.problem(text));
            } else {
                offload.problem(text);
            }
            t.abort(Ata.ABRT);
            return false;
        }
    }

    /** Storage work of one device on an I/O thread, and what follows it on the machine thread. */
    private final class Flight implements Runnable {
        final int device;
        final Transfer transfer;
        final Step step;
        final Landing landing;
        final boolean dma;
        final boolean timed;
        final long bytes;
        final CountDownLatch ended = new CountDownLatch(1);
        /** Written by the I/O thread before {@link #ended} counts down. */
        private boolean ok;
        private boolean slow;
        /** Machine thread: whether the landing ran (posted, or at a settle). */
        private boolean landed;

        Flight(int device, Transfer transfer, Step step, Landing landing, boolean dma, boolean timed, long bytes) {
            this.device = device;
            this.transfer = transfer;
            this.step = step;
            this.landing = landing;
            this.dma = dma;
            this.timed = timed;
            this.bytes = bytes;
        }

        /** On the I/O thread. */
        @Override
        public void run() {
            long start = timed ? System.nanoTime() : 0;
            try {
                ok = guarded(transfer, step, true);
                slow = timed && AutoPlacement.slow(System.nanoTime() - start, bytes);
            } finally {
                ended.countDown();
                offload.post(this::land);
            }
        }

        /** On the machine thread, once the work has ended: unless a reset dropped it, what follows it. */
        void land() {
            if (landed || flights[device] != this) {
                return;
            }
            landed = true;
            flights[device] = null;
            if (timed) {
                devices[device].placement.ranOnWorker(slow);
            }
            landing.land(ok);
        }

        boolean await(long nanos) {
            long deadline = System.nanoTime() + nanos;
            boolean interrupted = false;
            try {
                while (true) {
                    try {
                        return ended.await(deadline - System.nanoTime(), TimeUnit.NANOSECONDS);
                    } catch (InterruptedException e) {
                        interrupted = true;
                    }
                }
            } finally {
                if (interrupted) {
                    Thread.currentThread().interrupt();
                }
            }
        }
    }

    /**
     * Waits for device {@code i}'s storage work in flight, if any, then runs what follows it
     * ({@code land}) or drops that (a reset). Work that has not ended after {@link #SETTLE_NANOS} is
     * given up: its completion is dropped, and a stop of the bus master aborts the command.
     */
    private void settle(int i, boolean land) {
        Flight f = flights[i];
        if (f == null) {
            return;
        }
        boolean ended = f.await(SETTLE_NANOS);
        if (ended && land) {
            f.land();
            return;
        }
        flights[i] = null;
        if (f.dma) {
            // The transfer is over for the bus master, as when a drive's DMA ends: no longer active,
            // its interrupt bit set (the device's own interrupt goes with the reset).
            bmStatus = bmStatus & ~BM_ACTIVE | BM_INTERRUPT;
        }
        if (!ended) {
            offload.problem(name + " channel device " + i + ": storage work still running after "
                    + TimeUnit.NANOSECONDS.toSeconds(SETTLE_NANOS) + " s; the command is given up");
            // What the work still moves into a PIO block lands in a buffer no later command uses.
            devices[i].buffer = new byte[0];
            if (land) {
                IdeDevice d = devices[i];
                d.idle();
                d.status = Ata.DRDY | Ata.ERR;
                d.error = Ata.ABRT;
                raise(d);
            }
        }
    }

    /**
     * Finishes storage work in flight and what follows it, so that the channel's state is complete
     * (a save, a quiesce).
     *
     * @throws IllegalStateException when some has not ended after {@link #SETTLE_NANOS}
     */
    void finishInFlight() {
        for (int i = 0; i < 2; i++) {
            Flight f = flights[i];
            if (f == null) {
                continue;
            }
            if (!f.await(SETTLE_NANOS)) {
                // Left as it is: the command goes on, and the save can be tried again.
                throw new IllegalStateException("IDE " + name + " channel device " + i
                        + ": storage work still in flight after " + TimeUnit.NANOSECONDS.toSeconds(SETTLE_NANOS) + " s");
            }
            f.land();
        }
    }

    /** Drops both devices' storage work in flight (waiting for it to end first): a reset, a restore. */
    void abandonInFlight() {
        settle(0, false);
        settle(1, false);
    }

    // ---- interrupts ----

    private void raise(IdeDevice d) {
        d.interrupt = true;
        bmStatus |= BM_INTERRUPT;
        updateIrq();
    }

    /** INTRQ follows the selected device's pending interrupt unless nIEN masks it. */
    private void updateIrq() {
        if (irq == null) {
            return;
        }
        irq.set(current().interrupt && (control & NIEN) == 0);
    }

    // ---- state ----

    int selected() {
        return selected;
    }

    int control() {
        return control;
    }

    int bmCommand() {
        return bmCommand;
    }

    int bmStatus() {
        return bmStatus;
    }

    long prdTable() {
        return prdTable;
    }

    void restoreRegisters(int selected, int control, int bmCommand, int bmStatus, long prdTable) {
        this.selected = selected & 1;
        this.control = control & (HOB | SRST | NIEN);
        this.bmCommand = bmCommand & (BM_START | BM_TO_MEMORY);
        this.bmStatus = bmStatus & (BM_ACTIVE | BM_ERROR | BM_INTERRUPT | BM_DMA_CAPABLE);
        this.prdTable = prdTable & 0xFFFF_FFFCL;
        updateIrq();
    }
}
