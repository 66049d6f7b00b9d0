package org.spindle.it;

import static org.junit.Assert.assertArrayEquals;
import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertNotNull;
import static org.junit.Assert.assertTrue;
import static org.junit.Assert.fail;
import static org.ops4j.pax.exam.CoreOptions.options;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
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
import org.spindle.storage.api.StorageException;

/**
 * The storage layers as the runtime wires them: an overlay drive with a block cache (Caffeine, the
 * sparse format and the core meeting in the container), a CD from an ISO image, and media checks.
 */
@RunWith(PaxExam.class)
@ExamReactorStrategy(PerMethod.class)
public class StorageLayersIT extends SpindleTestSupport {

    @Configuration
    public Option[] config() {
        return options(spindleBundles());
    }

    @Test
    public void anOverlayDriveWithABlockCacheNeverWritesItsBase() throws Exception {
        Path base = tempImage("base.img", 1 << 20);
        byte[] pattern = new byte[1 << 20];
        Arrays.fill(pattern, (byte) 0x5A);
        Files.write(base, pattern);
        Path overlay = base.resolveSibling("hd.sparse");
        configureDrive("ov0", Map.of("backend", base.toString(), "overlay", overlay.toString(), "cacheSize", "1M",
                "cacheBlockSize", "64K"));
        Drive drive = awaitDrive("ov0");
        assertEquals("sparse", drive.formatName());
        drive.write(1000, ByteBuffer.wrap(new byte[] {1, 2, 3}));
        drive.flush();
        ByteBuffer back = ByteBuffer.allocate(5);
        drive.read(999, back);
        assertArrayEquals(new byte[] {0x5A, 1, 2, 3, 0x5A}, back.array());
        assertArrayEquals("the base is untouched", pattern, Files.readAllBytes(base));
        assertTrue("the overlay was created", Files.size(overlay) > 0);

        DriveDTO dto = drives.drive("ov0").orElseThrow();
        assertArrayEquals(new String[] {base.toUri().toString()}, dto.chain);
        assertEquals("disk", dto.media);
        assertNotNull("block cache counters", dto.blockCache);
        assertEquals("writeback", dto.blockCache.mode);
        assertTrue("misses counted: " + dto.blockCache.misses, dto.blockCache.misses > 0);
        assertEquals(0, dto.blockCache.dirtyBytes);
        ServiceReference<Drive> ref = context.getServiceReferences(Drive.class, "(" + Drive.ID + "=ov0)").iterator().next();
        assertEquals("disk", ref.getProperty(Drive.MEDIA));
    }

    @Test
    public void anIsoImageIsAReadOnlyCdWith2048ByteSectors() throws Exception {
        Path iso = tempImage("install.iso", 0);
        Files.write(iso, isoImage(32));
        configureDrive("cd0", Map.of("backend", iso.toString()));
        Drive drive = awaitDrive("cd0");
        ServiceReference<Drive> ref = context.getServiceReferences(Drive.class, "(" + Drive.ID + "=cd0)").iterator().next();
        assertEquals("cdrom", ref.getProperty(Drive.MEDIA));
        assertEquals(2048, ref.getProperty(Drive.SECTOR_SIZE));
        assertEquals("iso", ref.getProperty(Drive.FORMAT));
        assertEquals(Boolean.TRUE, ref.getProperty(Drive.READ_ONLY));
        ByteBuffer sector = ByteBuffer.allocate(2048);
        drive.readSectors(16, sector);
        assertEquals("CD001", new String(sector.array(), 1, 5, StandardCharsets.US_ASCII));
        try {
            drive.writeSectors(20, ByteBuffer.allocate(2048));
            fail("a CD accepted a write");
        } catch (StorageException e) {
            assertEquals(StorageException.Kind.READ_ONLY, e.kind());
        }
    }

    @Test
    public void aRawImageAsACdMustHoldWholeCdSectors() throws Exception {
        Path good = tempImage("good.bin", 8 * 2048);
        configureDrive("cd1", Map.of("backend", good.toString(), "media", "cdrom"));
        Drive drive = awaitDrive("cd1");
        assertEquals(2048, drive.logicalSectorSize());
        assertTrue(drive.isReadOnly());

        Path odd = tempImage("odd.bin", 8 * 2048 + 512);
        configureDrive("cd2", Map.of("backend", odd.toString(), "media", "cdrom"));
        DriveDTO failed = awaitState("cd2", d -> d.state == DriveState.FAILED, "failed");
        assertKind("INVALID_CONFIG", failed);
        assertTrue(failed.failure, failed.failure.contains("2048-byte CD sectors"));
    }

    /** A minimal ISO 9660 image: a primary volume descriptor and a terminator at sectors 16 and 17. */
    private static byte[] isoImage(int sectors) {
        byte[] image = new byte[sectors * 2048];
        ByteBuffer pvd = ByteBuffer.wrap(image, 16 * 2048, 2048).slice();
        pvd.put(0, (byte) 1).put(1, "CD001".getBytes(StandardCharsets.US_ASCII)).put(6, (byte) 1);
        pvd.put(40, "SPINDLE_IT".getBytes(StandardCharsets.US_ASCII));
        pvd.order(java.nio.ByteOrder.LITTLE_ENDIAN).putInt(80, sectors).putShort(128, (short) 2048);
        pvd.order(java.nio.ByteOrder.BIG_ENDIAN).putInt(84, sectors).putShort(130, (short) 2048);
        ByteBuffer end = ByteBuffer.wrap(image, 17 * 2048, 2048).slice();
        end.put(0, (byte) 255).put(1, "CD001".getBytes(StandardCharsets.US_ASCII)).put(6, (byte) 1);
        return image;
    }
}
