package org.spindle.cli;

import java.io.PrintWriter;
import java.net.URI;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;

import org.spindle.storage.api.ByteSize;
import org.spindle.storage.api.Discardable;
import org.spindle.storage.api.OpenOptions;
import org.spindle.storage.api.Overlay;
import org.spindle.storage.api.Resizable;
import org.spindle.storage.api.StorageException;
import org.spindle.storage.api.VirtualDisk;
import org.spindle.storage.api.WriteZeroes;
import org.spindle.storage.core.BackendUris;
import org.spindle.storage.core.DiskOpener;

import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParentCommand;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

/** {@code spindle img info}: what an image is, opened read-only. */
@Command(name = "info", description = "Shows an image's format, size and capabilities (the image is opened read-only).")
final class InfoCommand implements Callable<Integer> {
    @ParentCommand
    SpindleImg tool;

    @Spec
    CommandSpec spec;

    @Parameters(paramLabel = "IMAGE", description = "a file path or a backend URI")
    String image;

    @Option(names = {"-f", "--format"}, paramLabel = "FORMAT", defaultValue = DiskOpener.AUTO,
            description = "the image format, or auto to probe (default: ${DEFAULT-VALUE})")
    String format;

    @Option(names = "--json", description = "print JSON instead of text")
    boolean json;

    @Override
    public Integer call() throws StorageException {
        URI uri = BackendUris.parse(image);
        DiskOpener.Opened opened = tool.opener().open(uri, format, OpenOptions.defaults().withReadOnly(true));
        try (VirtualDisk disk = opened.disk()) {
            List<String> capabilities = new ArrayList<>();
            // of the read-only open: writers may get more (resize, discard) from the same format
            disk.capability(Discardable.class).ifPresent(c -> capabilities.add("discard"));
            disk.capability(WriteZeroes.class).ifPresent(c -> capabilities.add("write-zeroes"));
            disk.capability(Resizable.class).ifPresent(c -> capabilities.add("resize"));
            PrintWriter out = spec.commandLine().getOut();
            String location = Images.display(uri);
            long stored = Images.storedSize(tool.opener(), uri);
            Map<String, Object> details = disk.details();
            List<String> chain = opened.bases().stream().map(Images::display).toList();
            if (json) {
                Json j = new Json()
                        .field("filename", location)
                        .field("format", disk.formatName())
                        .field("probed", opened.probeScore() >= 0)
                        .field("virtual-size", disk.capacity())
                        .field("logical-sector-size", disk.logicalSectorSize())
                        .field("sectors", disk.sectorCount())
                        .field("media", disk.mediaType().configName());
                if (stored >= 0) {
                    j.field("actual-size", stored);
                }
                disk.capability(Overlay.class).ifPresent(o -> {
                    j.field("backing-filename", o.base().location());
                    j.field("full-backing-filename", chain.getFirst());
                    if (o.base().format() != null) {
                        j.field("backing-filename-format", o.base().format());
                    }
                });
                j.field("backing-chain", chain).field("capabilities", capabilities).field("format-specific", details);
                out.println(j.end());
            } else {
                out.println("image:        " + location);
                out.println("format:       " + disk.formatName() + (opened.probeScore() >= 0 ? " (probed)" : ""));
                out.println("virtual size: " + ByteSize.format(disk.capacity()) + " (" + disk.capacity() + " bytes)");
                if (stored >= 0) {
                    out.println("disk size:    " + ByteSize.format(stored));
                }
                out.println("sector size:  " + disk.logicalSectorSize() + " (" + disk.sectorCount() + " sectors"
                        + (disk.capacity() % disk.logicalSectorSize() != 0 ? ", the last "
                                + disk.capacity() % disk.logicalSectorSize() + " bytes are not a whole sector" : "")
                        + ")");
                out.println("media:        " + disk.mediaType().configName());
                for (int i = 0; i < chain.size(); i++) {
                    out.println((i == 0 ? "backing file: " : "  under that: ") + chain.get(i));
                }
                out.println("capabilities: " + (capabilities.isEmpty() ? "none" : String.join(", ", capabilities)));
                if (!details.isEmpty()) {
                    out.println("format specific information:");
                    details.forEach((k, v) -> out.println("    " + k + ": " + v));
                }
                java.util.Optional<org.spindle.storage.api.Snapshots> snapshots =
                        disk.capability(org.spindle.storage.api.Snapshots.class);
                if (snapshots.isPresent()) {
                    SnapshotCommand.print(out, snapshots.get().snapshots());
                }
            }
        }
        return 0;
    }
}
