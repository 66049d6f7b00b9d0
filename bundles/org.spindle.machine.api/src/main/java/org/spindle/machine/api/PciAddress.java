package org.spindle.machine.api;

/**
 * Where a PCI function sits: bus, device (slot) and function, written {@code BB:DD.F} in hexadecimal
 * ({@code 00:01.1}), the form service properties and machine profiles use.
 *
 * @param bus 0 to 255
 * @param device 0 to 31
 * @param function 0 to 7
 */
public record PciAddress(int bus, int device, int function) implements Comparable<PciAddress> {
    public PciAddress {
        if (bus < 0 || bus > 255 || device < 0 || device > 31 || function < 0 || function > 7) {
            throw new IllegalArgumentException("PCI address " + bus + ":" + device + "." + function
                    + " (bus 0-255, device 0-31, function 0-7)");
        }
    }

    /** Bus 0, as the PC's devices are. */
    public static PciAddress of(int device, int function) {
        return new PciAddress(0, device, function);
    }

    /**
     * Reads {@code BB:DD.F} or {@code DD.F} (bus 0), hexadecimal; an optional {@code 0000:} segment is
     * accepted when it is 0.
     *
     * @throws IllegalArgumentException naming the text when it is not such an address
     */
    public static PciAddress parse(String text) {
        String t = text == null ? "" : text.trim();
        try {
            String[] segs = t.split(":");
            if (segs.length == 3) {
                if (Integer.parseInt(segs[0], 16) != 0) {
                    throw new IllegalArgumentException("PCI address '" + text + "': only segment 0 exists");
                }
                segs = new String[] {segs[1], segs[2]};
            }
            int bus = 0;
            String devfn = segs[0];
            if (segs.length == 2) {
                bus = Integer.parseInt(segs[0], 16);
                devfn = segs[1];
            } else if (segs.length != 1) {
                throw new NumberFormatException();
            }
            int dot = devfn.indexOf('.');
            if (dot < 0) {
                throw new NumberFormatException();
            }
            return new PciAddress(bus, Integer.parseInt(devfn.substring(0, dot), 16),
                    Integer.parseInt(devfn.substring(dot + 1), 16));
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("PCI address '" + text + "': expected BB:DD.F in hexadecimal, like 00:01.1");
        }
    }

    /** Device and function as one number, as config mechanism #1 and ECAM encode them. */
    public int devfn() {
        return device << 3 | function;
    }

    @Override
    public int compareTo(PciAddress o) {
        return Integer.compare(bus << 8 | devfn(), o.bus << 8 | o.devfn());
    }

    @Override
    public String toString() {
        return String.format("%02x:%02x.%x", bus, device, function);
    }
}
