package org.spindle.qemu.internal;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.List;

import com.code_intelligence.jazzer.junit.FuzzTest;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

/**
 * Fuzzes a QMP connection: the input is what a client sends. Whatever it is, the connection ends
 * without throwing, and everything it wrote is whole JSON objects, each a greeting, a reply
 * ({@code return} or {@code error} with a class and a description) or an event.
 *
 * <p>Without {@code JAZZER_FUZZ} this replays {@code QmpFuzzTestInputs/fuzzMessages}.
 */
class QmpFuzzTest {
    private static final ObjectMapper JSON = new ObjectMapper();

    @FuzzTest(maxDuration = "30s")
    void fuzzMessages(byte[] input) throws IOException {
        if (input == null || input.length > 16384) {
            return;
        }
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        QmpCommands commands = new QmpCommands(new FakeServices(), "10.0", List.of());
        new QmpConnection(JSON, out, false, commands).serve(new ByteArrayInputStream(input));
        for (String line : out.toString(StandardCharsets.UTF_8).split("\r\n")) {
            JsonNode m = JSON.readTree(line);
            boolean ok = m.has("QMP") || m.has("return") || m.has("event")
                    || m.has("error") && m.get("error").has("class") && m.get("error").has("desc");
            if (!ok) {
                throw new AssertionError("not a QMP message: " + line);
            }
        }
    }
}
