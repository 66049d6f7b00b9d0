package org.spindle.format.vhdx;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.spindle.backend.file.FileBackend;
import org.spindle.storage.api.AccessMode;
import org.spindle.storage.api.CreateOptions;
import org.spindle.storage.api.OpenOptions;
import org.spindle.storage.api.VirtualDisk;
import org.spindle.storage.core.crash.CutBackend;
import org.spindle.storage.core.support.QemuTool;

/**
 * The metadata log against QEMU, both ways. QEMU's logs: {@code qemu-io} is killed (by
 * {@code strace}'s fault injection) at each of its writes in turn, and whatever it left, a log to
 * replay included, Spindle reads as QEMU reads it after QEMU replays it, and Spindle's own replay in
 * place leaves a file {@code qemu-img check} accepts. Spindle's logs: at every crash point of a
 * Spindle write that leaves a log to replay, QEMU replays it and reads what Spindle reads.
 */
class VhdxLogInteropTest {
    @TempDir
    Path dir;

    @BeforeAll
    static void tools() {
        QemuTool.assumeInstalled();
        org.junit.jupiter.api.Assumptions.assumeTrue(Files.isExecutable(Path.of("/usr/bin/strace")),
                "strace is not installed (./spindle test installs it)");
    }

    @Test
    void whatQemuLeavesWhenKilledReadsAsQemuReplaysIt() throws Exception {
        Path base = dir.resolve("base.vhdx");
        QemuTool.ok(dir, "qemu-img", "create", "-q", "-f", "vhdx", "-o", "block_size=1M", base.toString(), "64M");
        QemuTool.io(dir, "vhdx", base, List.of("write -P 0x11 0 1M"));
        int dirtyLogs = 0;
        boolean finished = false;
        // strace counts a thread's own writes, and QEMU spreads writes over its I/O threads as it
        // pleases: a sweep may miss the window a log is left in, so up to three sweeps look for one.
        for (int sweep = 0; sweep < 3 && dirtyLogs == 0; sweep++) {
            finished = false;
            for (int n = 1; n <= 60 && !finished; n++) {
                Path crashed = dir.resolve("crashed-" + n + ".vhdx");
                Files.copy(base, crashed);
                QemuTool.Result r = QemuTool.run(dir, "strace", "-f", "-o", "/dev/null", "-e", "trace=pwrite64",
                        "-e", "inject=pwrite64:signal=KILL:when=" + n, "qemu-io", "-f", "vhdx",
                        "-c", "write -P 0x33 20M 64k", "-c", "write -P 0x44 30M 2M", "-c", "write -P 0x55 0 8k",
                        crashed.toString());
                finished = r.exit() == 0;
                boolean dirty;
                byte[] spindle;
                try (VirtualDisk disk = new VhdxFormat().open(FileBackend.open(crashed, AccessMode.READ_ONLY),
                        OpenOptions.defaults().withReadOnly(true))) {
                    dirty = Boolean.TRUE.equals(disk.details().get("log_replayed"));
                    spindle = QemuTool.readAll(disk);
                }
                dirtyLogs += dirty ? 1 : 0;
                // QEMU replays when it opens the file writable
                Path replayedByQemu = dir.resolve("qemu-" + n + ".vhdx");
                Files.copy(crashed, replayedByQemu);
                QemuTool.io(dir, "vhdx", replayedByQemu, List.of("read 0 512"));
                Path expected = dir.resolve("expected-" + n + ".raw");
                QemuTool.ok(dir, "qemu-img", "convert", "-f", "vhdx", "-O", "raw", replayedByQemu.toString(), expected.toString());
                assertThat(spindle).as("what Spindle reads after qemu-io was killed at write %d", n)
                        .isEqualTo(Files.readAllBytes(expected));
                // Spindle replays in place; QEMU accepts the result
                new VhdxFormat().open(FileBackend.open(crashed, AccessMode.READ_WRITE), OpenOptions.defaults()).close();
                QemuTool.ok(dir, "qemu-img", "check", "-f", "vhdx", crashed.toString());
                QemuTool.ok(dir, "qemu-img", "compare", "-f", "vhdx", "-F", "raw", crashed.toString(), expected.toString());
                for (Path p : List.of(crashed, replayedByQemu, expected)) {
                    Files.delete(p);
                }
            }
        }
        assertThat(finished).as("qemu-io ran to its end once the kill came late enough").isTrue();
        assertThat(dirtyLogs).as("kills that left a log to replay").isPositive();
    }

    @Test
    void qemuReplaysTheLogsSpindleLeaves() throws Exception {
        CutBackend backend = new CutBackend("spindle.vhdx");
        byte[] a = new byte[64 << 10];
        byte[] b = new byte[2 << 20];
        java.util.Arrays.fill(a, (byte) 0x61);
        java.util.Arrays.fill(b, (byte) 0x62);
        int created;
        try (VirtualDisk disk = new VhdxFormat().create(backend, CreateOptions.ofCapacity(64L << 20)
                .withParameters(Map.of("block_size", "1M")))) {
            disk.flush();
            created = backend.writes();
            disk.write(20L << 20, ByteBuffer.wrap(a));
            disk.write(30L << 20, ByteBuffer.wrap(b));
            disk.flush();
            disk.write(5L << 20, ByteBuffer.wrap(a));
        }
        int dirtyLogs = 0;
        for (int k = created; k <= backend.writes(); k++) {
            byte[] image = backend.cutAfter(k);
            byte[] spindle;
            boolean dirty;
            try (VirtualDisk disk = new VhdxFormat().open(new CutBackend("k" + k, image, true),
                    OpenOptions.defaults().withReadOnly(true))) {
                dirty = Boolean.TRUE.equals(disk.details().get("log_replayed"));
                spindle = QemuTool.readAll(disk);
            }
            if (!dirty) {
                continue;
            }
            dirtyLogs++;
            Path file = dir.resolve("cut-" + k + ".vhdx");
            Files.write(file, image);
            QemuTool.io(dir, "vhdx", file, List.of("read 0 512"));
            QemuTool.ok(dir, "qemu-img", "check", "-f", "vhdx", file.toString());
            Path raw = dir.resolve("cut-" + k + ".raw");
            Files.write(raw, spindle);
            QemuTool.ok(dir, "qemu-img", "compare", "-f", "vhdx", "-F", "raw", file.toString(), raw.toString());
            Files.delete(file);
            Files.delete(raw);
        }
        assertThat(dirtyLogs).as("crash points with a log to replay").isPositive();
    }
}
