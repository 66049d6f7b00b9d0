package org.spindle.runtime;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Starts the packaged runtime in a separate JVM, as {@code ./spindle run} does. */
class LauncherIT {
    private static final Path HOME = Path.of(System.getProperty("spindle.home"));

    @TempDir
    Path dir;

    private Process start(String... args) throws IOException {
        Path framework;
        try (Stream<Path> jars = Files.list(HOME.resolve("target/bundles"))) {
            framework = jars.filter(p -> p.getFileName().toString().startsWith("org.apache.felix.framework-"))
                    .findFirst().orElseThrow();
        }
        List<String> command = new ArrayList<>(List.of(
                Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "--sun-misc-unsafe-memory-access=allow",
                "-Dspindle.home=" + HOME,
                "-cp", System.getProperty("spindle.runtime.jar") + java.io.File.pathSeparator + framework,
                Launcher.class.getName()));
        command.addAll(List.of(args));
        return new ProcessBuilder(command).redirectError(dir.resolve("stderr.txt").toFile())
                .redirectOutput(dir.resolve("stdout.txt").toFile()).start();
    }

    private String stdout() throws IOException {
        return Files.readString(dir.resolve("stdout.txt"), StandardCharsets.UTF_8);
    }

    private String stderr() throws IOException {
        return Files.readString(dir.resolve("stderr.txt"), StandardCharsets.UTF_8);
    }

    private int finish(Process process) throws Exception {
        assertThat(process.waitFor(60, TimeUnit.SECONDS)).as("the runtime stopped by itself").isTrue();
        return process.exitValue();
    }

    @Test
    void theDefaultProfileAssemblesAndAttachesItsDemoDrive() throws Exception {
        int status = finish(start("--check"));
        assertThat(stdout()).contains("Spindle runtime assembled").containsPattern("demo +ATTACHED +raw +64 MiB");
        assertThat(stdout()).doesNotContain("not active");
        assertThat(status).as(stderr()).isZero();
    }

    @Test
    void drivesThatDoNotAttachAreCountedInTheExitStatus() throws Exception {
        Path profile = Files.createDirectory(dir.resolve("broken"));
        Files.writeString(profile.resolve("org.spindle.drive-lost.cfg"), "backend = " + dir.resolve("lost.img") + "\n");
        Files.writeString(profile.resolve("org.spindle.drive-bad.cfg"), "backend = memory:b?size=1M\ncache = fast\n");
        Files.writeString(profile.resolve("org.spindle.drive-ok.cfg"), "backend = memory:ok?size=1M\n");
        int status = finish(start("--check", profile.toString()));
        assertThat(stdout()).containsPattern("ok +ATTACHED").containsPattern("lost +FAILED").containsPattern("bad +FAILED")
                .contains("lost: NOT_FOUND").contains("bad: INVALID_CONFIG").contains("field 'cache'");
        assertThat(status).isEqualTo(2);
        // the runtime never writes into profile files (FileInstall would, unless told not to)
        assertThat(profile.resolve("org.spindle.drive-lost.cfg")).hasContent("backend = " + dir.resolve("lost.img"));
        assertThat(profile.resolve("org.spindle.drive-bad.cfg")).hasContent("backend = memory:b?size=1M\ncache = fast");
    }

    @Test
    void anUnknownProfileIsAUsageError() throws Exception {
        int status = finish(start("--check", "no-such-profile"));
        assertThat(stderr()).contains("no profile 'no-such-profile'").contains("profiles: default");
        assertThat(status).isEqualTo(2);
    }

    @Test
    void driveFilesAreAppliedWhileTheRuntimeRuns() throws Exception {
        Path profile = Files.createDirectory(dir.resolve("live"));
        Path image = Files.write(dir.resolve("live.img"), new byte[1 << 20]);
        Process runtime = start("--no-shell", profile.toString());
        try {
            awaitStderr(runtime, "Spindle runtime assembled", true);
            Path config = profile.resolve("org.spindle.drive-hot.cfg");
            Files.writeString(config, "backend = " + image + "\n");
            awaitStderr(runtime, "drive hot attached", false);
            Files.delete(config);
            awaitStderr(runtime, "drive hot detached", false);
        } finally {
            runtime.destroy();
            runtime.waitFor(30, TimeUnit.SECONDS);
        }
    }

    private void awaitStderr(Process process, String text, boolean inStdout) throws Exception {
        long deadline = System.currentTimeMillis() + 30_000;
        while (System.currentTimeMillis() < deadline) {
            if ((inStdout ? stdout() : stderr()).contains(text)) {
                return;
            }
            assertThat(process.isAlive()).as("runtime alive; stderr: " + stderr()).isTrue();
            Thread.sleep(100);
        }
        throw new AssertionError("'" + text + "' never appeared; stdout: " + stdout() + "\nstderr: " + stderr());
    }
}
