package org.spindle.runtime;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;

import org.junit.jupiter.api.Test;

/**
 * {@code spindle-system-x86_64} driven as QEMU's libqtest drives {@code qemu-system-x86_64}: the
 * Python client in {@code src/test/python} (written for Spindle, standard library only) listens on
 * the qtest and QMP sockets, starts the launcher through {@code /bin/sh -c exec}, and checks the
 * handshake, every qtest command, QMP commands and the order of their events, SIGTERM's exit status,
 * refused command lines, and an IDENTIFY and a DMA read through the PIIX3 IDE and the ICH9 AHCI.
 */
class QemuLauncherIT {
    private static final Path HOME = Path.of(System.getProperty("spindle.home")).toAbsolutePath();

    @Test
    void aLibqtestStyleClientDrivesTheLauncher() throws IOException, InterruptedException {
        ProcessBuilder pb = new ProcessBuilder("python3", "-W", "ignore", "-m", "unittest", "-v", "test_qemu_launcher")
                .directory(HOME.resolve("src/test/python").toFile()).redirectErrorStream(true);
        pb.environment().put("SPINDLE_QEMU_BINARY", HOME.getParent().resolve("spindle-system-x86_64").toString());
        pb.environment().put("SPINDLE_JAVA", Path.of(System.getProperty("java.home"), "bin", "java").toString());
        pb.environment().remove("SPINDLE_QEMU_COMPAT");
        Process p = pb.start();
        p.getOutputStream().close();
        byte[] output = p.getInputStream().readAllBytes();
        assertThat(p.waitFor(10, TimeUnit.MINUTES)).isTrue();
        String text = new String(output, StandardCharsets.UTF_8);
        System.out.println(text);
        assertThat(p.exitValue()).as(text).isZero();
        assertThat(text).contains("OK").doesNotContain("skipped");
    }
}
