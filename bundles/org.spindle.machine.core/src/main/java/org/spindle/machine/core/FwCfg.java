package org.spindle.machine.core;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.TreeMap;

import org.spindle.machine.api.DeviceLifecycle;
import org.spindle.machine.api.DeviceStateDTO;

/**
 * QEMU's firmware configuration device (fw_cfg), the port interface a PC firmware reads: a 16-bit
 * selector at 0x510 and an 8-bit data register at 0x511. Selecting an item sets the data offset to 0;
 * each data read returns the next byte of the item, and 0 past its end or for an item that does not
 * exist. Items: the signature {@code QEMU} (key 0x0000), the interface id (0x0001: the traditional
 * interface, no DMA), the RAM size (0x0003, 64-bit little-endian), the CPU count (0x0005), and named
 * files, listed by the file directory (0x0019: a big-endian count, then per file a big-endian size and
 * selector, two reserved bytes and a 56-byte name), with selectors from 0x0020 in name order. Data
 * register writes are ignored, as QEMU has ignored them since 2.4.
 */
public final class FwCfg implements DeviceLifecycle, ByteRegisters {
    public static final int PORT = 0x510;
    public static final int SIGNATURE = 0x0000;
    public static final int ID = 0x0001;
    public static final int RAM_SIZE = 0x0003;
    public static final int NB_CPUS = 0x0005;
    public static final int FILE_DIR = 0x0019;
    public static final int FILE_FIRST = 0x0020;
    public static final String STATE_TYPE = "org.spindle.machine.core.FwCfg";
    public static final int STATE_VERSION = 1;
    private static final int WRITE_CHANNEL = 0x4000;
    private static final int NAME_LENGTH = 56;

    private final Map<Integer, byte[]> items = new TreeMap<>();
    private final TreeMap<String, byte[]> files = new TreeMap<>();
    private int selector;
    private int offset;

    public FwCfg(long ramSize, int cpus) {
        items.put(SIGNATURE, "QEMU".getBytes(StandardCharsets.US_ASCII));
        items.put(ID, le(1, 4));
        items.put(RAM_SIZE, le(ramSize, 8));
        items.put(NB_CPUS, le(cpus, 2));
        rebuildDirectory();
    }

    private static byte[] le(long value, int size) {
        ByteBuffer b = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(0, value);
        byte[] out = new byte[size];
        b.get(0, out);
        return out;
    }

    /** Adds (or replaces) a named file; selectors follow the names' order. */
    public void addFile(String name, byte[] data) {
        byte[] encoded = name.getBytes(StandardCharsets.US_ASCII);
        if (encoded.length == 0 || encoded.length >= NAME_LENGTH) {
            throw new IllegalArgumentException("an fw_cfg file name of 1 to " + (NAME_LENGTH - 1) + " characters, not '" + name + "'");
        }
        if (files.size() >= WRITE_CHANNEL - FILE_FIRST && !files.containsKey(name)) {
            throw new IllegalArgumentException("fw_cfg has no selector left for '" + name + "'");
        }
        files.put(name, data.clone());
        rebuildDirectory();
    }

    /** The selector a file has now, or -1. */
    public int selectorOf(String name) {
        int select = FILE_FIRST;
        for (String n : files.keySet()) {
            if (n.equals(name)) {
                return select;
            }
            select++;
        }
        return -1;
    }

    private void rebuildDirectory() {
        items.keySet().removeIf(key -> key >= FILE_FIRST && key < WRITE_CHANNEL);
        ByteBuffer dir = ByteBuffer.allocate(4 + files.size() * 64).order(ByteOrder.BIG_ENDIAN);
        dir.putInt(files.size());
        int select = FILE_FIRST;
        for (Map.Entry<String, byte[]> f : files.entrySet()) {
            dir.putInt(f.getValue().length);
            dir.putShort((short) select);
            dir.putShort((short) 0);
            byte[] name = new byte[NAME_LENGTH];
            byte[] encoded = f.getKey().getBytes(StandardCharsets.US_ASCII);
            System.arraycopy(encoded, 0, name, 0, encoded.length);
            dir.put(name);
            items.put(select++, f.getValue());
        }
        items.put(FILE_DIR, dir.array());
    }

    // ---------------------------------------------------------------------------------------------
    // ports: offset 0 the selector (16-bit), offset 1 the data register

    @Override
    public int readByte(int port) {
        return port == 1 ? nextByte() : 0;
    }

    private int nextByte() {
        byte[] item = items.get(selector & ~WRITE_CHANNEL);
        if (item == null || offset >= item.length) {
            return 0;
        }
        return item[offset++] & 0xFF;
    }

    /** The selector is 16 bits: a word write at 0x510 sets it whole. */
    @Override
    public void write(long port, int size, long value) {
        if (port == 0) {
            selector = (int) (size == 1 ? value & 0xFF : value & 0xFFFF);
            offset = 0;
        }
        // the data register is read-only here
    }

    @Override
    public void writeByte(int port, int value) {
        write(port, 1, value);
    }

    // ---------------------------------------------------------------------------------------------

    @Override
    public void reset() {
        selector = 0;
        offset = 0;
    }

    @Override
    public DeviceStateDTO save() {
        Map<String, Object> values = new LinkedHashMap<>();
        values.put("selector", selector);
        values.put("offset", offset);
        return DeviceStates.of(STATE_TYPE, STATE_VERSION, values);
    }

    @Override
    public void restore(DeviceStateDTO state) {
        Map<String, Object> values = DeviceStates.values(state, "fw_cfg", STATE_TYPE, STATE_VERSION);
        if (!(values.get("selector") instanceof Integer s) || !(values.get("offset") instanceof Integer o) || o < 0) {
            throw new IllegalArgumentException("the fw_cfg state lacks its selector or offset");
        }
        selector = s & 0xFFFF;
        offset = o;
    }
}
