package org.spindle.machine.qtest;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

import com.code_intelligence.jazzer.junit.FuzzTest;

import org.spindle.machine.core.MachineConfig;
import org.spindle.machine.core.PcMachine;

/**
 * Fuzzes the qtest request parser and everything a request reaches (ports, memory, MMIO, PCI
 * configuration, the clock, interception): the input is request lines. Every line must get exactly
 * one reply, {@code OK}, {@code ERR} or {@code FAIL}, after any number of well-formed IRQ lines, and
 * nothing may be thrown.
 *
 * <p>Without {@code JAZZER_FUZZ} this replays {@code QtestSessionFuzzTestInputs/fuzzLines} (the golden
 * transcripts' requests).
 */
class QtestSessionFuzzTest {
    private static final PcMachine MACHINE = new PcMachine(MachineConfig.of("pc", 64L << 20));

    static {
        MACHINE.limitTimersPerAdvance(10_000);
    }

    @FuzzTest(maxDuration = "30s")
    void fuzzLines(byte[] input) {
        if (input == null || input.length > 8192) {
            return;
        }
        List<String> out = new ArrayList<>();
        try (QtestSession session = new QtestSession(MACHINE, out::add, 1 << 16)) {
            for (String line : new String(input, StandardCharsets.ISO_8859_1).split("\n", -1)) {
                out.clear();
                session.handle(line);
                if (out.isEmpty()) {
                    throw new AssertionError("no reply to '" + line + "'");
                }
                String reply = out.get(out.size() - 1);
                if (!(reply.equals("OK") || reply.startsWith("OK ") || reply.startsWith("ERR ") || reply.startsWith("FAIL "))) {
                    throw new AssertionError("'" + line + "' got '" + reply + "'");
                }
                if (reply.startsWith("FAIL internal error")) {
                    throw new AssertionError("'" + line + "' threw: " + reply);
                }
                for (String irq : out.subList(0, out.size() - 1)) {
                    if (!irq.matches("IRQ (raise|lower) \\d+")) {
                        throw new AssertionError("'" + line + "' got stray line '" + irq + "'");
                    }
                }
            }
        }
    }
}
