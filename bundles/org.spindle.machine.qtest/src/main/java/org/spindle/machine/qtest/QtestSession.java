package org.spindle.machine.qtest;

import java.nio.ByteBuffer;
import java.util.Base64;
import java.util.HexFormat;
import java.util.Locale;
import java.util.function.Consumer;

import org.spindle.machine.api.GuestMemoryException;
import org.spindle.machine.api.Machine;

/**
 * One qtest connection's protocol: a request line in, reply lines out, as QEMU's qtest accelerator
 * answers them (requests and replies: one line each, words separated by single spaces; numbers with
 * base auto-detection, {@code 0x} hexadecimal, {@code 0} octal, else decimal).
 *
 * <p>Every command runs on the machine thread. Once {@code irq_intercept_in ioapic} is given, each
 * change of an I/O APIC input's level is written as {@code IRQ raise N} or {@code IRQ lower N} when
 * it happens; a change a command causes is therefore written before that command's {@code OK}. Lines
 * never interleave: everything goes out through one synchronized writer.
 *
 * <p>Unlike QEMU, which aborts on a malformed line, a malformed request gets {@code ERR} and a request
 * that cannot be carried out {@code FAIL}, each with the reason; the connection stays up.
 */
public final class QtestSession implements AutoCloseable {
    /** The largest byte-stream transfer one request may ask for. */
    public static final long MAX_TRANSFER = 64L << 20;

    private final Machine machine;
    private final Consumer<String> out;
    private final long maxTransfer;
    private String intercepted;
    private AutoCloseable watch;

    /**
     * @param out receives every line to send, without its newline; called under this session's lock
     */
    public QtestSession(Machine machine, Consumer<String> out) {
        this(machine, out, MAX_TRANSFER);
    }

    /** As above, with a smaller limit on byte-stream transfers (at most {@link #MAX_TRANSFER}). */
    public QtestSession(Machine machine, Consumer<String> out, long maxTransfer) {
        this.machine = machine;
        this.out = out;
        this.maxTransfer = Math.min(maxTransfer, MAX_TRANSFER);
    }

    private boolean broken;

    /** Writes a line; once the connection fails, lines are dropped (an interrupt must never fail a device). */
    private synchronized void send(String line) {
        if (broken) {
            return;
        }
        try {
            out.accept(line);
        } catch (RuntimeException e) {
            broken = true;
        }
    }

    /** Handles one request line (without its newline). */
    public void handle(String line) {
        String reply;
        try {
            reply = machine.call(() -> execute(line));
        } catch (Bad e) {
            reply = e.getMessage();
        } catch (Exception e) {
            reply = "FAIL internal error: " + e;
        }
        send(reply);
    }

    /** Answers a request the transport could not even read (a line too long) with {@code reply}. */
    void handleError(String reply) {
        send(reply);
    }

    /** A request that gets ERR or FAIL; the message is the whole reply. */
    private static final class Bad extends Exception {
        Bad(String reply) {
            super(reply, null, false, false);
        }
    }

    private String execute(String line) throws Bad {
        String[] w = line.split(" ", -1);
        String cmd = w[0];
        switch (cmd) {
            case "endianness" -> {
                return "OK little";
            }
            case "outb", "outw", "outl" -> {
                args(w, 2);
                long port = number(w[1], "port");
                if (port < 0 || port > 0xFFFF) {
                    throw new Bad("ERR port " + w[1] + " is outside 0 to 0xffff");
                }
                machine.io().write(port, width(cmd.charAt(3)), number(w[2], "value"));
                return "OK";
            }
            case "inb", "inw", "inl" -> {
                args(w, 1);
                long port = number(w[1], "port");
                if (port < 0 || port > 0xFFFF) {
                    throw new Bad("ERR port " + w[1] + " is outside 0 to 0xffff");
                }
                return String.format("OK 0x%04x", machine.io().read(port, width(cmd.charAt(2))));
            }
            case "writeb", "writew", "writel", "writeq" -> {
                args(w, 2);
                writeValue(number(w[1], "address"), width(cmd.charAt(5)), number(w[2], "value"));
                return "OK";
            }
            case "readb", "readw", "readl", "readq" -> {
                args(w, 1);
                return String.format("OK 0x%016x", readValue(number(w[1], "address"), width(cmd.charAt(4))));
            }
            case "read", "b64read" -> {
                args(w, 2);
                long address = number(w[1], "address");
                int size = transferSize(w[2], false);
                byte[] data = readBytes(address, size);
                return cmd.equals("read") ? "OK 0x" + HexFormat.of().formatHex(data) : "OK " + Base64.getEncoder().encodeToString(data);
            }
            case "write" -> {
                args(w, 3);
                long address = number(w[1], "address");
                int size = transferSize(w[2], false);
                String hex = w[3];
                if (hex.length() < 3) {
                    throw new Bad("ERR invalid argument size");
                }
                byte[] data = new byte[size];
                for (int i = 0; i < size && i * 2 + 4 <= hex.length(); i++) {
                    int hi = Character.digit(hex.charAt(i * 2 + 2), 16);
                    int lo = Character.digit(hex.charAt(i * 2 + 3), 16);
                    if (hi < 0 || lo < 0) {
                        throw new Bad("ERR invalid hex data at byte " + i);
                    }
                    data[i] = (byte) (hi << 4 | lo);
                }
                writeBytes(address, data, size);
                return "OK";
            }
            case "b64write" -> {
                args(w, 3);
                long address = number(w[1], "address");
                int size = transferSize(w[2], true);
                byte[] data;
                try {
                    data = Base64.getDecoder().decode(w[3]);
                } catch (IllegalArgumentException e) {
                    throw new Bad("ERR invalid base64 data: " + e.getMessage());
                }
                writeBytes(address, data, Math.min(size, data.length));
                return "OK";
            }
            case "memset" -> {
                args(w, 3);
                long address = number(w[1], "address");
                int size = transferSize(w[2], true);
                byte[] data = new byte[size];
                java.util.Arrays.fill(data, (byte) number(w[3], "value"));
                writeBytes(address, data, size);
                return "OK";
            }
            case "clock_step" -> {
                if (w.length > 2) {
                    throw new Bad("ERR clock_step takes at most 1 argument, got " + (w.length - 1));
                }
                long now = machine.clock().nanos();
                long target;
                if (w.length == 2) {
                    long step = number(w[1], "nanoseconds");
                    if (step < 0) {
                        throw new Bad("FAIL the clock cannot step back");
                    }
                    target = now + step;
                } else {
                    target = machine.nextTimerDeadline();
                    if (target < 0) {
                        throw new Bad("FAIL no timer deadline is pending");
                    }
                }
                return advance(Math.max(now, target));
            }
            case "clock_set" -> {
                args(w, 1);
                long target = number(w[1], "nanoseconds");
                if (target < machine.clock().nanos()) {
                    throw new Bad("FAIL the clock is at " + machine.clock().nanos() + " and cannot go back to " + target);
                }
                return advance(target);
            }
            case "irq_intercept_in" -> {
                args(w, 1);
                String controller = controller(w[1]);
                if (intercepted != null) {
                    if (intercepted.equals(controller)) {
                        return "OK";
                    }
                    throw new Bad("FAIL IRQ intercept already enabled");
                }
                try {
                    watch = machine.watchInterrupts(controller, (input, level) -> send("IRQ " + (level ? "raise " : "lower ") + input));
                } catch (IllegalArgumentException e) {
                    throw new Bad("FAIL Unknown device");
                }
                intercepted = controller;
                return "OK";
            }
            case "irq_intercept_out" -> {
                args(w, 1);
                throw new Bad("FAIL irq_intercept_out: Spindle intercepts interrupt controller inputs only");
            }
            default -> throw new Bad("FAIL Unknown command '" + cmd + "'");
        }
    }

    /** Moves the clock; FAIL when the machine's bound on timers per step stopped it short. */
    private String advance(long target) throws Bad {
        long reached = machine.advanceClock(target);
        if (reached != target) {
            throw new Bad("FAIL the clock stopped at " + reached + " (too many timers fired on the way to " + target + ")");
        }
        return "OK " + reached;
    }

    /** The controller a QOM path names: its last component ({@code /machine/ioapic} or {@code ioapic}). */
    private static String controller(String path) throws Bad {
        String last = path.substring(path.lastIndexOf('/') + 1);
        if (!last.equals("ioapic")) {
            throw new Bad("FAIL Unknown device");
        }
        return last;
    }

    private static void args(String[] w, int n) throws Bad {
        if (w.length - 1 != n) {
            throw new Bad("ERR " + w[0] + " takes " + n + " argument" + (n == 1 ? "" : "s") + ", got " + (w.length - 1));
        }
    }

    private static int width(char c) {
        return switch (c) {
            case 'b' -> 1;
            case 'w' -> 2;
            case 'l' -> 4;
            default -> 8;
        };
    }

    private int transferSize(String word, boolean zeroAllowed) throws Bad {
        long size = number(word, "size");
        if (size < 0 || size > maxTransfer || (size == 0 && !zeroAllowed)) {
            throw new Bad("ERR invalid size " + word + " (" + (zeroAllowed ? 0 : 1) + " to " + maxTransfer + " bytes)");
        }
        return (int) size;
    }

    /** A number as QEMU's qemu_strtou64 with base 0 reads it: 0x hexadecimal, leading 0 octal, else decimal. */
    static long number(String word, String what) throws Bad {
        String t = word.toLowerCase(Locale.ROOT);
        boolean negative = t.startsWith("-");
        if (negative) {
            t = t.substring(1);
        }
        int radix = 10;
        if (t.startsWith("0x")) {
            radix = 16;
            t = t.substring(2);
        } else if (t.length() > 1 && t.startsWith("0")) {
            radix = 8;
            t = t.substring(1);
        }
        try {
            if (t.isEmpty() || t.startsWith("+") || t.startsWith("-")) {
                throw new NumberFormatException();
            }
            long v = Long.parseUnsignedLong(t, radix);
            return negative ? -v : v;
        } catch (NumberFormatException e) {
            throw new Bad("ERR invalid " + what + " '" + word + "'");
        }
    }

    // ---------------------------------------------------------------------------------------------
    // the CPU's view of the address space: what is neither RAM nor MMIO reads all ones, drops writes

    private long readValue(long address, int size) {
        try {
            return machine.memory().read(address, size);
        } catch (GuestMemoryException e) {
            return size == 8 ? -1L : (1L << (8 * size)) - 1;
        }
    }

    private void writeValue(long address, int size, long value) {
        try {
            machine.memory().write(address, size, value);
        } catch (GuestMemoryException e) {
            // an unassigned address: the write goes nowhere
        }
    }

    /** A stream read; 1, 2, 4 or 8 bytes outside RAM are one device access of that width. */
    private byte[] readBytes(long address, int size) {
        byte[] data = new byte[size];
        if (isValueWidth(size) && !machine.memory().isRam(address, size)) {
            long v = readValue(address, size);
            for (int i = 0; i < size; i++) {
                data[i] = (byte) (v >>> (8 * i));
            }
            return data;
        }
        try {
            machine.memory().read(address, ByteBuffer.wrap(data));
        } catch (GuestMemoryException e) {
            for (int i = 0; i < size; i++) {
                data[i] = (byte) readValue(address + i, 1);
            }
        }
        return data;
    }

    private void writeBytes(long address, byte[] data, int size) {
        if (isValueWidth(size) && !machine.memory().isRam(address, size)) {
            long v = 0;
            for (int i = 0; i < size; i++) {
                v |= (data[i] & 0xFFL) << (8 * i);
            }
            writeValue(address, size, v);
            return;
        }
        try {
            machine.memory().write(address, ByteBuffer.wrap(data, 0, size));
        } catch (GuestMemoryException e) {
            for (int i = 0; i < size; i++) {
                writeValue(address + i, 1, data[i]);
            }
        }
    }

    private static boolean isValueWidth(int size) {
        return size == 1 || size == 2 || size == 4 || size == 8;
    }

    /** Stops the interrupt watching this session started. */
    @Override
    public void close() {
        if (watch != null) {
            try {
                machine.call(() -> {
                    watch.close();
                    return null;
                });
            } catch (Exception e) {
                // the machine is gone: nothing to unwatch
            }
            watch = null;
            intercepted = null;
        }
    }
}
