package org.spindle.runtime;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.ServiceLoader;
import java.util.stream.Collectors;
import java.util.stream.Stream;

import org.osgi.framework.Bundle;
import org.osgi.framework.BundleException;
import org.osgi.framework.Constants;
import org.osgi.framework.FrameworkEvent;
import org.osgi.framework.launch.Framework;
import org.osgi.framework.launch.FrameworkFactory;
import org.osgi.framework.startlevel.BundleStartLevel;

/**
 * Starts the Spindle runtime: a Felix framework with exactly the bundles of {@code spindle.bndrun}'s
 * {@code -runbundles} (taken from {@code target/bundles}), configured from a machine profile.
 *
 * <p>bnd's own exported launcher cannot run on Java 24 and later (it installs a security Policy), so
 * this small launcher reads the resolved bndrun instead; bnd still does the resolving.
 *
 * <pre>
 * Launcher [--check] [--shell] [PROFILE]
 *   PROFILE   a folder under runtime/profiles (default: default), or a path to one
 *   --check   assemble, print what was assembled, stop; exit status = drives that did not attach
 *   --shell   an interactive Gogo shell (the default when a terminal is attached)
 * </pre>
 * The system property {@code spindle.home} names the runtime folder (default: {@code runtime}).
 */
public final class Launcher {
    /** Set by the shell bundle's start-up report ({@code StartupReport.EXIT_CODE}) before it stops the framework. */
    static final String EXIT_CODE = "spindle.exit.code";
    /**
     * Started after every other bundle, whatever level the resolver gave it: the prompt must not appear
     * before the commands it offers exist.
     */
    static final String SHELL = "org.apache.felix.gogo.shell";

    /**
     * @param bndrun the bndrun file in {@code home} whose bundles are installed
     * @param configDirs where FileInstall takes configurations from
     * @param properties further framework properties
     */
    record Options(Path home, Path profile, boolean check, boolean shell, String bndrun, List<Path> configDirs,
            Map<String, String> properties) {
        Options(Path home, Path profile, boolean check, boolean shell) {
            this(home, profile, check, shell, "spindle.bndrun", List.of(profile, home.resolve("conf"),
                    home.resolve("plugins")), Map.of());
        }
    }

    private Launcher() {
    }

    public static void main(String[] args) {
        int status;
        try {
            Path home = Path.of(System.getProperty("spindle.home", "runtime"));
            status = run(args.length > 0 && args[0].equals("serve")
                    ? Serve.parse(java.util.Arrays.copyOfRange(args, 1, args.length), home) : parse(args, home), System.out);
        } catch (UsageException e) {
            System.err.println("spindle " + (args.length > 0 && args[0].equals("serve") ? "serve" : "run") + ": "
                    + e.getMessage());
            status = 2;
        } catch (IOException | BundleException | RuntimeException e) {
            System.err.println("spindle run: " + e.getMessage());
            status = 1;
        } catch (InterruptedException e) {
            status = 130;
        }
        System.exit(status);
    }

    static final class UsageException extends Exception {
        UsageException(String message) {
            super(message);
        }
    }

    static Options parse(String[] args, Path home) throws UsageException {
        boolean check = false;
        boolean shell = System.console() != null;
        String profile = "default";
        boolean profileSeen = false;
        for (String arg : args) {
            switch (arg) {
                case "--check" -> {
                    check = true;
                    shell = false;
                }
                case "--shell" -> shell = true;
                case "--no-shell" -> shell = false;
                default -> {
                    if (arg.startsWith("-") || profileSeen) {
                        throw new UsageException("unknown argument '" + arg + "' (usage: run [--check] [--shell|--no-shell] [PROFILE])");
                    }
                    profile = arg;
                    profileSeen = true;
                }
            }
        }
        Path dir = profile.contains("/") ? Path.of(profile) : home.resolve("profiles").resolve(profile);
        if (!Files.isDirectory(dir)) {
            throw new UsageException("no profile '" + profile + "' (" + dir.toAbsolutePath() + " is not a folder; profiles: "
                    + profiles(home) + ")");
        }
        return new Options(home, dir, check, shell && !check);
    }

    private static String profiles(Path home) {
        try (Stream<Path> dirs = Files.list(home.resolve("profiles"))) {
            return dirs.filter(Files::isDirectory).map(p -> p.getFileName().toString()).sorted()
                    .collect(Collectors.joining(", "));
        } catch (IOException e) {
            return "none";
        }
    }

    /** Runs the framework until it stops; returns the exit status. */
    static int run(Options options, PrintStream out) throws IOException, BundleException, InterruptedException {
        Bndrun bndrun = Bndrun.read(options.home().resolve(options.bndrun()));
        BundleJars jars = BundleJars.scan(options.home().resolve("target/bundles"));
        Path storage = Files.createTempDirectory("spindle-felix-");

        Map<String, String> properties = new HashMap<>(bndrun.runProperties());
        properties.put(Constants.FRAMEWORK_STORAGE, storage.toString());
        properties.put(Constants.FRAMEWORK_STORAGE_CLEAN, Constants.FRAMEWORK_STORAGE_CLEAN_ONFIRSTINIT);
        properties.put("felix.fileinstall.dir", options.configDirs().stream().map(p -> p.toAbsolutePath().toString())
                .collect(Collectors.joining(",")));
        properties.putAll(options.properties());
        properties.put("spindle.profile", options.profile().toAbsolutePath().toString());
        properties.put("spindle.report", "true");
        properties.put("spindle.report.exit", String.valueOf(options.check()));
        properties.put("gosh.args", options.shell() ? "" : "--nointeractive");
        int maxLevel = bndrun.runBundles().stream().mapToInt(Bndrun.RunBundle::startLevel).max().orElse(1);
        properties.put(Constants.FRAMEWORK_BEGINNING_STARTLEVEL, String.valueOf(maxLevel + 1));
        // system properties win, as with bnd's launcher (-Dgosh.args=... for example)
        System.getProperties().stringPropertyNames().stream().filter(properties::containsKey)
                .forEach(k -> properties.put(k, System.getProperty(k)));

        Framework framework = ServiceLoader.load(FrameworkFactory.class).findFirst()
                .orElseThrow(() -> new IllegalStateException("no OSGi framework on the class path"))
                .newFramework(properties);
        framework.init();
        Thread stopper = new Thread(() -> stopQuietly(framework), "spindle-shutdown");
        Runtime.getRuntime().addShutdownHook(stopper);
        try {
            out.println("Spindle: " + (options.bndrun().equals("spindle.bndrun") ? "profile "
                    + options.profile().getFileName() : options.bndrun()) + ", " + bndrun.runBundles().size() + " bundles");
            List<Bundle> toStart = install(framework, bndrun, jars, maxLevel + 1, false);
            framework.start();
            for (Bundle bundle : toStart) {
                bundle.start(Bundle.START_ACTIVATION_POLICY);
            }
            FrameworkEvent event = framework.waitForStop(0);
            if (event.getType() == FrameworkEvent.ERROR && event.getThrowable() != null) {
                throw new IllegalStateException("the framework stopped on an error: " + event.getThrowable(),
                        event.getThrowable());
            }
        } finally {
            stopQuietly(framework);
            try {
                Runtime.getRuntime().removeShutdownHook(stopper);
            } catch (IllegalStateException shuttingDown) {
                // the hook is running already
            }
            deleteTree(storage);
        }
        return Integer.parseInt(System.getProperty(EXIT_CODE, "0"));
    }

    static List<Bundle> install(Framework framework, Bndrun bndrun, BundleJars jars, int lastLevel,
            boolean byReference) throws BundleException {
        List<String> missing = new ArrayList<>();
        List<Bundle> toStart = new ArrayList<>();
        for (Bndrun.RunBundle run : bndrun.runBundles()) {
            BundleJars.Jar jar = jars.find(run.symbolicName(), run.versionRange());
            if (jar == null) {
                missing.add(run.symbolicName() + " " + run.versionRange());
                continue;
            }
            // by reference, the framework reads the jar where it is rather than copying it into its cache
            Bundle bundle = framework.getBundleContext().installBundle((byReference ? "reference:" : "")
                    + jar.path().toUri());
            if (SHELL.equals(run.symbolicName())) {
                bundle.adapt(BundleStartLevel.class).setStartLevel(lastLevel);
            } else if (run.startLevel() > 0) {
                bundle.adapt(BundleStartLevel.class).setStartLevel(run.startLevel());
            }
            if (bundle.getHeaders().get(Constants.FRAGMENT_HOST) == null) {
                toStart.add(bundle);
            }
        }
        if (!missing.isEmpty()) {
            throw new IllegalStateException("bundles of -runbundles are not in target/bundles (build with ./spindle build): "
                    + String.join(", ", missing));
        }
        // bundles start in start-level order as the framework climbs to its beginning level
        toStart.sort(Comparator.comparingInt(b -> b.adapt(BundleStartLevel.class).getStartLevel()));
        return toStart;
    }

    private static void stopQuietly(Framework framework) {
        try {
            if ((framework.getState() & (Bundle.ACTIVE | Bundle.STARTING)) != 0) {
                framework.stop();
                framework.waitForStop(30_000);
            }
        } catch (BundleException | InterruptedException e) {
            System.err.println("spindle: the framework did not stop cleanly: " + e.getMessage());
        }
    }

    static void deleteTree(Path root) {
        try (Stream<Path> paths = Files.walk(root)) {
            paths.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
        } catch (IOException ignored) {
            // a temporary folder; the OS cleans it eventually
        }
    }
}
