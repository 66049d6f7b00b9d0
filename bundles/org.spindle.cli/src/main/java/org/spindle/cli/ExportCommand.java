package org.spindle.cli;

import java.net.URI;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;

import org.spindle.storage.api.OpenOptions;
import org.spindle.storage.api.StorageException;
import org.spindle.storage.api.VirtualDisk;
import org.spindle.storage.core.DiskOpener;

import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParentCommand;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

/**
 * {@code spindle img export}: writes a drive's overlay merged with its base (a remote image, say) as
 * one standalone image. The overlay keeps the guest's writes; the base is read where the overlay
 * does not hold the data. An overlay records a network base without its query or fragment (a
 * signature or token is never written into an image), so such a base is given again with
 * {@code --base}.
 */
@Command(name = "export", description = "Writes an overlay merged with its base (e.g. a remote image) as a new image.")
final class ExportCommand implements Callable<Integer> {
    @ParentCommand
    SpindleImg tool;

    @Spec
    CommandSpec spec;

    @Option(names = {"-b", "--base"}, paramLabel = "URI",
            description = "the overlay's base in full (a signed URL, or a URL with #settings); it must be the"
                    + " image the overlay names")
    String base;

    @Option(names = {"-O", "--output-format"}, paramLabel = "FORMAT", defaultValue = "raw",
            description = "the output format (default: ${DEFAULT-VALUE})")
    String outputFormat;

    @Option(names = {"-o", "--options"}, paramLabel = "KEY=VALUE[,…]", description = "output format options")
    List<String> options = new ArrayList<>();

    @Option(names = {"-p", "--progress"}, description = "show a progress bar")
    boolean progress;

    @Parameters(index = "0", paramLabel = "OVERLAY", description = "the drive's overlay")
    String overlay;

    @Parameters(index = "1", paramLabel = "OUTPUT", description = "the merged image (must not exist)")
    String output;

    @Override
    public Integer call() throws StorageException {
        DiskOpener opener = tool.opener();
        URI overlayUri = Images.uri(overlay);
        OpenOptions readOnly = OpenOptions.defaults().withReadOnly(true);
        DiskOpener.Opened opened = base == null ? opener.open(overlayUri, DiskOpener.AUTO, readOnly)
                : opener.open(overlayUri, DiskOpener.AUTO, readOnly, Images.uri(base));
        try (VirtualDisk merged = opened.disk()) {
            if (opened.bases().isEmpty()) {
                throw new StorageException(StorageException.Kind.INVALID_CONFIG, Images.display(overlayUri)
                        + " names no base: it is a whole image already (copy it with convert)");
            }
            ConvertCommand.write(opener, merged, Images.uri(output), outputFormat, Images.options(options), false,
                    progress ? new ProgressLine(spec.commandLine().getOut()) : null);
        }
        return 0;
    }
}
