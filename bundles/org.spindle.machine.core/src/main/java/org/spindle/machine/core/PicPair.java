package org.spindle.machine.core;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.IntConsumer;

import org.spindle.machine.api.DeviceLifecycle;
import org.spindle.machine.api.DeviceStateDTO;
import org.spindle.machine.api.InterruptLine;
import org.spindle.machine.api.IoHandler;
import org.spindle.machine.api.IoSpace;

/**
 * The PC's two cascaded 8259A interrupt controllers: the master at ports 0x20/0x21 (IRQ 0-7), the
 * slave at 0xA0/0xA1 (IRQ 8-15) on the master's IR2, and the PIIX's edge/level control registers at
 * 0x4D0/0x4D1 (IRQ 0, 1, 2, 8 and 13 are always edge-triggered). The CPU side: {@link #interruptPending}
 * is the INTR pin, {@link #acknowledge} the INTA cycle that returns the vector. A request that vanishes
 * before it is acknowledged gives the spurious vector of IR7 of the chip concerned.
 */
public final class PicPair implements DeviceLifecycle {
    public static final String STATE_TYPE = "org.spindle.machine.core.PicPair";
    public static final int STATE_VERSION = 1;
    private static final int CASCADE_IRQ = 2;

    private final Pic8259 master;
    private final Pic8259 slave;
    private final List<IntConsumer> intrListeners = new ArrayList<>();
    private final InterruptLine[] lines = new InterruptLine[16];

    public PicPair() {
        master = new Pic8259("master 8259A", 0xF8, level -> intrListeners.forEach(l -> l.accept(level ? 1 : 0)));
        slave = new Pic8259("slave 8259A", 0xDE, level -> master.setLine(CASCADE_IRQ, level));
        for (int irq = 0; irq < 16; irq++) {
            int n = irq;
            lines[irq] = new InterruptLine() {
                private boolean raised;

                @Override
                public void raise() {
                    raised = true;
                    chip(n).setLine(n & 7, true);
                }

                @Override
                public void lower() {
                    raised = false;
                    chip(n).setLine(n & 7, false);
                }

                @Override
                public boolean isRaised() {
                    return raised;
                }
            };
        }
        reset();
    }

    private Pic8259 chip(int irq) {
        return irq < 8 ? master : slave;
    }

    /** The input for ISA IRQ {@code irq} (0-15); IRQ 2 is the cascade and not for devices. */
    public InterruptLine line(int irq) {
        if (irq < 0 || irq > 15) {
            throw new IllegalArgumentException("IRQ " + irq + " (the PIC pair has 0 to 15)");
        }
        return lines[irq];
    }

    /** Called with 1 when INTR rises and 0 when it falls. */
    public void onIntr(IntConsumer listener) {
        intrListeners.add(listener);
    }

    /** The INTR pin to the CPU. */
    public boolean interruptPending() {
        return master.output();
    }

    /** The INTA cycle: the vector of the highest-priority request, which goes in service. */
    public int acknowledge() {
        int irq = master.pending();
        if (irq < 0) {
            return master.vector(7); // spurious
        }
        master.acknowledge(irq);
        if (irq == CASCADE_IRQ && (master.cascade & (1 << CASCADE_IRQ)) != 0) {
            int s = slave.pending();
            if (s < 0) {
                return slave.vector(7);
            }
            slave.acknowledge(s);
            return slave.vector(s);
        }
        return master.vector(irq);
    }

    /** Maps the chips' ports and the ELCRs into {@code ports}. */
    public List<IoSpace.Region> mapInto(IoSpace ports) {
        return List.of(ports.map(0x20, 2, handler(master), "8259A master"),
                ports.map(0xA0, 2, handler(slave), "8259A slave"),
                ports.map(0x4D0, 2, new ByteRegisters() {
                    @Override
                    public int readByte(int port) {
                        return port == 0 ? master.elcr : port == 1 ? slave.elcr : 0xFF;
                    }

                    @Override
                    public void writeByte(int port, int value) {
                        if (port == 0) {
                            master.setElcr(value);
                        } else if (port == 1) {
                            slave.setElcr(value);
                        }
                    }
                }, "PIIX ELCR"));
    }

    private static IoHandler handler(Pic8259 chip) {
        return new ByteRegisters() {
            @Override
            public int readByte(int port) {
                return port < 2 ? chip.read(port) : 0xFF;
            }

            @Override
            public void writeByte(int port, int value) {
                if (port < 2) {
                    chip.write(port, value);
                }
            }
        };
    }

    @Override
    public void reset() {
        int masterLines = master.lines;
        int slaveLines = slave.lines;
        master.reset();
        slave.reset();
        // the devices still drive their lines: a reset clears the chips, not the wires
        master.lines = masterLines & ~(1 << CASCADE_IRQ);
        slave.lines = slaveLines;
    }

    @Override
    public DeviceStateDTO save() {
        Map<String, Object> values = new LinkedHashMap<>();
        values.put("master", master.save());
        values.put("slave", slave.save());
        return DeviceStates.of(STATE_TYPE, STATE_VERSION, values);
    }

    @Override
    @SuppressWarnings("unchecked")
    public void restore(DeviceStateDTO state) {
        Map<String, Object> values = DeviceStates.values(state, "a PIC pair", STATE_TYPE, STATE_VERSION);
        if (!(values.get("master") instanceof Map<?, ?> m) || !(values.get("slave") instanceof Map<?, ?> s)) {
            throw new IllegalArgumentException("the PIC pair state lacks its master or slave");
        }
        slave.restore((Map<String, Object>) s);
        master.restore((Map<String, Object>) m);
    }
}
