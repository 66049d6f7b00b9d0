package org.spindle.machine.core;

import java.util.Arrays;
import java.util.Locale;
import java.util.Map;

/**
 * What a machine is built from: the settings of a machine profile's {@code org.spindle.machine}
 * configuration.
 *
 * @param name the machine's name ({@code spindle.machine} of its devices)
 * @param type {@code pc} (i440FX + PIIX3) or {@code q35} (Q35 MCH + ICH9)
 * @param ramSize bytes of RAM (whole MiB, 1 MiB to 1 TiB)
 * @param cpus the CPU count the firmware is told
 * @param intxSwizzle how the board wires each slot's INTA#-INTD# to PIRQs: {@code qemu} (QEMU's
 *        boards, which SeaBIOS's tables describe: on {@code pc} PIRQ = (slot - 1 + pin) mod 4, on
 *        {@code q35} PIRQ E-H by (slot + pin) mod 4 and A-D for slot 31) or {@code slot}
 *        (PIRQ A-D = (slot + pin) mod 4)
 * @param pirqRoutes the ISA IRQ each PIRQ starts routed to (as firmware would program the routing
 *        registers), or an empty array for the hardware's reset value (routing off)
 * @param rtcStartSeconds the time of day the machine starts with, seconds since 1970 (UTC)
 */
public record MachineConfig(String name, String type, long ramSize, int cpus, String intxSwizzle, int[] pirqRoutes,
        long rtcStartSeconds) {
    public static final String PID = "org.spindle.machine";

    public MachineConfig {
        type = type.toLowerCase(Locale.ROOT);
        if (!type.equals("pc") && !type.equals("q35")) {
            throw new IllegalArgumentException("machine type '" + type + "': Spindle has pc and q35");
        }
        if (ramSize < (1 << 20) || ramSize > 1L << 40 || ramSize % (1 << 20) != 0) {
            throw new IllegalArgumentException("machine RAM of " + ramSize + " bytes: whole MiB, from 1 MiB to 1 TiB");
        }
        if (cpus < 1 || cpus > 255) {
            throw new IllegalArgumentException("machine CPUs " + cpus + " (1 to 255)");
        }
        intxSwizzle = intxSwizzle.toLowerCase(Locale.ROOT);
        if (!intxSwizzle.equals("qemu") && !intxSwizzle.equals("slot")) {
            throw new IllegalArgumentException("intx.swizzle '" + intxSwizzle + "': qemu or slot");
        }
        int pirqs = type.equals("pc") ? 4 : 8;
        if (pirqRoutes.length != 0 && pirqRoutes.length != pirqs) {
            throw new IllegalArgumentException("pirq.routes has " + pirqRoutes.length + " IRQs; a " + type + " has " + pirqs + " PIRQs");
        }
        for (int irq : pirqRoutes) {
            if (irq < 3 || irq > 15 || irq == 8 || irq == 13) {
                throw new IllegalArgumentException("pirq.routes: IRQ " + irq + " cannot take a PIRQ (3-7, 9-12, 14, 15)");
            }
        }
        pirqRoutes = pirqRoutes.clone();
    }

    /** A {@code pc} or {@code q35} with QEMU's wiring, routing off, one CPU, and the RTC at 2026-01-01. */
    public static MachineConfig of(String type, long ramSize) {
        return new MachineConfig("machine", type, ramSize, 1, "qemu", new int[0], 1_767_225_600L);
    }

    @Override
    public int[] pirqRoutes() {
        return pirqRoutes.clone();
    }

    /**
     * Reads the settings as a configuration holds them: {@code name}, {@code type}, {@code ram}
     * ({@code 2G}, {@code 512M} or bytes), {@code cpus}, {@code intx.swizzle}, {@code pirq.routes}
     * ({@code 10,11,12,13}), {@code rtc.start} (seconds since 1970); each has a default.
     *
     * @throws IllegalArgumentException naming the setting that is wrong
     */
    public static MachineConfig from(Map<String, ?> properties) {
        String name = string(properties, "name", "machine");
        String type = string(properties, "type", "pc");
        long ram = size(string(properties, "ram", "512M"));
        int cpus = (int) number(properties, "cpus", 1);
        String swizzle = string(properties, "intx.swizzle", "qemu");
        String routes = string(properties, "pirq.routes", "").trim();
        int[] pirqRoutes;
        try {
            pirqRoutes = routes.isEmpty() ? new int[0]
                    : Arrays.stream(routes.split("[,\\s]+")).mapToInt(Integer::parseInt).toArray();
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("pirq.routes '" + routes + "': ISA IRQ numbers separated by commas");
        }
        long rtc = number(properties, "rtc.start", 1_767_225_600L);
        return new MachineConfig(name, type, ram, cpus, swizzle, pirqRoutes, rtc);
    }

    private static String string(Map<String, ?> p, String key, String dflt) {
        Object v = p.get(key);
        return v == null ? dflt : v.toString().trim();
    }

    private static long number(Map<String, ?> p, String key, long dflt) {
        Object v = p.get(key);
        if (v == null) {
            return dflt;
        }
        if (v instanceof Number n) {
            return n.longValue();
        }
        try {
            return Long.parseLong(v.toString().trim());
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException(key + " '" + v + "' is not a number");
        }
    }

    /** {@code 2G}, {@code 512M}, {@code 64K}, or bytes. */
    static long size(String text) {
        String t = text.trim().toUpperCase(Locale.ROOT);
        if (t.endsWith("IB")) {
            t = t.substring(0, t.length() - 2);
        } else if (t.endsWith("B")) {
            t = t.substring(0, t.length() - 1);
        }
        int shift = 0;
        if (!t.isEmpty()) {
            switch (t.charAt(t.length() - 1)) {
                case 'K' -> shift = 10;
                case 'M' -> shift = 20;
                case 'G' -> shift = 30;
                case 'T' -> shift = 40;
                default -> shift = -1;
            }
            if (shift >= 0) {
                t = t.substring(0, t.length() - 1);
            } else {
                shift = 0;
            }
        }
        try {
            long n = Long.parseLong(t.trim());
            if (n < 0 || n > Long.MAX_VALUE >> shift) {
                throw new NumberFormatException();
            }
            return n << shift;
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("size '" + text + "': a number of bytes, or with K, M, G or T");
        }
    }

    /** PIRQ of INTx pin {@code pin} (0 for INTA#) of {@code device}, by this board's wiring. */
    int pirqOf(int device, int pin) {
        if (intxSwizzle.equals("slot")) {
            return (device + pin) & 3;
        }
        if (type.equals("pc")) {
            return (device - 1 + pin) & 3;
        }
        return device == 31 ? pin : 4 + ((device + pin) & 3);
    }

    /** Where the PCI hole starts (RAM above it moves past 4 GiB): 3.5 GiB on a pc, 2 GiB on a q35. */
    long holeStart() {
        return type.equals("pc") ? 0xE000_0000L : 0x8000_0000L;
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof MachineConfig m && name.equals(m.name) && type.equals(m.type) && ramSize == m.ramSize
                && cpus == m.cpus && intxSwizzle.equals(m.intxSwizzle) && Arrays.equals(pirqRoutes, m.pirqRoutes)
                && rtcStartSeconds == m.rtcStartSeconds;
    }

    @Override
    public int hashCode() {
        return name.hashCode() * 31 + Long.hashCode(ramSize);
    }

    @Override
    public String toString() {
        return name + " (" + type + ", " + (ramSize >> 20) + " MiB, " + cpus + " CPU, INTx " + intxSwizzle
                + (pirqRoutes.length == 0 ? "" : ", PIRQs to IRQ " + Arrays.toString(pirqRoutes)) + ")";
    }
}
