package org.spindle.it;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.fail;
import static org.ops4j.pax.exam.CoreOptions.composite;
import static org.ops4j.pax.exam.CoreOptions.systemProperty;

import java.io.File;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Dictionary;
import java.util.Hashtable;
import java.util.Map;
import java.util.Optional;
import java.util.function.BooleanSupplier;
import java.util.function.Predicate;

import javax.inject.Inject;

import org.junit.Before;
import org.ops4j.pax.exam.Option;
import org.osgi.framework.Bundle;
import org.osgi.framework.BundleContext;
import org.osgi.framework.Constants;
import org.osgi.framework.FrameworkUtil;
import org.osgi.framework.InvalidSyntaxException;
import org.osgi.service.cm.Configuration;
import org.osgi.service.cm.ConfigurationAdmin;
import org.osgi.util.tracker.ServiceTracker;
import org.spindle.storage.api.Drive;
import org.spindle.storage.api.DriveDTO;
import org.spindle.storage.api.DriveManager;

/** What every container test shares: the bundles, the check that all resolved, and waiting helpers. */
public abstract class SpindleTestSupport {
    static final long TIMEOUT_MS = 10_000;

    @Inject
    protected BundleContext context;

    @Inject
    protected ConfigurationAdmin configAdmin;

    @Inject
    protected DriveManager drives;

    /** Waits until {@code condition} holds, failing after {@link #TIMEOUT_MS} with what was awaited. */
    protected static void await(String what, BooleanSupplier condition) throws InterruptedException {
        long end = System.currentTimeMillis() + TIMEOUT_MS;
        while (!condition.getAsBoolean()) {
            if (System.currentTimeMillis() > end) {
                throw new AssertionError("timed out waiting for " + what);
            }
            Thread.sleep(20);
        }
    }

    /** Installs and starts every jar the pom copied; no names are hard-coded. */
    public static Option spindleBundles() {
        File[] jars = new File(System.getProperty("it.bundles.dir")).listFiles((d, n) -> n.endsWith(".jar"));
        if (jars == null || jars.length == 0) {
            throw new IllegalStateException("no bundles in " + System.getProperty("it.bundles.dir"));
        }
        Arrays.sort(jars);
        return composite(composite(Arrays.stream(jars).map(f -> org.ops4j.pax.exam.CoreOptions.bundle(f.toURI().toString())).toArray(Option[]::new)),
                systemProperty("org.slf4j.simpleLogger.defaultLogLevel").value("warn"));
    }

    /** Fails the test if any bundle did not resolve and start: a container test must run on the real wiring. */
    @Before
    public void allBundlesActive() {
        for (Bundle b : context.getBundles()) {
            boolean fragment = b.getHeaders().get(Constants.FRAGMENT_HOST) != null;
            int expected = fragment ? Bundle.RESOLVED : Bundle.ACTIVE;
            if (b.getState() != expected) {
                fail("bundle " + b.getSymbolicName() + " is in state " + b.getState() + ", not " + expected
                        + " (unresolved requirements?)");
            }
        }
    }

    protected Bundle installedBundle(String symbolicName) {
        return Arrays.stream(context.getBundles()).filter(b -> symbolicName.equals(b.getSymbolicName())).findFirst()
                .orElseThrow(() -> new AssertionError("bundle " + symbolicName + " is not installed"));
    }

    protected Configuration configureDrive(String name, Map<String, Object> properties) throws IOException {
        Configuration configuration = configAdmin.getFactoryConfiguration(Drive.FACTORY_PID, name, "?");
        configuration.update(new Hashtable<>(properties));
        return configuration;
    }

    /** Waits for the Drive service with this id. */
    protected Drive awaitDrive(String id) throws InterruptedException, InvalidSyntaxException {
        ServiceTracker<Drive, Drive> tracker = new ServiceTracker<>(context,
                FrameworkUtil.createFilter("(&(objectClass=" + Drive.class.getName() + ")(" + Drive.ID + "=" + id + "))"),
                null);
        tracker.open();
        try {
            Drive drive = tracker.waitForService(TIMEOUT_MS);
            if (drive == null) {
                fail("no Drive service " + id + " within " + TIMEOUT_MS + " ms; the drive manager says: "
                        + drives.drive(id).map(this::describe).orElse("no such drive"));
            }
            return drive;
        } finally {
            tracker.close();
        }
    }

    protected boolean driveServicePresent(String id) throws InvalidSyntaxException {
        return context.getServiceReferences(Drive.class, "(" + Drive.ID + "=" + id + ")").size() > 0;
    }

    /** Waits until the drive's DTO satisfies {@code condition}, and returns it. */
    protected DriveDTO awaitState(String id, Predicate<DriveDTO> condition, String what) throws InterruptedException {
        long deadline = System.currentTimeMillis() + TIMEOUT_MS;
        Optional<DriveDTO> dto = drives.drive(id);
        while (System.currentTimeMillis() < deadline) {
            dto = drives.drive(id);
            if (dto.isPresent() && condition.test(dto.get())) {
                return dto.get();
            }
            Thread.sleep(20);
        }
        throw new AssertionError("drive " + id + " never became " + what + "; last: "
                + dto.map(this::describe).orElse("no such drive"));
    }

    protected void awaitGone(String id) throws InterruptedException, InvalidSyntaxException {
        long deadline = System.currentTimeMillis() + TIMEOUT_MS;
        while (System.currentTimeMillis() < deadline) {
            if (drives.drive(id).isEmpty() && !driveServicePresent(id)) {
                return;
            }
            Thread.sleep(20);
        }
        throw new AssertionError("drive " + id + " is still there: " + drives.drive(id).map(this::describe));
    }

    protected String describe(DriveDTO d) {
        return d.id + " " + d.state + (d.failure == null ? "" : " (" + d.failureKind + ": " + d.failure + ")");
    }

    protected static Path tempImage(String name, int size) throws IOException {
        Path dir = Files.createTempDirectory("spindle-it");
        Path file = dir.resolve(name);
        Files.write(file, new byte[size]);
        return file;
    }

    protected static void assertKind(String expected, DriveDTO dto) {
        assertEquals(dto.id + ": " + dto.failure, expected, dto.failureKind);
    }

    protected static Dictionary<String, Object> props(Object... keyValues) {
        Hashtable<String, Object> table = new Hashtable<>();
        for (int i = 0; i < keyValues.length; i += 2) {
            table.put((String) keyValues[i], keyValues[i + 1]);
        }
        return table;
    }
}
