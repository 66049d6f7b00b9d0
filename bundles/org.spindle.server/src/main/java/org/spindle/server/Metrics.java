package org.spindle.server;

import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.LongAdder;

/** The server's counters, written in the Prometheus text format (version 0.0.4). */
final class Metrics {
    private final Map<String, LongAdder> requests = new ConcurrentHashMap<>();
    final LongAdder bytesSent = new LongAdder();
    final LongAdder rejected = new LongAdder();
    final LongAdder leasesIssued = new LongAdder();
    final LongAdder authFailures = new LongAdder();
    final AtomicInteger inFlight = new AtomicInteger();

    void count(String route, int status) {
        requests.computeIfAbsent(route + "\u0000" + status, k -> new LongAdder()).increment();
    }

    String text() {
        StringBuilder sb = new StringBuilder();
        sb.append("# HELP spindle_server_requests_total Requests answered, by route and status.\n");
        sb.append("# TYPE spindle_server_requests_total counter\n");
        new TreeMap<>(requests).forEach((k, v) -> {
            String[] parts = k.split("\u0000");
            sb.append("spindle_server_requests_total{route=\"").append(parts[0]).append("\",status=\"")
                    .append(parts[1]).append("\"} ").append(v.sum()).append('\n');
        });
        counter(sb, "spindle_server_bytes_sent_total", "Body bytes of images and chunks sent.", bytesSent.sum());
        counter(sb, "spindle_server_rejected_total", "Requests refused with 429 (too many at once).", rejected.sum());
        counter(sb, "spindle_server_leases_issued_total", "Read leases handed out.", leasesIssued.sum());
        counter(sb, "spindle_server_auth_failures_total", "Requests refused for a missing or bad token.",
                authFailures.sum());
        sb.append("# HELP spindle_server_in_flight Image and chunk transfers under way.\n");
        sb.append("# TYPE spindle_server_in_flight gauge\n");
        sb.append("spindle_server_in_flight ").append(inFlight.get()).append('\n');
        return sb.toString();
    }

    private static void counter(StringBuilder sb, String name, String help, long value) {
        sb.append("# HELP ").append(name).append(' ').append(help).append('\n');
        sb.append("# TYPE ").append(name).append(" counter\n");
        sb.append(name).append(' ').append(value).append('\n');
    }
}
