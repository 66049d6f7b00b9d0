package org.spindle.device.ahci;

import static org.assertj.core.api.Assertions.assertThat;

import com.code_intelligence.jazzer.api.FuzzedDataProvider;
import com.code_intelligence.jazzer.junit.FuzzTest;

import org.spindle.device.ata.ArrayDisk;
import org.spindle.device.ata.AtaDisk;
import org.spindle.device.ata.AtaIdentity;
import org.spindle.device.ata.AtapiCdrom;
import org.spindle.device.ata.IoMode;
import org.spindle.device.ata.SlotThread;
import org.spindle.machine.api.GuestMemoryException;
import org.spindle.machine.api.PciAddress;
import org.spindle.machine.core.MachineConfig;
import org.spindle.machine.core.PcMachine;

/**
 * Fuzzes the HBA as a guest could drive it: random register writes and reads of every width on the
 * global and port registers, command lists, command FISes, ATAPI commands and PRDTs built in guest
 * memory from fuzzed bytes (pointers in and past RAM, every FIS type and length, queued and
 * non-queued opcodes), clock steps for links and coalescing, hot-plug, and save/reset/restore in the
 * middle, with I/O inline or on workers. Nothing may escape the device model (nor a worker's
 * completion), and memory past the end of RAM is never reached (the machine refuses it).
 *
 * <p>Without {@code JAZZER_FUZZ} this replays {@code AhciFuzzTestInputs/commands}.
 */
class AhciFuzzTest {
    private static final long RAM = 16L << 20;
    private static final long ABAR = 0xE000_0000L;
    private static final int[] OPCODES = {0x25, 0x35, 0xC8, 0xCA, 0x20, 0x30, 0x24, 0x34, 0xC4, 0xC5, 0x60, 0x61, 0x2F,
        0x47, 0xEC, 0xA1, 0xA0, 0xE7, 0xEA, 0x06, 0xEF, 0x40, 0x42, 0x90, 0x08, 0xF8, 0x27, 0xE5, 0x00};
    private static final int[] SIZES = {1, 2, 4, 8};

    @FuzzTest(maxDuration = "30s")
    void commands(FuzzedDataProvider in) throws Exception {
        SlotThread thread = new SlotThread();
        AtapiCdrom cd = new AtapiCdrom(AtaIdentity.cdrom("F"), "f", thread, true);
        cd.insert(ArrayDisk.cd(32), "disc", false);
        IoMode io = IoMode.values()[in.consumeInt(0, IoMode.values().length - 1)];
        AhciHba hba = new AhciHba(in.consumeInt(1, 4), io, in.consumeInt(0, 20_000), thread,
                new AtaDisk(ArrayDisk.disk(2048), AtaIdentity.disk("F"), true));
        try (PcMachine machine = new PcMachine(MachineConfig.of("pc", RAM))) {
            machine.plug(PciAddress.parse("00:02.0"), hba);
            machine.call(() -> {
                config(machine, 0x24, 4, ABAR);
                config(machine, 0x04, 2, 0x06);
                if (hba.ports() > 1) {
                    hba.attach(1, cd);
                }
                for (int step = 0; step < 300 && in.remainingBytes() > 0; step++) {
                    step(machine, hba, in);
                }
                return null;
            });
            hba.quiesce();
            machine.call(() -> null); // completions posted by workers have run
            assertThat(machine.problems()).noneMatch(p -> p.startsWith("posted work failed"));
        }
    }

    private static void step(PcMachine machine, AhciHba hba, FuzzedDataProvider in) throws Exception {
        int op = in.consumeInt(0, 15);
        int port = in.consumeInt(0, hba.ports() - 1);
        long portBase = ABAR + 0x100 + 0x80L * port;
        switch (op) {
            case 0, 1, 2 -> machine.mmio().write(portBase + (in.consumeInt(0, 0x1F) << 2), SIZES[in.consumeInt(0, 3)],
                    in.consumeLong());
            case 3 -> machine.mmio().write(ABAR + (in.consumeInt(0, 0x3F) << 2), SIZES[in.consumeInt(0, 2)], in.consumeLong());
            case 4 -> machine.mmio().read(ABAR + in.consumeInt(0, 0x7FF), SIZES[in.consumeInt(0, 3)]);
            case 5 -> {
                // A port brought up the way drivers do, so commands get somewhere.
                long list = 0x10_0000L + 0x1_0000L * port;
                machine.mmio().write(portBase, 4, list);
                machine.mmio().write(portBase + 0x08, 4, list + 0x400);
                machine.mmio().write(portBase + 0x18, 4, 0x12);
                machine.advanceClock(machine.clock().nanos() + 50_000);
                machine.mmio().write(portBase + 0x30, 4, -1);
                machine.mmio().write(portBase + 0x18, 4, 0x13);
                machine.mmio().write(portBase + 0x14, 4, in.consumeInt());
                machine.mmio().write(ABAR + 0x04, 4, 0x8000_0002L);
            }
            case 6, 7, 8 -> command(machine, port, in);
            case 9 -> {
                int slots = in.consumeInt();
                if (in.consumeBoolean()) {
                    machine.mmio().write(portBase + 0x34, 4, slots);
                }
                machine.mmio().write(portBase + 0x38, 4, slots);
            }
            case 10 -> write(machine, in.consumeLong(0, RAM + 4096) & ~7L, in.consumeLong());
            case 11 -> machine.advanceClock(machine.clock().nanos() + in.consumeLong(0, 3_000_000));
            case 12 -> {
                if (in.consumeBoolean()) {
                    hba.detach(port);
                } else {
                    hba.attach(port, new AtaDisk(ArrayDisk.disk(in.consumeInt(1, 512)), AtaIdentity.disk("H"), true));
                }
            }
            case 13 -> {
                var saved = machine.save();
                machine.reset();
                machine.restore(saved);
            }
            case 14 -> config(machine, in.pickValue(new int[] {0x04, 0x90, 0x92, 0x44, 0x46, 0x48, 0x4C}), 2,
                    in.consumeInt(0, 0xFFFF));
            default -> machine.mmio().write(portBase + 0x2C, 4, in.consumeInt(0, 0x7FF));
        }
    }

    /** A command header, its command FIS (and ATAPI command) and a PRDT, from fuzzed bytes. */
    private static void command(PcMachine machine, int port, FuzzedDataProvider in) throws GuestMemoryException {
        long list = 0x10_0000L + 0x1_0000L * port;
        int slot = in.consumeInt(0, 31);
        long table = in.consumeInt(0, 9) == 0 ? in.consumeLong(0, RAM + 0x10000) & ~0x7FL : list + 0x1000 + 0x100L * (slot % 8);
        int prdtl = in.consumeInt(0, 6);
        int length = in.consumeInt(0, 7) == 0 ? in.consumeInt(0, 31) : 5;
        int flags = in.consumeInt(0, 0xFFFF) & 0xFFE0 | length;
        write(machine, list + 32L * slot, (long) prdtl << 16 | flags);
        write(machine, list + 32L * slot + 8, table);
        byte[] fis = in.consumeBytes(20);
        if (fis.length == 20 && in.consumeInt(0, 3) != 0) {
            fis[0] = 0x27;
            fis[1] = (byte) 0x80;
            fis[2] = (byte) OPCODES[in.consumeInt(0, OPCODES.length - 1)];
        }
        for (int i = 0; i + 8 <= fis.length; i += 8) {
            write(machine, table + i, java.nio.ByteBuffer.wrap(fis, i, 8).order(java.nio.ByteOrder.LITTLE_ENDIAN).getLong());
        }
        write(machine, table + 0x40, in.consumeLong());
        write(machine, table + 0x48, in.consumeLong());
        for (int i = 0; i < prdtl; i++) {
            long base = in.consumeInt(0, 7) == 0 ? in.consumeLong(0, RAM + 0x20000) : 0x20_0000L + 0x1_0000L * i;
            write(machine, table + 0x80 + 16L * i, base);
            write(machine, table + 0x88 + 16L * i, (long) in.consumeInt() << 32);
        }
    }

    private static void write(PcMachine machine, long address, long value) {
        try {
            machine.memory().writeLong(address, value);
        } catch (GuestMemoryException outside) {
            // past the end of RAM: the guest's own write fails, nothing else happens
        }
    }

    /** A configuration write by mechanism 1 to 00:02.0. */
    private static void config(PcMachine machine, int offset, int size, long value) {
        machine.io().write(0xCF8, 4, 0x8000_0000L | 2 << 11 | offset & 0xFC);
        machine.io().write(0xCFC + (offset & 3), size, value);
    }
}
