package org.spindle.it;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertFalse;
import static org.junit.Assert.assertNotNull;
import static org.junit.Assert.assertTrue;
import static org.ops4j.pax.exam.CoreOptions.options;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Map;

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
import org.spindle.storage.api.RemovableMedia;

/**
 * The ICH9 AHCI HBA assembled from configuration: it is plugged at once, its disk port is empty until
 * the drive attaches and then hot-plugged, IDENTIFY through a command list in guest RAM reports the
 * drive, the drive's detach is a surprise removal the port shows, its CD-ROM is a media slot, and the
 * HBA leaves with its configuration.
 */
@RunWith(PaxExam.class)
@ExamReactorStrategy(PerClass.class)
public class AhciIT extends SpindleTestSupport {
    private static final PciAddress AT = PciAddress.parse("00:03.0");
    private static final long ABAR = 0xE000_0000L;
    private static final long PORT0 = ABAR + 0x100;
    private static final long LIST = 0x10_0000;
    private static final long TABLE = 0x11_0000;
    private static final long DATA = 0x12_0000;

    @Configuration
    public Option[] config() {
        return options(spindleBundles());
    }

    private Machine machine(String name) {
        return service(Machine.class, "(" + Machine.NAME + "=" + name + ")");
    }

    private <T> T service(Class<T> type, String filter) {
        try {
            var refs = context.getServiceReferences(type, filter);
            return refs.isEmpty() ? null : context.getService(refs.iterator().next());
        } catch (Exception e) {
            return null;
        }
    }

    private static boolean plugged(Machine m) {
        try {
            return m.call(m::pciFunctions).containsKey(AT);
        } catch (Exception e) {
            return false;
        }
    }

    private static long reg(Machine m, long offset) throws Exception {
        return m.call(() -> m.mmio().read(PORT0 + offset, 4));
    }

    private static void reg(Machine m, long offset, long value) throws Exception {
        m.call(() -> {
            m.mmio().write(PORT0 + offset, 4, value);
            return null;
        });
    }

    @Test
    public void aConfiguredHbaHotPlugsItsDiskAsTheDriveComesAndGoes() throws Exception {
        org.osgi.service.cm.Configuration machineConfig = configAdmin.getConfiguration("org.spindle.machine", "?");
        machineConfig.update(props("name", "ahciit", "type", "pc", "ram", "64M"));
        await("the machine", () -> machine("ahciit") != null);
        Machine m = machine("ahciit");

        org.osgi.service.cm.Configuration sata = configAdmin.getFactoryConfiguration("org.spindle.device.ahci", "sata9", "?");
        sata.update(props("spindle.machine", "ahciit", "spindle.pci.address", AT.toString(), "link.delay", "0",
                "port.0", "disk:ahcihd", "port.1", "cdrom"));
        await("the HBA plugged at once, its disk not there yet", () -> plugged(m));
        PciFunction function = m.call(m::pciFunctions).get(AT);
        assertEquals(0x2922, function.config().deviceId());
        m.call(() -> {
            config(m, 0x24, ABAR);
            config(m, 0x04, 0x06);
            return null;
        });
        assertEquals("AHCI 1.3.1", 0x0001_0301L, m.call(() -> m.mmio().read(ABAR + 0x10, 4)).longValue());
        reg(m, 0x00, LIST);
        reg(m, 0x08, LIST + 0x400);
        reg(m, 0x18, 0x12); // FRE, SUD
        assertEquals("no device on port 0", 0, reg(m, 0x28));

        configureDrive("ahcihd", Map.of("backend", "memory:ahcihd?size=8M", "format", "raw"));
        awaitDrive("ahcihd");
        await("the disk hot-plugged: link up", () -> {
            try {
                return (reg(m, 0x28) & 0xF) == 3;
            } catch (Exception e) {
                return false;
            }
        });
        assertEquals(0x101, reg(m, 0x24));
        assertTrue("PCS and PRCS", (reg(m, 0x10) & (1 << 6 | 1 << 22)) == (1 << 6 | 1 << 22));
        reg(m, 0x30, -1);
        reg(m, 0x18, 0x13); // ST

        // IDENTIFY through a command header, a command FIS and a PRDT in guest RAM.
        m.call(() -> {
            m.memory().writeInt(LIST, 1 << 16 | 5);
            m.memory().writeLong(LIST + 8, TABLE);
            m.memory().writeInt(TABLE, 0xEC << 16 | 0x80 << 8 | 0x27);
            m.memory().writeLong(TABLE + 0x80, DATA);
            m.memory().writeInt(TABLE + 0x8C, 511);
            m.mmio().write(PORT0 + 0x38, 4, 1);
            return null;
        });
        await("IDENTIFY done", () -> {
            try {
                return reg(m, 0x38) == 0;
            } catch (Exception e) {
                return false;
            }
        });
        ByteBuffer id = ByteBuffer.allocate(512).order(ByteOrder.LITTLE_ENDIAN);
        m.call(() -> {
            m.memory().read(DATA, id);
            return null;
        });
        StringBuilder serial = new StringBuilder();
        for (int w = 10; w < 20; w++) {
            serial.append((char) id.get(2 * w + 1)).append((char) id.get(2 * w));
        }
        assertEquals("ahcihd", serial.toString().trim());
        assertEquals(8L * 1024 * 1024 / 512, id.getInt(200) & 0xFFFF_FFFFL);

        // The drive detached: the guest sees the disk pulled.
        reg(m, 0x30, -1);
        drives.detach("ahcihd");
        awaitGone("ahcihd");
        await("the disk pulled", () -> {
            try {
                return reg(m, 0x28) == 0 && (reg(m, 0x10) & 1 << 22) != 0;
            } catch (Exception e) {
                return false;
            }
        });

        RemovableMedia cd = service(RemovableMedia.class, "(" + RemovableMedia.SLOT + "=sata9.1)");
        assertNotNull("the CD-ROM on port 1 is a media slot", cd);
        assertFalse(cd.status().present);

        sata.delete();
        await("the HBA gone", () -> !plugged(m));
        await("the media service gone", () -> service(RemovableMedia.class, "(" + RemovableMedia.SLOT + "=sata9.1)") == null);
        machineConfig.delete();
    }

    private static void config(Machine m, int offset, long value) {
        m.io().write(0xCF8, 4, 0x8000_0000L | AT.device() << 11 | AT.function() << 8 | offset & 0xFC);
        m.io().write(0xCFC + (offset & 3), 4, value);
    }
}
