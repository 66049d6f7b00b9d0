package org.spindle.cli;

import java.io.PrintWriter;
import java.net.URI;
import java.util.concurrent.Callable;

import org.spindle.storage.api.AccessMode;
import org.spindle.storage.api.CheckReport;
import org.spindle.storage.api.DiskFormat;
import org.spindle.storage.api.StorageBackend;
import org.spindle.storage.api.StorageException;
import org.spindle.storage.api.StorageException.Kind;
import org.spindle.storage.core.DiskOpener;

import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParentCommand;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

/**
 * {@code spindle img check}: checks an image's metadata and optionally repairs it. Exit status as with
 * {@code qemu-img check}: 0 clean, 1 the check could not run, 2 corruptions remain, 3 only leaks remain,
 * 63 the format has nothing to check.
 */
@Command(name = "check", description = "Checks (and with --repair, repairs) an image's metadata.")
final class CheckCommand implements Callable<Integer> {
    static final int CORRUPT = 2;
    static final int LEAKS = 3;
    static final int NOT_SUPPORTED = 63;

    @ParentCommand
    SpindleImg tool;

    @Spec
    CommandSpec spec;

    @Option(names = {"-f", "--format"}, paramLabel = "FORMAT", defaultValue = DiskOpener.AUTO,
            description = "the format (default: probe)")
    String format;

    @Option(names = "--repair", description = "repair everything found (the same as -r all)")
    boolean repairAll;

    @Option(names = "-r", paramLabel = "leaks|all", description = "repair leaks only, or all problems (qemu-img style)")
    String repair;

    @Option(names = "--json", description = "print JSON instead of text")
    boolean json;

    @Parameters(paramLabel = "IMAGE", description = "a file path or a backend URI")
    String image;

    @Override
    public Integer call() throws StorageException {
        if (repairAll) {
            repair = "all";
        }
        if (repair != null && !repair.equals("all") && !repair.equals("leaks")) {
            throw new StorageException(Kind.INVALID_CONFIG, "-r takes leaks or all, not '" + repair + "'");
        }
        DiskOpener opener = tool.opener();
        URI uri = Images.uri(image);
        PrintWriter out = spec.commandLine().getOut();
        CheckReport report;
        try (StorageBackend backend = opener.openBackend(uri, repair == null ? AccessMode.READ_ONLY : AccessMode.READ_WRITE)) {
            DiskFormat chosen = DiskOpener.AUTO.equals(format) ? opener.probe(backend).getFirst().format()
                    : opener.registry().format(format).orElseThrow(() -> new StorageException(Kind.BACKEND_UNAVAILABLE,
                            "the format '" + format + "' is not installed"));
            try {
                CheckReport found = chosen.check(backend, false);
                // leaks alone are given back only on a sound table; corruptions need "all"
                boolean fix = "all".equals(repair) ? !found.clean()
                        : "leaks".equals(repair) && found.leaks() > 0 && found.corruptions() == 0;
                report = fix ? merge(found, chosen.check(backend, true)) : found;
            } catch (StorageException e) {
                if (e.kind() == Kind.UNSUPPORTED_FEATURE && e.operation() == StorageException.Operation.CHECK) {
                    spec.commandLine().getErr().println("spindle img: " + e.detail());
                    return NOT_SUPPORTED;
                }
                throw e;
            }
        }
        print(out, report);
        return report.corruptions() > 0 ? CORRUPT : report.leaks() > 0 ? LEAKS : 0;
    }

    /** The problems found first, with what the repair left. */
    private static CheckReport merge(CheckReport found, CheckReport repaired) {
        return new CheckReport(repaired.corruptions(), repaired.leaks(), repaired.corruptionsRepaired(),
                repaired.leaksRepaired(), found.problems(), repaired.allocatedUnits(), repaired.totalUnits(),
                repaired.imageEnd());
    }

    private void print(PrintWriter out, CheckReport r) {
        if (json) {
            out.println(new Json().field("filename", image).field("check-errors", r.corruptions())
                    .field("leaks", r.leaks()).field("corruptions-fixed", r.corruptionsRepaired())
                    .field("leaks-fixed", r.leaksRepaired()).field("allocated-clusters", r.allocatedUnits())
                    .field("total-clusters", r.totalUnits()).field("image-end-offset", r.imageEnd())
                    .field("problems", r.problems()).end());
            return;
        }
        for (String problem : r.problems()) {
            out.println("  " + problem);
        }
        if (r.corruptionsRepaired() + r.leaksRepaired() > 0) {
            out.println("Repaired: " + r.corruptionsRepaired() + " corruptions, " + r.leaksRepaired() + " leaked blocks.");
        }
        if (r.clean()) {
            out.println("No errors were found on the image.");
        } else {
            if (r.corruptions() > 0) {
                out.println(r.corruptions() + " errors were found on the image. Data may be wrong, and writing to"
                        + " the image may damage it further; run with --repair.");
            }
            if (r.leaks() > 0) {
                out.println(r.leaks() + " leaked blocks were found on the image. They waste space but harm no"
                        + " data; --repair=leaks gives them back.");
            }
        }
        if (r.totalUnits() > 0) {
            out.printf(java.util.Locale.ROOT, "%d/%d = %.2f%% allocated%n", r.allocatedUnits(), r.totalUnits(),
                    100.0 * r.allocatedUnits() / r.totalUnits());
        }
        out.println("Image end offset: " + r.imageEnd());
    }
}
