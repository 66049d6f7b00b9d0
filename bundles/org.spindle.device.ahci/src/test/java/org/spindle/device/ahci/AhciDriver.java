package org.spindle.device.ahci;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.fail;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.List;

import org.spindle.testing.qtest.QtestClient;

/**
 * What an operating system's AHCI driver does, over qtest, written from the AHCI 1.3.1 specification
 * (its own numbers, not the model's): BIOS/OS handoff, HBA reset, port start and stop, command headers,
 * command tables with FISes and PRDTs, and waiting for completion.
 *
 * <p>Guest memory: each port has 1 MiB at {@code 0x100_0000 + port * 0x10_0000}: its command list at
 * +0, its received-FIS area at +400h, and one 4 KiB command table per slot from +1000h (248 PRDT
 * entries each). Data buffers live from {@link #DATA} up.
 */
final class AhciDriver {
    // Generic host control.
    static final int CAP = 0x00;
    static final int GHC = 0x04;
    static final int IS = 0x08;
    static final int PI = 0x0C;
    static final int VS = 0x10;
    static final int CCC_CTL = 0x14;
    static final int CCC_PORTS = 0x18;
    static final int CAP2 = 0x24;
    static final int BOHC = 0x28;

    // Port registers (offsets from 100h + port * 80h).
    static final int PxCLB = 0x00;
    static final int PxCLBU = 0x04;
    static final int PxFB = 0x08;
    static final int PxFBU = 0x0C;
    static final int PxIS = 0x10;
    static final int PxIE = 0x14;
    static final int PxCMD = 0x18;
    static final int PxTFD = 0x20;
    static final int PxSIG = 0x24;
    static final int PxSSTS = 0x28;
    static final int PxSCTL = 0x2C;
    static final int PxSERR = 0x30;
    static final int PxSACT = 0x34;
    static final int PxCI = 0x38;

    // PxCMD bits.
    static final int ST = 1;
    static final int SUD = 1 << 1;
    static final int CLO = 1 << 3;
    static final int FRE = 1 << 4;
    static final int FR = 1 << 14;
    static final int CR = 1 << 15;
    static final int ALPE = 1 << 26;
    static final int ASP = 1 << 27;

    // PxIS bits.
    static final int DHRS = 1;
    static final int PSS = 1 << 1;
    static final int DSS = 1 << 2;
    static final int SDBS = 1 << 3;
    static final int DPS = 1 << 5;
    static final int PCS = 1 << 6;
    static final int PRCS = 1 << 22;
    static final int OFS = 1 << 24;
    static final int IFS = 1 << 27;
    static final int HBFS = 1 << 29;
    static final int TFES = 1 << 30;
    static final int FATAL = TFES | HBFS | IFS | OFS | 1 << 28;

    // Received-FIS area.
    static final int RX_DMA_SETUP = 0x00;
    static final int RX_PIO_SETUP = 0x20;
    static final int RX_D2H = 0x40;
    static final int RX_SDB = 0x58;

    static final long MEMORY = 0x100_0000L;
    static final long DATA = 0x400_0000L;

    final QtestClient qt;
    final long abar;
    /** How long the test lets the clock run for a link to come up. */
    long linkWaitNanos = 1_000_000;

    AhciDriver(QtestClient qt, long abar) {
        this.qt = qt;
        this.abar = abar;
    }

    int hba(int offset) {
        return qt.readl(abar + offset);
    }

    void hba(int offset, int value) {
        qt.writel(abar + offset, value);
    }

    int port(int port, int offset) {
        return qt.readl(abar + 0x100 + 0x80L * port + offset);
    }

    void port(int port, int offset, int value) {
        qt.writel(abar + 0x100 + 0x80L * port + offset, value);
    }

    static long commandList(int port) {
        return MEMORY + 0x10_0000L * port;
    }

    static long fisArea(int port) {
        return commandList(port) + 0x400;
    }

    static long table(int port, int slot) {
        return commandList(port) + 0x1000 + 0x1000L * slot;
    }

    /** BIOS/OS handoff (AHCI 10.6.3): take ownership if the HBA supports it. */
    void handoff() {
        if ((hba(CAP2) & 1) == 0) {
            return;
        }
        hba(BOHC, hba(BOHC) | 0x2);
    }

    /** HBA reset (10.4.3): GHC.HR, wait for it to clear, then AHCI mode and interrupts as asked. */
    void resetHba() {
        hba(GHC, 0x8000_0001);
        for (int i = 0; i < 1000 && (hba(GHC) & 1) != 0; i++) {
            qt.clockStep(1_000);
        }
        assertThat(hba(GHC) & 1).as("GHC.HR clears when the reset is done").isZero();
        hba(GHC, 0x8000_0000);
    }

    /**
     * Brings a port up as a driver does (10.1.2): engine stopped, command list and FIS area set, FIS
     * receive on, spin-up requested, the link awaited, errors cleared, the engine started.
     */
    void startPort(int port) {
        stopPort(port);
        long clb = commandList(port);
        qt.memset(clb, 0x1000 + 0x1000 * 32, 0);
        port(port, PxCLB, (int) clb);
        port(port, PxCLBU, (int) (clb >>> 32));
        port(port, PxFB, (int) fisArea(port));
        port(port, PxFBU, 0);
        port(port, PxCMD, port(port, PxCMD) | FRE);
        assertThat(port(port, PxCMD) & FR).as("FIS receive running").isNotZero();
        port(port, PxCMD, port(port, PxCMD) | SUD);
        awaitLink(port);
        port(port, PxSERR, -1);
        port(port, PxIS, -1);
        waitNotBusy(port);
        port(port, PxCMD, port(port, PxCMD) | ST);
        assertThat(port(port, PxCMD) & CR).as("command list running").isNotZero();
    }

    /** Steps the clock until PxSSTS.DET says a device is there and the PHY is up. */
    void awaitLink(int port) {
        for (long waited = 0; (port(port, PxSSTS) & 0xF) != 3; waited += 1_000) {
            if (waited > linkWaitNanos) {
                fail("port " + port + " link not up: SSTS " + Integer.toHexString(port(port, PxSSTS)));
            }
            qt.clockStep(1_000);
        }
    }

    void waitNotBusy(int port) {
        for (int i = 0; (port(port, PxTFD) & 0x88) != 0; i++) {
            if (i > 1000) {
                fail("port " + port + " busy: TFD " + Integer.toHexString(port(port, PxTFD)));
            }
            qt.clockStep(1_000);
        }
    }

    /** Stops the command list and FIS receive, waiting for CR and FR to clear (10.1.2). */
    void stopPort(int port) {
        int cmd = port(port, PxCMD);
        port(port, PxCMD, cmd & ~ST);
        awaitIdle(port);
        port(port, PxCMD, port(port, PxCMD) & ~FRE);
        assertThat(port(port, PxCMD) & FR).as("FR clears with FRE").isZero();
    }

    /** After ST is cleared: CR clears once the engine is idle (500 ms at most, 3.3.7). */
    void awaitIdle(int port) {
        long deadline = System.nanoTime() + 500_000_000L;
        while ((port(port, PxCMD) & CR) != 0) {
            if (System.nanoTime() > deadline) {
                fail("port " + port + ": CR still set 500 ms after ST was cleared");
            }
            Thread.onSpinWait();
        }
    }

    /** A register host-to-device FIS with a command (C bit). */
    static byte[] h2d(int command, int features, int count, long lba, int device) {
        byte[] f = new byte[20];
        f[0] = 0x27;
        f[1] = (byte) 0x80;
        f[2] = (byte) command;
        f[3] = (byte) features;
        f[4] = (byte) lba;
        f[5] = (byte) (lba >>> 8);
        f[6] = (byte) (lba >>> 16);
        f[7] = (byte) device;
        f[8] = (byte) (lba >>> 24);
        f[9] = (byte) (lba >>> 32);
        f[10] = (byte) (lba >>> 40);
        f[11] = (byte) (features >>> 8);
        f[12] = (byte) count;
        f[13] = (byte) (count >>> 8);
        return f;
    }

    /** A register host-to-device FIS with the device control register (no C bit). */
    static byte[] control(int deviceControl) {
        byte[] f = new byte[20];
        f[0] = 0x27;
        f[15] = (byte) deviceControl;
        return f;
    }

    /** One PRDT entry: {@code bytes} (even, up to 4 MiB) at {@code address}, with interrupt-on-completion if asked. */
    record Prd(long address, int bytes, boolean interrupt) {
        Prd(long address, int bytes) {
            this(address, bytes, false);
        }
    }

    /** One PRD per piece: {@code pieces} consecutive pieces from {@code address}. */
    static List<Prd> prds(long address, int... pieces) {
        List<Prd> out = new ArrayList<>();
        long at = address;
        for (int p : pieces) {
            out.add(new Prd(at, p));
            at += p;
        }
        return out;
    }

    /** Builds the header and table of {@code slot} (flags: W 40h, A 20h, C 400h, R 100h). */
    void prepare(int port, int slot, byte[] cfis, byte[] acmd, int flags, List<Prd> prdt) {
        long table = table(port, slot);
        qt.memset(table, 0x80, 0);
        qt.memwrite(table, cfis);
        if (acmd != null) {
            qt.memwrite(table + 0x40, acmd);
        }
        ByteBuffer prd = ByteBuffer.allocate(16 * prdt.size()).order(ByteOrder.LITTLE_ENDIAN);
        for (Prd p : prdt) {
            prd.putLong(p.address());
            prd.putInt(0);
            prd.putInt((p.bytes() - 1) | (p.interrupt() ? 1 << 31 : 0));
        }
        if (!prdt.isEmpty()) {
            qt.memwrite(table + 0x80, prd.array());
        }
        ByteBuffer header = ByteBuffer.allocate(32).order(ByteOrder.LITTLE_ENDIAN);
        header.putInt(prdt.size() << 16 | flags | cfis.length / 4);
        header.putInt(0);
        header.putLong(table);
        qt.memwrite(commandList(port) + 32L * slot, header.array());
    }

    /** Prepares and issues {@code slot}. */
    void issue(int port, int slot, byte[] cfis, byte[] acmd, int flags, List<Prd> prdt) {
        prepare(port, slot, cfis, acmd, flags, prdt);
        port(port, PxCI, 1 << slot);
    }

    /**
     * Waits until {@code slot}'s PxCI bit clears or the port reports a fatal error; returns PxIS.
     * The clock runs meanwhile (a worker's completion needs no clock, but CCC and links do).
     */
    int await(int port, int slot) {
        long deadline = System.nanoTime() + 10_000_000_000L;
        while (true) {
            boolean done = (port(port, PxCI) & 1 << slot) == 0;
            int is = port(port, PxIS);
            if (done || (is & FATAL) != 0) {
                return is;
            }
            if (System.nanoTime() > deadline) {
                fail("port " + port + " slot " + slot + " did not complete: IS " + Integer.toHexString(is) + " TFD "
                        + Integer.toHexString(port(port, PxTFD)));
            }
            Thread.onSpinWait();
        }
    }

    /** Waits until the PxSACT bits in {@code tags} have all cleared (or a fatal error); returns PxIS. */
    int awaitTags(int port, int tags) {
        long deadline = System.nanoTime() + 10_000_000_000L;
        while (true) {
            boolean done = (port(port, PxSACT) & tags) == 0;
            int is = port(port, PxIS);
            if (done || (is & FATAL) != 0) {
                return is;
            }
            if (System.nanoTime() > deadline) {
                fail("port " + port + " tags " + Integer.toHexString(tags) + " did not complete: SACT "
                        + Integer.toHexString(port(port, PxSACT)) + " IS " + Integer.toHexString(is));
            }
            Thread.onSpinWait();
        }
    }

    /** Runs a command to its end, expecting success; returns PxIS (then cleared). */
    int run(int port, int slot, byte[] cfis, int flags, List<Prd> prdt) {
        issue(port, slot, cfis, null, flags, prdt);
        int is = await(port, slot);
        assertThat(is & FATAL).as("port " + port + " IS " + Integer.toHexString(is) + " TFD "
                + Integer.toHexString(port(port, PxTFD))).isZero();
        port(port, PxIS, is);
        return is;
    }

    /** IDENTIFY (PACKET) DEVICE into {@code buffer}, returning the 256 words. */
    int[] identify(int port, int command) {
        qt.memset(DATA, 512, 0);
        run(port, 0, h2d(command, 0, 0, 0, 0), 0, List.of(new Prd(DATA, 512)));
        byte[] b = qt.memread(DATA, 512);
        int[] words = new int[256];
        for (int i = 0; i < 256; i++) {
            words[i] = (b[2 * i] & 0xFF) | (b[2 * i + 1] & 0xFF) << 8;
        }
        return words;
    }

    /** The byte count the HBA wrote back into {@code slot}'s header. */
    int prdbc(int port, int slot) {
        return qt.readl(commandList(port) + 32L * slot + 4);
    }

    byte[] receivedFis(int port, int offset, int length) {
        return qt.memread(fisArea(port) + offset, length);
    }

    /** Error recovery for a non-fatal stop (6.2.2.1): engine off, errors cleared, CLO if still busy, engine on. */
    void recover(int port) {
        port(port, PxCMD, port(port, PxCMD) & ~ST);
        awaitIdle(port);
        port(port, PxSERR, -1);
        port(port, PxIS, -1);
        if ((port(port, PxTFD) & 0x88) != 0) {
            port(port, PxCMD, port(port, PxCMD) | CLO);
            assertThat(port(port, PxCMD) & CLO).as("CLO clears once BSY and DRQ have").isZero();
        }
        port(port, PxCMD, port(port, PxCMD) | ST);
    }
}
