package org.spindle.testing.http;

import java.io.BufferedInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.Socket;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.zip.GZIPOutputStream;

/**
 * A loopback HTTP/1.1 proxy that sits in front of an origin (Spindle's test origin, nginx, Spindle's
 * server) and breaks the responses to GETs (ranged or whole) the way networks and misconfigured servers do. Faults
 * are queued: each GET takes the next one, or passes through when none is queued (or repeats
 * the one set with {@link #always}).
 */
public final class FaultProxy implements AutoCloseable {
    public enum Fault {
        /** Forward unchanged. */
        PASS,
        /** Send the head and half the body, then reset the connection. */
        RESET_MID_BODY,
        /** Answer 503 without asking the origin. */
        STATUS_503,
        /** Drop the Range header: the origin answers 200 with the whole image. */
        FULL_200,
        /** Shift the Content-Range by 512 bytes, body unchanged. */
        WRONG_RANGE,
        /** Compress the body and say so (Content-Encoding: gzip). */
        GZIP,
        /** Replace the ETag, as an origin whose image was replaced would. */
        NEW_ETAG,
        /** Send the head and a little of the body, then nothing more. */
        STALL
    }

    private static final Pattern CONTENT_RANGE = Pattern.compile("bytes (\\d+)-(\\d+)/(\\d+)");

    private final Loopback loopback;
    private final int upstreamPort;
    private final ConcurrentLinkedQueue<Fault> queued = new ConcurrentLinkedQueue<>();
    private final AtomicInteger applied = new AtomicInteger();
    private volatile Fault always = Fault.PASS;

    public FaultProxy(int upstreamPort) throws IOException {
        this.upstreamPort = upstreamPort;
        loopback = new Loopback("fault-proxy", this::serve);
    }

    /** Queues faults for the next GETs (ranged or whole), one each. */
    public FaultProxy next(Fault... faults) {
        for (Fault f : faults) {
            queued.add(f);
        }
        return this;
    }

    /** The fault every GET gets when none is queued. */
    public FaultProxy always(Fault fault) {
        always = fault;
        return this;
    }

    /** How many faults (other than PASS) were applied. */
    public int applied() {
        return applied.get();
    }

    public URI uri(String path) {
        return loopback.uri(path);
    }

    private void serve(Socket client) {
        try (client; InputStream in = new BufferedInputStream(client.getInputStream());
                OutputStream out = client.getOutputStream()) {
            while (true) {
                Map<String, String> headers = new LinkedHashMap<>();
                String requestLine = RangeOrigin.readHead(in, headers);
                if (requestLine == null) {
                    return;
                }
                String method = requestLine.split(" ")[0];
                Fault fault = Fault.PASS;
                if (method.equals("GET")) {
                    Fault q = queued.poll();
                    fault = q != null ? q : always;
                }
                if (fault != Fault.PASS) {
                    applied.incrementAndGet();
                }
                if (!forward(requestLine, method, headers, fault, client, out)) {
                    return;
                }
            }
        } catch (IOException e) {
            // the client went away
        }
    }

    /** Returns whether the client connection stays usable. */
    private boolean forward(String requestLine, String method, Map<String, String> headers, Fault fault, Socket client,
            OutputStream out) throws IOException {
        if (fault == Fault.STATUS_503) {
            out.write(("HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\nRetry-After: 0\r\n\r\n")
                    .getBytes(StandardCharsets.ISO_8859_1));
            out.flush();
            return true;
        }
        if (fault == Fault.FULL_200) {
            headers.remove("range");
            headers.remove("if-range");
        }
        Map<String, String> response = new LinkedHashMap<>();
        String statusLine;
        byte[] body;
        try (Socket up = new Socket(InetAddress.getLoopbackAddress(), upstreamPort)) {
            StringBuilder sb = new StringBuilder(requestLine).append("\r\n");
            headers.forEach((k, v) -> {
                if (!k.equals("connection")) {
                    sb.append(k).append(": ").append(v).append("\r\n");
                }
            });
            sb.append("connection: close\r\n\r\n");
            up.getOutputStream().write(sb.toString().getBytes(StandardCharsets.ISO_8859_1));
            InputStream upIn = new BufferedInputStream(up.getInputStream());
            statusLine = RangeOrigin.readHead(upIn, response);
            long length = method.equals("HEAD") ? 0 : Long.parseLong(response.getOrDefault("content-length", "0"));
            body = upIn.readNBytes((int) length);
        }
        switch (fault) {
            case WRONG_RANGE -> {
                Matcher m = CONTENT_RANGE.matcher(response.getOrDefault("content-range", ""));
                if (m.matches()) {
                    response.put("content-range", "bytes " + (Long.parseLong(m.group(1)) + 512) + "-"
                            + (Long.parseLong(m.group(2)) + 512) + "/" + m.group(3));
                }
            }
            case GZIP -> {
                ByteArrayOutputStream zipped = new ByteArrayOutputStream();
                try (GZIPOutputStream z = new GZIPOutputStream(zipped)) {
                    z.write(body);
                }
                body = zipped.toByteArray();
                response.put("content-encoding", "gzip");
                response.put("content-length", Integer.toString(body.length));
            }
            case NEW_ETAG -> response.put("etag", "\"replaced\"");
            default -> {
                // the others act on the way out
            }
        }
        StringBuilder head = new StringBuilder(statusLine).append("\r\n");
        response.forEach((k, v) -> head.append(k).append(": ").append(v).append("\r\n"));
        out.write(head.append("\r\n").toString().getBytes(StandardCharsets.ISO_8859_1));
        switch (fault) {
            case RESET_MID_BODY -> {
                out.write(body, 0, body.length / 2);
                out.flush();
                client.setSoLinger(true, 0);
                client.close();
                return false;
            }
            case STALL -> {
                out.write(body, 0, Math.min(100, body.length));
                out.flush();
                try {
                    Thread.sleep(60_000);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
                return false;
            }
            default -> {
                out.write(body);
                out.flush();
                return true;
            }
        }
    }

    @Override
    public void close() throws IOException {
        loopback.close();
    }
}
