package org.spindle.shell;

import java.io.PrintStream;
import java.time.Duration;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;

import org.osgi.framework.Bundle;
import org.osgi.framework.BundleContext;
import org.osgi.framework.BundleException;
import org.osgi.framework.InvalidSyntaxException;
import org.osgi.framework.ServiceReference;
import org.osgi.service.component.annotations.Activate;
import org.osgi.service.component.annotations.Component;
import org.osgi.service.component.annotations.Deactivate;
import org.osgi.service.component.annotations.Reference;
import org.spindle.machine.api.Machine;
import org.spindle.machine.api.PciAddress;
import org.spindle.machine.api.PciFunction;
import org.spindle.storage.api.DriveDTO;
import org.spindle.storage.api.DriveManager;
import org.spindle.storage.api.DriveState;
import org.spindle.storage.api.MediaStatusDTO;

/**
 * Prints what the runtime assembled once it has settled, when the launcher asks for it with the
 * framework property {@value #REPORT}. With {@value #EXIT} set as well, it then stops the framework and
 * leaves the number of drives that did not attach in the system property {@value #EXIT_CODE}, for
 * the launcher's exit status ({@code ./spindle run --check}).
 */
@Component(immediate = true)
public final class StartupReport {
    public static final String REPORT = "spindle.report";
    public static final String EXIT = "spindle.report.exit";
    public static final String EXIT_CODE = "spindle.exit.code";

    private final Thread worker;

    @Activate
    public StartupReport(BundleContext context, @Reference DriveManager drives) {
        boolean report = Boolean.parseBoolean(context.getProperty(REPORT));
        boolean exit = Boolean.parseBoolean(context.getProperty(EXIT));
        worker = report ? Thread.ofPlatform().name("spindle-report").daemon().unstarted(() -> {
            long notAttached = 0;
            try {
                List<DriveDTO> settled = drives.awaitSettled(Duration.ofSeconds(20));
                notAttached = settled.stream().filter(d -> d.state != DriveState.ATTACHED).count();
                print(System.out, context, settled);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return;
            } catch (RuntimeException e) {
                System.err.println("spindle: the start-up report failed: " + e);
                notAttached = 100;
            } finally {
                // --check must end even if printing failed
                if (exit && !Thread.currentThread().isInterrupted()) {
                    stop(context, notAttached);
                }
            }
        }) : null;
        if (worker != null) {
            worker.start();
        }
    }

    private static void stop(BundleContext context, long notAttached) {
        System.setProperty(EXIT_CODE, String.valueOf(Math.min(notAttached, 100)));
        try {
            context.getBundle(0).stop();
        } catch (BundleException | IllegalStateException e) {
            System.err.println("spindle: cannot stop the framework: " + e.getMessage());
        }
    }

    @Deactivate
    void deactivate() {
        if (worker != null && worker != Thread.currentThread()) {
            worker.interrupt();
        }
    }

    static void print(PrintStream out, BundleContext context, List<DriveDTO> drives) {
        Bundle[] bundles = context.getBundles();
        long active = Arrays.stream(bundles).filter(b -> b.getState() == Bundle.ACTIVE).count();
        out.println("Spindle runtime assembled: " + active + " of " + bundles.length + " bundles active");
        Arrays.stream(bundles).filter(b -> b.getState() != Bundle.ACTIVE && !isFragment(b))
                .forEach(b -> out.println("  not active: " + b.getSymbolicName() + " (" + state(b) + ")"));
        machines(out, context);
        media(out, context);
        out.println();
        out.println(DriveFormat.table(drives));
        out.flush();
    }

    /** A line per machine: its type, RAM and the PCI functions plugged in. */
    private static void machines(PrintStream out, BundleContext context) {
        try {
            for (ServiceReference<Machine> ref : context.getServiceReferences(Machine.class, null)) {
                Machine m = context.getService(ref);
                if (m == null) {
                    continue;
                }
                try {
                    Map<PciAddress, PciFunction> functions = m.call(m::pciFunctions);
                    out.println("Machine " + m.name() + ": " + m.type() + ", " + (m.memory().ramSize() >> 20) + " MiB RAM; PCI "
                            + functions.entrySet().stream().map(e -> e.getKey() + " " + String.format("%04x:%04x",
                                    e.getValue().config().vendorId(), e.getValue().config().deviceId()))
                                    .collect(Collectors.joining(", ")));
                } catch (Exception e) {
                    out.println("Machine " + m.name() + ": " + e.getMessage());
                } finally {
                    context.ungetService(ref);
                }
            }
        } catch (InvalidSyntaxException e) {
            throw new IllegalStateException(e);
        }
    }

    /** A line per removable slot (a CD-ROM of a controller): its tray and disc. */
    private static void media(PrintStream out, BundleContext context) {
        for (MediaStatusDTO m : new MediaCommands(context).list()) {
            out.println("Media " + MediaConverter.line(m));
        }
    }

    private static boolean isFragment(Bundle b) {
        return b.getHeaders().get("Fragment-Host") != null;
    }

    private static String state(Bundle b) {
        return switch (b.getState()) {
            case Bundle.INSTALLED -> "installed, not resolved";
            case Bundle.RESOLVED -> "resolved, not started";
            case Bundle.STARTING -> "starting";
            case Bundle.STOPPING -> "stopping";
            default -> "state " + b.getState();
        };
    }
}
