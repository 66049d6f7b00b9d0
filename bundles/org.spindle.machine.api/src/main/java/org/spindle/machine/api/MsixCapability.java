package org.spindle.machine.api;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/**
 * A function's MSI-X capability (PCI Local Bus 3.0, 6.8.2): the control word in configuration space
 * (enable, function mask), and the vector table and pending bit array in memory BARs, which this helper
 * answers itself. Every vector starts masked; a vector signalled while masked (by its own mask bit or
 * the function mask) sets its pending bit and sends when unmasked. {@link #signal} is what the device
 * calls.
 */
public final class MsixCapability {
    private static final int ENTRY = 16;

    private final PciConfigSpace space;
    private final int offset;
    private final int vectors;
    private final int tableBar;
    private final int tableOffset;
    private final int pbaBar;
    private final int pbaOffset;
    private final ByteBuffer table;
    private final long[] pending;

    MsixCapability(PciConfigSpace space, int offset, int vectors, int tableBar, int tableOffset, int pbaBar, int pbaOffset) {
        this.space = space;
        this.offset = offset;
        this.vectors = vectors;
        this.tableBar = tableBar;
        this.tableOffset = tableOffset;
        this.pbaBar = pbaBar;
        this.pbaOffset = pbaOffset;
        this.table = ByteBuffer.allocate(ENTRY * vectors).order(ByteOrder.LITTLE_ENDIAN);
        this.pending = new long[(vectors + 63) / 64];
        reset();
    }

    /** Where the capability starts in configuration space. */
    public int offset() {
        return offset;
    }

    public int vectors() {
        return vectors;
    }

    boolean covers(int configOffset) {
        return configOffset == offset + 2 || configOffset == offset + 3;
    }

    private int control() {
        return (int) space.get(offset + 2, 2);
    }

    public boolean enabled() {
        return (control() & 0x8000) != 0;
    }

    public boolean functionMasked() {
        return (control() & 0x4000) != 0;
    }

    /** Whether the vector's own mask bit is set. */
    public boolean isMasked(int vector) {
        return (table.getInt(vector * ENTRY + 12) & 1) != 0;
    }

    public boolean isPending(int vector) {
        return (pending[vector >>> 6] >>> vector & 1) != 0;
    }

    /** The message for {@code vector} as its table entry holds it now. */
    public MsiMessage message(int vector) {
        int e = vector * ENTRY;
        long address = Integer.toUnsignedLong(table.getInt(e)) | (long) table.getInt(e + 4) << 32;
        return new MsiMessage(address, table.getInt(e + 8));
    }

    /**
     * Signals {@code vector}: nothing while MSI-X is disabled; the pending bit while the vector or the
     * function is masked; otherwise the memory write, if the function is a bus master.
     */
    public void signal(int vector) {
        if (!enabled() || vector < 0 || vector >= vectors) {
            return;
        }
        if (functionMasked() || isMasked(vector)) {
            pending[vector >>> 6] |= 1L << vector;
            return;
        }
        space.send(message(vector));
    }

    private void sendPending(int vector) {
        if (enabled() && !functionMasked() && !isMasked(vector) && isPending(vector)) {
            pending[vector >>> 6] &= ~(1L << vector);
            space.send(message(vector));
        }
    }

    /** After a guest write to the control word: unmasking sends what is pending. */
    void afterWrite() {
        for (int v = 0; v < vectors; v++) {
            sendPending(v);
        }
    }

    void reset() {
        for (int v = 0; v < vectors; v++) {
            table.putLong(v * ENTRY, 0);
            table.putInt(v * ENTRY + 8, 0);
            table.putInt(v * ENTRY + 12, 1);
        }
        java.util.Arrays.fill(pending, 0);
    }

    byte[] table() {
        return table.array().clone();
    }

    long[] pending() {
        return pending.clone();
    }

    void restore(Object savedTable, Object savedPending) {
        if (!(savedTable instanceof byte[] t) || t.length != table.capacity()
                || !(savedPending instanceof long[] p) || p.length != pending.length) {
            throw new IllegalArgumentException("config space state: the MSI-X table must be " + table.capacity()
                    + " bytes and the pending bits " + pending.length + " words");
        }
        table.clear();
        table.put(t).clear();
        System.arraycopy(p, 0, pending, 0, pending.length);
    }

    /** The BAR handler that answers the table and pending bits in BAR {@code bar} and passes the rest on. */
    IoHandler wrap(int bar, IoHandler device) {
        long tableStart = bar == tableBar ? tableOffset : -1;
        long pbaStart = bar == pbaBar ? pbaOffset : -1;
        long tableEnd = tableStart + (long) ENTRY * vectors;
        long pbaEnd = pbaStart + 8L * pending.length;
        return new IoHandler() {
            @Override
            public long read(long off, int size) {
                if (tableStart >= 0 && off >= tableStart && off < tableEnd) {
                    return readTable((int) (off - tableStart), size);
                }
                if (pbaStart >= 0 && off >= pbaStart && off < pbaEnd) {
                    return readPending((int) (off - pbaStart), size);
                }
                return device.read(off, size);
            }

            @Override
            public void write(long off, int size, long value) {
                if (tableStart >= 0 && off >= tableStart && off < tableEnd) {
                    writeTable((int) (off - tableStart), size, value);
                } else if (pbaStart >= 0 && off >= pbaStart && off < pbaEnd) {
                    return; // the pending bits are read-only
                } else {
                    device.write(off, size, value);
                }
            }
        };
    }

    private long readTable(int off, int size) {
        long value = 0;
        for (int i = 0; i < size && off + i < table.capacity(); i++) {
            value |= (long) (table.get(off + i) & 0xFF) << (8 * i);
        }
        return value;
    }

    private long readPending(int off, int size) {
        long value = 0;
        for (int i = 0; i < size; i++) {
            int byteIndex = off + i;
            if (byteIndex / 8 < pending.length) {
                value |= (pending[byteIndex / 8] >>> (8 * (byteIndex % 8)) & 0xFF) << (8 * i);
            }
        }
        return value;
    }

    private void writeTable(int off, int size, long value) {
        int first = off / ENTRY;
        for (int i = 0; i < size && off + i < table.capacity(); i++) {
            int o = off + i;
            int b = (int) (value >>> (8 * i)) & 0xFF;
            int field = o % ENTRY;
            if (field == 12) {
                b &= 1; // vector control: only the mask bit is defined
            } else if (field > 12) {
                b = 0;
            }
            table.put(o, (byte) b);
        }
        int last = Math.min(vectors - 1, (off + size - 1) / ENTRY);
        for (int v = first; v <= last; v++) {
            sendPending(v);
        }
    }
}
