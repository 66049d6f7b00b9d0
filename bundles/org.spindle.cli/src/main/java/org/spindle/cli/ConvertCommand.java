package org.spindle.cli;

import java.net.URI;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;

import org.spindle.storage.api.CreateOptions;
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
 * {@code spindle img convert}: copies an image, overlays merged with their bases, into a new image of
 * any writable format. Only data is written: unallocated ranges and runs of zeros stay holes. If the
 * copy fails or is interrupted, the new image is deleted.
 */
@Command(name = "convert", description = "Copies an image (with its bases merged) into a new image of any format.")
final class ConvertCommand implements Callable<Integer> {
    @ParentCommand
    SpindleImg tool;

    @Spec
    CommandSpec spec;

    @Option(names = {"-f", "--format"}, paramLabel = "FORMAT", defaultValue = DiskOpener.AUTO,
            description = "the source format (default: probe)")
    String sourceFormat;

    @Option(names = {"-O", "--output-format"}, paramLabel = "FORMAT", defaultValue = "raw",
            description = "the output format (default: ${DEFAULT-VALUE})")
    String outputFormat;

    @Option(names = {"-o", "--options"}, paramLabel = "KEY=VALUE[,…]", description = "output format options")
    List<String> options = new ArrayList<>();

    @Option(names = {"-c", "--compress"}, description = "store the data compressed (qcow2)")
    boolean compress;

    @Option(names = {"-l", "--snapshot"}, paramLabel = "SNAPSHOT",
            description = "copy this internal snapshot (ID or name) of the source instead of its current state")
    String snapshot;

    @Option(names = {"-p", "--progress"}, description = "show a progress bar")
    boolean progress;

    @Parameters(index = "0", paramLabel = "SOURCE", description = "the image to copy")
    String source;

    @Parameters(index = "1", paramLabel = "OUTPUT", description = "the new image (must not exist)")
    String output;

    @Override
    public Integer call() throws StorageException {
        DiskOpener opener = tool.opener();
        URI sourceUri = Images.uri(source);
        URI outputUri = Images.uri(output);
        OpenOptions sourceOptions = OpenOptions.defaults().withReadOnly(true);
        if (snapshot != null) {
            sourceOptions = sourceOptions.withParameters(java.util.Map.of(
                    org.spindle.storage.api.Snapshots.OPEN_PARAMETER, snapshot));
        }
        try (VirtualDisk src = opener.open(sourceUri, sourceFormat, sourceOptions).disk()) {
            write(opener, src, outputUri, outputFormat, Images.options(options), compress,
                    progress ? new ProgressLine(spec.commandLine().getOut()) : null);
        }
        return 0;
    }

    /**
     * Copies {@code src} into a new image at {@code outputUri}; if that fails or the tool is stopped,
     * the new image is deleted, so no half-written image is left.
     */
    static void write(DiskOpener opener, VirtualDisk src, URI outputUri, String outputFormat,
            java.util.Map<String, String> options, boolean compress, ProgressLine line) throws StorageException {
        {
            int sectorSize = src.logicalSectorSize() == 4096 ? 4096 : 512;
            CreateOptions create = CreateOptions.ofCapacity(src.capacity()).withLogicalSectorSize(sectorSize)
                    .withParameters(options);
            VirtualDisk dst = opener.create(outputUri, outputFormat, create).disk();
            // on Ctrl-C: release the output (its backend holds the file's lock), then delete it
            Thread cleanup = new Thread(() -> {
                closeQuietly(dst);
                deleteQuietly(opener, outputUri);
            });
            Runtime.getRuntime().addShutdownHook(cleanup);
            boolean done = false;
            try {
                ImageOps.copy(src, dst, line == null ? Progress.NONE : line, compress);
                dst.flush();
                dst.close();
                done = true;
            } finally {
                if (line != null) {
                    line.finish();
                }
                Runtime.getRuntime().removeShutdownHook(cleanup);
                if (!done) {
                    closeQuietly(dst);
                    deleteQuietly(opener, outputUri);
                }
            }
        }
    }

    private static void closeQuietly(VirtualDisk disk) {
        try {
            disk.close();
        } catch (StorageException | RuntimeException e) {
            // the copy failed already; that failure is the one to report
        }
    }

    private static void deleteQuietly(DiskOpener opener, URI uri) {
        try {
            opener.delete(uri);
        } catch (StorageException e) {
            if (e.kind() != org.spindle.storage.api.StorageException.Kind.NOT_FOUND) {   // gone already: fine
                System.err.println("spindle img: could not delete the unfinished " + Images.display(uri) + ": "
                        + e.getMessage());
            }
        } catch (RuntimeException e) {
            System.err.println("spindle img: could not delete the unfinished " + Images.display(uri) + ": "
                    + e.getMessage());
        }
    }
}
