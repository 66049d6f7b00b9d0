package org.spindle.device.ide;

import static org.assertj.core.api.Assertions.assertThat;

import com.code_intelligence.jazzer.api.FuzzedDataProvider;
import com.code_intelligence.jazzer.junit.FuzzTest;

import org.spindle.device.ata.SlotThread;
import org.spindle.device.ata.ArrayDisk;
import org.spindle.device.ata.AtaDisk;
import org.spindle.device.ata.AtaIdentity;
import org.spindle.device.ata.AtapiCdrom;
import org.spindle.device.ata.DeviceThread;
import org.spindle.device.ata.IoMode;
import org.spindle.machine.api.PciAddress;
import org.spindle.machine.core.MachineConfig;
import org.spindle.machine.core.PcMachine;

/**
 * Fuzzes the IDE function as a guest could drive it: random reads and writes of every width on the
 * task file, control and bus-master ports, random PRD tables and pointers in guest memory (some past
 * the end of RAM), channels switched between compatibility and native mode, save and restore in the
 * middle, storage work inline or on I/O threads. Nothing may escape the device model, and RAM past
 * the machine's end is never touched (the mapping refuses it).
 *
 * <p>Without {@code JAZZER_FUZZ} this replays {@code IdeRegisterFuzzTestInputs/registers}.
 */
class IdeRegisterFuzzTest {
    private static final int BM = 0xC000;
    private static final int[] PORTS = {0x1F0, 0x1F1, 0x1F2, 0x1F3, 0x1F4, 0x1F5, 0x1F6, 0x1F7, 0x3F6, 0x170, 0x171,
        0x172, 0x173, 0x174, 0x175, 0x176, 0x177, 0x376, BM, BM + 2, BM + 4, BM + 8, BM + 10, BM + 12,
        // the native-mode BARs, where this test places them
        0xC020, 0xC021, 0xC022, 0xC026, 0xC027, 0xC02A, 0xC030, 0xC032, 0xC036, 0xC037, 0xC03A};
    private static final int[] SIZES = {1, 2, 4};

    @FuzzTest(maxDuration = "30s")
    void registers(FuzzedDataProvider in) throws Exception {
        ArrayDisk image = ArrayDisk.disk(2048);
        AtapiCdrom cd = new AtapiCdrom(AtaIdentity.cdrom("F"), "f", DeviceThread.DIRECT);
        cd.insert(ArrayDisk.cd(64), "disc", false);
        Piix3Ide.Mode mode = in.pickValue(Piix3Ide.Mode.values());
        IoMode io = in.pickValue(IoMode.values());
        Piix3Ide ide = new Piix3Ide(mode, io, new SlotThread(), new AtaDisk(image, AtaIdentity.disk("F")), null, cd, null);
        try (PcMachine machine = new PcMachine(MachineConfig.of("pc", 16L << 20))) {
            machine.plug(PciAddress.parse("00:01.1"), ide);
            machine.call(() -> {
                config(machine, 0x20, 4, BM);
                for (int bar = 0; bar < 4; bar++) {
                    config(machine, 0x10 + 4 * bar, 4, 0xC020 + 8 * bar);
                }
                config(machine, 0x04, 2, 0x05);
                for (int step = 0; step < 200 && in.remainingBytes() > 0; step++) {
                    int op = in.consumeInt(0, 10);
                    if (op <= 4) {
                        int port = PORTS[in.consumeInt(0, PORTS.length - 1)];
                        machine.io().write(port, SIZES[in.consumeInt(0, 2)], in.consumeLong());
                    } else if (op <= 7) {
                        machine.io().read(PORTS[in.consumeInt(0, PORTS.length - 1)], SIZES[in.consumeInt(0, 2)]);
                    } else if (op == 8) {
                        // A PRD entry somewhere in (or past) RAM.
                        long at = in.consumeLong(0, (16L << 20) + 4096) & ~7L;
                        try {
                            machine.memory().writeLong(at, in.consumeLong());
                        } catch (org.spindle.machine.api.GuestMemoryException outside) {
                            // past the end of RAM: the guest's own write fails, nothing else happens
                        }
                    } else if (op == 9) {
                        config(machine, 0x09, 1, in.consumeInt(0, 0xFF));
                    } else {
                        var saved = machine.save();
                        machine.reset();
                        machine.restore(saved);
                    }
                }
                return null;
            });
            machine.call(() -> {
                ide.quiesce(); // storage work in flight lands
                return null;
            });
            machine.call(() -> null); // and completions it posted have run
            assertThat(machine.problems()).noneMatch(p -> p.startsWith("posted work failed"));
        }
    }

    /** A configuration write by mechanism 1, as the guest makes it (the bus moves BARs and tells the function). */
    private static void config(PcMachine machine, int offset, int size, long value) {
        machine.io().write(0xCF8, 4, 0x8000_0000L | 1 << 11 | 1 << 8 | offset & 0xFC);
        machine.io().write(0xCFC + (offset & 3), size, value);
    }
}
