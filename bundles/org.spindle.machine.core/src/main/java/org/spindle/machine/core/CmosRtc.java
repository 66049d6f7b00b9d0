package org.spindle.machine.core;

import java.time.LocalDateTime;
import java.time.ZoneOffset;
import java.util.LinkedHashMap;
import java.util.Map;

import org.spindle.machine.api.DeviceLifecycle;
import org.spindle.machine.api.DeviceStateDTO;
import org.spindle.machine.api.InterruptLine;
import org.spindle.machine.api.VirtualClock;

/**
 * The PC's CMOS RAM and real-time clock (MC146818 programming model) at ports 0x70 (index; bit 7
 * masks NMI) and 0x71 (data): the time and date registers in BCD or binary, 24- or 12-hour, the alarm,
 * status registers A to D, the periodic, alarm and update-ended interrupts on IRQ 8 (status C says
 * which, and reading it clears them and lowers the line), and 114 bytes of CMOS RAM. Time runs with
 * the machine's {@link VirtualClock} from the moment the clock was set; status B's SET bit stops it
 * while software writes a new time.
 *
 * <p>The firmware's memory fields are filled from the RAM size as QEMU fills them: base memory
 * (0x15-0x16, 640 KiB), extended memory in KiB above 1 MiB (0x17-0x18 and 0x30-0x31, at most
 * 65535), memory above 16 MiB in 64 KiB units (0x34-0x35) and above 4 GiB in 64 KiB units
 * (0x5B-0x5D), the CPU count less one (0x5F) and the century (0x32).
 */
public final class CmosRtc implements DeviceLifecycle, ByteRegisters {
    public static final int PORT = 0x70;
    public static final String STATE_TYPE = "org.spindle.machine.core.CmosRtc";
    public static final int STATE_VERSION = 1;
    private static final long SECOND = 1_000_000_000L;
    private static final int A = 0x0A;
    private static final int B = 0x0B;
    private static final int C = 0x0C;
    private static final int D = 0x0D;
    private static final int B_SET = 0x80;
    private static final int B_PIE = 0x40;
    private static final int B_AIE = 0x20;
    private static final int B_UIE = 0x10;
    private static final int B_BINARY = 0x04;
    private static final int B_24H = 0x02;
    private static final int C_IRQF = 0x80;
    private static final int C_PF = 0x40;
    private static final int C_AF = 0x20;
    private static final int C_UF = 0x10;

    private final VirtualClock clock;
    private final InterruptLine irq;
    private final byte[] cmos = new byte[128];
    private final byte[] memoryFields = new byte[128];
    private int index;
    private boolean nmiMasked;
    /** Seconds since the epoch (UTC) at virtual time {@link #baseNanos}. */
    private long baseSeconds;
    private long baseNanos;
    /** The time the registers show while SET stops the clock. */
    private LocalDateTime frozen;
    private final VirtualClock.Timer secondTimer;
    private final VirtualClock.Timer periodicTimer;

    /**
     * @param startSeconds the time of day the machine starts with, in seconds since 1970 (UTC)
     */
    public CmosRtc(VirtualClock clock, InterruptLine irq, long ramBelow4G, long ramAbove4G, int cpus, long startSeconds) {
        this.clock = clock;
        this.irq = irq;
        long extendedKib = Math.min(0xFFFF, Math.max(0, ramBelow4G - (1 << 20)) / 1024);
        put(memoryFields, 0x15, 640, 2);
        put(memoryFields, 0x17, extendedKib, 2);
        put(memoryFields, 0x30, extendedKib, 2);
        put(memoryFields, 0x34, Math.min(0xFFFF, Math.max(0, ramBelow4G - (16 << 20)) / 65536), 2);
        put(memoryFields, 0x5B, Math.min(0xFF_FFFF, ramAbove4G / 65536), 3);
        memoryFields[0x5F] = (byte) (cpus - 1);
        this.secondTimer = clock.timer("RTC update", this::secondElapsed);
        this.periodicTimer = clock.timer("RTC periodic", this::periodicTick);
        System.arraycopy(memoryFields, 0, cmos, 0, 128);
        reset();
        baseSeconds = startSeconds;
        baseNanos = clock.nanos();
        scheduleSecond();
    }

    private static void put(byte[] into, int at, long value, int bytes) {
        for (int i = 0; i < bytes; i++) {
            into[at + i] = (byte) (value >>> (8 * i));
        }
    }

    private LocalDateTime now() {
        if (frozen != null) {
            return frozen;
        }
        long elapsed = Math.floorDiv(clock.nanos() - baseNanos, SECOND);
        return LocalDateTime.ofEpochSecond(baseSeconds + elapsed, 0, ZoneOffset.UTC);
    }

    private boolean binary() {
        return (cmos[B] & B_BINARY) != 0;
    }

    private int encode(int value) {
        return binary() ? value : ((value / 10) << 4) | (value % 10);
    }

    private int decode(int value) {
        return binary() ? value : ((value >> 4) & 0x0F) * 10 + (value & 0x0F);
    }

    private int encodeHour(int hour) {
        if ((cmos[B] & B_24H) != 0) {
            return encode(hour);
        }
        int h12 = hour % 12 == 0 ? 12 : hour % 12;
        return encode(h12) | (hour >= 12 ? 0x80 : 0);
    }

    private int decodeHour(int value) {
        if ((cmos[B] & B_24H) != 0) {
            return decode(value);
        }
        int h = decode(value & 0x7F) % 12;
        return (value & 0x80) != 0 ? h + 12 : h;
    }

    private int timeRegister(int reg) {
        LocalDateTime t = now();
        return switch (reg) {
            case 0x00 -> encode(t.getSecond());
            case 0x02 -> encode(t.getMinute());
            case 0x04 -> encodeHour(t.getHour());
            case 0x06 -> encode(t.getDayOfWeek().getValue() % 7 + 1); // 1 = Sunday
            case 0x07 -> encode(t.getDayOfMonth());
            case 0x08 -> encode(t.getMonthValue());
            case 0x09 -> encode(t.getYear() % 100);
            case 0x32 -> encode(t.getYear() / 100);
            default -> cmos[reg] & 0xFF;
        };
    }

    private void setTimeRegister(int reg, int value) {
        LocalDateTime t = now();
        try {
            t = switch (reg) {
                case 0x00 -> t.withSecond(decode(value) % 60);
                case 0x02 -> t.withMinute(decode(value) % 60);
                case 0x04 -> t.withHour(decodeHour(value) % 24);
                case 0x07 -> t.withDayOfMonth(Math.max(1, Math.min(t.toLocalDate().lengthOfMonth(), decode(value))));
                case 0x08 -> t.withMonth(Math.max(1, Math.min(12, decode(value))));
                case 0x09 -> t.withYear(t.getYear() / 100 * 100 + decode(value) % 100);
                case 0x32 -> t.withYear(decode(value) * 100 + t.getYear() % 100);
                default -> t;
            };
        } catch (java.time.DateTimeException e) {
            return; // a day the month does not have: ignored, as the chip would not count there either
        }
        if (frozen != null) {
            frozen = t;
        } else {
            rebase(t);
        }
    }

    private void rebase(LocalDateTime t) {
        baseSeconds = t.toEpochSecond(ZoneOffset.UTC);
        long now = clock.nanos();
        baseNanos = now - Math.floorMod(now - baseNanos, SECOND);
    }

    // ---------------------------------------------------------------------------------------------
    // interrupts

    private void scheduleSecond() {
        long elapsed = clock.nanos() - baseNanos;
        secondTimer.schedule(baseNanos + (Math.floorDiv(elapsed, SECOND) + 1) * SECOND);
    }

    private void secondElapsed() {
        if (frozen == null) {
            int flags = C_UF;
            LocalDateTime t = now();
            if (alarmMatches(0x01, t.getSecond()) && alarmMatches(0x03, t.getMinute()) && alarmHourMatches(t.getHour())) {
                flags |= C_AF;
            }
            raiseFlags(flags);
        }
        scheduleSecond();
    }

    private boolean alarmMatches(int reg, int value) {
        int a = cmos[reg] & 0xFF;
        return (a & 0xC0) == 0xC0 || decode(a) == value;
    }

    private boolean alarmHourMatches(int hour) {
        int a = cmos[0x05] & 0xFF;
        return (a & 0xC0) == 0xC0 || decodeHour(a) == hour;
    }

    /** The periodic interrupt's period from status A's rate, or 0 when it is off. */
    private long periodNanos() {
        int rate = cmos[A] & 0x0F;
        if (rate == 0) {
            return 0;
        }
        if (rate <= 2) {
            rate += 7;
        }
        return (SECOND << (rate - 1)) / 32768;
    }

    private void schedulePeriodic() {
        long period = periodNanos();
        if (period == 0) {
            periodicTimer.cancel();
        } else if (!periodicTimer.isScheduled()) {
            periodicTimer.schedule(clock.nanos() + period);
        }
    }

    private void periodicTick() {
        raiseFlags(C_PF);
        long period = periodNanos();
        if (period > 0) {
            periodicTimer.schedule(clock.nanos() + period);
        }
    }

    private void raiseFlags(int flags) {
        int c = (cmos[C] & 0xFF) | flags;
        int enabled = (c & C_PF) != 0 && (cmos[B] & B_PIE) != 0
                || (c & C_AF) != 0 && (cmos[B] & B_AIE) != 0
                || (c & C_UF) != 0 && (cmos[B] & B_UIE) != 0 ? C_IRQF : 0;
        boolean wasRaised = (cmos[C] & C_IRQF) != 0;
        cmos[C] = (byte) (c | enabled);
        if (enabled != 0 && !wasRaised) {
            irq.raise();
        }
    }

    // ---------------------------------------------------------------------------------------------
    // ports

    @Override
    public int readByte(int port) {
        if (port != 1) {
            return 0xFF; // the index register is write-only
        }
        return switch (index) {
            case C -> {
                int c = cmos[C] & 0xFF;
                cmos[C] = 0;
                if ((c & C_IRQF) != 0) {
                    irq.lower();
                }
                yield c;
            }
            case D -> 0x80; // valid RAM and time
            case A -> cmos[A] & 0x7F; // no update in progress: the time reads whole
            case 0x00, 0x02, 0x04, 0x06, 0x07, 0x08, 0x09, 0x32 -> timeRegister(index);
            default -> cmos[index] & 0xFF;
        };
    }

    @Override
    public void writeByte(int port, int value) {
        if (port == 0) {
            index = value & 0x7F;
            nmiMasked = (value & 0x80) != 0;
            return;
        }
        if (port != 1) {
            return;
        }
        switch (index) {
            case A -> {
                cmos[A] = (byte) (value & 0x7F);
                periodicTimer.cancel();
                schedulePeriodic();
            }
            case B -> writeB(value);
            case C, D -> {
                // read-only
            }
            case 0x00, 0x02, 0x04, 0x06, 0x07, 0x08, 0x09, 0x32 -> setTimeRegister(index, value);
            default -> cmos[index] = (byte) value;
        }
    }

    private void writeB(int value) {
        boolean wasSet = (cmos[B] & B_SET) != 0;
        boolean set = (value & B_SET) != 0;
        if (set && !wasSet) {
            frozen = now();
        }
        cmos[B] = (byte) value;
        if (!set && wasSet) {
            LocalDateTime t = frozen;
            frozen = null;
            baseSeconds = t.toEpochSecond(ZoneOffset.UTC);
            baseNanos = clock.nanos(); // the divider chain restarts: the next second is a whole second away
            scheduleSecond();
        }
        if (set) {
            cmos[B] = (byte) (cmos[B] & ~B_UIE); // SET clears UIE, as the chip does
        }
        // enabling an interrupt whose flag is already up raises the line
        raiseFlags(0);
    }

    /** Whether NMI is masked through bit 7 of the index port. */
    public boolean nmiMasked() {
        return nmiMasked;
    }

    // ---------------------------------------------------------------------------------------------

    /** A reset: the status registers as firmware finds them; the battery-backed RAM and the time stay. */
    @Override
    public void reset() {
        cmos[A] = 0x26; // 32.768 kHz, 1024 Hz
        cmos[C] = 0;
        cmos[B] = B_24H;
        index = 0;
        nmiMasked = false;
        frozen = null;
        periodicTimer.cancel();
        schedulePeriodic();
        if (irq.isRaised()) {
            irq.lower();
        }
    }

    @Override
    public DeviceStateDTO save() {
        Map<String, Object> values = new LinkedHashMap<>();
        values.put("cmos", cmos.clone());
        values.put("index", index);
        values.put("nmiMasked", nmiMasked);
        values.put("seconds", now().toEpochSecond(ZoneOffset.UTC));
        values.put("nanosIntoSecond", frozen != null ? 0L : Math.floorMod(clock.nanos() - baseNanos, SECOND));
        values.put("frozen", frozen != null);
        return DeviceStates.of(STATE_TYPE, STATE_VERSION, values);
    }

    @Override
    public void restore(DeviceStateDTO state) {
        Map<String, Object> v = DeviceStates.values(state, "the CMOS/RTC", STATE_TYPE, STATE_VERSION);
        if (!(v.get("cmos") instanceof byte[] saved) || saved.length != 128
                || !(v.get("index") instanceof Integer savedIndex)
                || !(v.get("nmiMasked") instanceof Boolean savedNmi)
                || !(v.get("seconds") instanceof Long seconds)
                || !(v.get("nanosIntoSecond") instanceof Long into)
                || !(v.get("frozen") instanceof Boolean wasFrozen)) {
            throw new IllegalArgumentException("the CMOS/RTC state lacks its RAM, index, NMI mask or time");
        }
        System.arraycopy(saved, 0, cmos, 0, 128);
        index = savedIndex & 0x7F;
        nmiMasked = savedNmi;
        baseSeconds = seconds;
        baseNanos = clock.nanos() - into;
        frozen = wasFrozen ? LocalDateTime.ofEpochSecond(seconds, 0, ZoneOffset.UTC) : null;
        periodicTimer.cancel();
        schedulePeriodic();
        scheduleSecond();
        if (((cmos[C] & C_IRQF) != 0) != irq.isRaised()) {
            irq.set((cmos[C] & C_IRQF) != 0);
        }
    }
}
