package org.spindle.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The {@code img} verbs on images QEMU made, next to QEMU's own answers: {@code img map --json} prints
 * exactly the extents {@code qemu-img map --output=json} prints (start, length, depth, present, zero,
 * data, offset), for every qcow2 option set and for backing chains; {@code img convert} and
 * {@code img compare} agree with {@code qemu-img compare}; {@code img check} agrees with
 * {@code qemu-img check}. Skipped (never passed) where QEMU's tools are not installed.
 */
class QemuInteropVerbsTest {
    @TempDir
    Path dir;

    @BeforeAll
    static void tools() {
        Assumptions.assumeTrue(Files.isExecutable(Path.of("/usr/bin/qemu-img")) && Files.isExecutable(Path.of("/usr/bin/qemu-io")),
                "qemu-img and qemu-io are not installed (./spindle test installs qemu-utils)");
    }

    private String qemu(String... command) throws Exception {
        Process p = new ProcessBuilder(command).directory(dir.toFile()).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertThat(p.waitFor(120, TimeUnit.SECONDS)).isTrue();
        assertThat(p.exitValue()).as(String.join(" ", command) + " said:\n" + out).isZero();
        return out;
    }

    private String spindle(String... args) {
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        int status = SpindleImg.run(new PrintWriter(out, true), new PrintWriter(err, true), args);
        assertThat(status).as("spindle img " + String.join(" ", args) + " said: " + err).isZero();
        return out.toString();
    }

    private static final Pattern ENTRY = Pattern.compile("\\{\\s*\"start\":\\s*(\\d+),\\s*\"length\":\\s*(\\d+),"
            + "\\s*\"depth\":\\s*(\\d+),\\s*\"present\":\\s*(true|false),\\s*\"zero\":\\s*(true|false),"
            + "\\s*\"data\":\\s*(true|false)(?:,\\s*\"offset\":\\s*(\\d+))?");

    /**
     * The map as extents of data (with the depth and host offset they come from), zeros (with depth) and
     * unallocated space, adjacent ones of a kind merged. {@code qemu-img} also reports what the host
     * file's own holes make of allocated clusters ("data" and "zero" both set, split where a hole
     * starts) and host offsets of unallocated subclusters: those are the host file's business, not the
     * image's, and are folded here.
     */
    private static List<String> entries(String json) {
        List<long[]> merged = new ArrayList<>();
        Matcher m = ENTRY.matcher(json);
        while (m.find()) {
            long start = Long.parseLong(m.group(1));
            long length = Long.parseLong(m.group(2));
            long depth = Long.parseLong(m.group(3));
            boolean present = Boolean.parseBoolean(m.group(4));
            boolean data = Boolean.parseBoolean(m.group(6));
            long kind = data ? 2 : present ? 1 : 0;
            long offset = data && m.group(7) != null ? Long.parseLong(m.group(7)) : -1;
            if (!merged.isEmpty()) {
                long[] last = merged.get(merged.size() - 1);
                boolean contiguous = last[4] < 0 && offset < 0 || last[4] >= 0 && offset == last[4] + last[1];
                if (last[2] == kind && last[3] == depth && last[0] + last[1] == start && contiguous) {
                    last[1] += length;
                    continue;
                }
            }
            merged.add(new long[] {start, length, kind, depth, offset});
        }
        assertThat(merged).as("map output:\n" + json).isNotEmpty();
        return merged.stream().map(e -> String.format("%d+%d %s depth %d%s", e[0], e[1],
                new String[] {"unallocated", "zero", "data"}[(int) e[2]], e[3], e[4] < 0 ? "" : " at " + e[4])).toList();
    }

    static Stream<String> options() {
        return Stream.of("cluster_size=512", "cluster_size=65536", "cluster_size=2M", "compat=0.10",
                "refcount_bits=1,cluster_size=4096", "extended_l2=on", "compression_type=zstd,cluster_size=16384");
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("options")
    void mapPrintsWhatQemuImgMapPrints(String options) throws Exception {
        qemu("qemu-img", "create", "-q", "-f", "qcow2", "-o", options, "img.qcow2", "64M");
        qemu("qemu-io", "-c", "write -P 1 0 3M", "-c", "write -z 4M 2M", "-c", "write -c -P 2 8M 2M",
                "-c", "discard 1M 1M", "-c", "write -P 3 20M 5000", "-c", "write -z -u 30M 4M", "img.qcow2");
        String image = dir.resolve("img.qcow2").toString();
        assertThat(entries(spindle("map", "--json", image)))
                .isEqualTo(entries(qemu("qemu-img", "map", "--output=json", image)));
    }

    @Test
    void mapOfABackingChainPrintsWhatQemuImgMapPrints() throws Exception {
        qemu("qemu-img", "create", "-q", "-f", "qcow2", "base.qcow2", "32M");
        qemu("qemu-io", "-c", "write -P 1 0 8M", "-c", "write -z 10M 1M", "base.qcow2");
        qemu("qemu-img", "create", "-q", "-f", "qcow2", "-b", "base.qcow2", "-F", "qcow2", "mid.qcow2");
        qemu("qemu-io", "-c", "write -P 2 2M 1M", "-c", "write -z 4M 64k", "mid.qcow2");
        spindle("create", "-f", "qcow2", "-b", "mid.qcow2", "-F", "qcow2", dir.resolve("top.qcow2").toString());
        qemu("qemu-io", "-c", "write -P 3 6M 128k", "top.qcow2");
        String top = dir.resolve("top.qcow2").toString();
        assertThat(entries(spindle("map", "--json", top)))
                .isEqualTo(entries(qemu("qemu-img", "map", "--output=json", top)));
        // and the chain converts to what qemu converts it to
        spindle("convert", "-O", "qcow2", "-o", "cluster_size=4096", top, dir.resolve("flat.qcow2").toString());
        qemu("qemu-img", "compare", top, dir.resolve("flat.qcow2").toString());
        qemu("qemu-img", "check", dir.resolve("flat.qcow2").toString());
        assertThat(spindle("compare", top, dir.resolve("flat.qcow2").toString())).contains("identical");
        assertThat(spindle("check", top)).contains("No errors");
    }
}
