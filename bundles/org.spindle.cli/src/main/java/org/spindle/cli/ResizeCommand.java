package org.spindle.cli;

import java.util.concurrent.Callable;

import org.spindle.storage.api.OpenOptions;
import org.spindle.storage.api.Resizable;
import org.spindle.storage.api.StorageException;
import org.spindle.storage.api.StorageException.Kind;
import org.spindle.storage.api.VirtualDisk;
import org.spindle.storage.core.DiskOpener;

import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParentCommand;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

/** {@code spindle img resize}: changes an image's virtual size; shrinking must be asked for. */
@Command(name = "resize", description = "Changes an image's virtual size: SIZE, +SIZE or -SIZE.")
final class ResizeCommand implements Callable<Integer> {
    @ParentCommand
    SpindleImg tool;

    @Spec
    CommandSpec spec;

    @Option(names = {"-f", "--format"}, paramLabel = "FORMAT", defaultValue = DiskOpener.AUTO,
            description = "the format (default: probe)")
    String format;

    @Option(names = "--shrink", description = "allow making the image smaller (the data past the new end is lost)")
    boolean shrink;

    @Parameters(index = "0", paramLabel = "IMAGE")
    String image;

    @Parameters(index = "1", paramLabel = "SIZE", description = "the new size, or +N / -N to grow or shrink by N")
    String size;

    @Override
    public Integer call() throws StorageException {
        try (VirtualDisk disk = tool.opener().openImage(Images.uri(image), format, OpenOptions.defaults()).disk()) {
            long now = disk.capacity();
            String text = size.strip();
            long target = text.startsWith("+") ? Math.addExact(now, Images.size(text.substring(1)))
                    : text.startsWith("-") ? now - Images.size(text.substring(1)) : Images.size(text);
            if (target < 0) {
                throw new StorageException(Kind.INVALID_CONFIG, "the image is " + now + " bytes; it cannot shrink by " + text.substring(1));
            }
            if (target < now && !shrink) {
                throw new StorageException(Kind.INVALID_CONFIG, "shrinking from " + now + " to " + target
                        + " bytes loses the data past the new end; add --shrink if that is meant");
            }
            Resizable resizable = disk.capability(Resizable.class).orElseThrow(() -> new StorageException(
                    Kind.UNSUPPORTED_FEATURE, "the " + disk.formatName() + " format cannot resize this image"));
            resizable.resize(target);
            disk.flush();
            spec.commandLine().getOut().println("Image resized to " + target + " bytes.");
        }
        return 0;
    }
}
