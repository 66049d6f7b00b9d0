package org.spindle.machine.core;

import org.spindle.machine.api.InterruptLine;

/**
 * The board's interrupt wiring: ISA device lines and PCI INTx pins to the 8259A pair and the I/O APIC.
 *
 * <p>Each ISA IRQ is the wired OR of the devices' lines on it and of every PIRQ the chipset routes to it
 * (PIIX3 PIRQRC, ICH9 PIRQ[A-H]_ROUT); it drives PIC input n and I/O APIC input n, except IRQ 0, which
 * is I/O APIC input 2 (and IRQ 2, the cascade, which reaches no I/O APIC input). A PIRQ is the wired OR
 * of the INTx pins swizzled onto it. On q35 every PIRQ also drives I/O APIC input 16 + n directly.
 */
final class IrqRouting {
    static final int ISA_IRQS = 16;

    private final PicPair pic;
    private final IoApic ioApic;
    private final int pirqs;
    private final int apicPirqBase;
    /** Asserted ISA device lines per IRQ. */
    private final int[] isaCount = new int[ISA_IRQS];
    /** Asserted INTx pins per PIRQ. */
    private final int[] pirqAsserted;
    /** The ISA IRQ each PIRQ is routed to, or -1. */
    private final int[] pirqRoute;
    private final boolean[] isaLevel = new boolean[ISA_IRQS];

    /**
     * @param pirqs 4 (PIIX3) or 8 (ICH9)
     * @param apicPirqBase the I/O APIC input PIRQ A drives directly, or -1
     */
    IrqRouting(PicPair pic, IoApic ioApic, int pirqs, int apicPirqBase) {
        this.pic = pic;
        this.ioApic = ioApic;
        this.pirqs = pirqs;
        this.apicPirqBase = apicPirqBase;
        this.pirqAsserted = new int[pirqs];
        this.pirqRoute = new int[pirqs];
        java.util.Arrays.fill(pirqRoute, -1);
    }

    /** A new device line into ISA IRQ {@code irq}, wired-OR with the others there. */
    InterruptLine isaLine(int irq) {
        if (irq < 0 || irq >= ISA_IRQS) {
            throw new IllegalArgumentException("ISA IRQ " + irq + " (there are 0 to 15)");
        }
        return new Source() {
            @Override
            void changed(boolean level) {
                isaCount[irq] += level ? 1 : -1;
                updateIsa(irq);
            }
        };
    }

    /** A new INTx pin wire onto PIRQ {@code pirq}, wired-OR with the others there. */
    InterruptLine pirqLine(int pirq) {
        return new Source() {
            @Override
            void changed(boolean level) {
                pirqAsserted[pirq] += level ? 1 : -1;
                if (pirqRoute[pirq] >= 0) {
                    updateIsa(pirqRoute[pirq]);
                }
                if (apicPirqBase >= 0) {
                    ioApic.input(apicPirqBase + pirq).set(pirqAsserted[pirq] > 0);
                }
            }
        };
    }

    /** The chipset's routing register for {@code pirq}: the ISA IRQ, or -1 when routing is off. */
    void route(int pirq, int isaIrq) {
        int old = pirqRoute[pirq];
        if (old == isaIrq) {
            return;
        }
        pirqRoute[pirq] = isaIrq;
        if (old >= 0) {
            updateIsa(old);
        }
        if (isaIrq >= 0) {
            updateIsa(isaIrq);
        }
    }

    private void updateIsa(int irq) {
        boolean level = isaCount[irq] > 0;
        for (int p = 0; p < pirqs && !level; p++) {
            level = pirqRoute[p] == irq && pirqAsserted[p] > 0;
        }
        if (level == isaLevel[irq]) {
            return;
        }
        isaLevel[irq] = level;
        pic.line(irq).set(level);
        int gsi = irq == 0 ? 2 : irq;
        if (irq != 2) {
            ioApic.input(gsi).set(level);
        }
    }

    /** One device's line: counts into its IRQ or PIRQ only on a change of its own level. */
    private abstract static class Source implements InterruptLine {
        private boolean raised;

        abstract void changed(boolean level);

        @Override
        public void raise() {
            if (!raised) {
                raised = true;
                changed(true);
            }
        }

        @Override
        public void lower() {
            if (raised) {
                raised = false;
                changed(false);
            }
        }

        @Override
        public boolean isRaised() {
            return raised;
        }
    }
}
