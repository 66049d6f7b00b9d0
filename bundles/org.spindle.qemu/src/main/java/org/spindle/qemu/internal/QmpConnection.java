package org.spindle.qemu.internal;

import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.io.Reader;
import java.io.StringWriter;
import java.nio.charset.StandardCharsets;

import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;

/**
 * One QMP connection: the greeting, then JSON objects in (one after another, newlines or not, as
 * QEMU's JSON streamer takes them) and replies and events out, every write whole and in order.
 *
 * <p>A malformed message gets a {@code GenericError} and the input is taken up again after the next
 * newline; the connection stays up.
 *
 * <p>While it serves, what it sends goes through a queue that a writer thread of its own empties: an
 * event raised on the machine thread or an I/O thread never waits for a client that does not read.
 * A client that lets {@link #MAX_QUEUED} messages pile up gets no more.
 */
final class QmpConnection implements QmpCommands.Sink {
    private final ObjectMapper json;
    private final OutputStream out;
    private final boolean pretty;
    private final QmpCommands commands;
    private boolean negotiated;
    private volatile boolean broken;
    /** Messages (bytes) and flush markers (latches) on their way out, while serving. */
    private final java.util.concurrent.BlockingQueue<Object> outbox = new java.util.concurrent.LinkedBlockingQueue<>();
    private static final Object END = new Object();
    static final int MAX_QUEUED = 4096;
    private Thread writer;

    QmpConnection(ObjectMapper json, OutputStream out, boolean pretty, QmpCommands commands) {
        this.json = json;
        this.out = out;
        this.pretty = pretty;
        this.commands = commands;
    }

    /** Sends the greeting, then answers messages until the peer closes the connection. */
    void serve(InputStream in) throws IOException {
        Thread w = new Thread(this::drain, "spindle-qmp-writer");
        w.setDaemon(true);
        synchronized (this) {
            writer = w;
        }
        w.start();
        commands.add(this);
        try {
            write(commands.greeting());
            read(in);
        } finally {
            commands.remove(this);
            outbox.add(END);
            try {
                w.join(5_000);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            synchronized (this) {
                writer = null;
            }
        }
    }

    /** The writer thread: sends what is queued, in order, until the connection ends. */
    private void drain() {
        try {
            while (true) {
                Object next = outbox.take();
                if (next == END) {
                    return;
                }
                if (next instanceof java.util.concurrent.CountDownLatch flushed) {
                    flushed.countDown();
                    continue;
                }
                if (!broken) {
                    try {
                        out.write((byte[]) next);
                        out.flush();
                    } catch (IOException e) {
                        broken = true;
                    }
                }
            }
        } catch (InterruptedException e) {
            broken = true;
        }
    }

    /** Waits (a while) until everything queued so far has been written. */
    private void awaitWritten() {
        java.util.concurrent.CountDownLatch flushed = new java.util.concurrent.CountDownLatch(1);
        synchronized (this) {
            if (writer == null) {
                return;
            }
            outbox.add(flushed);
        }
        try {
            flushed.await(5, java.util.concurrent.TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /**
     * Reads messages as UTF-8 (QMP's encoding; a malformed byte is a replacement character, never
     * another encoding guessed from the first bytes).
     */
    private void read(InputStream in) throws IOException {
        Reader input = new InputStreamReader(in, StandardCharsets.UTF_8);
        while (true) {
            JsonParser parser = json.getFactory().createParser(input);
            // a parser that fails is dropped, not its input: reading goes on after the bad line
            parser.disable(JsonParser.Feature.AUTO_CLOSE_SOURCE);
            try {
                while (true) {
                    JsonToken token = parser.nextToken();
                    if (token == null) {
                        return;
                    }
                    JsonNode message = json.readTree(parser);
                    handle(message);
                }
            } catch (JsonProcessingException e) {
                write(error(null, QmpError.generic("JSON parse error, " + firstLine(e.getOriginalMessage()))));
                // take up the input again after the line the error is on
                StringWriter rest = new StringWriter();
                parser.releaseBuffered(rest);
                input = afterNewline(rest.toString(), input);
                if (input == null) {
                    return;
                }
            }
        }
    }

    private static String firstLine(String s) {
        int nl = s.indexOf('\n');
        return nl < 0 ? s : s.substring(0, nl);
    }

    /** What follows the next newline in {@code buffered} and then {@code more}, or {@code null} at the end. */
    private static Reader afterNewline(String buffered, Reader more) throws IOException {
        int nl = buffered.indexOf('\n');
        if (nl >= 0) {
            String left = buffered.substring(nl + 1);
            if (more instanceof Concat c) {
                // one level, however many bad lines: what is left of the old one goes after this
                return new Concat(left + c.rest(), c.then);
            }
            return left.isEmpty() ? more : new Concat(left, more);
        }
        int c;
        while ((c = more.read()) != -1) {
            if (c == '\n') {
                return more;
            }
        }
        return null;
    }

    private void handle(JsonNode message) throws IOException {
        JsonNode id = message.get("id");
        if (!message.isObject()) {
            write(error(null, QmpError.generic("QMP input must be a JSON object")));
            return;
        }
        JsonNode execute = message.get("execute");
        if (execute == null && message.has("exec-oob")) {
            write(error(id, QmpError.generic("The command " + message.get("exec-oob").asText()
                    + " does not support OOB")));
            return;
        }
        if (execute == null || !execute.isTextual()) {
            write(error(id, QmpError.generic(execute == null ? "QMP input lacks member 'execute'"
                    : "QMP input member 'execute' must be a string")));
            return;
        }
        for (var it = message.fieldNames(); it.hasNext();) {
            String f = it.next();
            if (!f.equals("execute") && !f.equals("arguments") && !f.equals("id")) {
                write(error(id, QmpError.generic("QMP input member '" + f + "' is unexpected")));
                return;
            }
        }
        JsonNode arguments = message.get("arguments");
        if (arguments != null && !arguments.isObject()) {
            write(error(id, QmpError.generic("QMP input member 'arguments' must be an object")));
            return;
        }
        ObjectNode args = arguments == null ? json.createObjectNode() : (ObjectNode) arguments;
        String name = execute.asText();
        JsonNode result;
        try {
            if (!negotiated && !name.equals("qmp_capabilities")) {
                throw new QmpError("CommandNotFound", "Expecting capabilities negotiation with 'qmp_capabilities'");
            }
            if (name.equals("qmp_capabilities")) {
                if (negotiated) {
                    throw new QmpError("CommandNotFound", "Capabilities negotiation is already complete, command ignored");
                }
                Args a = new Args(name, args);
                JsonNode enable = a.optional("enable");
                if (enable != null && (!enable.isArray() || enable.size() > 0)) {
                    throw QmpError.generic("Capability '" + (enable.isArray() ? enable.get(0).asText() : enable)
                            + "' not available");
                }
                a.done();
                negotiated = true;
                result = json.createObjectNode();
            } else {
                result = commands.execute(name, new Args(name, args));
            }
        } catch (QmpError e) {
            write(error(id, e));
            return;
        } catch (RuntimeException e) {
            write(error(id, QmpError.generic("internal error in " + name + ": " + e)));
            return;
        }
        ObjectNode reply = json.createObjectNode();
        reply.set("return", result);
        if (id != null) {
            reply.set("id", id);
        }
        write(reply);
        if (name.equals("quit")) {
            commands.shutdownEvent();
            // the reply and SHUTDOWN reach the client before the machine (and this socket) goes
            awaitWritten();
            commands.exit();
        }
    }

    private ObjectNode error(JsonNode id, QmpError e) {
        ObjectNode reply = json.createObjectNode();
        ObjectNode error = reply.putObject("error");
        error.put("class", e.errorClass);
        error.put("desc", e.getMessage());
        if (id != null) {
            reply.set("id", id);
        }
        return reply;
    }

    /** Sends an event; events before capabilities negotiation are dropped, as QEMU drops them. */
    @Override
    public synchronized void event(String name, ObjectNode data) {
        if (!negotiated) {
            return;
        }
        java.time.Instant now = java.time.Instant.now();
        ObjectNode e = json.createObjectNode();
        ObjectNode t = e.putObject("timestamp");
        t.put("seconds", now.getEpochSecond());
        t.put("microseconds", now.getNano() / 1000);
        e.put("event", name);
        if (data != null) {
            e.set("data", data);
        }
        try {
            write(e);
        } catch (IOException ignored) {
            // the peer went away; its reader ends the connection
        }
    }

    private synchronized void write(JsonNode message) throws IOException {
        if (broken) {
            return;
        }
        String text = pretty ? json.writerWithDefaultPrettyPrinter().writeValueAsString(message)
                : json.writeValueAsString(message);
        byte[] bytes = (text + "\r\n").getBytes(StandardCharsets.UTF_8);
        if (writer != null) {
            if (outbox.size() >= MAX_QUEUED) {
                // the client reads nothing: it hears nothing more
                broken = true;
                return;
            }
            outbox.add(bytes);
            return;
        }
        try {
            out.write(bytes);
            out.flush();
        } catch (IOException e) {
            broken = true;
            throw e;
        }
    }

    /** A command's arguments, checked as QEMU's QAPI visitor checks them. */
    static final class Args {
        private final String command;
        private final ObjectNode args;
        private final java.util.Set<String> read = new java.util.HashSet<>();

        Args(String command, ObjectNode args) {
            this.command = command;
            this.args = args;
        }

        JsonNode optional(String name) {
            read.add(name);
            JsonNode v = args.get(name);
            return v == null || v.isNull() && !name.equals("iothread") ? null : v;
        }

        String string(String name) throws QmpError {
            String s = optionalString(name);
            if (s == null) {
                throw QmpError.generic("Parameter '" + name + "' is missing");
            }
            return s;
        }

        String optionalString(String name) throws QmpError {
            JsonNode v = optional(name);
            if (v != null && !v.isTextual()) {
                throw QmpError.generic("Invalid parameter type for '" + name + "', expected: string");
            }
            return v == null ? null : v.asText();
        }

        boolean bool(String name, boolean otherwise) throws QmpError {
            JsonNode v = optional(name);
            if (v != null && !v.isBoolean()) {
                throw QmpError.generic("Invalid parameter type for '" + name + "', expected: boolean");
            }
            return v == null ? otherwise : v.asBoolean();
        }

        long integer(String name) throws QmpError {
            JsonNode v = optional(name);
            if (v == null) {
                throw QmpError.generic("Parameter '" + name + "' is missing");
            }
            if (!v.isIntegralNumber() || !v.canConvertToLong()) {
                throw QmpError.generic("Invalid parameter type for '" + name + "', expected: integer");
            }
            return v.asLong();
        }

        ObjectNode object(String name) throws QmpError {
            JsonNode v = optional(name);
            if (v != null && !v.isObject()) {
                throw QmpError.generic("Invalid parameter type for '" + name + "', expected: object");
            }
            return (ObjectNode) v;
        }

        /** Refuses any argument no one read. */
        void done() throws QmpError {
            for (var it = args.fieldNames(); it.hasNext();) {
                String f = it.next();
                if (!read.contains(f)) {
                    throw QmpError.generic("Parameter '" + f + "' is unexpected");
                }
            }
        }

        String command() {
            return command;
        }
    }

    /** A string's characters, then a reader's. */
    private static final class Concat extends Reader {
        private final String first;
        private final Reader then;
        private int pos;

        Concat(String first, Reader then) {
            this.first = first;
            this.then = then;
        }

        String rest() {
            String r = first.substring(pos);
            pos = first.length();
            return r;
        }

        @Override
        public int read(char[] buffer, int offset, int length) throws IOException {
            if (length == 0) {
                return 0;
            }
            if (pos < first.length()) {
                int n = Math.min(length, first.length() - pos);
                first.getChars(pos, pos + n, buffer, offset);
                pos += n;
                return n;
            }
            return then.read(buffer, offset, length);
        }

        @Override
        public void close() throws IOException {
            then.close();
        }
    }
}
