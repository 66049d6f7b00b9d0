package org.spindle.cli;

import java.io.PrintWriter;
import java.util.concurrent.Callable;

import org.spindle.storage.api.OpenOptions;
import org.spindle.storage.api.StorageException;
import org.spindle.storage.api.VirtualDisk;
import org.spindle.storage.core.DiskOpener;
import org.spindle.storage.core.ImageOps;
import org.spindle.storage.core.Progress;

import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParentCommand;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

/**
 * {@code spindle img compare}: whether two images read the same, whatever their formats. Exit status as
 * with {@code qemu-img compare}: 0 identical, 1 different, 2 an image could not be read.
 */
@Command(name = "compare", description = "Compares the contents of two images (of any formats).")
final class CompareCommand implements Callable<Integer> {
    static final int DIFFERENT = 1;
    static final int ERROR = 2;

    @ParentCommand
    SpindleImg tool;

    @Spec
    CommandSpec spec;

    @Option(names = "-f", paramLabel = "FORMAT", defaultValue = DiskOpener.AUTO, description = "the first image's format")
    String format1;

    @Option(names = "-F", paramLabel = "FORMAT", defaultValue = DiskOpener.AUTO, description = "the second image's format")
    String format2;

    @Option(names = {"-s", "--strict"}, description = "images of different sizes differ, even if the extra bytes are zeros")
    boolean strict;

    @Option(names = {"-p", "--progress"}, description = "show a progress bar")
    boolean progress;

    @Parameters(index = "0", paramLabel = "IMAGE1")
    String image1;

    @Parameters(index = "1", paramLabel = "IMAGE2")
    String image2;

    @Override
    public Integer call() {
        PrintWriter out = spec.commandLine().getOut();
        OpenOptions readOnly = OpenOptions.defaults().withReadOnly(true);
        DiskOpener opener = tool.opener();
        try (VirtualDisk a = opener.open(Images.uri(image1), format1, readOnly).disk();
                VirtualDisk b = opener.open(Images.uri(image2), format2, readOnly).disk()) {
            if (a.capacity() != b.capacity()) {
                out.println("Warning: the images differ in size: " + a.capacity() + " and " + b.capacity() + " bytes");
            }
            ProgressLine line = progress ? new ProgressLine(out) : null;
            long at;
            try {
                at = ImageOps.firstDifference(a, b, strict, line == null ? Progress.NONE : line);
            } finally {
                if (line != null) {
                    line.finish();
                }
            }
            if (at < 0) {
                out.println("Images are identical.");
                return 0;
            }
            out.println(strict && a.capacity() != b.capacity() && at == Math.min(a.capacity(), b.capacity())
                    ? "Strict mode: the images differ in size." : "Content mismatch at offset " + at + "!");
            return DIFFERENT;
        } catch (StorageException e) {
            spec.commandLine().getErr().println("spindle img: " + e.getMessage());
            return ERROR;
        }
    }
}
