package org.spindle.storage.core.support;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import org.junit.jupiter.api.Assumptions;
import org.spindle.storage.api.AllocationMap;
import org.spindle.storage.api.Extent;
import org.spindle.storage.api.StorageException;
import org.spindle.storage.api.VirtualDisk;

/**
 * Runs QEMU's image tools ({@code qemu-img}, {@code qemu-io}) for the format bundles' interoperability
 * tests (shared through this module's test jar), and reads Spindle's side the same way: a whole disk,
 * and its map as data / zero / unallocated extents. The tools are installed by {@code ./spindle test};
 * where they are missing (a developer's machine) the tests that need them are skipped, never passed.
 */
public final class QemuTool {
    public record Result(int exit, String out) {
    }

    /** One extent of {@code qemu-img map --output=json}, reduced to what it is. */
    public record MapEntry(long start, long length, String kind) {
    }

    private QemuTool() {
    }

    public static void assumeInstalled() {
        Assumptions.assumeTrue(Files.isExecutable(Path.of("/usr/bin/qemu-img")) && Files.isExecutable(Path.of("/usr/bin/qemu-io")),
                "qemu-img and qemu-io are not installed (./spindle test installs qemu-utils)");
    }

    public static Result run(Path dir, String... command) throws IOException, InterruptedException {
        Process p = new ProcessBuilder(command).directory(dir.toFile()).redirectErrorStream(true).start();
        byte[] out = p.getInputStream().readAllBytes();
        if (!p.waitFor(120, TimeUnit.SECONDS)) {
            p.destroyForcibly();
            throw new AssertionError("timed out: " + String.join(" ", command));
        }
        return new Result(p.exitValue(), new String(out, StandardCharsets.UTF_8));
    }

    /** Runs a command that must succeed, and returns its output. */
    public static String ok(Path dir, String... command) throws IOException, InterruptedException {
        Result r = run(dir, command);
        assertThat(r.exit()).as(String.join(" ", command) + " said:\n" + r.out()).isZero();
        return r.out();
    }

    /** qemu-io on {@code image}, one {@code -c} per command. */
    public static void io(Path dir, String format, Path image, List<String> commands) throws IOException, InterruptedException {
        List<String> cmd = new ArrayList<>(List.of("qemu-io", "-f", format));
        for (String c : commands) {
            cmd.add("-c");
            cmd.add(c);
        }
        cmd.add(image.toString());
        String out = ok(dir, cmd.toArray(String[]::new));
        assertThat(out).as("qemu-io output").doesNotContain("failed").doesNotContain("error");
    }

    private static final Pattern ENTRY = Pattern.compile("\\{\\s*\"start\":\\s*(\\d+),\\s*\"length\":\\s*(\\d+),"
            + "\\s*\"depth\":\\s*(\\d+),\\s*(?:\"present\":\\s*(true|false),\\s*)?\"zero\":\\s*(true|false),"
            + "\\s*\"data\":\\s*(true|false)");

    /** {@code qemu-img map --output=json}, as data / zero / unallocated extents, merged. */
    public static List<MapEntry> map(Path dir, String format, Path image) throws IOException, InterruptedException {
        String out = ok(dir, "qemu-img", "map", "--output=json", "-f", format, image.toString());
        List<MapEntry> entries = new ArrayList<>();
        Matcher m = ENTRY.matcher(out);
        while (m.find()) {
            boolean present = m.group(4) == null || Boolean.parseBoolean(m.group(4));
            boolean zero = Boolean.parseBoolean(m.group(5));
            boolean data = Boolean.parseBoolean(m.group(6));
            String kind = data ? "data" : present && zero ? "zero" : "unallocated";
            add(entries, new MapEntry(Long.parseLong(m.group(1)), Long.parseLong(m.group(2)), kind));
        }
        assertThat(entries).as("qemu-img map output:\n" + out).isNotEmpty();
        return entries;
    }

    /** Appends, merging with the last entry when it is of the same kind and adjacent. */
    public static void add(List<MapEntry> entries, MapEntry e) {
        if (!entries.isEmpty()) {
            MapEntry last = entries.get(entries.size() - 1);
            if (last.kind().equals(e.kind()) && last.start() + last.length() == e.start()) {
                entries.set(entries.size() - 1, new MapEntry(last.start(), last.length() + e.length(), e.kind()));
                return;
            }
        }
        entries.add(e);
    }

    /** Every byte of {@code disk}, read in 3 MiB requests. */
    public static byte[] readAll(VirtualDisk disk) throws StorageException {
        byte[] bytes = new byte[Math.toIntExact(disk.capacity())];
        ByteBuffer b = ByteBuffer.wrap(bytes);
        while (b.hasRemaining()) {
            int n = Math.min(b.remaining(), 3 << 20);
            disk.read(b.position(), b.slice().limit(n));
            b.position(b.position() + n);
        }
        return bytes;
    }

    /** {@code disk}'s allocation map in the terms of {@link #map(Path, String, Path)}. */
    public static List<MapEntry> map(VirtualDisk disk) throws StorageException {
        List<MapEntry> entries = new ArrayList<>();
        AllocationMap map = disk.capability(AllocationMap.class).orElseThrow();
        for (long pos = 0; pos < disk.capacity(); ) {
            Extent e = map.extent(pos, disk.capacity() - pos);
            String kind = e.data() ? "data" : e.present() ? "zero" : "unallocated";
            add(entries, new MapEntry(pos, e.length(), kind));
            pos += e.length();
        }
        return entries;
    }
}
