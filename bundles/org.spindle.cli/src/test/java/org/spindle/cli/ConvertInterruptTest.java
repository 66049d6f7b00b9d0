package org.spindle.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Ctrl-C during {@code img convert}: the unfinished output is deleted, whatever the copy was doing. */
class ConvertInterruptTest {
    @TempDir
    Path dir;

    @Test
    void anInterruptedConvertLeavesNoOutput() throws Exception {
        // 16 GiB of holes: reading them takes seconds, and costs no disk space
        Path source = dir.resolve("big.img");
        try (RandomAccessFile f = new RandomAccessFile(source.toFile(), "rw")) {
            f.setLength(16L << 30);
        }
        Path output = dir.resolve("out.sparse");
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        Process tool = new ProcessBuilder(java, "-cp", System.getProperty("java.class.path"), SpindleImg.class.getName(),
                "convert", "-O", "sparse", source.toString(), output.toString())
                .redirectErrorStream(true).start();
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        while (!Files.exists(output) && tool.isAlive() && System.nanoTime() < deadline) {
            Thread.sleep(20);
        }
        assertThat(tool.isAlive()).as("the convert is still running when interrupted").isTrue();
        assertThat(output).exists();
        Thread.sleep(300);
        // SIGINT, as Ctrl-C sends it
        assertThat(new ProcessBuilder("kill", "-INT", Long.toString(tool.pid())).start().waitFor()).isZero();
        assertThat(tool.waitFor(30, TimeUnit.SECONDS)).isTrue();
        String printed = new String(tool.getInputStream().readAllBytes());
        assertThat(tool.exitValue()).as(printed).isNotZero();
        assertThat(output).as("deleted after Ctrl-C; the tool said: " + printed).doesNotExist();
    }
}
