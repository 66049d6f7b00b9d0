package org.spindle.qemu;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * The machine a QEMU command line asks for, in the subset that QEMU-style device test programs
 * (libqtest) use: what {@code spindle-system-x86_64} builds. Anything outside that subset is refused
 * with a message naming it (the launcher then exits with status 1), never ignored.
 *
 * <p>Storage is described as QEMU describes it: drives ({@code -drive}, {@code -blockdev}) are images,
 * and each is attached to a place on a controller, either by {@code -drive if=ide} (the board's IDE
 * places in index order: the PIIX3's four on {@code pc}, the ICH9 AHCI's six ports on {@code q35})
 * or by {@code -device ide-hd|ide-cd,drive=ID[,bus=…]}.
 *
 * @param machine {@code pc}, {@code q35} or {@code none}
 * @param ramBytes the RAM size ({@code -m}; 128 MiB unless given)
 * @param qtest where the qtest socket is ({@code unix:PATH} or {@code tcp:HOST:PORT}), or {@code null}
 * @param qtestLog where qtest traffic is logged ({@code -qtest-log}), or {@code null}
 * @param monitor the QMP monitor, or {@code null}
 * @param drives the images, by id
 * @param controllers the storage controllers with what is attached to them: the board's own first
 * @param firmwareDir {@code -L}, or {@code null}
 * @param noDefaults whether {@code -nodefaults} was given
 */
public record QemuCommandLine(String machine, long ramBytes, String qtest, String qtestLog, Monitor monitor,
        Map<String, Drive> drives, List<Controller> controllers, String firmwareDir, boolean noDefaults) {

    /** QEMU's default RAM size. */
    public static final long DEFAULT_RAM = 128L << 20;

    /**
     * An image.
     *
     * @param id the drive's id (QEMU's block device name, which {@code qemu-io} commands name)
     * @param file the image file, or {@code null} for a CD-ROM drive without a disc
     * @param format {@code raw} or {@code qcow2}
     * @param cache QEMU's cache mode: {@code writeback}, {@code none}, {@code writethrough},
     *        {@code directsync} or {@code unsafe}
     * @param werror what a write error does: {@code report}, {@code stop}, {@code ignore} or {@code enospc}
     * @param rerror what a read error does: {@code report}, {@code stop} or {@code ignore}
     * @param debug for an image given as {@code blkdebug:CONFIG:IMAGE}, the error-injection rules' file
     *        ({@code ""} when there is none, as in {@code blkdebug::IMAGE}); {@code null} for a plain image
     */
    public record Drive(String id, String file, String format, boolean readOnly, String cache, String werror,
            String rerror, String debug) {
        /** A plain image (no {@code blkdebug:}). */
        public Drive(String id, String file, String format, boolean readOnly, String cache, String werror,
                String rerror) {
            this(id, file, format, readOnly, cache, werror, rerror, null);
        }
    }

    /**
     * What sits at one place of a controller.
     *
     * @param place the port (AHCI) or channel*2+unit (IDE)
     * @param cdrom an ATAPI CD-ROM rather than an ATA disk
     * @param drive the drive's id, or {@code null} for a CD-ROM without a disc
     * @param id the device's id ({@code -device …,id=}), or {@code null}
     * @param serial the IDENTIFY serial number, or {@code null} for Spindle's default
     * @param version the IDENTIFY firmware revision, or {@code null}
     * @param model the IDENTIFY model, or {@code null}
     */
    public record Attachment(int place, boolean cdrom, String drive, String id, String serial, String version,
            String model) {
    }

    /**
     * A storage controller.
     *
     * @param kind {@code piix3-ide} or {@code ahci}
     * @param id its id: {@code ide} for the board's own (QEMU names its buses {@code ide.N}), else
     *        {@code -device ahci,id=}
     * @param address its PCI address {@code BB:DD.F}, or {@code null} for the first free slot
     * @param places how many places it has
     */
    public record Controller(String kind, String id, String address, int places, List<Attachment> attached) {
    }

    /**
     * The QMP monitor's socket.
     *
     * @param chardev the {@code -chardev} id
     * @param address {@code unix:PATH} or {@code tcp:HOST:PORT}
     * @param server whether Spindle listens there ({@code server=on}) rather than connecting (libqtest
     *        listens, so by default Spindle connects, as QEMU does)
     * @param pretty whether replies are pretty-printed
     */
    public record Monitor(String chardev, String address, boolean server, boolean pretty) {
    }

    /** The options taken, with whether each has an argument. */
    private static final Map<String, Boolean> OPTIONS = new LinkedHashMap<>();

    static {
        for (String o : new String[] {"machine", "M", "m", "drive", "blockdev", "device", "global", "qtest",
            "qtest-log", "chardev", "mon", "display", "audio", "accel", "L"}) {
            OPTIONS.put(o, true);
        }
        OPTIONS.put("nodefaults", false);
    }

    /**
     * Parses the arguments after the program name.
     *
     * @throws QemuCommandLineException naming the first thing Spindle does not take
     */
    public static QemuCommandLine parse(List<String> args) throws QemuCommandLineException {
        return new Parser().parse(args);
    }

    /** The drive of {@code id}, or {@code null}. */
    public Drive drive(String id) {
        return drives.get(id);
    }

    private static final class Parser {
        private String machine = "pc";
        private long ram = DEFAULT_RAM;
        private String qtest;
        private String qtestLog;
        private String firmware;
        private boolean noDefaults;
        private final Map<String, Drive> drives = new LinkedHashMap<>();
        /** {@code -drive if=ide} drives in order, with the index asked for (-1: the next free). */
        private final List<Map.Entry<Integer, String>> ideDrives = new ArrayList<>();
        private final List<String> cdromDrives = new ArrayList<>();
        private final List<QemuOptions> devices = new ArrayList<>();
        private final Map<String, Map<String, String>> globals = new LinkedHashMap<>();
        private final Map<String, QemuOptions> chardevs = new LinkedHashMap<>();
        private QemuOptions mon;
        /** PCI slots ({@code 00:DD}) given to -device addr=. */
        private final java.util.Set<String> slotsTaken = new java.util.HashSet<>();
        private int anonymous;

        QemuCommandLine parse(List<String> args) throws QemuCommandLineException {
            for (int i = 0; i < args.size(); i++) {
                String arg = args.get(i);
                if (!arg.startsWith("-") || arg.length() == 1) {
                    throw new QemuCommandLineException("'" + arg + "': Spindle takes options only (an image is given"
                            + " with -drive file=…)");
                }
                String name = arg.startsWith("--") ? arg.substring(2) : arg.substring(1);
                Boolean takesArgument = OPTIONS.get(name);
                if (takesArgument == null) {
                    throw new QemuCommandLineException(arg + ": not an option Spindle supports (it takes "
                            + String.join(", ", OPTIONS.keySet().stream().map(o -> "-" + o).toList()) + ")");
                }
                String value = null;
                if (takesArgument) {
                    if (i + 1 >= args.size()) {
                        throw new QemuCommandLineException(arg + " needs an argument");
                    }
                    value = args.get(++i);
                }
                option("-" + name, value);
            }
            return build();
        }

        private void option(String name, String value) throws QemuCommandLineException {
            switch (name) {
                case "-machine", "-M" -> machine(QemuOptions.parse(name, value, "type"));
                case "-m" -> ram = ram(QemuOptions.parse(name, value, "size"));
                case "-drive" -> drive(QemuOptions.parse(name, value, null));
                case "-blockdev" -> blockdev(value);
                case "-device" -> devices.add(QemuOptions.parse(name, value, "driver"));
                case "-global" -> global(value);
                case "-qtest" -> qtest = address(name, value);
                case "-qtest-log" -> qtestLog = value;
                case "-chardev" -> chardev(QemuOptions.parse(name, value, "backend"));
                case "-mon" -> {
                    if (mon != null) {
                        throw new QemuCommandLineException("-mon: Spindle runs one monitor");
                    }
                    mon = QemuOptions.parse(name, value, "chardev");
                }
                case "-display" -> only(name, value, "none");
                case "-audio" -> only(name, value, "none");
                case "-accel" -> only(name, value, "qtest");
                case "-L" -> firmware = value;
                case "-nodefaults" -> noDefaults = true;
                default -> throw new IllegalStateException(name);
            }
        }

        private static void only(String name, String value, String allowed) throws QemuCommandLineException {
            QemuOptions o = QemuOptions.parse(name, value, name.equals("-accel") ? "accel" : "driver");
            String v = o.get(name.equals("-accel") ? "accel" : "driver", "");
            if (!v.equals(allowed)) {
                throw new QemuCommandLineException(name + " " + value + ": Spindle takes only " + name + " " + allowed);
            }
            o.rejectUnused();
        }

        private void machine(QemuOptions o) throws QemuCommandLineException {
            String type = o.get("type", machine);
            if (type.equals("pc") || type.startsWith("pc-i440fx-")) {
                machine = "pc";
            } else if (type.equals("q35") || type.startsWith("pc-q35-")) {
                machine = "q35";
            } else if (type.equals("none")) {
                machine = "none";
            } else {
                throw new QemuCommandLineException("-machine " + type + ": Spindle has pc (i440FX + PIIX3) and q35"
                        + " (Q35 + ICH9)");
            }
            String accel = o.get("accel", "qtest");
            if (!accel.equals("qtest")) {
                throw new QemuCommandLineException("-machine accel=" + accel + ": Spindle takes only accel=qtest");
            }
            o.rejectUnused();
        }

        private static long ram(QemuOptions o) throws QemuCommandLineException {
            String size = o.require("size");
            o.rejectUnused();
            long unit = 1L << 20;
            String digits = size;
            char last = size.isEmpty() ? ' ' : Character.toUpperCase(size.charAt(size.length() - 1));
            if ("KMGT".indexOf(last) >= 0 && size.length() > 1) {
                unit = switch (last) {
                    case 'K' -> 1L << 10;
                    case 'M' -> 1L << 20;
                    case 'G' -> 1L << 30;
                    default -> 1L << 40;
                };
                digits = size.substring(0, size.length() - 1);
            }
            long n;
            try {
                n = Long.parseLong(digits);
            } catch (NumberFormatException e) {
                throw new QemuCommandLineException("-m " + size + ": not a size (write 128, 128M or 1G)");
            }
            if (n <= 0 || n > (1L << 40) / unit || (n * unit) % (1L << 20) != 0) {
                throw new QemuCommandLineException("-m " + size + ": RAM is whole MiB, from 1 MiB to 1 TiB");
            }
            return n * unit;
        }

        private void drive(QemuOptions o) throws QemuCommandLineException {
            String iface = o.oneOf("if", "ide", "ide", "none");
            String media = o.oneOf("media", "disk", "disk", "cdrom");
            String file = o.get("file", null);
            if (file != null && file.isEmpty()) {
                file = null;
            }
            String format = o.oneOf("format", "raw", "raw", "qcow2");
            boolean readOnly = o.flag("readonly", false) || media.equals("cdrom");
            String cache = o.oneOf("cache", "writeback", "writeback", "none", "writethrough", "directsync", "unsafe");
            String werror = o.oneOf("werror", "enospc", "report", "stop", "ignore", "enospc");
            String rerror = o.oneOf("rerror", "report", "report", "stop", "ignore");
            int index = number(o, "index", 0, 15);
            int bus = number(o, "bus", 0, 15);
            int unit = number(o, "unit", 0, 1);
            String id = o.get("id", null);
            o.rejectUnused();
            if (file == null && !media.equals("cdrom")) {
                throw new QemuCommandLineException("-drive: a disk needs file= (only a CD-ROM drive may be empty)");
            }
            if (index >= 0 && (bus >= 0 || unit >= 0)) {
                throw new QemuCommandLineException("-drive: index= cannot go with bus= or unit=");
            }
            // QEMU counts index in units of the board's places per bus: two on the pc's IDE, one on the
            // q35's AHCI (units_per_default_bus)
            int perBus = machine.equals("q35") ? 1 : 2;
            if (unit >= perBus) {
                throw new QemuCommandLineException("-drive unit=" + unit + ": the " + machine + "'s IDE buses take "
                        + perBus + " device" + (perBus == 1 ? "" : "s") + " each");
            }
            if (index < 0 && bus >= 0) {
                index = bus * perBus + Math.max(unit, 0);
            } else if (index < 0 && unit >= 0) {
                index = unit;
            }
            if (id == null) {
                if (!iface.equals("ide")) {
                    throw new QemuCommandLineException("-drive if=none needs id= (a device names it with drive=)");
                }
                id = "@ide" + (anonymous++);
            }
            String debug = null;
            if (file != null && file.startsWith("blkdebug:")) {
                // blkdebug:RULES:IMAGE, or blkdebug::IMAGE without rules
                int colon = file.indexOf(':', 9);
                if (colon < 0 || colon == file.length() - 1) {
                    throw new QemuCommandLineException("-drive file=" + file + ": write blkdebug:RULES-FILE:IMAGE"
                            + " (or blkdebug::IMAGE)");
                }
                debug = file.substring(9, colon);
                file = file.substring(colon + 1);
            }
            addDrive(new Drive(id, file, format, readOnly, cache, werror, rerror, debug));
            if (iface.equals("ide")) {
                ideDrives.add(Map.entry(index, id));
                if (media.equals("cdrom")) {
                    cdromDrives.add(id);
                }
            }
        }

        private void addDrive(Drive d) throws QemuCommandLineException {
            if (!d.id().matches("[A-Za-z@][A-Za-z0-9._-]{0,63}")) {
                throw new QemuCommandLineException("drive id '" + d.id() + "': letters, digits, '.', '_' and '-',"
                        + " starting with a letter");
            }
            if (drives.putIfAbsent(d.id(), d) != null) {
                throw new QemuCommandLineException("drive id '" + d.id() + "' is given twice");
            }
        }

        private static int number(QemuOptions o, String key, int min, int max) throws QemuCommandLineException {
            String v = o.get(key, null);
            if (v == null) {
                return -1;
            }
            try {
                int n = Integer.parseInt(v);
                if (n >= min && n <= max) {
                    return n;
                }
            } catch (NumberFormatException e) {
                // the message below
            }
            throw new QemuCommandLineException("-drive " + key + "=" + v + ": " + min + " to " + max);
        }

        /**
         * {@code -blockdev} in its key=value form: a {@code file} node ({@code driver=file,node-name=N,
         * filename=F}), or a format node over one ({@code driver=raw|qcow2,node-name=N,file=FILE-NODE}, or
         * with {@code file.driver=file,file.filename=F}). A file node is an image as raw until a format
         * node takes it over.
         */
        private void blockdev(String value) throws QemuCommandLineException {
            if (value.startsWith("{")) {
                throw new QemuCommandLineException("-blockdev " + value + ": Spindle takes the key=value form"
                        + " (driver=file,node-name=N,filename=F)");
            }
            QemuOptions o = QemuOptions.parse("-blockdev", value, null);
            String driver = o.oneOf("driver", null, "file", "raw", "qcow2");
            String node = o.get("node-name", null);
            boolean readOnly = o.flag("read-only", false);
            if (driver == null || node == null) {
                throw new QemuCommandLineException("-blockdev " + value + ": driver= and node-name= are needed");
            }
            String file;
            if (driver.equals("file")) {
                file = o.require("filename");
                o.rejectUnused();
                addDrive(new Drive(node, file, "raw", readOnly, "writeback", "enospc", "report"));
                return;
            }
            String child = o.get("file", null);
            if (child != null) {
                Drive base = drives.remove(child);
                if (base == null) {
                    throw new QemuCommandLineException("-blockdev " + value + ": file=" + child + " names no earlier"
                            + " -blockdev driver=file node");
                }
                file = base.file();
                readOnly |= base.readOnly();
            } else {
                o.oneOf("file.driver", null, "file");
                file = o.require("file.filename");
            }
            o.rejectUnused();
            addDrive(new Drive(node, file, driver, readOnly, "writeback", "enospc", "report"));
        }

        /** {@code -global DRIVER.PROPERTY=VALUE}, or {@code driver=D,property=P,value=V}. */
        private void global(String value) throws QemuCommandLineException {
            String driver;
            String property;
            String v;
            int eq = value.indexOf('=');
            int dot = value.indexOf('.');
            if (value.startsWith("driver=")) {
                QemuOptions o = QemuOptions.parse("-global", value, null);
                driver = o.require("driver");
                property = o.require("property");
                v = o.require("value");
                o.rejectUnused();
            } else if (dot > 0 && eq > dot) {
                driver = value.substring(0, dot);
                property = value.substring(dot + 1, eq);
                v = value.substring(eq + 1);
            } else {
                throw new QemuCommandLineException("-global " + value + ": write DRIVER.PROPERTY=VALUE");
            }
            if (!(driver.equals("ide-hd") || driver.equals("ide-cd") || driver.equals("ide-drive"))
                    || !(property.equals("serial") || property.equals("ver") || property.equals("model"))) {
                throw new QemuCommandLineException("-global " + value + ": Spindle takes serial, ver and model of"
                        + " ide-hd, ide-cd and ide-drive");
            }
            if (driver.equals("ide-drive")) {
                globals.computeIfAbsent("ide-hd", k -> new LinkedHashMap<>()).put(property, v);
                globals.computeIfAbsent("ide-cd", k -> new LinkedHashMap<>()).put(property, v);
            } else {
                globals.computeIfAbsent(driver, k -> new LinkedHashMap<>()).put(property, v);
            }
        }

        /** An address as the qtest front door takes it ({@code unix:PATH} or {@code tcp:HOST:PORT}). */
        private static String address(String option, String value) throws QemuCommandLineException {
            try {
                org.spindle.machine.qtest.QtestServer.address(value);
            } catch (IllegalArgumentException e) {
                throw new QemuCommandLineException(option + " " + value + ": " + e.getMessage());
            }
            return value;
        }

        private void chardev(QemuOptions o) throws QemuCommandLineException {
            String backend = o.get("backend", null);
            String id = o.get("id", null);
            if (id == null) {
                throw new QemuCommandLineException("-chardev needs id=");
            }
            if (!"socket".equals(backend)) {
                throw new QemuCommandLineException("-chardev " + backend + ": Spindle takes socket chardevs only");
            }
            if (chardevs.putIfAbsent(id, o) != null) {
                throw new QemuCommandLineException("-chardev id '" + id + "' is given twice");
            }
        }

        private Monitor monitor() throws QemuCommandLineException {
            if (mon == null) {
                return null;
            }
            String id = mon.require("chardev");
            String mode = mon.get("mode", "readline");
            if (!mode.equals("control")) {
                throw new QemuCommandLineException("-mon chardev=" + id + ",mode=" + mode + ": Spindle's monitor speaks"
                        + " QMP only (mode=control), not the human monitor");
            }
            boolean pretty = mon.flag("pretty", false);
            mon.rejectUnused();
            QemuOptions c = chardevs.get(id);
            if (c == null) {
                throw new QemuCommandLineException("-mon chardev=" + id + ": no -chardev has that id");
            }
            String path = c.get("path", null);
            String host = c.get("host", null);
            String port = c.get("port", null);
            boolean server = c.flag("server", false);
            c.flag("wait", true);
            c.rejectUnused();
            if ((path == null) == (port == null) || (path != null && host != null)) {
                throw new QemuCommandLineException("-chardev socket,id=" + id + ": give path= (a Unix socket) or"
                        + " host= and port=");
            }
            String address = path != null ? "unix:" + path : "tcp:" + (host == null ? "127.0.0.1" : host) + ":" + port;
            return new Monitor(id, address("-chardev", address), server, pretty);
        }

        private QemuCommandLine build() throws QemuCommandLineException {
            Monitor monitor = monitor();
            for (Map.Entry<String, QemuOptions> c : chardevs.entrySet()) {
                if (monitor == null || !monitor.chardev().equals(c.getKey())) {
                    throw new QemuCommandLineException("-chardev id=" + c.getKey() + ": Spindle uses a chardev only"
                            + " as the monitor's (-mon chardev=" + c.getKey() + ",mode=control)");
                }
            }
            List<Controller> controllers = new ArrayList<>();
            List<Attachment[]> places = new ArrayList<>();
            Map<String, Integer> controllerOf = new LinkedHashMap<>();
            if (machine.equals("pc")) {
                controllers.add(new Controller("piix3-ide", "ide", "00:01.1", 4, List.of()));
                places.add(new Attachment[4]);
                controllerOf.put("ide", 0);
            } else if (machine.equals("q35")) {
                controllers.add(new Controller("ahci", "ide", "00:1f.2", 6, List.of()));
                places.add(new Attachment[6]);
                controllerOf.put("ide", 0);
            }
            java.util.Set<String> used = new java.util.HashSet<>();
            // -drive if=ide: the board's places, by index (the next free one when none is given)
            for (Map.Entry<Integer, String> e : ideDrives) {
                if (places.isEmpty()) {
                    throw new QemuCommandLineException("-drive if=ide: -machine none has no IDE controller");
                }
                Attachment[] board = places.get(0);
                int place = e.getKey();
                if (place < 0) {
                    place = 0;
                    while (place < board.length && board[place] != null) {
                        place++;
                    }
                }
                if (place >= board.length) {
                    throw new QemuCommandLineException("-drive if=ide: no free IDE place for drive " + e.getValue()
                            + " (the " + machine + " has " + board.length + ")");
                }
                if (board[place] != null) {
                    throw new QemuCommandLineException("-drive if=ide: place " + place + " is taken twice");
                }
                boolean cdrom = cdromDrives.contains(e.getValue());
                String id = e.getValue();
                if (id.startsWith("@")) {
                    // QEMU's name for a drive without id=: ide<BUS>-hd<UNIT> or ide<BUS>-cd<UNIT>
                    int perBus = machine.equals("q35") ? 1 : 2;
                    id = "ide" + place / perBus + (cdrom ? "-cd" : "-hd") + place % perBus;
                    Drive d = drives.remove(e.getValue());
                    if (drives.containsKey(id)) {
                        throw new QemuCommandLineException("drive id '" + id + "' is given twice (it is also the name of"
                                + " the drive at IDE index " + place + ")");
                    }
                    drives.put(id, new Drive(id, d.file(), d.format(), d.readOnly(), d.cache(), d.werror(), d.rerror(),
                            d.debug()));
                }
                board[place] = attachment(place, cdrom, id, null, Map.of());
                used.add(id);
            }
            for (QemuOptions d : devices) {
                String driver = d.get("driver", "");
                switch (driver) {
                    case "ahci" -> {
                        String id = deviceId(driver, d.get("id", null));
                        String addr = pciAddress(d.get("addr", null));
                        if (addr != null) {
                            String slot = addr.substring(0, 5);
                            String board = machine.equals("q35") ? "00:1f" : "00:01";
                            if (slot.equals("00:00") || slot.equals(board) || !slotsTaken.add(slot)) {
                                throw new QemuCommandLineException("-device ahci,addr=" + d.get("addr", null)
                                        + ": PCI slot " + slot + " is not free");
                            }
                        }
                        d.get("bus", null);
                        d.rejectUnused();
                        if (machine.equals("none")) {
                            throw new QemuCommandLineException("-device ahci: -machine none has no PCI bus");
                        }
                        String name = id == null ? "ahci" + controllers.size() : id;
                        if (controllerOf.putIfAbsent(name, controllers.size()) != null) {
                            throw new QemuCommandLineException("-device ahci,id=" + name + ": the id is taken");
                        }
                        controllers.add(new Controller("ahci", name, addr, 6, List.of()));
                        places.add(new Attachment[6]);
                    }
                    case "ide-hd", "ide-cd" -> {
                    }
                    case "nvme" -> throw new QemuCommandLineException("-device nvme: not supported: Spindle has no NVMe"
                            + " controller yet");
                    case "virtio-blk-pci", "virtio-blk" -> throw new QemuCommandLineException("-device " + driver
                            + ": not supported: Spindle has no virtio-blk controller yet");
                    default -> throw new QemuCommandLineException("-device " + driver + ": not a device Spindle has"
                            + " (ahci, ide-hd, ide-cd)");
                }
            }
            // ide-hd and ide-cd after every controller, so that a bus may name one given later
            for (QemuOptions d : devices) {
                String driver = d.get("driver", "");
                if (!driver.equals("ide-hd") && !driver.equals("ide-cd")) {
                    continue;
                }
                boolean cdrom = driver.equals("ide-cd");
                String drive = d.get("drive", null);
                String bus = d.get("bus", null);
                String unitText = d.get("unit", null);
                if (unitText != null && !unitText.matches("[01]")) {
                    throw new QemuCommandLineException("-device " + driver + ",unit=" + unitText + ": 0 or 1");
                }
                int unit = unitText == null ? -1 : Integer.parseInt(unitText);
                String id = deviceId(driver, d.get("id", null));
                Map<String, String> props = new LinkedHashMap<>(globals.getOrDefault(driver, Map.of()));
                for (String p : new String[] {"serial", "ver", "model"}) {
                    String v = d.get(p, null);
                    if (v != null) {
                        props.put(p, v);
                    }
                }
                d.rejectUnused();
                if (drive == null && !cdrom) {
                    throw new QemuCommandLineException("-device ide-hd needs drive=");
                }
                if (drive != null && !drives.containsKey(drive)) {
                    throw new QemuCommandLineException("-device " + driver + ",drive=" + drive + ": no -drive or"
                            + " -blockdev has that id");
                }
                if (drive != null && !used.add(drive)) {
                    throw new QemuCommandLineException("-device " + driver + ",drive=" + drive + ": the drive is"
                            + " attached twice");
                }
                int controller;
                int place;
                if (bus != null) {
                    int dot = bus.lastIndexOf('.');
                    Integer c = dot > 0 ? controllerOf.get(bus.substring(0, dot)) : null;
                    if (c == null || !bus.substring(dot + 1).matches("\\d{1,2}")) {
                        throw new QemuCommandLineException("-device " + driver + ",bus=" + bus + ": no such bus"
                                + " (the board's are ide.N; an AHCI's are ID.N)");
                    }
                    controller = c;
                    int n = Integer.parseInt(bus.substring(dot + 1));
                    boolean ide = controllers.get(c).kind().equals("piix3-ide");
                    place = ide ? n * 2 + Math.max(unit, 0) : n;
                    if ((ide && (n > 1 || unit > 1)) || (!ide && (n >= 6 || unit > 0))) {
                        throw new QemuCommandLineException("-device " + driver + ",bus=" + bus
                                + (unit >= 0 ? ",unit=" + unit : "") + ": no such place");
                    }
                    if (places.get(c)[place] != null) {
                        if (ide && unit < 0 && places.get(c)[place + 1] == null) {
                            place++;
                        } else {
                            throw new QemuCommandLineException("-device " + driver + ",bus=" + bus + ": taken");
                        }
                    }
                } else {
                    controller = -1;
                    place = -1;
                    for (int c = 0; c < places.size() && controller < 0; c++) {
                        for (int p = 0; p < places.get(c).length; p++) {
                            if (places.get(c)[p] == null) {
                                controller = c;
                                place = p;
                                break;
                            }
                        }
                    }
                    if (controller < 0) {
                        throw new QemuCommandLineException("-device " + driver + ": no free IDE or AHCI place");
                    }
                }
                places.get(controller)[place] = attachment(place, cdrom, drive, id, props);
            }
            // a drive no device uses stays known: QMP may insert it as a medium (blockdev-insert-medium)
            List<Controller> out = new ArrayList<>();
            for (int c = 0; c < controllers.size(); c++) {
                List<Attachment> attached = new ArrayList<>();
                for (Attachment a : places.get(c)) {
                    if (a != null) {
                        attached.add(a);
                    }
                }
                Controller k = controllers.get(c);
                out.add(new Controller(k.kind(), k.id(), k.address(), k.places(), List.copyOf(attached)));
            }
            return new QemuCommandLine(machine, ram, qtest, qtestLog, monitor, java.util.Collections.unmodifiableMap(
                    new LinkedHashMap<>(drives)), List.copyOf(out), firmware, noDefaults);
        }

        private Attachment attachment(int place, boolean cdrom, String drive, String id, Map<String, String> props) {
            Map<String, String> p = new LinkedHashMap<>(globals.getOrDefault(cdrom ? "ide-cd" : "ide-hd", Map.of()));
            p.putAll(props);
            return new Attachment(place, cdrom, drive, id, p.get("serial"), p.get("ver"), p.get("model"));
        }

        /** A device's {@code id=}: as QEMU's identifiers, a letter then letters, digits, '-', '.', '_'. */
        private static String deviceId(String driver, String id) throws QemuCommandLineException {
            if (id != null && !isDeviceId(id)) {
                throw new QemuCommandLineException("-device " + driver + ",id=" + id + ": an id is a letter, then up to"
                        + " 31 letters, digits, '-', '.' or '_'");
            }
            return id;
        }

        private static String pciAddress(String addr) throws QemuCommandLineException {
            try {
                return addr == null ? null : QemuCommandLine.pciAddress(addr);
            } catch (IllegalArgumentException e) {
                throw new QemuCommandLineException("-device addr=" + addr + ": write SLOT.FUNCTION, as 04.0");
            }
        }
    }

    private static final java.util.regex.Pattern DEVICE_ID = java.util.regex.Pattern.compile("[A-Za-z][A-Za-z0-9._-]{0,31}");
    private static final java.util.regex.Pattern ADDR = java.util.regex.Pattern.compile("(?:0x)?([0-9a-fA-F]{1,2})(?:\\.([0-7]))?");

    /** Whether {@code id} is a device id as QEMU's identifiers are: a letter, then letters, digits, '-', '.', '_'. */
    public static boolean isDeviceId(String id) {
        return DEVICE_ID.matcher(id).matches();
    }

    /**
     * A device's {@code addr=} ({@code SS.F}, {@code SS} or {@code 0xSS}, hexadecimal) as {@code 00:SS.F}.
     *
     * @throws IllegalArgumentException when it is not one
     */
    public static String pciAddress(String addr) {
        java.util.regex.Matcher m = ADDR.matcher(addr);
        if (!m.matches() || Integer.parseInt(m.group(1), 16) > 31) {
            throw new IllegalArgumentException("addr=" + addr + " is not SLOT.FUNCTION");
        }
        return String.format(Locale.ROOT, "00:%02x.%s", Integer.parseInt(m.group(1), 16),
                m.group(2) == null ? "0" : m.group(2));
    }
}
