package org.spindle.it;

import static org.junit.Assert.assertArrayEquals;
import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertFalse;
import static org.junit.Assert.assertTrue;
import static org.ops4j.pax.exam.CoreOptions.options;

import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.Map;

import org.junit.Test;
import org.junit.runner.RunWith;
import org.ops4j.pax.exam.Configuration;
import org.ops4j.pax.exam.Option;
import org.ops4j.pax.exam.junit.PaxExam;
import org.ops4j.pax.exam.spi.reactors.ExamReactorStrategy;
import org.ops4j.pax.exam.spi.reactors.PerMethod;
import org.osgi.framework.Bundle;
import org.spindle.storage.api.Drive;
import org.spindle.storage.api.DriveDTO;
import org.spindle.storage.api.DriveState;
import org.spindle.storage.api.StorageException;

/** Bundles a drive depends on can be stopped and started while the drive is configured. */
@RunWith(PaxExam.class)
@ExamReactorStrategy(PerMethod.class)
public class HotSwapIT extends SpindleTestSupport {

    @Configuration
    public Option[] config() {
        return options(spindleBundles());
    }

    @Test
    public void stoppingTheFileBackendTakesItsDrivesDownAndStartingItBringsThemBack() throws Exception {
        Path image = tempImage("disk.img", 1 << 20);
        configureDrive("hs0", Map.of("backend", image.toString()));
        configureDrive("mem", Map.of("backend", "memory:mem?size=1M"));
        Drive drive = awaitDrive("hs0");
        drive.write(512, ByteBuffer.wrap(new byte[] {42, 43}));
        awaitDrive("mem");

        Bundle file = installedBundle("org.spindle.backend.file");
        file.stop();
        // the unbind returns only when the drive is down: no waiting needed
        assertFalse(driveServicePresent("hs0"));
        DriveDTO down = drives.drive("hs0").orElseThrow();
        assertEquals(DriveState.WAITING, down.state);
        assertKind("BACKEND_UNAVAILABLE", down);
        assertTrue(down.failure, down.failure.contains("backend provider for 'file' went away"));
        // a holder of the old service object gets a clean error, not a crash
        try {
            drive.read(0, ByteBuffer.allocate(512));
            throw new AssertionError("a detached drive must refuse I/O");
        } catch (StorageException e) {
            assertEquals(StorageException.Kind.BACKEND_UNAVAILABLE, e.kind());
            assertEquals("hs0", e.drive());
        }
        // other backends' drives are untouched
        assertEquals(DriveState.ATTACHED, drives.drive("mem").orElseThrow().state);

        file.start();
        Drive back = awaitDrive("hs0");
        ByteBuffer two = ByteBuffer.allocate(2);
        back.read(512, two);
        assertArrayEquals(new byte[] {42, 43}, two.array());
        // the service is registered just before the state says ATTACHED (so whoever sees the state
        // finds the service): the state may lag the service by a moment
        awaitState("hs0", d -> d.state == DriveState.ATTACHED, "attached again");
    }

    @Test
    public void aProbedDriveWaitsForItsFormatRatherThanFallingBackToAnother() throws Exception {
        configureDrive("fmt", Map.of("backend", "memory:fmt?size=1M"));
        awaitDrive("fmt");
        Bundle raw = installedBundle("org.spindle.format.raw");
        raw.stop();
        DriveDTO down = drives.drive("fmt").orElseThrow();
        assertEquals(DriveState.WAITING, down.state);
        assertTrue(down.failure, down.failure.contains("format 'raw' went away"));
        raw.start();
        assertEquals("raw", awaitDrive("fmt").formatName());
    }

    @Test
    public void restartingTheCoreReattachesConfiguredDrives() throws Exception {
        configureDrive("core", Map.of("backend", "memory:core?size=1M"));
        awaitDrive("core").write(0, ByteBuffer.wrap(new byte[] {9}));
        Bundle core = installedBundle("org.spindle.storage.core");
        core.stop();
        assertFalse(driveServicePresent("core"));
        core.start();
        ByteBuffer one = ByteBuffer.allocate(1);
        awaitDrive("core").read(0, one);
        assertEquals(9, one.get(0));
    }
}
