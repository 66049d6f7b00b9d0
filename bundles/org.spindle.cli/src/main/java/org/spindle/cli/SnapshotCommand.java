package org.spindle.cli;

import java.io.PrintWriter;
import java.net.URI;
import java.time.ZoneId;
import java.time.format.DateTimeFormatter;
import java.util.List;
import java.util.concurrent.Callable;

import org.spindle.storage.api.OpenOptions;
import org.spindle.storage.api.SnapshotInfo;
import org.spindle.storage.api.Snapshots;
import org.spindle.storage.api.StorageException;
import org.spindle.storage.api.StorageException.Kind;
import org.spindle.storage.api.VirtualDisk;
import org.spindle.storage.core.DiskOpener;

import picocli.CommandLine.ArgGroup;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.ParentCommand;
import picocli.CommandLine.Spec;

/**
 * {@code spindle img snapshot}: lists an image's internal snapshots, or reverts it to one. A snapshot is
 * read (exported, compared, mapped) with {@code img convert -l SNAPSHOT}.
 */
@Command(name = "snapshot", description = "Lists an image's internal snapshots (-l) or reverts the image to one (-a).")
final class SnapshotCommand implements Callable<Integer> {
    private static final DateTimeFormatter DATE = DateTimeFormatter.ofPattern("yyyy-MM-dd HH:mm:ss")
            .withZone(ZoneId.systemDefault());

    @ParentCommand
    SpindleImg tool;

    @Spec
    CommandSpec spec;

    static final class Action {
        @Option(names = {"-l", "--list"}, required = true, description = "list the snapshots")
        boolean list;

        @Option(names = {"-a", "--apply"}, required = true, paramLabel = "SNAPSHOT",
                description = "revert the image to this snapshot (ID or name); later writes are lost")
        String apply;
    }

    @ArgGroup(exclusive = true, multiplicity = "1")
    Action action;

    @Option(names = {"-f", "--format"}, paramLabel = "FORMAT", defaultValue = DiskOpener.AUTO,
            description = "the image's format (default: probe)")
    String format;

    @Parameters(paramLabel = "IMAGE", description = "a file path or a backend URI")
    String image;

    @Override
    public Integer call() throws StorageException {
        URI uri = Images.uri(image);
        boolean listing = action.apply == null;
        DiskOpener.Opened opened = tool.opener().openImage(uri, format, OpenOptions.defaults().withReadOnly(listing));
        try (VirtualDisk disk = opened.disk()) {
            Snapshots snapshots = disk.capability(Snapshots.class).orElseThrow(() -> new StorageException(
                    Kind.UNSUPPORTED_FEATURE, "the " + disk.formatName() + " format has no internal snapshots")
                    .withLocation(uri.toString()));
            if (listing) {
                print(spec.commandLine().getOut(), snapshots.snapshots());
            } else {
                snapshots.revert(action.apply);
                disk.flush();
            }
        }
        return 0;
    }

    static void print(PrintWriter out, List<SnapshotInfo> list) {
        if (list.isEmpty()) {
            return;
        }
        out.println("Snapshot list:");
        out.printf("%-10s%-20s%12s%21s%16s%n", "ID", "TAG", "VM SIZE", "DATE", "VM CLOCK");
        for (SnapshotInfo s : list) {
            long ms = s.vmClockNanos() / 1_000_000;
            String clock = String.format("%04d:%02d:%02d.%03d", ms / 3_600_000, ms / 60_000 % 60, ms / 1000 % 60, ms % 1000);
            out.printf("%-10s%-20s%12s%21s%16s%n", s.id(), s.name(),
                    org.spindle.storage.api.ByteSize.format(s.vmStateSize()), DATE.format(s.date()), clock);
        }
    }
}
