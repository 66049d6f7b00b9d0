package org.spindle.qemu.internal;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

import org.junit.jupiter.api.Test;

class QmpConnectionTest {
    private final ObjectMapper json = new ObjectMapper();
    private final FakeServices services = new FakeServices();
    private final List<Integer> exits = services.exits;

    /** Everything the connection writes for {@code input}, one JSON value per element. */
    private List<JsonNode> session(String input) throws Exception {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        QmpCommands commands = new QmpCommands(services, "10.0", List.of());
        new QmpConnection(json, out, false, commands).serve(new ByteArrayInputStream(input.getBytes(StandardCharsets.UTF_8)));
        List<JsonNode> messages = new ArrayList<>();
        String text = out.toString(StandardCharsets.UTF_8);
        assertThat(text).endsWith("\r\n");
        for (String line : text.split("\r\n")) {
            messages.add(json.readTree(line));
        }
        return messages;
    }

    @Test
    void messagesNeedNoNewlinesAndRepliesEchoTheirId() throws Exception {
        List<JsonNode> m = session("{\"execute\":\"qmp_capabilities\"}{\"execute\":\"query-status\",\"id\":7}"
                + "  {\"execute\": \"stop\"}");
        assertThat(m.get(0).get("QMP").get("capabilities").isEmpty()).isTrue();
        assertThat(m.get(1).toString()).isEqualTo("{\"return\":{}}");
        assertThat(m.get(2).toString()).isEqualTo("{\"return\":{\"running\":true,\"status\":\"running\"},\"id\":7}");
        assertThat(m.get(3).get("event").asText()).isEqualTo("STOP");
        assertThat(m.get(3).get("timestamp").get("seconds").asLong()).isPositive();
        assertThat(m.get(4).toString()).isEqualTo("{\"return\":{}}");
    }

    @Test
    void commandsBeforeNegotiationAndMalformedMessagesGetErrorsAndTheSessionGoesOn() throws Exception {
        List<JsonNode> m = session("{\"execute\":\"query-status\"}\n{\"execute\": }\n[1]\n{\"arguments\":{}}\n"
                + "{\"execute\":\"qmp_capabilities\",\"arguments\":{\"enable\":[\"oob\"]}}\n"
                + "{\"execute\":\"qmp_capabilities\"}\n{\"execute\":\"query-status\",\"bogus\":1}\n"
                + "{\"execute\":\"query-machines\",\"arguments\":{\"x\":1}}\n{\"execute\":\"quit\"}\n");
        assertThat(m.get(1).get("error").get("desc").asText())
                .isEqualTo("Expecting capabilities negotiation with 'qmp_capabilities'");
        assertThat(m.get(2).get("error").get("desc").asText()).startsWith("JSON parse error");
        assertThat(m.get(3).get("error").get("desc").asText()).isEqualTo("QMP input must be a JSON object");
        assertThat(m.get(4).get("error").get("desc").asText()).isEqualTo("QMP input lacks member 'execute'");
        assertThat(m.get(5).get("error").get("desc").asText()).isEqualTo("Capability 'oob' not available");
        assertThat(m.get(6).toString()).isEqualTo("{\"return\":{}}");
        assertThat(m.get(7).get("error").get("desc").asText()).isEqualTo("QMP input member 'bogus' is unexpected");
        assertThat(m.get(8).get("error").get("desc").asText()).isEqualTo("Parameter 'x' is unexpected");
        // quit: the reply, then SHUTDOWN, then the exit
        assertThat(m.get(9).toString()).isEqualTo("{\"return\":{}}");
        assertThat(m.get(10).get("event").asText()).isEqualTo("SHUTDOWN");
        assertThat(exits).containsExactly(0);
    }

    @Test
    void eachMalformedLineIsSkippedAloneAndInputIsAlwaysUtf8() throws Exception {
        // bytes that look like UTF-32 to an encoding guesser, then two broken lines, then a command
        List<JsonNode> m = session("\u0000\u0000\u0000{\"x\": 1}\n{\"execute\": }\n{\"execute\": ]\n"
                + "{\"execute\":\"qmp_capabilities\"}");
        assertThat(m).hasSize(5);
        for (JsonNode error : m.subList(1, 4)) {
            assertThat(error.get("error").get("desc").asText()).startsWith("JSON parse error");
        }
        assertThat(m.get(4).toString()).isEqualTo("{\"return\":{}}");
    }

    @Test
    void aClientThatReadsNothingNeverHoldsUpTheThreadsThatRaiseEvents() throws Exception {
        java.util.concurrent.CountDownLatch reading = new java.util.concurrent.CountDownLatch(1);
        java.io.OutputStream stuck = new java.io.OutputStream() {
            @Override
            public void write(int b) throws java.io.IOException {
                try {
                    reading.await();
                } catch (InterruptedException e) {
                    throw new java.io.InterruptedIOException();
                }
            }
        };
        QmpConnection c = new QmpConnection(json, stuck, false, new QmpCommands(services, "10.0", List.of()));
        java.io.PipedOutputStream client = new java.io.PipedOutputStream();
        java.io.PipedInputStream in = new java.io.PipedInputStream(client);
        Thread server = new Thread(() -> {
            try {
                c.serve(in);
            } catch (java.io.IOException e) {
                throw new java.io.UncheckedIOException(e);
            }
        });
        server.start();
        client.write("{\"execute\":\"qmp_capabilities\"}\n".getBytes(StandardCharsets.UTF_8));
        client.flush();
        // an event is queued, not written: 8192 of them with the client stuck take no time at all
        org.junit.jupiter.api.Assertions.assertTimeoutPreemptively(java.time.Duration.ofSeconds(5), () -> {
            for (int i = 0; i < 2 * QmpConnection.MAX_QUEUED; i++) {
                c.event("RESET", null);
            }
        });
        reading.countDown();
        client.close();
        server.join(10_000);
        assertThat(server.isAlive()).isFalse();
    }

    @Test
    void aSystemResetEndsARequestWaitingForContAndContRetriesOne() throws Exception {
        QmpCommands commands = new QmpCommands(services, "10.0", List.of());
        QmpConnection c = new QmpConnection(json, new ByteArrayOutputStream(), false, commands);
        for (String command : List.of("system_reset", "cont")) {
            java.util.concurrent.CompletableFuture<Boolean> retry = new java.util.concurrent.CompletableFuture<>();
            Thread request = Thread.ofPlatform().start(() -> {
                try {
                    retry.complete(commands.ioError("drive0", true, "stop",
                            new org.spindle.storage.api.StorageException(org.spindle.storage.api.StorageException.Kind.IO, "EIO")));
                } catch (InterruptedException e) {
                    retry.completeExceptionally(e);
                }
            });
            long deadline = System.nanoTime() + 10_000_000_000L;
            while (request.getState() != Thread.State.WAITING && System.nanoTime() < deadline) {
                Thread.onSpinWait();
            }
            assertThat(retry).as("waiting for cont").isNotDone();
            // the fake machine refuses the reset itself; the waiting request is let go all the same
            c.serve(new ByteArrayInputStream(("{\"execute\":\"qmp_capabilities\"}{\"execute\":\"" + command + "\"}")
                    .getBytes(StandardCharsets.UTF_8)));
            assertThat(retry.get(10, java.util.concurrent.TimeUnit.SECONDS)).as("retried after " + command)
                    .isEqualTo(command.equals("cont"));
        }
    }

    @Test
    void eventsBeforeNegotiationAreNotSent() throws Exception {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        QmpCommands commands = new QmpCommands(services, "7.2", List.of());
        QmpConnection c = new QmpConnection(json, out, false, commands);
        c.event("RESET", null);
        assertThat(out.size()).isZero();
        c.serve(new ByteArrayInputStream("{\"execute\":\"qmp_capabilities\"}".getBytes(StandardCharsets.UTF_8)));
        c.event("RESET", null);
        assertThat(out.toString(StandardCharsets.UTF_8)).contains("\"major\":7").endsWith("\"event\":\"RESET\"}\r\n");
    }
}
