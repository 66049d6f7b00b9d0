package org.spindle.device.ide;

import java.io.ByteArrayOutputStream;

import org.spindle.device.ata.Ata;
import org.spindle.testing.qtest.QtestClient;

/**
 * What a guest's IDE driver does, over qtest: register programming, PIO loops, PRD tables, bus master.
 * Like a driver, it waits (polling the alternate status, or the bus master's status for DMA) while the
 * device is busy with storage work on an I/O thread, up to {@link #WAIT_NANOS}.
 */
final class IdeDriver {
    static final long WAIT_NANOS = 10_000_000_000L;

    final QtestClient qt;
    final int base;
    final int control;
    final int bm;
    final int irq;

    /** A channel in compatibility mode: the legacy ports and ISA IRQ. */
    IdeDriver(IdeFixture f, boolean primary) {
        this(f.qt, primary ? IdeFixture.PRIMARY : IdeFixture.SECONDARY,
                primary ? IdeFixture.PRIMARY_CONTROL : IdeFixture.SECONDARY_CONTROL, f.bmBase + (primary ? 0 : 8),
                primary ? 14 : 15);
    }

    /** A channel wherever it decodes: its command block, its alternate status port, its bus-master registers, its IRQ. */
    IdeDriver(QtestClient qt, int base, int control, int bm, int irq) {
        this.qt = qt;
        this.base = base;
        this.control = control;
        this.bm = bm;
        this.irq = irq;
    }

    int status() {
        return qt.inb(base + 7);
    }

    int altStatus() {
        return qt.inb(control);
    }

    int error() {
        return qt.inb(base + 1);
    }

    boolean irq() {
        return qt.getIrq(irq);
    }

    /** Polls the alternate status (which leaves the interrupt pending) until BSY clears; returns it. */
    int waitNotBusy() {
        long deadline = System.nanoTime() + WAIT_NANOS;
        int st;
        while (((st = altStatus()) & Ata.BSY) != 0) {
            if (System.nanoTime() > deadline) {
                throw new AssertionError(String.format("still busy: status %02X", st));
            }
            Thread.onSpinWait();
        }
        return st;
    }

    /** Polls the bus master's status until it is no longer active without an interrupt (libqos's loop); returns it. */
    int waitDma() {
        long deadline = System.nanoTime() + WAIT_NANOS;
        int st;
        while (((st = bmStatus()) & 0x05) == 0x01) {
            if (System.nanoTime() > deadline) {
                throw new AssertionError(String.format("the bus master stayed active: status %02X", st));
            }
            Thread.onSpinWait();
        }
        return st;
    }

    void select(int device) {
        qt.outb(base + 6, 0xA0 | device << 4);
    }

    /** A 28-bit command with LBA addressing. */
    void command28(int device, int command, int features, int count, long lba) {
        qt.outb(base + 6, 0xE0 | device << 4 | (int) (lba >>> 24) & 0x0F);
        qt.outb(base + 1, features);
        qt.outb(base + 2, count);
        qt.outb(base + 3, (int) lba & 0xFF);
        qt.outb(base + 4, (int) (lba >>> 8) & 0xFF);
        qt.outb(base + 5, (int) (lba >>> 16) & 0xFF);
        qt.outb(base + 7, command);
        waitNotBusy();
    }

    /** A 48-bit command: each register written twice, high-order byte first. */
    void command48(int device, int command, int count, long lba) {
        qt.outb(base + 6, 0x40 | device << 4);
        qt.outb(base + 2, count >> 8);
        qt.outb(base + 3, (int) (lba >>> 24) & 0xFF);
        qt.outb(base + 4, (int) (lba >>> 32) & 0xFF);
        qt.outb(base + 5, (int) (lba >>> 40) & 0xFF);
        qt.outb(base + 2, count & 0xFF);
        qt.outb(base + 3, (int) lba & 0xFF);
        qt.outb(base + 4, (int) (lba >>> 8) & 0xFF);
        qt.outb(base + 5, (int) (lba >>> 16) & 0xFF);
        qt.outb(base + 7, command);
        waitNotBusy();
    }

    /** Reads {@code blocks} DRQ blocks of {@code blockBytes} by 16-bit PIO, checking DRQ and the interrupt per block. */
    byte[] pioIn(int blocks, int blockBytes) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        for (int b = 0; b < blocks; b++) {
            waitNotBusy();
            if (!irq()) {
                throw new AssertionError("no interrupt before block " + b);
            }
            int st = status();
            if ((st & Ata.DRQ) == 0) {
                throw new AssertionError(String.format("no DRQ for block %d: status %02X error %02X", b, st, error()));
            }
            for (int i = 0; i < blockBytes; i += 2) {
                int w = qt.inw(base);
                out.write(w);
                out.write(w >> 8);
            }
        }
        return out.toByteArray();
    }

    /** Writes {@code data} by 16-bit PIO in DRQ blocks of {@code blockBytes}. */
    void pioOut(byte[] data, int blockBytes) {
        for (int at = 0; at < data.length; at += blockBytes) {
            int st = waitNotBusy();
            if ((st & Ata.DRQ) == 0) {
                throw new AssertionError(String.format("no DRQ at byte %d: status %02X", at, st));
            }
            for (int i = 0; i < blockBytes; i += 2) {
                qt.outw(base, (data[at + i] & 0xFF) | (data[at + i + 1] & 0xFF) << 8);
            }
        }
        waitNotBusy();
    }

    /** Writes a PRD table at {@code table}: entries of {address, byteCount}, the last with EOT. */
    void prd(long table, long[][] entries) {
        for (int i = 0; i < entries.length; i++) {
            long count = entries[i][1] == 0x10000 ? 0 : entries[i][1];
            long flags = i == entries.length - 1 ? 0x8000L << 48 : 0;
            qt.writeq(table + 8L * i, entries[i][0] | count << 32 | flags);
        }
        qt.outl(bm + 4, (int) table);
    }

    /**
     * Clears the bus master's interrupt bit (as libqos does before each transfer), starts it toward
     * memory (a read) or from it, and waits for the transfer as {@link #waitDma} does.
     */
    void startDma(boolean toMemory) {
        qt.outb(bm + 2, 0x04);
        qt.outb(bm, (toMemory ? 0x08 : 0) | 0x01);
        waitDma();
    }

    void stopDma() {
        qt.outb(bm, 0);
    }

    int bmStatus() {
        return qt.inb(bm + 2);
    }

    /** Clears the bus master's interrupt and error bits. */
    void clearBm() {
        qt.outb(bm + 2, 0x06);
    }

    /** Sends a 12-byte CDB after PACKET, checking the CDB phase's interrupt reason. */
    void packet(int device, byte[] cdb, boolean dma, int byteCountLimit) {
        qt.outb(base + 6, 0xA0 | device << 4);
        qt.outb(base + 1, dma ? 1 : 0);
        qt.outb(base + 4, byteCountLimit & 0xFF);
        qt.outb(base + 5, byteCountLimit >> 8);
        qt.outb(base + 7, Ata.PACKET);
        int st = altStatus();
        if ((st & Ata.DRQ) == 0 || (qt.inb(base + 2) & 3) != 1) {
            throw new AssertionError(String.format("no CDB phase: status %02X reason %02X", st, qt.inb(base + 2)));
        }
        byte[] c = java.util.Arrays.copyOf(cdb, 12);
        for (int i = 0; i < 12; i += 2) {
            qt.outw(base, (c[i] & 0xFF) | (c[i + 1] & 0xFF) << 8);
        }
        waitNotBusy();
    }

    /** Reads a PACKET command's PIO data: DRQ blocks as the device sizes them, until completion. */
    byte[] packetIn() {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        while (true) {
            waitNotBusy();
            if (!irq()) {
                throw new AssertionError("no interrupt");
            }
            int st = status();
            int reason = qt.inb(base + 2) & 3;
            if ((st & Ata.DRQ) == 0) {
                if (reason != 3) {
                    throw new AssertionError("completion with interrupt reason " + reason);
                }
                return out.toByteArray();
            }
            if (reason != 2) {
                throw new AssertionError("data phase with interrupt reason " + reason);
            }
            int n = qt.inb(base + 4) | qt.inb(base + 5) << 8;
            for (int i = 0; i < n; i += 2) {
                int w = qt.inw(base);
                out.write(w);
                out.write(w >> 8);
            }
        }
    }
}
