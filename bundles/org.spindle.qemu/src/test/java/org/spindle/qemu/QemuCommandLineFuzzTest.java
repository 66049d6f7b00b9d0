package org.spindle.qemu;

import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.List;

import com.code_intelligence.jazzer.junit.FuzzTest;

/**
 * Fuzzes the command-line parser: the input is arguments, one per line. Every command line is either
 * taken or refused with a {@link QemuCommandLineException}; nothing else may be thrown.
 *
 * <p>Without {@code JAZZER_FUZZ} this replays {@code QemuCommandLineFuzzTestInputs/fuzzArgs} (libqtest's
 * command lines).
 */
class QemuCommandLineFuzzTest {
    @FuzzTest(maxDuration = "30s")
    void fuzzArgs(byte[] input) {
        if (input == null || input.length > 4096) {
            return;
        }
        List<String> args = Arrays.asList(new String(input, StandardCharsets.UTF_8).split("\n"));
        try {
            QemuCommandLine c = QemuCommandLine.parse(args);
            if (c.machine() == null || c.controllers() == null || c.drives() == null) {
                throw new AssertionError("a parsed command line with a part missing: " + c);
            }
        } catch (QemuCommandLineException e) {
            if (e.getMessage() == null || e.getMessage().isBlank()) {
                throw new AssertionError("a refusal without a reason for " + args, e);
            }
        }
    }
}
