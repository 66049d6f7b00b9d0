package org.spindle.machine.core;

import java.util.function.Consumer;

import org.spindle.machine.api.PciConfigSpace;
import org.spindle.machine.api.PciFunction;

/**
 * The PCI functions of the chipset itself: the host bridges (i440FX, Q35 MCH), the ISA/LPC bridges
 * (PIIX3, ICH9) with their PIRQ routing registers, and the PIIX4 power-management function. Their
 * registers with an effect are applied from configuration space after every guest write, a reset and
 * a restore, so the space is their whole state.
 */
final class ChipsetFunction implements PciFunction {
    /** PIIX3 PIRQRC[A-D] and ICH9 PIRQ[A-D]_ROUT. */
    static final int PIRQ_ROUTE = 0x60;
    /** ICH9 PIRQ[E-H]_ROUT. */
    static final int PIRQ_ROUTE_EH = 0x68;
    /** Q35 MCH PCIEXBAR: the ECAM window. */
    static final int PCIEXBAR = 0x60;

    private final String name;
    private final PciConfigSpace config;
    private final Consumer<PciConfigSpace> apply;

    private ChipsetFunction(String name, PciConfigSpace config, Consumer<PciConfigSpace> apply) {
        this.name = name;
        this.config = config;
        this.apply = apply;
    }

    /** The i440FX host bridge (PMC), 8086:1237 revision 2. */
    static ChipsetFunction i440fx() {
        return new ChipsetFunction("i440FX", PciConfigSpace.builder(0x8086, 0x1237).revision(0x02).classCode(0x06, 0x00, 0x00).build(),
                c -> { });
    }

    /**
     * The PIIX3 PCI-to-ISA bridge, 8086:7000, function 0 of a multi-function device: PIRQRC[A-D] at
     * 0x60-0x63 (bit 7 disables routing, bits 3:0 the ISA IRQ; 0x80 after reset).
     */
    static ChipsetFunction piix3(IrqRouting routing) {
        PciConfigSpace.Builder b = PciConfigSpace.builder(0x8086, 0x7000).classCode(0x06, 0x01, 0x00).multifunction(true);
        b.register(PIRQ_ROUTE, 4, 0x8080_8080L, 0x8F8F_8F8FL);
        return new ChipsetFunction("PIIX3", b.build(), c -> applyRoutes(c, routing, PIRQ_ROUTE, 0));
    }

    /** The PIIX4 power-management function, 8086:7113 revision 3, ACPI's home (INTA#). */
    static ChipsetFunction piix4Acpi() {
        return new ChipsetFunction("PIIX4 PM", PciConfigSpace.builder(0x8086, 0x7113).revision(0x03).classCode(0x06, 0x80, 0x00)
                .interruptPin(1).build(), c -> { });
    }

    /**
     * The Q35 memory controller hub (host bridge), 8086:29C0, with PCIEXBAR at 0x60: bit 0 enables
     * the ECAM window, bits 2:1 choose 256, 128 or 64 buses (MiB), bits 35:26 place it. Disabled after
     * reset with the base at 0xB0000000, as QEMU's.
     */
    static ChipsetFunction q35Host(Consumer<long[]> ecamWindow) {
        PciConfigSpace.Builder b = PciConfigSpace.builder(0x8086, 0x29C0).classCode(0x06, 0x00, 0x00);
        b.register(PCIEXBAR, 8, 0xB000_0000L, 0xF_FC00_0000L | 0x7);
        return new ChipsetFunction("Q35 MCH", b.build(), c -> {
            long bar = c.get(PCIEXBAR, 8);
            int lengthCode = (int) (bar >>> 1) & 3;
            if ((bar & 1) == 0 || lengthCode == 3) {
                ecamWindow.accept(null);
                return;
            }
            long size = (256L << 20) >>> lengthCode;
            ecamWindow.accept(new long[] {bar & 0xF_FFFF_FFFFL & ~(size - 1) & ~0x7L, size});
        });
    }

    /**
     * The ICH9 LPC bridge, 8086:2918 revision 2, function 0 of the multi-function device 31: PIRQ[A-D]_ROUT
     * at 0x60-0x63 and PIRQ[E-H]_ROUT at 0x68-0x6B (as the PIIX3's; 0x80 after reset).
     */
    static ChipsetFunction ich9Lpc(IrqRouting routing) {
        PciConfigSpace.Builder b = PciConfigSpace.builder(0x8086, 0x2918).revision(0x02).classCode(0x06, 0x01, 0x00)
                .multifunction(true);
        b.register(PIRQ_ROUTE, 4, 0x8080_8080L, 0x8F8F_8F8FL);
        b.register(PIRQ_ROUTE_EH, 4, 0x8080_8080L, 0x8F8F_8F8FL);
        return new ChipsetFunction("ICH9 LPC", b.build(), c -> {
            applyRoutes(c, routing, PIRQ_ROUTE, 0);
            applyRoutes(c, routing, PIRQ_ROUTE_EH, 4);
        });
    }

    /** Four routing registers from {@code offset} to PIRQs from {@code first}; reserved IRQ values route nowhere. */
    private static void applyRoutes(PciConfigSpace c, IrqRouting routing, int offset, int first) {
        for (int i = 0; i < 4; i++) {
            int v = (int) c.get(offset + i, 1);
            int irq = v & 0x0F;
            boolean valid = (v & 0x80) == 0 && irq != 0 && irq != 1 && irq != 2 && irq != 8 && irq != 13;
            routing.route(first + i, valid ? irq : -1);
        }
    }

    /** Applies the registers with an effect, as the space holds them now. */
    void apply() {
        apply.accept(config);
    }

    @Override
    public PciConfigSpace config() {
        return config;
    }

    @Override
    public void configWritten(int offset, int size) {
        apply();
    }

    @Override
    public String toString() {
        return name;
    }
}
