package org.spindle.cli;

import java.io.PrintWriter;

import org.spindle.storage.core.DiskOpener;
import org.spindle.storage.core.ServiceLoaderRegistry;

import picocli.CommandLine;
import picocli.CommandLine.Command;

/**
 * {@code spindle img}: the image tool. Backends and formats come from the class path through
 * {@link java.util.ServiceLoader}, so a third-party format jar on the class path is used like the
 * built-in ones.
 */
@Command(name = "spindle img", mixinStandardHelpOptions = true, versionProvider = SpindleImg.Version.class,
        description = "Creates, inspects, converts, checks and changes disk images.",
        subcommands = {InfoCommand.class, CreateCommand.class, ConvertCommand.class, CheckCommand.class,
            CompareCommand.class, MapCommand.class, CommitCommand.class, ExportCommand.class, ChunkCommand.class, ResizeCommand.class, SnapshotCommand.class})
public final class SpindleImg {
    /** Exit status when the image could not be used. */
    static final int EXIT_STORAGE = 1;

    private final DiskOpener opener;

    SpindleImg(DiskOpener opener) {
        this.opener = opener;
    }

    DiskOpener opener() {
        return opener;
    }

    public static void main(String[] args) {
        System.exit(run(new PrintWriter(System.out, true), new PrintWriter(System.err, true), args));
    }

    /** Runs the tool with the given streams; returns the exit status (0 ok, 1 image trouble, 2 usage). */
    static int run(PrintWriter out, PrintWriter err, String... args) {
        DiskOpener opener = new DiskOpener(ServiceLoaderRegistry.load(SpindleImg.class.getClassLoader()));
        CommandLine cli = new CommandLine(new SpindleImg(opener));
        // resize takes -1G as a size, the way qemu-img does
        cli.getSubcommands().get("resize").setUnmatchedOptionsArePositionalParams(true);
        cli.setOut(out);
        cli.setErr(err);
        cli.setExecutionExceptionHandler((e, command, parsed) -> {
            err.println("spindle img: " + e.getMessage());
            return e instanceof org.spindle.storage.api.StorageException ? EXIT_STORAGE
                    : command.getCommandSpec().exitCodeOnExecutionException();
        });
        return cli.execute(args);
    }

    static final class Version implements CommandLine.IVersionProvider {
        @Override
        public String[] getVersion() throws java.io.IOException {
            // the bundle's own manifest: Bundle-Version is what the build stamped
            try (java.io.InputStream in = SpindleImg.class.getResourceAsStream("/META-INF/MANIFEST.MF")) {
                String version = in == null ? null
                        : new java.util.jar.Manifest(in).getMainAttributes().getValue("Bundle-Version");
                return new String[] {"spindle img " + (version == null ? "(unpackaged build)" : version)};
            }
        }
    }
}
