package org.spindle.cli;

import java.util.concurrent.Callable;

import org.spindle.storage.api.StorageException;
import org.spindle.storage.core.ImageOps;
import org.spindle.storage.core.Progress;

import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParentCommand;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

/** {@code spindle img commit}: writes an overlay's changes into its base, then empties the overlay. */
@Command(name = "commit", description = "Writes an overlay's changes into its base and empties the overlay.")
final class CommitCommand implements Callable<Integer> {
    @ParentCommand
    SpindleImg tool;

    @Spec
    CommandSpec spec;

    @Option(names = {"-d", "--keep"}, description = "keep the overlay's contents (do not empty it)")
    boolean keep;

    @Option(names = {"-p", "--progress"}, description = "show a progress bar")
    boolean progress;

    @Parameters(paramLabel = "OVERLAY", description = "the overlay image")
    String image;

    @Override
    public Integer call() throws StorageException {
        ProgressLine line = progress ? new ProgressLine(spec.commandLine().getOut()) : null;
        ImageOps.CommitResult result;
        try {
            result = ImageOps.commit(tool.opener(), Images.uri(image), !keep, line == null ? Progress.NONE : line);
        } finally {
            if (line != null) {
                line.finish();
            }
        }
        spec.commandLine().getOut().println("Image committed into " + Images.display(result.base()) + " ("
                + result.bytesCommitted() + " bytes).");
        return 0;
    }
}
