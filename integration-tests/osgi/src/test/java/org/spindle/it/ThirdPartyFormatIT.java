package org.spindle.it;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertTrue;
import static org.ops4j.pax.exam.CoreOptions.options;
import static org.ops4j.pax.exam.CoreOptions.systemProperty;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Map;
import java.util.TreeMap;

import org.junit.Test;
import org.junit.runner.RunWith;
import org.ops4j.pax.exam.Configuration;
import org.ops4j.pax.exam.Option;
import org.ops4j.pax.exam.junit.PaxExam;
import org.ops4j.pax.exam.spi.reactors.ExamReactorStrategy;
import org.ops4j.pax.exam.spi.reactors.PerMethod;
import org.osgi.framework.Bundle;
import org.osgi.framework.Constants;
import org.spindle.it.magic.MagicFormat;
import org.spindle.storage.api.Drive;
import org.spindle.storage.api.DriveDTO;
import org.spindle.storage.api.DriveManager;
import org.spindle.storage.api.DriveState;

/**
 * A format bundle that Spindle has never seen, built on the fly, is installed into the running
 * container and found by probing; no Spindle bundle is updated, refreshed or restarted for it.
 */
@RunWith(PaxExam.class)
@ExamReactorStrategy(PerMethod.class)
public class ThirdPartyFormatIT extends SpindleTestSupport {
    private static final String BUNDLE = "it.magic.bundle";

    @Configuration
    public Option[] config() throws IOException {
        // built outside the container (TinyBundles is not in it), installed by the test inside it
        Path jar = MagicBundle.build();
        return options(spindleBundles(), systemProperty(BUNDLE).value(jar.toUri().toString()));
    }

    private Map<String, String> spindleBundleStates() {
        Map<String, String> states = new TreeMap<>();
        for (Bundle b : context.getBundles()) {
            if (b.getSymbolicName().startsWith("org.spindle.")) {
                states.put(b.getSymbolicName(), b.getBundleId() + "/" + b.getLastModified() + "/" + b.getState());
            }
        }
        return states;
    }

    @Test
    public void anImageOfAFormatInstalledLaterIsProbedAsThatFormat() throws Exception {
        Path image = Files.createTempDirectory("spindle-it").resolve("third.magic");
        ByteBuffer content = ByteBuffer.allocate(MagicFormat.HEADER + 4096);
        content.put(MagicFormat.MAGIC).putLong(4096);
        Arrays.fill(content.array(), MagicFormat.HEADER, MagicFormat.HEADER + 512, (byte) 0xAB);
        Files.write(image, content.array());

        Map<String, String> before = spindleBundleStates();
        long managerId = (Long) context.getServiceReference(DriveManager.class).getProperty(Constants.SERVICE_ID);

        Bundle magic = context.installBundle(System.getProperty(BUNDLE));
        magic.start();
        assertEquals(Bundle.ACTIVE, magic.getState());

        configureDrive("m0", Map.of("backend", image.toString()));
        Drive drive = awaitDrive("m0");
        assertEquals("magic", drive.formatName());
        assertEquals(4096, drive.capacity());
        ByteBuffer sector = ByteBuffer.allocate(512);
        drive.readSectors(0, sector);
        byte[] expected = new byte[512];
        Arrays.fill(expected, (byte) 0xAB);
        assertTrue("the first sector is the data after the header, not the header",
                Arrays.equals(expected, sector.array()));

        assertEquals("no Spindle bundle changed", before, spindleBundleStates());
        assertEquals("the drive manager was not restarted", managerId,
                context.getServiceReference(DriveManager.class).getProperty(Constants.SERVICE_ID));

        // and when the third party leaves, its drives wait for it instead of reopening as raw
        magic.uninstall();
        DriveDTO waiting = drives.drive("m0").orElseThrow();
        assertEquals(DriveState.WAITING, waiting.state);
        assertTrue(waiting.failure, waiting.failure.contains("format 'magic' went away"));
    }
}
