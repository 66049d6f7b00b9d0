package org.spindle.cli;

import java.io.PrintWriter;
import java.net.URI;
import java.util.List;
import java.util.concurrent.Callable;

import org.spindle.storage.api.Extent;
import org.spindle.storage.api.OpenOptions;
import org.spindle.storage.api.StorageException;
import org.spindle.storage.api.VirtualDisk;
import org.spindle.storage.core.DiskOpener;
import org.spindle.storage.core.ImageOps;

import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParentCommand;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

/**
 * {@code spindle img map}: which ranges of the disk hold data, and where. The JSON form has the fields
 * of {@code qemu-img map --output=json}: start, length, depth, present, zero, data, and offset when the
 * data lies contiguously in the image's file.
 */
@Command(name = "map", description = "Shows which ranges of an image hold data (--json for every extent).")
final class MapCommand implements Callable<Integer> {
    @ParentCommand
    SpindleImg tool;

    @Spec
    CommandSpec spec;

    @Option(names = {"-f", "--format"}, paramLabel = "FORMAT", defaultValue = DiskOpener.AUTO,
            description = "the format (default: probe)")
    String format;

    @Option(names = "--json", description = "print every extent as JSON")
    boolean json;

    @Parameters(paramLabel = "IMAGE", description = "a file path or a backend URI")
    String image;

    @Override
    public Integer call() throws StorageException {
        URI uri = Images.uri(image);
        DiskOpener.Opened opened = tool.opener().open(uri, format, OpenOptions.defaults().withReadOnly(true));
        PrintWriter out = spec.commandLine().getOut();
        try (VirtualDisk disk = opened.disk()) {
            List<Extent> extents = ImageOps.map(disk);
            List<URI> files = new java.util.ArrayList<>();
            files.add(uri);
            files.addAll(opened.bases());
            if (json) {
                out.println("[");
                for (int i = 0; i < extents.size(); i++) {
                    Extent e = extents.get(i);
                    Json line = new Json().field("start", e.offset()).field("length", e.length())
                            .field("depth", e.depth()).field("present", e.present()).field("zero", e.zero())
                            .field("data", e.data());
                    if (e.hostOffset() >= 0) {
                        line.field("offset", e.hostOffset());
                    }
                    out.println(line.end() + (i + 1 < extents.size() ? "," : ""));
                }
                out.println("]");
            } else {
                out.printf("%-20s%-20s%-20s%s%n", "Offset", "Length", "Mapped to", "File");
                for (Extent e : extents) {
                    if (e.present() && e.data()) {
                        out.printf("%-#20x%-#20x%-20s%s%n", e.offset(), e.length(),
                                e.hostOffset() >= 0 ? String.format("%#x", e.hostOffset()) : "-",
                                Images.display(files.get(Math.min(e.depth(), files.size() - 1))));
                    }
                }
            }
        }
        return 0;
    }
}
