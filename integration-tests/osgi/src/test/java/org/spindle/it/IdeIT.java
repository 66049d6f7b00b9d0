package org.spindle.it;

import static org.junit.Assert.assertArrayEquals;
import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertFalse;
import static org.junit.Assert.assertTrue;
import static org.junit.Assert.fail;
import static org.ops4j.pax.exam.CoreOptions.options;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.ByteBuffer;
import java.util.Arrays;
import java.util.Map;

import javax.inject.Inject;

import org.apache.felix.service.command.CommandProcessor;
import org.apache.felix.service.command.CommandSession;
import org.junit.Test;
import org.junit.runner.RunWith;
import org.ops4j.pax.exam.Configuration;
import org.ops4j.pax.exam.Option;
import org.ops4j.pax.exam.junit.PaxExam;
import org.ops4j.pax.exam.spi.reactors.ExamReactorStrategy;
import org.ops4j.pax.exam.spi.reactors.PerClass;
import org.spindle.machine.api.Machine;
import org.spindle.machine.api.PciAddress;
import org.spindle.machine.api.PciFunction;
import org.spindle.storage.api.Drive;
import org.spindle.storage.api.MediaStatusDTO;
import org.spindle.storage.api.RemovableMedia;

/**
 * The PIIX3 IDE controller assembled from configuration: it waits for its disk's drive, lands in the
 * machine at its address, reads the drive's bytes through the legacy ports, follows its CD drive in
 * and out (and the operator's media commands), survives its disk's drive going away and coming back,
 * and leaves with its configuration.
 */
@RunWith(PaxExam.class)
@ExamReactorStrategy(PerClass.class)
public class IdeIT extends SpindleTestSupport {
    private static final PciAddress AT = PciAddress.parse("00:01.1");
    private static final int STATUS_ERR = 0x01;
    private static final int STATUS_DRQ = 0x08;
    private static final int STATUS_BSY = 0x80;

    @Inject
    CommandProcessor processor;

    @Configuration
    public Option[] config() {
        return options(spindleBundles());
    }

    private Machine machine(String name) {
        return service(Machine.class, "(" + Machine.NAME + "=" + name + ")");
    }

    private RemovableMedia media(String slot) {
        return service(RemovableMedia.class, "(" + RemovableMedia.SLOT + "=" + slot + ")");
    }

    /** The service of {@code type} that matches {@code filter} now, or null. */
    private <T> T service(Class<T> type, String filter) {
        try {
            var refs = context.getServiceReferences(type, filter);
            return refs.isEmpty() ? null : context.getService(refs.iterator().next());
        } catch (Exception e) {
            return null;
        }
    }

    @Test
    public void aConfiguredControllerServesItsDrivesAndFollowsThem() throws Exception {
        org.osgi.service.cm.Configuration machineConfig = configAdmin.getConfiguration("org.spindle.machine", "?");
        machineConfig.update(props("name", "ideit", "type", "pc", "ram", "64M"));
        await("the machine", () -> machine("ideit") != null);
        Machine m = machine("ideit");

        org.osgi.service.cm.Configuration ide = configAdmin.getFactoryConfiguration("org.spindle.device.ide", "ide9", "?");
        ide.update(props("spindle.machine", "ideit", "primary.master", "disk:idehd", "secondary.master", "cdrom:idecd"));
        Thread.sleep(300);
        assertFalse("no controller while its disk's drive is missing", m.call(m::pciFunctions).containsKey(AT));

        configureDrive("idehd", Map.of("backend", "memory:idehd?size=8M", "format", "raw"));
        Drive hd = awaitDrive("idehd");
        byte[] pattern = new byte[512];
        Arrays.fill(pattern, (byte) 0x5A);
        pattern[0] = 1;
        hd.write(9 * 512, ByteBuffer.wrap(pattern));
        await("the controller plugged", () -> {
            try {
                return m.call(m::pciFunctions).containsKey(AT);
            } catch (Exception e) {
                return false;
            }
        });
        PciFunction function = m.call(m::pciFunctions).get(AT);
        assertEquals(0x8086, function.config().vendorId());
        assertEquals(0x7010, function.config().deviceId());
        config(m, 0x04, 0x0005); // I/O and bus master on, as firmware does

        // IDENTIFY: the drive's id is the disk's serial number, its size the disk's.
        byte[] id = pio(m, 0x1F0, 0xEC, 0, 1);
        assertEquals("idehd", ataString(id, 10, 10).trim());
        assertEquals(8 * 1024 * 1024 / 512, (id[120] & 0xFF) | (id[121] & 0xFF) << 8 | (id[122] & 0xFF) << 16);
        assertArrayEquals(pattern, pio(m, 0x1F0, 0x20, 9, 1));

        // The CD-ROM: no disc until its drive attaches, then the drive's bytes are the disc.
        RemovableMedia cd = media("ide9.1.0");
        assertTrue("the CD-ROM is a RemovableMedia service", cd != null);
        assertFalse(cd.status().present);
        configureDrive("idecd", Map.of("backend", tempImage("disc1.iso", 4 << 20).toString(), "format", "raw", "media", "cdrom"));
        awaitDrive("idecd");
        await("the disc in", () -> cd.status().present);
        MediaStatusDTO in = cd.status();
        assertEquals("idecd", in.medium);
        assertEquals(4L << 20, in.capacity);
        assertFalse(in.trayOpen);

        // The operator's face: eject, see it empty, put the drive back in.
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        try (CommandSession session = processor.createSession(new ByteArrayInputStream(new byte[0]), new PrintStream(out),
                new PrintStream(out))) {
            MediaStatusDTO ejected = (MediaStatusDTO) session.execute("media:eject ide9.1.0");
            assertFalse(ejected.present);
            assertTrue(ejected.trayOpen);
            MediaStatusDTO back = (MediaStatusDTO) session.execute("media:insert ide9.1.0 idecd");
            assertTrue(back.present);
            assertEquals(in.changes + 1, back.changes);
            String line = session.format(back, org.apache.felix.service.command.Converter.LINE).toString();
            assertTrue(line, line.startsWith("ide9.1.0") && line.contains("disc idecd (4 MiB)"));
            try {
                session.execute("media:eject ide9.7.7");
                fail("an unknown slot is refused");
            } catch (IllegalArgumentException e) {
                assertTrue(e.getMessage(), e.getMessage().contains("ide9.1.0"));
            }
        }

        // The CD's drive detached: the disc is gone; attached again: it is back, as a change the guest sees.
        long changes = cd.status().changes;
        drives.detach("idecd");
        await("the disc out", () -> !cd.status().present);
        configureDrive("idecd", Map.of("backend", tempImage("disc2.iso", 2 << 20).toString(), "format", "raw", "media", "cdrom"));
        await("the new disc in", () -> cd.status().present && cd.status().capacity == 2L << 20);
        assertTrue(cd.status().changes > changes);

        // The disk's drive goes away: the guest's reads fail as media errors; it comes back: they work.
        drives.detach("idehd");
        awaitGone("idehd");
        // the controller hears of it on its own thread, just after the service went
        await("reads failing", () -> {
            try {
                return (pioStatus(m, 0x1F0, 0x20, 9)[0] & STATUS_ERR) != 0;
            } catch (Exception e) {
                return false;
            }
        });
        byte[] failed = pioStatus(m, 0x1F0, 0x20, 9);
        assertEquals("ERR set", STATUS_ERR, failed[0] & STATUS_ERR);
        assertEquals("UNC", 0x40, failed[1] & 0xFF);
        assertTrue(m.call(m::pciFunctions).containsKey(AT));
        configureDrive("idehd", Map.of("backend", "memory:idehd?size=8M", "format", "raw"));
        awaitDrive("idehd");
        await("the disk reconnected", () -> {
            try {
                return (pioStatus(m, 0x1F0, 0x20, 9)[0] & STATUS_ERR) == 0;
            } catch (Exception e) {
                return false;
            }
        });

        // The configuration deleted: the controller and its media service leave.
        ide.delete();
        await("the controller gone", () -> {
            try {
                return !m.call(m::pciFunctions).containsKey(AT);
            } catch (Exception e) {
                return false;
            }
        });
        await("the media service gone", () -> media("ide9.1.0") == null);
        machineConfig.delete();
        drives.detach("idehd");
        drives.detach("idecd");
    }

    private static void config(Machine m, int offset, int value) throws Exception {
        m.call(() -> {
            m.io().write(0xCF8, 4, 0x8000_0000L | AT.device() << 11 | AT.function() << 8 | offset & 0xFC);
            m.io().write(0xCFC + (offset & 3), 2, value);
            return null;
        });
    }

    /**
     * A PIO data-in command to the master of the channel at {@code base}: its data. Between blocks the
     * machine thread is let go, as a guest's polling lets it go, so storage work on the controller's I/O
     * threads can complete.
     */
    private static byte[] pio(Machine m, int base, int command, long lba, int sectors) throws Exception {
        m.call(() -> {
            issue(m, base, command, lba, sectors);
            return null;
        });
        byte[] data = new byte[sectors * 512];
        for (int s = 0; s < sectors; s++) {
            waitNotBusy(m, base);
            int sector = s;
            m.call(() -> {
                int status = (int) m.io().read(base + 7, 1);
                if ((status & STATUS_DRQ) == 0) {
                    throw new AssertionError(String.format("no DRQ: status %02X error %02X", status, m.io().read(base + 1, 1)));
                }
                for (int i = 0; i < 512; i += 2) {
                    int w = (int) m.io().read(base, 2);
                    data[sector * 512 + i] = (byte) w;
                    data[sector * 512 + i + 1] = (byte) (w >> 8);
                }
                return null;
            });
        }
        return data;
    }

    /** Polls the alternate status of the channel at {@code base} (which leaves the interrupt pending) until BSY clears. */
    private static void waitNotBusy(Machine m, int base) throws Exception {
        long deadline = System.nanoTime() + 10_000_000_000L;
        while ((m.call(() -> (int) m.io().read(base + 0x206, 1)) & STATUS_BSY) != 0) {
            if (System.nanoTime() > deadline) {
                throw new AssertionError("the channel at " + Integer.toHexString(base) + " stayed busy");
            }
            Thread.onSpinWait();
        }
    }

    /** Issues a one-sector PIO read and returns {status, error} after it, draining any data. */
    private static byte[] pioStatus(Machine m, int base, int command, long lba) throws Exception {
        m.call(() -> {
            issue(m, base, command, lba, 1);
            return null;
        });
        waitNotBusy(m, base);
        return m.call(() -> {
            int status = (int) m.io().read(base + 7, 1);
            int error = (int) m.io().read(base + 1, 1);
            if ((status & STATUS_DRQ) != 0) {
                for (int i = 0; i < 256; i++) {
                    m.io().read(base, 2);
                }
            }
            return new byte[] {(byte) status, (byte) error};
        });
    }

    private static void issue(Machine m, int base, int command, long lba, int sectors) {
        m.io().write(base + 6, 1, 0xE0 | (lba >>> 24) & 0x0F);
        m.io().write(base + 2, 1, sectors);
        m.io().write(base + 3, 1, lba & 0xFF);
        m.io().write(base + 4, 1, (lba >>> 8) & 0xFF);
        m.io().write(base + 5, 1, (lba >>> 16) & 0xFF);
        m.io().write(base + 7, 1, command);
    }

    /** An IDENTIFY string: {@code words} words from {@code word}, each with its two characters swapped. */
    private static String ataString(byte[] id, int word, int words) {
        StringBuilder sb = new StringBuilder();
        for (int i = 0; i < words; i++) {
            sb.append((char) id[2 * (word + i) + 1]).append((char) id[2 * (word + i)]);
        }
        return sb.toString();
    }
}
