package org.spindle.testing.storage;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;

import org.junit.jupiter.api.Assumptions;

/** Host file situations that are awkward to produce in a test. */
public final class HostFiles {
    private HostFiles() {
    }

    /**
     * Makes {@code file} refuse writing (and, for a non-root user, reading): {@code chmod 000}, or, when
     * running as root (who ignores permissions), the immutable attribute ({@code chattr +i}). Aborts the
     * test as skipped if neither works here. Undo with {@link #allowAccess}.
     */
    public static void denyAccess(Path file) throws IOException, InterruptedException {
        if (isRoot()) {
            Assumptions.assumeTrue(run("chattr", "+i", file.toString()) == 0,
                    "running as root and chattr +i is not available here");
        } else {
            Files.setPosixFilePermissions(file, PosixFilePermissions.fromString("---------"));
        }
    }

    public static void allowAccess(Path file) throws IOException, InterruptedException {
        if (isRoot()) {
            run("chattr", "-i", file.toString());
        } else {
            Files.setPosixFilePermissions(file, PosixFilePermissions.fromString("rw-------"));
        }
    }

    public static boolean isRoot() {
        return "root".equals(System.getProperty("user.name"));
    }

    private static int run(String... command) throws IOException, InterruptedException {
        try {
            return new ProcessBuilder(command).redirectErrorStream(true).redirectOutput(ProcessBuilder.Redirect.DISCARD)
                    .start().waitFor();
        } catch (IOException e) {
            return -1;
        }
    }
}
