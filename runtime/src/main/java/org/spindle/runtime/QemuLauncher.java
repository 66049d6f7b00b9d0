package org.spindle.runtime;

import java.io.IOException;
import java.lang.reflect.Method;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Dictionary;
import java.util.HashMap;
import java.util.Hashtable;
import java.util.List;
import java.util.Map;
import java.util.ServiceLoader;

import org.osgi.framework.Bundle;
import org.osgi.framework.BundleContext;
import org.osgi.framework.BundleException;
import org.osgi.framework.Constants;
import org.osgi.framework.ServiceReference;
import org.osgi.framework.launch.Framework;
import org.osgi.framework.launch.FrameworkFactory;

/**
 * {@code spindle-system-x86_64}: a Spindle machine started from a QEMU command line, for test programs
 * written for QEMU (libqtest). It starts a Felix framework with the bundles of {@code qemu.bndrun} and
 * gives the arguments, as they are, to the {@code org.spindle.qemu} front end, which builds the machine
 * and connects the qtest and QMP sockets; an argument Spindle does not take is refused there, on
 * standard error, with exit status 1.
 *
 * <p>SIGTERM and SIGINT stop the machine and end the process with status 0, as QEMU ends on them
 * (libqtest ends every test with SIGTERM and checks for a clean exit).
 *
 * <p>System properties: {@code spindle.home} (the runtime folder), {@code spindle.qemu.compat} (the
 * QEMU version whose QMP schema to answer with: {@code 10.0}, the default, or {@code 7.2}),
 * {@code spindle.qemu.program} (the name messages start with).
 */
public final class QemuLauncher {
    private static final String FRONT_END_PID = "org.spindle.qemu";
    private static final String EXIT_CODE = "spindle.exit.code";

    private QemuLauncher() {
    }

    public static void main(String[] args) {
        String program = System.getProperty("spindle.qemu.program", "spindle-system-x86_64");
        // as QEMU: quiet unless something is wrong (bundles log their progress at INFO)
        java.util.logging.Logger.getLogger("").setLevel(java.util.logging.Level.WARNING);
        int status;
        try {
            status = run(args, Path.of(System.getProperty("spindle.home", "runtime")));
        } catch (IOException | BundleException | ReflectiveOperationException | RuntimeException e) {
            System.err.println(program + ": " + (e.getMessage() == null ? e.toString() : e.getMessage()));
            status = 1;
        } catch (InterruptedException e) {
            status = 0;
        }
        // exit, not halt: the JVM writes its class-data archive on the way out when it has none yet
        System.exit(status);
    }

    static int run(String[] args, Path home) throws IOException, BundleException, InterruptedException,
            ReflectiveOperationException {
        Bndrun bndrun = Bndrun.read(home.resolve("qemu.bndrun"));
        BundleJars jars = BundleJars.scan(home.resolve("target/bundles"));
        Path storage = Files.createTempDirectory("spindle-qemu-");
        Map<String, String> properties = new HashMap<>(bndrun.runProperties());
        properties.put(Constants.FRAMEWORK_STORAGE, storage.toString());
        properties.put(Constants.FRAMEWORK_STORAGE_CLEAN, Constants.FRAMEWORK_STORAGE_CLEAN_ONFIRSTINIT);
        int maxLevel = bndrun.runBundles().stream().mapToInt(Bndrun.RunBundle::startLevel).max().orElse(1);
        properties.put(Constants.FRAMEWORK_BEGINNING_STARTLEVEL, String.valueOf(maxLevel + 1));
        // SCR's own messages (a component that failed to start) go to standard error
        properties.put("ds.loglevel", "warn");
        Framework framework = ServiceLoader.load(FrameworkFactory.class).findFirst()
                .orElseThrow(() -> new IllegalStateException("no OSGi framework on the class path"))
                .newFramework(properties);
        framework.init();
        stopOnSignal("TERM", framework);
        stopOnSignal("INT", framework);
        try {
            timing("framework initialized");
            List<Bundle> toStart = Launcher.install(framework, bndrun, jars, maxLevel + 1, true);
            framework.start();
            for (Bundle bundle : toStart) {
                bundle.start(Bundle.START_ACTIVATION_POLICY);
            }
            timing("bundles started");
            configure(framework.getBundleContext(), args);
            timing("front end configured");
            framework.waitForStop(0);
        } finally {
            if ((framework.getState() & (Bundle.ACTIVE | Bundle.STARTING)) != 0) {
                framework.stop();
                framework.waitForStop(30_000);
            }
            Launcher.deleteTree(storage);
        }
        return Integer.parseInt(System.getProperty(EXIT_CODE, "0"));
    }

    private static final boolean TIMING = Boolean.getBoolean("spindle.qemu.timing");

    /** With {@code -Dspindle.qemu.timing=true}: how long after the JVM started {@code what} happened. */
    static void timing(String what) {
        if (TIMING) {
            long since = java.time.Duration.between(ProcessHandle.current().info().startInstant()
                    .orElse(java.time.Instant.now()), java.time.Instant.now()).toMillis();
            System.err.println("spindle-qemu timing: " + what + " at " + since + " ms");
        }
    }

    /**
     * Gives the command line to the front end as its configuration. Configuration Admin's API lives in
     * its bundle, not on this class path, so it is called reflectively.
     */
    private static void configure(BundleContext context, String[] args) throws ReflectiveOperationException {
        ServiceReference<?> ref = context.getServiceReference("org.osgi.service.cm.ConfigurationAdmin");
        if (ref == null) {
            throw new IllegalStateException("Configuration Admin did not start");
        }
        Object cm = context.getService(ref);
        Class<?> api = ref.getBundle().loadClass("org.osgi.service.cm.ConfigurationAdmin");
        Object configuration = api.getMethod("getConfiguration", String.class, String.class).invoke(cm, FRONT_END_PID, "?");
        Dictionary<String, Object> props = new Hashtable<>();
        props.put("args", args.clone());
        props.put("cwd", System.getProperty("user.dir"));
        props.put("compat", System.getProperty("spindle.qemu.compat", "10.0"));
        props.put("program", System.getProperty("spindle.qemu.program", "spindle-system-x86_64"));
        Method update = ref.getBundle().loadClass("org.osgi.service.cm.Configuration").getMethod("update",
                Dictionary.class);
        update.invoke(configuration, props);
    }

    /** On the signal: stop the framework (the machine with it) and end with status 0. */
    @SuppressWarnings("restriction")
    private static void stopOnSignal(String name, Framework framework) {
        sun.misc.Signal.handle(new sun.misc.Signal(name), signal -> {
            System.setProperty(EXIT_CODE, "0");
            try {
                framework.stop();
            } catch (BundleException | RuntimeException e) {
                Runtime.getRuntime().halt(0);
            }
            Thread watchdog = new Thread(() -> {
                try {
                    Thread.sleep(10_000);
                } catch (InterruptedException e) {
                    return;
                }
                // a machine that cannot stop in 10 s must not keep the test waiting for its exit
                Runtime.getRuntime().halt(0);
            }, "spindle-qemu-stop-watchdog");
            watchdog.setDaemon(true);
            watchdog.start();
        });
    }
}
