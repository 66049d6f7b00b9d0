package org.spindle.it;

import static org.junit.Assert.assertArrayEquals;
import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertFalse;
import static org.junit.Assert.assertNull;
import static org.junit.Assert.assertTrue;
import static org.ops4j.pax.exam.CoreOptions.options;

import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;

import org.junit.Test;
import org.junit.runner.RunWith;
import org.ops4j.pax.exam.Configuration;
import org.ops4j.pax.exam.Option;
import org.ops4j.pax.exam.junit.PaxExam;
import org.ops4j.pax.exam.spi.reactors.ExamReactorStrategy;
import org.ops4j.pax.exam.spi.reactors.PerMethod;
import org.osgi.framework.ServiceReference;
import org.spindle.storage.api.Drive;
import org.spindle.storage.api.DriveDTO;
import org.spindle.storage.api.DriveState;
import org.spindle.storage.api.VirtualDisk;

/** Drives come and go with their Configuration Admin configurations, and bad ones say why. */
@RunWith(PaxExam.class)
@ExamReactorStrategy(PerMethod.class)
public class DriveConfigurationIT extends SpindleTestSupport {

    @Configuration
    public Option[] config() {
        return options(spindleBundles());
    }

    @Test
    public void aConfiguredDriveIsAServiceThatReturnsWhatWasWritten() throws Exception {
        Path image = tempImage("disk.img", 1 << 20);
        configureDrive("it0", Map.of("backend", image.toString()));
        Drive drive = awaitDrive("it0");

        byte[] data = new byte[4096];
        for (int i = 0; i < data.length; i++) {
            data[i] = (byte) (i * 7);
        }
        drive.writeSectors(16, ByteBuffer.wrap(data));
        drive.flush();
        ByteBuffer back = ByteBuffer.allocate(4096);
        drive.readSectors(16, back);
        assertArrayEquals(data, back.array());
        // the bytes are in the image file, where a raw image keeps them
        byte[] onDisk = new byte[4096];
        System.arraycopy(Files.readAllBytes(image), 16 * 512, onDisk, 0, 4096);
        assertArrayEquals(data, onDisk);

        ServiceReference<Drive> ref = context.getServiceReferences(Drive.class, "(" + Drive.ID + "=it0)").iterator().next();
        assertEquals("raw", ref.getProperty(Drive.FORMAT));
        assertEquals(1L << 20, ref.getProperty(Drive.CAPACITY));
        assertEquals(512, ref.getProperty(Drive.SECTOR_SIZE));
        assertEquals(image.toUri().toString(), ref.getProperty(Drive.BACKEND));
        // the same object is offered as a plain VirtualDisk to controllers that need no identity
        assertFalse(context.getServiceReferences(VirtualDisk.class, "(" + Drive.ID + "=it0)").isEmpty());

        // the state says ATTACHED a moment after the service appears (never before it)
        DriveDTO dto = awaitState("it0", d -> d.state == DriveState.ATTACHED, "attached");
        assertEquals("auto", dto.requestedFormat);
        assertEquals("raw", dto.format);
    }

    @Test
    public void deletingTheConfigurationRemovesTheDriveAndReleasesTheImage() throws Exception {
        Path image = tempImage("disk.img", 64 * 1024);
        org.osgi.service.cm.Configuration configuration = configureDrive("it1", Map.of("backend", image.toString()));
        Drive drive = awaitDrive("it1");
        drive.write(0, ByteBuffer.wrap(new byte[] {1, 2, 3}));
        configuration.delete();
        awaitGone("it1");
        // flushed and closed: the data is there and the lock is gone (a new writable drive can open it)
        assertEquals(1, Files.readAllBytes(image)[0]);
        configureDrive("it1b", Map.of("backend", image.toString()));
        awaitDrive("it1b");
    }

    @Test
    public void aConfigurationMissingTheBackendFailsNamingTheFieldAndRegistersNothing() throws Exception {
        configureDrive("bad", Map.of("format", "raw"));
        DriveDTO dto = awaitState("bad", d -> d.state == DriveState.FAILED, "FAILED");
        assertKind("INVALID_CONFIG", dto);
        assertTrue(dto.failure, dto.failure.contains("field 'backend' is missing"));
        assertTrue(dto.failure, dto.failure.contains("org.spindle.drive~bad"));
        assertFalse(driveServicePresent("bad"));
    }

    @Test
    public void aMissingImageFailsWithNotFoundNamingTheFile() throws Exception {
        Path missing = Files.createTempDirectory("spindle-it").resolve("missing.img");
        configureDrive("gone", Map.of("backend", missing.toString()));
        DriveDTO dto = awaitState("gone", d -> d.state == DriveState.FAILED, "FAILED");
        assertKind("NOT_FOUND", dto);
        assertTrue(dto.failure, dto.failure.contains("missing.img"));
        assertTrue(dto.failure, dto.failure.contains("drive gone"));
        assertFalse(Files.exists(missing));
        assertFalse(driveServicePresent("gone"));
    }

    @Test
    public void anImageWithoutWritePermissionFailsWithAccessDeniedAndIsUnchanged() throws Exception {
        Path image = tempImage("locked.img", 4096);
        Files.write(image, new byte[] {5, 6, 7});
        // root ignores permission bits, so make the file immutable instead (what an operator might meet)
        boolean root = "root".equals(System.getProperty("user.name"));
        String[] deny = root ? new String[] {"chattr", "+i", image.toString()}
                : new String[] {"chmod", "000", image.toString()};
        org.junit.Assume.assumeTrue("cannot take permissions away here",
                new ProcessBuilder(deny).inheritIO().start().waitFor() == 0);
        try {
            configureDrive("locked", Map.of("backend", image.toString()));
            DriveDTO dto = awaitState("locked", d -> d.state == DriveState.FAILED, "FAILED");
            assertKind("ACCESS_DENIED", dto);
            assertTrue(dto.failure, dto.failure.contains("drive locked") && dto.failure.contains("locked.img"));
            assertFalse(driveServicePresent("locked"));
        } finally {
            new ProcessBuilder(root ? new String[] {"chattr", "-i", image.toString()}
                    : new String[] {"chmod", "600", image.toString()}).inheritIO().start().waitFor();
        }
        assertArrayEquals(new byte[] {5, 6, 7}, Files.readAllBytes(image));
    }

    @Test
    public void aDirectoryIsRefused() throws Exception {
        Path dir = Files.createTempDirectory("spindle-it");
        configureDrive("dir", Map.of("backend", dir.toString()));
        DriveDTO dto = awaitState("dir", d -> d.state == DriveState.FAILED, "FAILED");
        assertKind("INVALID_CONFIG", dto);
        assertTrue(dto.failure, dto.failure.contains("is a directory"));
    }

    @Test
    public void anUnknownSchemeWaitsForItsProviderAndSaysWhichSchemesExist() throws Exception {
        configureDrive("nbd", Map.of("backend", "nbd://127.0.0.1/export"));
        DriveDTO dto = awaitState("nbd", d -> d.state == DriveState.WAITING, "WAITING");
        assertKind("BACKEND_UNAVAILABLE", dto);
        assertTrue(dto.failure, dto.failure.contains("'nbd'"));
        assertTrue(dto.failure, dto.failure.contains("file, http, https, memory"));
        assertNull(dto.format);
        assertFalse(driveServicePresent("nbd"));
    }

    @Test
    public void twoWritableDrivesOfOneImageAreRefusedWithInUse() throws Exception {
        Path image = tempImage("shared.img", 4096);
        configureDrive("first", Map.of("backend", image.toString()));
        awaitDrive("first");
        configureDrive("second", Map.of("backend", image.toString()));
        DriveDTO dto = awaitState("second", d -> d.state == DriveState.FAILED, "FAILED");
        assertKind("IN_USE", dto);
        assertTrue(dto.failure, dto.failure.contains("open for writing"));
        // when the writer goes, the refused drive is tried again and gets the image
        drives.detach("first");
        awaitDrive("second");
    }

    @Test
    public void resizingADriveUpdatesItsServiceProperties() throws Exception {
        configureDrive("grow", Map.of("backend", "memory:grow?size=1M"));
        Drive drive = awaitDrive("grow");
        drive.capability(org.spindle.storage.api.Resizable.class).orElseThrow().resize(4L << 20);
        assertEquals(4L << 20, drive.capacity());
        awaitState("grow", d -> d.capacity == 4L << 20, "4 MiB in its DTO");
        long deadline = System.currentTimeMillis() + TIMEOUT_MS;
        Object capacity = null;
        while (System.currentTimeMillis() < deadline && !Long.valueOf(4L << 20).equals(capacity)) {
            capacity = context.getServiceReferences(Drive.class, "(" + Drive.ID + "=grow)").iterator().next()
                    .getProperty(Drive.CAPACITY);
            Thread.sleep(10);
        }
        assertEquals(4L << 20, capacity);
    }

    @Test
    public void readOnlyDrivesShareAnImage() throws Exception {
        Path image = tempImage("iso.img", 4096);
        configureDrive("ro1", Map.of("backend", image.toString(), "readOnly", "true"));
        configureDrive("ro2", Map.of("backend", image.toString(), "readOnly", true));
        assertTrue(awaitDrive("ro1").isReadOnly());
        assertTrue(awaitDrive("ro2").isReadOnly());
        drives.detach("ro1");
        awaitGone("ro1");
        ByteBuffer one = ByteBuffer.allocate(1);
        awaitDrive("ro2").read(0, one); // the shared channel stays open for the remaining reader
        assertEquals(0, one.get(0));
    }

    @Test
    public void anOperatorAttachReportsTheResultAndDetachUndoesIt() throws Exception {
        org.spindle.storage.api.DriveSpecDTO spec = new org.spindle.storage.api.DriveSpecDTO();
        spec.id = "op0";
        spec.backend = "memory:op0?size=2M";
        spec.cache = "writethrough";
        DriveDTO dto = drives.attach(spec);
        assertEquals(DriveState.ATTACHED, dto.state);
        assertEquals(2L << 20, dto.capacity);
        assertEquals("writethrough", dto.cache);
        awaitDrive("op0");
        try {
            drives.attach(spec);
            throw new AssertionError("a second attach with the same id must fail");
        } catch (org.spindle.storage.api.StorageException e) {
            assertEquals(org.spindle.storage.api.StorageException.Kind.IN_USE, e.kind());
        }
        spec.id = "op1";
        spec.sectorSize = 1000;
        try {
            drives.attach(spec);
            throw new AssertionError("a bad sector size must be refused");
        } catch (org.spindle.storage.api.StorageException e) {
            assertEquals(org.spindle.storage.api.StorageException.Kind.INVALID_CONFIG, e.kind());
            assertTrue(e.getMessage(), e.getMessage().contains("sectorSize"));
        }
        assertTrue(drives.drive("op1").isEmpty());
        assertTrue(drives.detach("op0"));
        awaitGone("op0");
        assertFalse(drives.detach("op0"));
    }
}
