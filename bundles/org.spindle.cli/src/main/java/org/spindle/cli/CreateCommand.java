package org.spindle.cli;

import java.net.URI;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;

import org.spindle.storage.api.BackingReference;
import org.spindle.storage.api.CreateOptions;
import org.spindle.storage.api.OpenOptions;
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

/** {@code spindle img create}: a new, empty image, or an overlay of a base. */
@Command(name = "create", description = "Creates a new image (an existing file is never overwritten).")
final class CreateCommand implements Callable<Integer> {
    @ParentCommand
    SpindleImg tool;

    @Spec
    CommandSpec spec;

    @Option(names = {"-f", "--format"}, paramLabel = "FORMAT", defaultValue = "raw",
            description = "the format (default: ${DEFAULT-VALUE})")
    String format;

    @Option(names = {"-o", "--options"}, paramLabel = "KEY=VALUE[,…]",
            description = "format options, e.g. block_size=64K for sparse")
    List<String> options = new ArrayList<>();

    @Option(names = {"-b", "--backing"}, paramLabel = "BASE",
            description = "make an overlay of BASE (relative paths are kept relative to the new image)")
    String backing;

    @Option(names = {"-F", "--backing-format"}, paramLabel = "FORMAT", description = "the base's format (default: probe)")
    String backingFormat;

    @Option(names = "--sector-size", paramLabel = "BYTES", defaultValue = "512",
            description = "the logical sector size: 512 or 4096 (default: ${DEFAULT-VALUE})")
    int sectorSize;

    @Parameters(index = "0", paramLabel = "IMAGE", description = "the new image: a path or a backend URI")
    String image;

    @Parameters(index = "1", arity = "0..1", paramLabel = "SIZE",
            description = "the virtual size, e.g. 10G (default with -b: the base's size)")
    String size;

    @Override
    public Integer call() throws StorageException {
        URI uri = Images.uri(image);
        DiskOpener opener = tool.opener();
        long capacity;
        BackingReference base = null;
        if (backing != null) {
            URI baseUri = DiskOpener.resolve(uri, backing);
            String baseFormat = backingFormat == null ? DiskOpener.AUTO : backingFormat;
            // the base must open (as the overlay will open it), and gives the size and version to pin
            DiskOpener.Opened opened = opener.open(baseUri, baseFormat, OpenOptions.defaults().withReadOnly(true));
            long baseCapacity;
            try (VirtualDisk disk = opened.disk()) {
                baseCapacity = disk.capacity();
            }
            capacity = size == null ? baseCapacity : Images.size(size);
            // a signature or token in a base URL is not written into the image; for a base that can
            // change under its name (a remote image), formats that can (sparse) record its size and
            // version, so a replaced base is refused later
            base = new BackingReference(backing.equals(baseUri.toString()) ? DiskOpener.reference(baseUri) : backing,
                    backingFormat);
            String version = opened.layers().getFirst().version();
            if (version != null) {
                base = base.pinned(baseCapacity, version);
            }
        } else if (size == null) {
            throw new StorageException(Kind.INVALID_CONFIG, "give a SIZE (or a base with -b)");
        } else {
            capacity = Images.size(size);
        }
        if (sectorSize != 512 && sectorSize != 4096) {
            throw new StorageException(Kind.INVALID_CONFIG, "--sector-size must be 512 or 4096, not " + sectorSize);
        }
        CreateOptions create = CreateOptions.ofCapacity(capacity).withLogicalSectorSize(sectorSize)
                .withParameters(Images.options(options)).withBacking(base);
        opener.create(uri, format, create).disk().close();
        spec.commandLine().getOut().println("Formatting '" + Images.display(uri) + "', fmt=" + format + " size="
                + capacity + (base == null ? "" : " backing_file=" + base.location()
                + (base.format() == null ? "" : " backing_fmt=" + base.format())));
        return 0;
    }
}
