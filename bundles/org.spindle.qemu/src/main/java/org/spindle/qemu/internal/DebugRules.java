package org.spindle.qemu.internal;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;

/**
 * The error-injection points of one {@code blkdebug:} drive, as QEMU's blkdebug driver has them:
 * errors injected by rules from a file ({@code [inject-error]} sections), and breakpoints set and
 * released through {@code qemu-io DRIVE "break EVENT TAG"} / {@code "resume TAG"}.
 *
 * <p>Events: {@code read_aio}, {@code write_aio}, {@code flush_to_os} and {@code flush_to_disk} (a
 * flush passes both, in that order). A breakpoint holds the first request that reaches its event
 * until it is resumed, and is then gone; an injected error fails a request that reaches its event
 * (and touches its sector, when one is given) while the rules are in its state, every time or
 * {@code once}. As in blkdebug the rules start in state 1, a rule's state 0 means any state, and a
 * {@code [set-state]} section moves to {@code new_state} when its event is reached in its state
 * (after that event's errors).
 */
final class DebugRules {
    static final Set<String> EVENTS = Set.of("read_aio", "write_aio", "flush_to_os", "flush_to_disk");

    /** How long {@code resume} waits for a request to reach a breakpoint that is set but not yet hit. */
    static final long RESUME_WAIT_NANOS = 5_000_000_000L;

    /** An injected error; {@code state} 0 is any state. */
    record Injection(String event, int errno, long sector, boolean once, int state) {
        Injection(String event, int errno, long sector, boolean once) {
            this(event, errno, sector, once, 0);
        }
    }

    /** A change of state when {@code event} is reached in {@code state} (0: any). */
    record SetState(String event, int state, int newState) {
    }

    /** What a rules file holds. */
    record Rules(List<Injection> injections, List<SetState> transitions) {
        static final Rules NONE = new Rules(List.of(), List.of());
    }

    private final String drive;
    private final List<Injection> injections = new ArrayList<>();
    private final List<SetState> transitions;
    private int state = 1;
    /** Breakpoints not yet hit: tag -> event. */
    private final Map<String, String> breakpoints = new LinkedHashMap<>();
    /** Requests held at a breakpoint, by tag. */
    private final Map<String, Boolean> suspended = new LinkedHashMap<>();

    DebugRules(String drive, List<Injection> injections) {
        this(drive, new Rules(injections, List.of()));
    }

    DebugRules(String drive, Rules rules) {
        this.drive = drive;
        this.injections.addAll(rules.injections());
        this.transitions = List.copyOf(rules.transitions());
    }

    /**
     * Reads a blkdebug rules file: {@code [inject-error]} sections with {@code event}, {@code errno}
     * (default 5, EIO), {@code sector} (default any), {@code once}, {@code immediately} and
     * {@code state}; {@code [set-state]} sections with {@code event}, {@code state} and
     * {@code new_state}.
     *
     * @throws IllegalArgumentException naming the file, line and what is wrong
     */
    static Rules read(Path file) throws IOException {
        List<Injection> out = new ArrayList<>();
        List<SetState> transitions = new ArrayList<>();
        Map<String, String> section = null;
        String sectionName = null;
        int sectionLine = 0;
        List<String> lines = Files.readAllLines(file);
        for (int i = 0; i <= lines.size(); i++) {
            String line = i < lines.size() ? lines.get(i).strip() : "[end]";
            if (line.isEmpty() || line.startsWith("#") || line.startsWith(";")) {
                continue;
            }
            if (line.startsWith("[")) {
                if (section != null && sectionName.equals("inject-error")) {
                    out.add(injection(file, sectionLine, section));
                } else if (section != null) {
                    transitions.add(transition(file, sectionLine, section));
                }
                String name = line.endsWith("]") ? line.substring(1, line.length() - 1).strip() : "";
                if (i == lines.size()) {
                    break;
                }
                if (name.equals("inject-error") || name.equals("set-state")) {
                    section = new LinkedHashMap<>();
                    sectionName = name;
                    sectionLine = i + 1;
                } else {
                    throw new IllegalArgumentException(file + " line " + (i + 1) + ": [" + name + "] is not supported"
                            + " (Spindle's blkdebug takes [inject-error] and [set-state] sections)");
                }
                continue;
            }
            int eq = line.indexOf('=');
            if (section == null || eq < 0) {
                throw new IllegalArgumentException(file + " line " + (i + 1) + ": '" + line + "' is not KEY = VALUE"
                        + " in an [inject-error] or [set-state] section");
            }
            String value = line.substring(eq + 1).strip();
            if (value.length() >= 2 && value.startsWith("\"") && value.endsWith("\"")) {
                value = value.substring(1, value.length() - 1);
            }
            section.put(line.substring(0, eq).strip(), value);
        }
        return new Rules(out, transitions);
    }

    private static SetState transition(Path file, int line, Map<String, String> s) {
        String where = file + " [set-state] at line " + line;
        String event = s.remove("event");
        if (event == null || !EVENTS.contains(event)) {
            throw new IllegalArgumentException(where + ": event = " + event + " (Spindle has " + String.join(", ",
                    EVENTS.stream().sorted().toList()) + ")");
        }
        int state = (int) number(where, "state", s.remove("state"), 0);
        String next = s.remove("new_state");
        if (next == null) {
            throw new IllegalArgumentException(where + ": new_state is missing");
        }
        int newState = (int) number(where, "new_state", next, 0);
        if (!s.isEmpty()) {
            throw new IllegalArgumentException(where + ": " + s.keySet() + " not supported");
        }
        if (state < 0 || newState <= 0) {
            throw new IllegalArgumentException(where + ": states are 1 or more (0: any, for state)");
        }
        return new SetState(event, state, newState);
    }

    private static Injection injection(Path file, int line, Map<String, String> s) {
        String where = file + " [inject-error] at line " + line;
        String event = s.remove("event");
        if (event == null || !EVENTS.contains(event)) {
            throw new IllegalArgumentException(where + ": event = " + event + " (Spindle has " + String.join(", ",
                    EVENTS.stream().sorted().toList()) + ")");
        }
        int errno = (int) number(where, "errno", s.remove("errno"), 5);
        long sector = number(where, "sector", s.remove("sector"), -1);
        boolean once = flag(where, "once", s.remove("once"));
        // immediately: QEMU fails the request before it reaches the image; Spindle always does
        flag(where, "immediately", s.remove("immediately"));
        int state = (int) number(where, "state", s.remove("state"), 0);
        if (state < 0) {
            throw new IllegalArgumentException(where + ": state = " + state + " (0 for any, or 1 or more)");
        }
        if (!s.isEmpty()) {
            throw new IllegalArgumentException(where + ": " + s.keySet() + " not supported");
        }
        if (errno <= 0) {
            throw new IllegalArgumentException(where + ": errno = " + errno + " (a positive errno)");
        }
        return new Injection(event, errno, sector, once, state);
    }

    private static long number(String where, String key, String value, long otherwise) {
        if (value == null) {
            return otherwise;
        }
        try {
            return Long.decode(value);
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException(where + ": " + key + " = " + value + " is not a number");
        }
    }

    private static boolean flag(String where, String key, String value) {
        if (value == null) {
            return false;
        }
        return switch (value.toLowerCase(Locale.ROOT)) {
            case "on", "true", "yes" -> true;
            case "off", "false", "no" -> false;
            default -> throw new IllegalArgumentException(where + ": " + key + " = " + value + " (on or off)");
        };
    }

    /**
     * A request reaches {@code event}: it waits here at a breakpoint, then fails if an error is
     * injected for it.
     *
     * @return the errno to fail with, or 0
     */
    int reached(String event, long offset, long length) throws InterruptedException {
        return reached(event, offset, length, true);
    }

    /** As above; with {@code mayWait} false (the machine thread) breakpoints are passed, not taken. */
    int reached(String event, long offset, long length, boolean mayWait) throws InterruptedException {
        String tag = null;
        synchronized (this) {
            for (Iterator<Map.Entry<String, String>> it = breakpoints.entrySet().iterator(); mayWait && it.hasNext();) {
                Map.Entry<String, String> b = it.next();
                if (b.getValue().equals(event)) {
                    tag = b.getKey();
                    it.remove();
                    suspended.put(tag, Boolean.TRUE);
                    notifyAll();
                    break;
                }
            }
            if (tag != null) {
                while (suspended.containsKey(tag)) {
                    wait();
                }
            }
            int errno = 0;
            for (Iterator<Injection> it = injections.iterator(); it.hasNext();) {
                Injection j = it.next();
                if (!j.event().equals(event) || (j.state() != 0 && j.state() != state)) {
                    continue;
                }
                if (j.sector() >= 0 && (length == 0 || j.sector() * 512 >= offset + length
                        || (j.sector() + 1) * 512 <= offset)) {
                    continue;
                }
                if (j.once()) {
                    it.remove();
                }
                errno = j.errno();
                break;
            }
            for (SetState t : transitions) {
                if (t.event().equals(event) && (t.state() == 0 || t.state() == state)) {
                    state = t.newState();
                    break;
                }
            }
            return errno;
        }
    }

    /**
     * Runs a {@code qemu-io} command that blkdebug answers; returns what QEMU's qemu-io prints (empty when
     * all went well).
     */
    String command(String line) throws InterruptedException {
        String[] w = line.strip().split("\\s+");
        switch (w[0]) {
            case "break" -> {
                if (w.length != 3) {
                    return "break: takes 2 arguments: EVENT TAG\r\n";
                }
                if (!EVENTS.contains(w[1])) {
                    return "Could not set breakpoint: Invalid argument\r\n";
                }
                synchronized (this) {
                    breakpoints.put(w[2], w[1]);
                }
                return "";
            }
            case "remove_break" -> {
                if (w.length != 2) {
                    return "remove_break: takes 1 argument: TAG\r\n";
                }
                synchronized (this) {
                    boolean had = breakpoints.remove(w[1]) != null | suspended.remove(w[1]) != null;
                    notifyAll();
                    return had ? "" : "Could not remove breakpoint " + w[1] + ": No such file or directory\r\n";
                }
            }
            case "resume" -> {
                if (w.length != 2) {
                    return "resume: takes 1 argument: TAG\r\n";
                }
                synchronized (this) {
                    // a request on its way to a breakpoint set for it is waited for, briefly
                    long deadline = System.nanoTime() + RESUME_WAIT_NANOS;
                    while (!suspended.containsKey(w[1]) && breakpoints.containsKey(w[1])) {
                        long left = deadline - System.nanoTime();
                        if (left <= 0) {
                            break;
                        }
                        wait(left / 1_000_000 + 1);
                    }
                    if (suspended.remove(w[1]) == null) {
                        return "Could not resume request: No such file or directory\r\n";
                    }
                    notifyAll();
                    return "";
                }
            }
            case "wait_break" -> {
                if (w.length != 2) {
                    return "wait_break: takes 1 argument: TAG\r\n";
                }
                synchronized (this) {
                    while (!suspended.containsKey(w[1]) && breakpoints.containsKey(w[1])) {
                        wait();
                    }
                    return suspended.containsKey(w[1]) ? "" : "no breakpoint " + w[1] + " is set\r\n";
                }
            }
            default -> {
                return "qemu-io: Spindle's " + drive + " takes break, remove_break, resume and wait_break, not '"
                        + w[0] + "'\r\n";
            }
        }
    }

    /** Lets every held request go (the drive is going away). */
    synchronized void releaseAll() {
        breakpoints.clear();
        suspended.clear();
        notifyAll();
    }
}
