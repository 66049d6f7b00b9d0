package org.spindle.machine.api;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * A PCI function's configuration space (type 0 header), with the register semantics of the PCI Local
 * Bus specification 3.0, so that a device model declares what it is and gets the rest right:
 *
 * <ul>
 * <li>identity and class code, read-only; the header type with its multi-function bit;</li>
 * <li>the command register (I/O, memory and bus-master enables, parity and SERR# responses,
 * Interrupt Disable) and the status register, whose error bits clear when written with 1 and whose
 * Interrupt Status bit follows the function's INTx level;</li>
 * <li>six BAR registers that read back their size when written with all ones (a 64-bit BAR takes two);
 * the bus maps each BAR's registers wherever the guest places it while its space is enabled;</li>
 * <li>the capability list from 0x34, with the MSI ({@link MsiCapability}) and MSI-X
 * ({@link MsixCapability}) helpers and raw capabilities of any kind;</li>
 * <li>interrupt line (read-write) and pin (read-only);</li>
 * <li>device-specific registers with the write masks the device declares.</li>
 * </ul>
 *
 * <p>Guest accesses go through {@link #read} and {@link #write}; the device itself uses {@link #get} and
 * {@link #set}, which ignore the write masks. Build one with {@link #builder}.
 */
public final class PciConfigSpace {
    public static final int VENDOR_ID = 0x00;
    public static final int DEVICE_ID = 0x02;
    public static final int COMMAND = 0x04;
    public static final int STATUS = 0x06;
    public static final int REVISION_ID = 0x08;
    public static final int CLASS_PROG = 0x09;
    public static final int CLASS_DEVICE = 0x0A;
    public static final int CACHE_LINE_SIZE = 0x0C;
    public static final int LATENCY_TIMER = 0x0D;
    public static final int HEADER_TYPE = 0x0E;
    public static final int BAR0 = 0x10;
    public static final int SUBSYSTEM_VENDOR_ID = 0x2C;
    public static final int SUBSYSTEM_ID = 0x2E;
    public static final int ROM_ADDRESS = 0x30;
    public static final int CAPABILITY_LIST = 0x34;
    public static final int INTERRUPT_LINE = 0x3C;
    public static final int INTERRUPT_PIN = 0x3D;

    public static final int COMMAND_IO = 0x0001;
    public static final int COMMAND_MEMORY = 0x0002;
    public static final int COMMAND_BUS_MASTER = 0x0004;
    public static final int COMMAND_PARITY = 0x0040;
    public static final int COMMAND_SERR = 0x0100;
    public static final int COMMAND_INTX_DISABLE = 0x0400;

    public static final int STATUS_INTERRUPT = 0x0008;
    public static final int STATUS_CAPABILITIES = 0x0010;
    /** Master data parity error, signaled/received target abort, received master abort, signaled system error, detected parity error. */
    public static final int STATUS_ERRORS = 0xF900;

    public static final int CAP_POWER_MANAGEMENT = 0x01;
    public static final int CAP_MSI = 0x05;
    public static final int CAP_VENDOR = 0x09;
    public static final int CAP_EXPRESS = 0x10;
    public static final int CAP_MSIX = 0x11;

    /** What {@link #decodedAddress} returns for a BAR that decodes nothing now. */
    public static final long UNMAPPED = -1;

    private final int size;
    private final byte[] config;
    private final byte[] initial;
    private final byte[] wmask;
    private final byte[] w1cmask;
    private final PciBar[] bars;
    private final MsiCapability msi;
    private final MsixCapability msix;
    private PciSlot slot;
    private boolean intxLevel;
    private boolean intxDriven;
    private final List<String> problems = new ArrayList<>();

    private PciConfigSpace(Builder b) {
        this.size = b.size;
        this.config = b.config.clone();
        this.initial = b.config.clone();
        this.wmask = b.wmask.clone();
        this.w1cmask = b.w1cmask.clone();
        this.bars = b.bars.clone();
        this.msi = b.msiOffset == 0 ? null : new MsiCapability(this, b.msiOffset);
        if (b.msixOffset != 0) {
            this.msix = new MsixCapability(this, b.msixOffset, b.msixVectors, b.msixTableBar, b.msixTableOffset,
                    b.msixPbaBar, b.msixPbaOffset);
            bars[b.msixTableBar] = bars[b.msixTableBar].withHandler(msix.wrap(b.msixTableBar, bars[b.msixTableBar].handler()));
            if (b.msixPbaBar != b.msixTableBar) {
                bars[b.msixPbaBar] = bars[b.msixPbaBar].withHandler(msix.wrap(b.msixPbaBar, bars[b.msixPbaBar].handler()));
            }
        } else {
            this.msix = null;
        }
    }

    /** A configuration space for the function {@code vendorId:deviceId}. */
    public static Builder builder(int vendorId, int deviceId) {
        return new Builder(vendorId, deviceId);
    }

    /** 256 bytes, or 4096 for a PCI Express function. */
    public int size() {
        return size;
    }

    public int vendorId() {
        return (int) get(VENDOR_ID, 2);
    }

    public int deviceId() {
        return (int) get(DEVICE_ID, 2);
    }

    /** Base class, subclass and programming interface: {@code 0x010601} for AHCI. */
    public int classCode() {
        return (int) get(CLASS_PROG, 3);
    }

    public boolean multifunction() {
        return (config[HEADER_TYPE] & 0x80) != 0;
    }

    /** The interrupt pin: 0 for none, 1 to 4 for INTA# to INTD#. */
    public int interruptPin() {
        return config[INTERRUPT_PIN] & 0xFF;
    }

    // ---------------------------------------------------------------------------------------------
    // guest accesses

    /**
     * A guest's read of {@code size} bytes (1, 2 or 4) at {@code offset}; bytes beyond the space read
     * all ones.
     */
    public long read(int offset, int size) {
        long value = 0;
        for (int i = 0; i < size; i++) {
            int o = offset + i;
            int b = o >= 0 && o < this.size ? config[o] & 0xFF : 0xFF;
            value |= (long) b << (8 * i);
        }
        return value;
    }

    /**
     * A guest's write of {@code size} bytes (1, 2 or 4) at {@code offset}: read-only bits keep their
     * value, write-one-to-clear bits clear, and the side effects follow (INTx masking, MSI and MSI-X
     * enables and masks). Bytes beyond the space are dropped.
     */
    public void write(int offset, int size, long value) {
        boolean msiTouched = false;
        boolean msixTouched = false;
        boolean commandTouched = false;
        for (int i = 0; i < size; i++) {
            int o = offset + i;
            if (o < 0 || o >= this.size) {
                continue;
            }
            int v = (int) (value >>> (8 * i)) & 0xFF;
            int wm = wmask[o] & 0xFF;
            int w1c = w1cmask[o] & 0xFF;
            int old = config[o] & 0xFF;
            int now = (old & ~wm | v & wm) & ~(v & w1c);
            config[o] = (byte) now;
            commandTouched |= o == COMMAND + 1 || o == COMMAND;
            msiTouched |= msi != null && msi.covers(o);
            msixTouched |= msix != null && msix.covers(o);
        }
        if (commandTouched) {
            driveIntx();
        }
        if (msiTouched) {
            msi.afterWrite();
        }
        if (msixTouched) {
            msix.afterWrite();
        }
    }

    // ---------------------------------------------------------------------------------------------
    // device-side accesses

    /** The device's own read: {@code size} bytes (1 to 8) at {@code offset}, little-endian. */
    public long get(int offset, int size) {
        checkRange(offset, size);
        long value = 0;
        for (int i = 0; i < size; i++) {
            value |= (long) (config[offset + i] & 0xFF) << (8 * i);
        }
        return value;
    }

    /**
     * The device's own write, past the write masks: for the bits the hardware sets (status bits,
     * a register the device computes).
     */
    public void set(int offset, int size, long value) {
        checkRange(offset, size);
        for (int i = 0; i < size; i++) {
            config[offset + i] = (byte) (value >>> (8 * i));
        }
    }

    private void checkRange(int offset, int size) {
        if (offset < 0 || size < 1 || size > 8 || offset + size > this.size) {
            throw new IllegalArgumentException("config space access of " + size + " bytes at 0x"
                    + Integer.toHexString(offset) + " (the space has " + this.size + " bytes)");
        }
    }

    // ---------------------------------------------------------------------------------------------
    // command register and BARs

    public int command() {
        return (int) get(COMMAND, 2);
    }

    public boolean ioEnabled() {
        return (command() & COMMAND_IO) != 0;
    }

    public boolean memoryEnabled() {
        return (command() & COMMAND_MEMORY) != 0;
    }

    /** Whether the function may master the bus: DMA and MSI need this. */
    public boolean busMaster() {
        return (command() & COMMAND_BUS_MASTER) != 0;
    }

    /** BAR {@code index} (0 to 5) as declared; null when the register is unused or the upper half of a 64-bit BAR. */
    public PciBar bar(int index) {
        return bars[index];
    }

    /**
     * Where BAR {@code index} decodes now, or {@link #UNMAPPED}: not while its space is disabled in the
     * command register, nor when the range would wrap or leave the space (a BAR written with all ones
     * to size it, a 32-bit BAR past 4 GiB), as QEMU decides it.
     */
    public long decodedAddress(int index) {
        PciBar bar = bars[index];
        if (bar == null) {
            return UNMAPPED;
        }
        int off = BAR0 + 4 * index;
        long address;
        long limit;
        if (bar.kind() == PciBar.Kind.IO) {
            if (!ioEnabled()) {
                return UNMAPPED;
            }
            address = get(off, 4) & ~(bar.size() - 1) & 0xFFFF_FFFFL;
            limit = 0x1_0000L;
        } else {
            if (!memoryEnabled()) {
                return UNMAPPED;
            }
            if (bar.kind() == PciBar.Kind.MEMORY64) {
                address = get(off, 8) & ~(bar.size() - 1);
                limit = 1L << 52;
            } else {
                address = get(off, 4) & ~(bar.size() - 1) & 0xFFFF_FFFFL;
                limit = 0xFFFF_FFFFL;
            }
        }
        long last = address + bar.size() - 1;
        if (last <= address || last >= limit || address < 0) {
            return UNMAPPED;
        }
        return address;
    }

    // ---------------------------------------------------------------------------------------------
    // capabilities

    /** The offset of the first capability with {@code id}, or 0. */
    public int findCapability(int id) {
        List<Integer> all = capabilities(id);
        return all.isEmpty() ? 0 : all.get(0);
    }

    /** The offsets of every capability with {@code id}, in list order (virtio has several of one kind). */
    public List<Integer> capabilities(int id) {
        List<Integer> found = new ArrayList<>();
        if ((get(STATUS, 2) & STATUS_CAPABILITIES) == 0) {
            return found;
        }
        int at = config[CAPABILITY_LIST] & 0xFC;
        for (int hops = 0; at >= 0x40 && hops < 48; hops++) {
            if ((config[at] & 0xFF) == id) {
                found.add(at);
            }
            at = config[at + 1] & 0xFC;
        }
        return found;
    }

    /** The MSI capability, or null when the function has none. */
    public MsiCapability msi() {
        return msi;
    }

    /** The MSI-X capability, or null when the function has none. */
    public MsixCapability msix() {
        return msix;
    }

    // ---------------------------------------------------------------------------------------------
    // interrupts

    /**
     * The function's INTx level (level-triggered): the Interrupt Status bit follows it, and the pin is
     * driven while it is set and Interrupt Disable is clear.
     */
    public void setIntx(boolean level) {
        intxLevel = level;
        int status = (int) get(STATUS, 2);
        set(STATUS, 2, level ? status | STATUS_INTERRUPT : status & ~STATUS_INTERRUPT);
        driveIntx();
    }

    public boolean intx() {
        return intxLevel;
    }

    private void driveIntx() {
        boolean drive = intxLevel && (command() & COMMAND_INTX_DISABLE) == 0;
        if (drive != intxDriven) {
            intxDriven = drive;
            if (slot != null) {
                slot.intx().set(drive);
            }
        }
    }

    /** Sends {@code message} as the function: a memory write, only while it is a bus master. */
    void send(MsiMessage message) {
        if (slot == null || !busMaster()) {
            return;
        }
        try {
            message.deliver(slot.memory());
        } catch (GuestMemoryException e) {
            problem("MSI write of 0x" + Integer.toHexString(message.data()) + " to 0x" + Long.toHexString(message.address())
                    + ": " + e.getMessage());
        }
    }

    /**
     * Notes something that went wrong on the guest's side of this function (it appears in
     * {@link #problems()} and the machine's): for the device's own registers, never thrown.
     *
     * @since 1.1
     */
    public void problem(String text) {
        if (problems.size() < 100) {
            problems.add(text);
        }
    }

    /** What went wrong on the guest's side (an MSI aimed at no memory): noted, never thrown. */
    public List<String> problems() {
        return List.copyOf(problems);
    }

    // ---------------------------------------------------------------------------------------------
    // the bus's side

    /** Called by the bus when it plugs the function: the slot interrupts and MSI writes go through. */
    public void attach(PciSlot slot) {
        this.slot = slot;
        intxDriven = false;
        driveIntx();
    }

    /** Called by the bus when the function leaves it: INTx is let go. */
    public void detach() {
        if (slot != null && intxDriven) {
            slot.intx().lower();
        }
        intxDriven = false;
        slot = null;
    }

    /** The slot the function is plugged into, or null. */
    public PciSlot slot() {
        return slot;
    }

    /** The power-on state: every register as built, MSI-X vectors masked, nothing pending, INTx low. */
    public void reset() {
        System.arraycopy(initial, 0, config, 0, size);
        if (msix != null) {
            msix.reset();
        }
        intxLevel = false;
        driveIntx();
    }

    /** The state of the space (registers, MSI-X table and pending bits, INTx level) as plain data. */
    public Map<String, Object> save() {
        Map<String, Object> values = new HashMap<>();
        values.put("config", config.clone());
        values.put("intx", intxLevel);
        if (msix != null) {
            values.put("msixTable", msix.table());
            values.put("msixPending", msix.pending());
        }
        return values;
    }

    /**
     * Takes back what {@link #save} returned (for this kind of function).
     *
     * @throws IllegalArgumentException when the values do not fit this space (naming what)
     */
    public void restore(Map<String, Object> values) {
        if (!(values.get("config") instanceof byte[] bytes) || bytes.length != size) {
            throw new IllegalArgumentException("config space state: 'config' must be " + size + " bytes");
        }
        if (msix != null) {
            msix.restore(values.get("msixTable"), values.get("msixPending"));
        }
        System.arraycopy(bytes, 0, config, 0, size);
        intxLevel = Boolean.TRUE.equals(values.get("intx"));
        driveIntx();
    }

    // ---------------------------------------------------------------------------------------------

    /** Builds a {@link PciConfigSpace}. */
    public static final class Builder {
        private int size = 256;
        private byte[] config = new byte[4096];
        private byte[] wmask = new byte[4096];
        private byte[] w1cmask = new byte[4096];
        private final PciBar[] bars = new PciBar[6];
        private int nextCapability = 0x40;
        private int lastCapability;
        private int msiOffset;
        private int msixOffset;
        private int msixVectors;
        private int msixTableBar;
        private int msixTableOffset;
        private int msixPbaBar;
        private int msixPbaOffset;

        private Builder(int vendorId, int deviceId) {
            if (vendorId <= 0 || vendorId >= 0xFFFF || deviceId < 0 || deviceId > 0xFFFF) {
                throw new IllegalArgumentException("PCI IDs 0x" + Integer.toHexString(vendorId) + ":0x"
                        + Integer.toHexString(deviceId) + " (vendor 0x0001 to 0xFFFE, device 16 bits)");
            }
            put(VENDOR_ID, 2, vendorId);
            put(DEVICE_ID, 2, deviceId);
            mask(COMMAND, 2, COMMAND_IO | COMMAND_MEMORY | COMMAND_BUS_MASTER | COMMAND_PARITY | COMMAND_SERR
                    | COMMAND_INTX_DISABLE);
            w1cmask[STATUS + 1] = (byte) (STATUS_ERRORS >>> 8);
            w1cmask[STATUS] = (byte) STATUS_ERRORS;
            mask(CACHE_LINE_SIZE, 1, 0xFF);
            mask(LATENCY_TIMER, 1, 0xFF);
            mask(INTERRUPT_LINE, 1, 0xFF);
        }

        private void put(int offset, int n, long value) {
            for (int i = 0; i < n; i++) {
                config[offset + i] = (byte) (value >>> (8 * i));
            }
        }

        private void mask(int offset, int n, long value) {
            for (int i = 0; i < n; i++) {
                wmask[offset + i] = (byte) (value >>> (8 * i));
            }
        }

        public Builder revision(int revision) {
            put(REVISION_ID, 1, revision);
            return this;
        }

        /** Base class, subclass and programming interface, as three numbers (0x01, 0x06, 0x01 for AHCI). */
        public Builder classCode(int base, int subclass, int progIf) {
            put(CLASS_PROG, 1, progIf);
            put(CLASS_DEVICE, 1, subclass);
            put(CLASS_DEVICE + 1, 1, base);
            return this;
        }

        public Builder subsystem(int vendorId, int subsystemId) {
            put(SUBSYSTEM_VENDOR_ID, 2, vendorId);
            put(SUBSYSTEM_ID, 2, subsystemId);
            return this;
        }

        /**
         * The bits of the programming interface (class code byte 09h) the guest may write; none by
         * default. A PCI IDE controller whose channels can change between compatibility and native
         * mode lets bits 0 and 2 be written (and says so in bits 1 and 3).
         *
         * @since 1.1
         */
        public Builder programmingInterfaceWriteMask(int mask) {
            if (mask < 0 || mask > 0xFF) {
                throw new IllegalArgumentException("programming interface write mask 0x" + Integer.toHexString(mask)
                        + " (one byte)");
            }
            mask(CLASS_PROG, 1, mask);
            return this;
        }

        /** Sets the header type's multi-function bit (function 0 of a device with other functions). */
        public Builder multifunction(boolean multifunction) {
            config[HEADER_TYPE] = (byte) (multifunction ? 0x80 : 0);
            return this;
        }

        /** The interrupt pin: 1 to 4 for INTA# to INTD#, 0 for none (the default). */
        public Builder interruptPin(int pin) {
            if (pin < 0 || pin > 4) {
                throw new IllegalArgumentException("interrupt pin " + pin + " (0 for none, 1 to 4 for INTA# to INTD#)");
            }
            put(INTERRUPT_PIN, 1, pin);
            return this;
        }

        /** A PCI Express function: 4096 bytes of configuration space (the extended space reads as no capabilities). */
        public Builder extendedConfig() {
            size = 4096;
            return this;
        }

        /** Declares BAR {@code index}; a 64-bit BAR also takes register {@code index + 1}. */
        public Builder bar(int index, PciBar bar) {
            int width = bar.kind() == PciBar.Kind.MEMORY64 ? 2 : 1;
            if (index < 0 || index + width > 6) {
                throw new IllegalArgumentException("BAR " + index + " (" + bar + "): BARs are 0 to 5, a 64-bit one takes two");
            }
            for (int i = index; i < index + width; i++) {
                if (bars[i] != null || (i > 0 && bars[i - 1] != null && bars[i - 1].kind() == PciBar.Kind.MEMORY64)) {
                    throw new IllegalArgumentException("BAR " + index + " (" + bar + "): register " + i + " is taken");
                }
            }
            bars[index] = bar;
            int off = BAR0 + 4 * index;
            put(off, 4, bar.typeBits());
            long addressMask = ~(bar.size() - 1);
            mask(off, 4, addressMask & (bar.kind() == PciBar.Kind.IO ? ~0x3L : ~0xFL) & 0xFFFF_FFFFL);
            if (bar.kind() == PciBar.Kind.MEMORY64) {
                mask(off + 4, 4, addressMask >>> 32);
            }
            return this;
        }

        /**
         * A device-specific register of {@code width} bytes at {@code offset} (0x40 and up) with an
         * initial value and the bits the guest may write.
         */
        public Builder register(int offset, int width, long initialValue, long writeMask) {
            if (offset < 0x40 || width < 1 || width > 8 || offset + width > size) {
                throw new IllegalArgumentException("device register of " + width + " bytes at 0x" + Integer.toHexString(offset)
                        + " (device-specific registers are from 0x40 to the end of the space)");
            }
            put(offset, width, initialValue);
            mask(offset, width, writeMask);
            return this;
        }

        /**
         * Appends a capability to the list: {@code body} is what follows the ID and next-pointer bytes,
         * {@code writeMask} (same length, or null for read-only) the bits the guest may write in it.
         * Find its offset afterwards with {@link PciConfigSpace#capabilities}.
         */
        public Builder capability(int id, byte[] body, byte[] writeMask) {
            int at = allocate(id, 2 + body.length);
            System.arraycopy(body, 0, config, at + 2, body.length);
            if (writeMask != null) {
                if (writeMask.length != body.length) {
                    throw new IllegalArgumentException("capability 0x" + Integer.toHexString(id)
                            + ": the write mask is not as long as the body");
                }
                System.arraycopy(writeMask, 0, wmask, at + 2, body.length);
            }
            return this;
        }

        private int allocate(int id, int length) {
            int at = nextCapability;
            if (at + length > 256) {
                throw new IllegalArgumentException("capability 0x" + Integer.toHexString(id)
                        + " does not fit in the 192 bytes from 0x40");
            }
            config[at] = (byte) id;
            if (lastCapability == 0) {
                config[CAPABILITY_LIST] = (byte) at;
                config[STATUS] |= STATUS_CAPABILITIES;
            } else {
                config[lastCapability + 1] = (byte) at;
            }
            lastCapability = at;
            nextCapability = (at + length + 3) & ~3;
            return at;
        }

        /**
         * An MSI capability for {@code vectors} vectors (1, 2, 4, 8, 16 or 32), with a 64-bit address
         * and per-vector masking if asked.
         */
        public Builder msi(int vectors, boolean address64, boolean perVectorMask) {
            if (msiOffset != 0) {
                throw new IllegalStateException("the function has an MSI capability already");
            }
            if (vectors < 1 || vectors > 32 || Integer.bitCount(vectors) != 1) {
                throw new IllegalArgumentException("MSI vectors " + vectors + " (1, 2, 4, 8, 16 or 32)");
            }
            int length = MsiCapability.length(address64, perVectorMask);
            int at = allocate(CAP_MSI, length);
            int control = Integer.numberOfTrailingZeros(vectors) << 1 | (address64 ? 0x80 : 0) | (perVectorMask ? 0x100 : 0);
            put(at + 2, 2, control);
            mask(at + 2, 2, 0x71);
            mask(at + 4, 4, 0xFFFF_FFFCL);
            int data = at + (address64 ? 0xC : 0x8);
            if (address64) {
                mask(at + 8, 4, 0xFFFF_FFFFL);
            }
            mask(data, 2, 0xFFFF);
            if (perVectorMask) {
                mask(data + 4, 4, vectors == 32 ? 0xFFFF_FFFFL : (1L << vectors) - 1);
            }
            msiOffset = at;
            return this;
        }

        /**
         * An MSI-X capability for {@code vectors} vectors (1 to 2048), the table at {@code tableOffset}
         * in BAR {@code tableBar} and the pending bits at {@code pbaOffset} in BAR {@code pbaBar}
         * (both 8-byte aligned, inside BARs declared before this call). The helper answers those ranges
         * of the BARs itself; the rest of each BAR goes to the BAR's own handler.
         */
        public Builder msix(int vectors, int tableBar, long tableOffset, int pbaBar, long pbaOffset) {
            if (msixOffset != 0) {
                throw new IllegalStateException("the function has an MSI-X capability already");
            }
            if (vectors < 1 || vectors > 2048) {
                throw new IllegalArgumentException("MSI-X vectors " + vectors + " (1 to 2048)");
            }
            checkMsixRange("table", tableBar, tableOffset, 16L * vectors);
            checkMsixRange("pending bits", pbaBar, pbaOffset, 8L * ((vectors + 63) / 64));
            if (tableBar == pbaBar && tableOffset < pbaOffset + 8L * ((vectors + 63) / 64)
                    && pbaOffset < tableOffset + 16L * vectors) {
                throw new IllegalArgumentException("MSI-X table and pending bits overlap in BAR " + tableBar);
            }
            int at = allocate(CAP_MSIX, 12);
            put(at + 2, 2, vectors - 1);
            mask(at + 2, 2, 0xC000);
            put(at + 4, 4, tableOffset | tableBar);
            put(at + 8, 4, pbaOffset | pbaBar);
            msixOffset = at;
            msixVectors = vectors;
            msixTableBar = tableBar;
            msixTableOffset = (int) tableOffset;
            msixPbaBar = pbaBar;
            msixPbaOffset = (int) pbaOffset;
            return this;
        }

        private void checkMsixRange(String what, int bar, long offset, long length) {
            if (bar < 0 || bar > 5 || bars[bar] == null || bars[bar].kind() == PciBar.Kind.IO) {
                throw new IllegalArgumentException("MSI-X " + what + " in BAR " + bar
                        + ", which is not a memory BAR declared before the capability");
            }
            if ((offset & 7) != 0 || offset < 0 || offset + length > bars[bar].size()) {
                throw new IllegalArgumentException("MSI-X " + what + " at 0x" + Long.toHexString(offset) + " (" + length
                        + " bytes) in BAR " + bar + " of " + bars[bar].size() + " bytes: it must be 8-byte aligned and inside");
            }
        }

        public PciConfigSpace build() {
            config = Arrays.copyOf(config, size);
            wmask = Arrays.copyOf(wmask, size);
            w1cmask = Arrays.copyOf(w1cmask, size);
            return new PciConfigSpace(this);
        }
    }
}
