package org.spindle.machine.core;

import java.util.LinkedHashMap;
import java.util.Map;

/**
 * One Intel 8259A programmable interrupt controller, as a PC drives it (8086 mode): the
 * initialization sequence (ICW1 to ICW4), the mask (OCW1), end of interrupt and priority rotation
 * (OCW2), register reads, poll and special mask mode (OCW3), edge- or level-sensitive inputs (ICW1's
 * LTIM, or the PIIX's ELCR per input), automatic EOI, and the acknowledge cycle that turns the
 * highest-priority request into a vector.
 *
 * <p>An edge input's request stays latched when its line falls before the acknowledge (as QEMU's
 * model does, so a device may signal an edge with a short pulse); a level input's request lasts
 * exactly as long as its line is high.
 *
 * <p>Priorities: the input after {@link #lowestPriority} has the highest priority and they descend
 * round the ring (after ICW1, IR0 is highest and IR7 lowest). An input is served when it is requested,
 * not masked, and of higher priority than every input in service (in special mask mode, only its own
 * in-service bit blocks it).
 */
final class Pic8259 {
    /** Whether the chip's INT output changed: the pair wires it to the CPU or the master's IR2. */
    interface Output {
        void changed(boolean level);
    }

    private final String name;
    private final Output output;
    int irr;
    int isr;
    int imr;
    /** Input lines as the devices drive them now. */
    int lines;
    /** Inputs that are level-sensitive through the ELCR (the PIIX's, on top of ICW1's LTIM). */
    int elcr;
    int elcrMask;
    int vectorBase;
    int lowestPriority = 7;
    boolean levelTriggered;
    boolean autoEoi;
    boolean rotateOnAutoEoi;
    boolean specialMask;
    boolean readIsr;
    boolean poll;
    boolean specialFullyNested;
    /** The ICW expected next: 0 none (operational), 2, 3 or 4. */
    int initStep;
    boolean single;
    boolean icw4Needed;
    /** ICW3: the slave inputs (master) or the cascade id (slave). */
    int cascade;
    private boolean out;

    Pic8259(String name, int elcrMask, Output output) {
        this.name = name;
        this.elcrMask = elcrMask;
        this.output = output;
    }

    /** Power-on: everything cleared, waiting for ICW1 (as a BIOS finds it). */
    void reset() {
        irr = 0;
        isr = 0;
        imr = 0;
        lines = 0;
        elcr = 0;
        vectorBase = 0;
        lowestPriority = 7;
        levelTriggered = false;
        autoEoi = false;
        rotateOnAutoEoi = false;
        specialMask = false;
        readIsr = false;
        poll = false;
        specialFullyNested = false;
        initStep = 0;
        single = false;
        icw4Needed = false;
        cascade = 0;
        update();
    }

    private boolean isLevel(int irq) {
        return levelTriggered || (elcr & (1 << irq)) != 0;
    }

    /** A device drives input {@code irq} to {@code level}. */
    void setLine(int irq, boolean level) {
        int bit = 1 << irq;
        boolean was = (lines & bit) != 0;
        if (level) {
            lines |= bit;
            if (!was || isLevel(irq)) {
                irr |= bit; // a rising edge latches; a level input requests while high
            }
        } else {
            lines &= ~bit;
            if (isLevel(irq)) {
                irr &= ~bit; // a level request ends with its line
            }
        }
        update();
    }

    /** The priority rank of {@code irq}: 0 is the highest. */
    private int rank(int irq) {
        return (irq - lowestPriority - 1) & 7;
    }

    /** The highest-priority bit of {@code bits} (as an input number), or -1. */
    private int highest(int bits) {
        for (int r = 0; r < 8; r++) {
            int irq = (lowestPriority + 1 + r) & 7;
            if ((bits & (1 << irq)) != 0) {
                return irq;
            }
        }
        return -1;
    }

    /** The input that would be served now, or -1. */
    int pending() {
        int requests = irr & ~imr;
        int irq = highest(requests);
        if (irq < 0) {
            return -1;
        }
        int blocking = isr;
        if (specialMask) {
            blocking &= ~imr; // special mask mode: only unmasked in-service inputs block
        }
        if (specialFullyNested) {
            blocking &= ~cascade; // a slave's further requests pass while it is in service
        }
        int inService = highest(blocking);
        if (inService >= 0 && rank(inService) <= rank(irq)) {
            return -1;
        }
        return irq;
    }

    private void update() {
        boolean now = initStep == 0 && pending() >= 0;
        if (now != out) {
            out = now;
            output.changed(now);
        }
    }

    boolean output() {
        return out;
    }

    /**
     * The acknowledge cycle for input {@code irq} (found by {@link #pending}): it goes in service
     * (or, with automatic EOI, straight out again); an edge request is consumed, a level request stays
     * as long as its line is high (the in-service bit holds it off until the EOI).
     */
    void acknowledge(int irq) {
        int bit = 1 << irq;
        if (!isLevel(irq)) {
            irr &= ~bit;
        }
        if (autoEoi) {
            if (rotateOnAutoEoi) {
                lowestPriority = irq;
            }
        } else {
            isr |= bit;
        }
        update();
    }

    /** The vector for an acknowledged input. */
    int vector(int irq) {
        return (vectorBase & 0xF8) | irq;
    }

    /** Level inputs request exactly while their lines are high. */
    private void relatch() {
        int level = levelTriggered ? 0xFF : elcr;
        irr = (irr & ~level) | (lines & level);
    }

    /** The PIIX's edge/level control register for this chip's inputs (ELCR1 at 0x4D0, ELCR2 at 0x4D1). */
    void setElcr(int value) {
        elcr = value & elcrMask;
        relatch();
        update();
    }

    // ---------------------------------------------------------------------------------------------
    // registers: offset 0 the command port, 1 the data port

    int read(int port) {
        if (poll) {
            poll = false;
            int irq = pending();
            if (irq < 0) {
                return 0;
            }
            acknowledge(irq);
            return 0x80 | irq;
        }
        if (port == 0) {
            return readIsr ? isr : irr;
        }
        return imr;
    }

    void write(int port, int value) {
        value &= 0xFF;
        if (port == 0) {
            if ((value & 0x10) != 0) {
                icw1(value);
            } else if ((value & 0x08) != 0) {
                ocw3(value);
            } else {
                ocw2(value);
            }
        } else {
            switch (initStep) {
                case 2 -> {
                    vectorBase = value & 0xF8;
                    initStep = single ? (icw4Needed ? 4 : 0) : 3;
                }
                case 3 -> {
                    cascade = value;
                    initStep = icw4Needed ? 4 : 0;
                }
                case 4 -> {
                    autoEoi = (value & 0x02) != 0;
                    specialFullyNested = (value & 0x10) != 0;
                    initStep = 0;
                }
                default -> imr = value; // OCW1
            }
        }
        update();
    }

    private void icw1(int value) {
        initStep = 2;
        icw4Needed = (value & 0x01) != 0;
        single = (value & 0x02) != 0;
        levelTriggered = (value & 0x08) != 0;
        imr = 0;
        isr = 0;
        irr = 0; // the edge sense latches are cleared: an edge input must rise again
        lowestPriority = 7;
        specialMask = false;
        readIsr = false;
        poll = false;
        autoEoi = false; // without ICW4, its functions are all off
        rotateOnAutoEoi = false;
        specialFullyNested = false;
        relatch();
    }

    private void ocw2(int value) {
        int level = value & 7;
        switch (value >>> 5) {
            case 0b001 -> eoi(highest(isr), false); // non-specific EOI
            case 0b011 -> eoi(level, false); // specific EOI
            case 0b101 -> eoi(highest(isr), true); // rotate on non-specific EOI
            case 0b111 -> eoi(level, true); // rotate on specific EOI
            case 0b100 -> rotateOnAutoEoi = true;
            case 0b000 -> rotateOnAutoEoi = false;
            case 0b110 -> lowestPriority = level; // set priority
            default -> {
                // 0b010: no operation
            }
        }
    }

    private void eoi(int irq, boolean rotate) {
        if (irq < 0) {
            return;
        }
        isr &= ~(1 << irq);
        if (rotate) {
            lowestPriority = irq;
        }
    }

    private void ocw3(int value) {
        if ((value & 0x02) != 0) {
            readIsr = (value & 0x01) != 0;
        }
        poll = (value & 0x04) != 0;
        if ((value & 0x40) != 0) {
            specialMask = (value & 0x20) != 0;
        }
    }

    // ---------------------------------------------------------------------------------------------

    Map<String, Object> save() {
        Map<String, Object> s = new LinkedHashMap<>();
        s.put("irr", irr);
        s.put("isr", isr);
        s.put("imr", imr);
        s.put("lines", lines);
        s.put("elcr", elcr);
        s.put("vectorBase", vectorBase);
        s.put("lowestPriority", lowestPriority);
        s.put("levelTriggered", levelTriggered);
        s.put("autoEoi", autoEoi);
        s.put("rotateOnAutoEoi", rotateOnAutoEoi);
        s.put("specialMask", specialMask);
        s.put("readIsr", readIsr);
        s.put("poll", poll);
        s.put("specialFullyNested", specialFullyNested);
        s.put("initStep", initStep);
        s.put("single", single);
        s.put("icw4Needed", icw4Needed);
        s.put("cascade", cascade);
        return s;
    }

    void restore(Map<String, Object> s) {
        irr = integer(s, "irr");
        isr = integer(s, "isr");
        imr = integer(s, "imr");
        lines = integer(s, "lines");
        elcr = integer(s, "elcr") & elcrMask;
        vectorBase = integer(s, "vectorBase");
        lowestPriority = integer(s, "lowestPriority") & 7;
        levelTriggered = bool(s, "levelTriggered");
        autoEoi = bool(s, "autoEoi");
        rotateOnAutoEoi = bool(s, "rotateOnAutoEoi");
        specialMask = bool(s, "specialMask");
        readIsr = bool(s, "readIsr");
        poll = bool(s, "poll");
        specialFullyNested = bool(s, "specialFullyNested");
        initStep = integer(s, "initStep");
        single = bool(s, "single");
        icw4Needed = bool(s, "icw4Needed");
        cascade = integer(s, "cascade");
        out = false;
        update();
    }

    private int integer(Map<String, Object> s, String key) {
        if (!(s.get(key) instanceof Number n)) {
            throw new IllegalArgumentException(name + " state lacks the number '" + key + "'");
        }
        return n.intValue();
    }

    private boolean bool(Map<String, Object> s, String key) {
        if (!(s.get(key) instanceof Boolean b)) {
            throw new IllegalArgumentException(name + " state lacks the flag '" + key + "'");
        }
        return b;
    }
}
