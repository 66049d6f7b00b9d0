package org.spindle.qemu.internal;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;

import org.spindle.qemu.QemuCommandLine;
import org.spindle.qemu.QemuCommandLine.Attachment;
import org.spindle.qemu.QemuCommandLine.Controller;
import org.spindle.qemu.QemuCommandLine.Drive;

/**
 * The configurations that build what a QEMU command line asks for: one {@code org.spindle.drive} per
 * image, one {@code org.spindle.device.ide} or {@code org.spindle.device.ahci} per controller, and the
 * {@code org.spindle.machine}. Pure: nothing here touches the framework.
 *
 * @param drives the drive configurations
 * @param controllers the controller configurations, the board's first
 * @param machine the machine configuration
 * @param slots the media slot ({@code RemovableMedia.SLOT}) of every CD-ROM, by the names QMP knows it by
 * @param layered the drives the front end puts a {@link DebugDrive} over (blkdebug, or an error policy
 *        of {@code stop}): their images' drives are {@code ID.base}, and the front end registers drive ID
 */
record Assembly(List<Conf> drives, List<Conf> controllers, Conf machine, List<CdromSlot> slots, List<Layered> layered) {
    static final String DRIVE_FACTORY = "org.spindle.drive";
    static final String IDE_FACTORY = "org.spindle.device.ide";
    static final String AHCI_FACTORY = "org.spindle.device.ahci";
    static final String MACHINE_PID = "org.spindle.machine";
    private static final String[] IDE_KEYS = {"primary.master", "primary.slave", "secondary.master", "secondary.slave"};

    /**
     * One configuration.
     *
     * @param pid the factory PID, or the PID of a singleton
     * @param name the factory configuration's name, or {@code null} for a singleton
     * @param address for a controller, the PCI address it is plugged at
     */
    record Conf(String pid, String name, Map<String, Object> props, String address) {
    }

    /**
     * A drive the front end layers over the image's drive {@code base}.
     *
     * @param rules the blkdebug rules file, {@code ""} for none, or {@code null} when not a blkdebug drive
     */
    record Layered(String id, String base, String rules, String werror, String rerror) {
    }

    /**
     * A CD-ROM as QMP names it.
     *
     * @param slot its {@code RemovableMedia} slot
     * @param drive the block device's name (the drive id), or {@code ""} for a CD-ROM given no drive
     * @param id the device's id ({@code -device ide-cd,id=}), or {@code ""}
     */
    record CdromSlot(String slot, String drive, String id) {
    }

    /**
     * @param machineName the machine's name, which every controller is tied to
     * @param cwd what relative image paths are relative to
     */
    static Assembly of(QemuCommandLine c, String machineName, Path cwd) {
        List<Conf> drives = new ArrayList<>();
        List<Layered> layered = new ArrayList<>();
        Set<String> layeredIds = new java.util.HashSet<>();
        for (Drive d : c.drives().values()) {
            policy("werror", d.werror(), d);
            policy("rerror", d.rerror(), d);
            if (d.file() == null) {
                continue;
            }
            if (d.debug() != null || d.werror().equals("stop") || d.rerror().equals("stop")) {
                String base = d.id() + ".base";
                Map<String, Object> props = drive(d, cwd);
                props.put("id", base);
                drives.add(new Conf(DRIVE_FACTORY, base, props, null));
                layered.add(new Layered(d.id(), base, d.debug(), d.werror(), d.rerror()));
                layeredIds.add(d.id());
            } else {
                drives.add(new Conf(DRIVE_FACTORY, d.id(), drive(d, cwd), null));
            }
        }
        Set<Integer> taken = new TreeSet<>(List.of(0, c.machine().equals("q35") ? 0x1f : 1));
        for (Controller k : c.controllers()) {
            if (k.address() != null) {
                taken.add(Integer.parseInt(k.address().substring(3, 5), 16));
            }
        }
        List<Conf> controllers = new ArrayList<>();
        List<CdromSlot> slots = new ArrayList<>();
        for (Controller k : c.controllers()) {
            String address = k.address();
            if (address == null) {
                int slot = freeSlot(taken);
                if (slot < 0) {
                    throw new IllegalArgumentException("-device ahci: no free PCI slot on bus 0");
                }
                taken.add(slot);
                address = String.format(Locale.ROOT, "00:%02x.0", slot);
            }
            boolean ide = k.kind().equals("piix3-ide");
            Map<String, Object> props;
            if (ide) {
                props = controller(k.id(), address, machineName);
                for (String key : IDE_KEYS) {
                    props.put(key, "");
                }
            } else {
                props = ahci(k.id(), address, machineName, k.places());
            }
            for (Attachment a : k.attached()) {
                String key = ide ? IDE_KEYS[a.place()] : "port." + a.place();
                Drive d = a.drive() == null ? null : c.drive(a.drive());
                if (d != null && layeredIds.contains(d.id())) {
                    if (a.cdrom()) {
                        throw new IllegalArgumentException("-drive id=" + d.id() + ": blkdebug and werror/rerror=stop"
                                + " are for disks: a CD-ROM's reads run on the machine thread");
                    }
                    // a request may wait at a breakpoint or for cont: never on the machine thread, where it
                    // would hold the qtest connection too, and the guest sees the command in flight meanwhile
                    props.put("io", "workers");
                }
                String device = a.cdrom() ? (d == null || d.file() == null ? "cdrom" : "cdrom:" + d.id()) : "disk:" + d.id();
                props.put(key, device);
                putIfGiven(props, key + ".serial", a.serial());
                putIfGiven(props, key + ".firmware", a.version());
                putIfGiven(props, key + ".model", a.model());
                if (a.cdrom()) {
                    String slot = k.id() + "." + (ide ? (a.place() >> 1) + "." + (a.place() & 1) : a.place());
                    slots.add(new CdromSlot(slot, a.drive() == null ? "" : a.drive(), a.id() == null ? "" : a.id()));
                }
            }
            controllers.add(new Conf(ide ? IDE_FACTORY : AHCI_FACTORY, k.id(), props, address));
        }
        Map<String, Object> machine = new LinkedHashMap<>();
        machine.put("name", machineName);
        // -machine none: a board with nothing plugged (a qtest socket needs an address space to answer)
        machine.put("type", c.machine().equals("q35") ? "q35" : "pc");
        machine.put("ram", String.valueOf(c.ramBytes()));
        return new Assembly(drives, controllers, new Conf(MACHINE_PID, null, machine, null), slots, layered);
    }

    /** The settings every controller has: its name, PCI address and machine. */
    private static Map<String, Object> controller(String name, String address, String machineName) {
        Map<String, Object> props = new LinkedHashMap<>();
        props.put("name", name);
        props.put("spindle.pci.address", address);
        props.put("spindle.machine", machineName);
        return props;
    }

    /** An AHCI controller's settings, without devices (the command line's, or QMP device_add's). */
    static Map<String, Object> ahci(String name, String address, String machineName, int ports) {
        Map<String, Object> props = controller(name, address, machineName);
        props.put("ports", ports);
        // QEMU's links are up at once; a qtest clock moves only when the test moves it
        props.put("link.delay", 0L);
        return props;
    }

    /** The first slot from 2 up (0 and 1 are the board's) that is not {@code taken}, or -1 when none is. */
    static int freeSlot(Set<Integer> taken) {
        for (int slot = 2; slot < 32; slot++) {
            if (!taken.contains(slot)) {
                return slot;
            }
        }
        return -1;
    }

    /**
     * An error policy Spindle carries out: {@code report} (the guest gets the error), {@code stop} (the
     * machine stops until {@code cont}, and the request is tried again) and QEMU's default {@code enospc}
     * (stop on a full host disk, else report; on a drive without blkdebug or {@code stop}, Spindle
     * reports a full disk too). {@code ignore} is refused rather than quietly reported.
     */
    private static void policy(String key, String value, Drive d) {
        if (value.equals("ignore")) {
            throw new IllegalArgumentException("-drive id=" + d.id() + "," + key + "=" + value + ": not supported:"
                    + " Spindle reports an I/O error to the guest (report) or stops the machine (stop)");
        }
    }

    private static void putIfGiven(Map<String, Object> props, String key, String value) {
        if (value != null) {
            props.put(key, value);
        }
    }

    /** A drive's configuration: the image as an absolute {@code file:} URI, QEMU's cache mode as Spindle's. */
    static Map<String, Object> drive(Drive d, Path cwd) {
        Map<String, Object> props = new LinkedHashMap<>();
        props.put("id", d.id());
        props.put("backend", cwd.resolve(d.file()).toAbsolutePath().normalize().toUri().toString());
        props.put("format", d.format());
        props.put("readOnly", d.readOnly());
        props.put("cache", cache(d.cache()));
        return props;
    }

    /**
     * QEMU's cache modes as Spindle's: {@code none} bypasses the host's page cache but keeps the
     * guest-visible write cache, so it is {@code writeback} to the guest; {@code directsync} is
     * {@code writethrough}.
     */
    static String cache(String qemu) {
        return switch (qemu) {
            case "writethrough", "directsync" -> "writethrough";
            case "unsafe" -> "unsafe";
            default -> "writeback";
        };
    }
}
