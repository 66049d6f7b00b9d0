package org.spindle.qemu.internal;

import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.CopyOnWriteArraySet;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;

import org.spindle.machine.api.Machine;
import org.spindle.qemu.internal.Assembly.CdromSlot;
import org.spindle.qemu.internal.QmpConnection.Args;
import org.spindle.storage.api.Drive;
import org.spindle.storage.api.DriveDTO;
import org.spindle.storage.api.DriveManager;
import org.spindle.storage.api.DriveSpecDTO;
import org.spindle.storage.api.DriveState;
import org.spindle.storage.api.MediaStatusDTO;
import org.spindle.storage.api.RemovableMedia;
import org.spindle.storage.api.Resizable;
import org.spindle.storage.api.StorageException;

/**
 * The QMP commands of one machine, as QEMU answers them, and the events every connection hears. The
 * replies to {@code query-machines} and {@code qom-list-types} are those of the QEMU version given
 * ({@code compat}), since test programs check them against their own QEMU's schema strictly.
 */
final class QmpCommands {
    /** Where events go: each connection. */
    interface Sink {
        void event(String name, ObjectNode data);
    }

    /** What the commands act on. */
    interface Services {
        Machine machine();

        Optional<RemovableMedia> media(String slot);

        Optional<Drive> drive(String id);

        DriveManager drives();

        /** Ends the process with {@code status} (QMP {@code quit}). */
        void exit(int status);

        /** Hot-plugs an AHCI controller with id {@code id} (or none) at {@code address} (or a free slot). */
        void addController(String id, String address) throws QmpError;

        /** Asks the guest to give up the device {@code id}. */
        void deleteDevice(String id) throws QmpError;

        /** The blkdebug rules of drive {@code id}, if it is a {@code blkdebug:} drive. */
        default Optional<DebugRules> debugRules(String id) {
            return Optional.empty();
        }
    }

    /** A QOM type as {@code qom-list-types} lists it. */
    private record QomType(String name, String parent, boolean isAbstract) {
    }

    /** The types Spindle has, each with its parent; a device type descends from {@code device}. */
    private static final List<QomType> TYPES = List.of(
            new QomType("object", null, true),
            new QomType("device", "object", true),
            new QomType("pci-device", "device", true),
            new QomType("ide-device", "device", true),
            new QomType("pci-ide", "pci-device", true),
            new QomType("piix3-ide", "pci-ide", false),
            new QomType("ich9-ahci", "pci-device", false),
            new QomType("ide-hd", "ide-device", false),
            new QomType("ide-cd", "ide-device", false),
            new QomType("machine", "object", true),
            new QomType("x86-machine", "machine", true),
            new QomType("generic-pc-machine", "x86-machine", true),
            new QomType("none-machine", "machine", false));

    private final JsonNodeFactory json = JsonNodeFactory.instance;
    private final Services services;
    private final String compat;
    private final List<CdromSlot> slots;
    private final Set<Sink> sinks = new CopyOnWriteArraySet<>();
    /** The run state, under {@link #runLock}: {@code running}, {@code paused} or {@code io-error}. */
    private String status = "running";
    private final Object runLock = new Object();
    /** The nodes blockdev-add made, which blockdev-del may take away (QEMU's "owned by the monitor"). */
    private final Set<String> added = java.util.concurrent.ConcurrentHashMap.newKeySet();
    private boolean closed;
    /** Under {@link #runLock}: machine resets so far; a request waiting for cont from before one gives up. */
    private long resets;

    /**
     * @param compat the QEMU version whose schema the replies follow: {@code 7.2} or {@code 10.0}
     */
    QmpCommands(Services services, String compat, List<CdromSlot> slots) {
        if (!compat.equals("7.2") && !compat.equals("10.0")) {
            throw new IllegalArgumentException("QMP compat '" + compat + "': 7.2 or 10.0");
        }
        this.services = services;
        this.compat = compat;
        this.slots = List.copyOf(slots);
    }

    void add(Sink sink) {
        sinks.add(sink);
    }

    void remove(Sink sink) {
        sinks.remove(sink);
    }

    /** Tells every connection of {@code name}. */
    void event(String name, ObjectNode data) {
        for (Sink s : sinks) {
            s.event(name, data);
        }
    }

    /** A media change in {@code slot}: a tray that moved is {@code DEVICE_TRAY_MOVED}, written at once. */
    void mediaChanged(RemovableMedia.MediaEvent e) {
        boolean open = e.kind() == RemovableMedia.Kind.TRAY_OPENED;
        if (!open && e.kind() != RemovableMedia.Kind.TRAY_CLOSED) {
            return;
        }
        for (CdromSlot s : slots) {
            if (s.slot().equals(e.slot())) {
                ObjectNode data = json.objectNode();
                data.put("device", s.drive());
                data.put("id", s.id());
                data.put("tray-open", open);
                event("DEVICE_TRAY_MOVED", data);
            }
        }
    }

    ObjectNode greeting() {
        ObjectNode g = json.objectNode();
        ObjectNode qmp = g.putObject("QMP");
        qmp.set("version", version());
        // no out-of-band execution: QEMU offers none on such a monitor, and clients then ask for none
        qmp.putArray("capabilities");
        return g;
    }

    private ObjectNode version() {
        ObjectNode v = json.objectNode();
        ObjectNode q = v.putObject("qemu");
        String[] parts = compat.split("\\.");
        q.put("micro", 0);
        q.put("minor", Integer.parseInt(parts[1]));
        q.put("major", Integer.parseInt(parts[0]));
        v.put("package", "Spindle");
        return v;
    }

    JsonNode execute(String name, Args a) throws QmpError {
        switch (name) {
            case "query-version" -> {
                a.done();
                return version();
            }
            case "query-commands" -> {
                a.done();
                ArrayNode list = json.arrayNode();
                for (String c : COMMANDS) {
                    list.addObject().put("name", c);
                }
                return list;
            }
            case "query-machines" -> {
                a.optional("compat-props");
                a.done();
                return machines();
            }
            case "qom-list-types" -> {
                String implementing = a.optionalString("implements");
                boolean abstracts = a.bool("abstract", false);
                a.done();
                return types(implementing, abstracts);
            }
            case "query-status" -> {
                a.done();
                ObjectNode s = json.objectNode();
                synchronized (runLock) {
                    s.put("running", status.equals("running"));
                    if (compat.equals("7.2")) {
                        s.put("singlestep", false);
                    }
                    s.put("status", status);
                }
                return s;
            }
            case "system_reset" -> {
                a.done();
                synchronized (runLock) {
                    // Requests waiting for cont belong to commands the reset ends: they fail now, so the
                    // controller's reset does not wait for them and they never reach the image later.
                    resets++;
                    runLock.notifyAll();
                }
                onMachine(() -> services.machine().reset());
                ObjectNode data = json.objectNode();
                data.put("guest", false);
                data.put("reason", "host-qmp-system-reset");
                event("RESET", data);
                return empty();
            }
            case "stop" -> {
                a.done();
                synchronized (runLock) {
                    if (status.equals("running")) {
                        status = "paused";
                        event("STOP", null);
                    }
                }
                return empty();
            }
            case "cont" -> {
                a.done();
                synchronized (runLock) {
                    if (!status.equals("running")) {
                        status = "running";
                        runLock.notifyAll();
                        event("RESUME", null);
                    }
                }
                return empty();
            }
            case "quit" -> {
                a.done();
                // QmpConnection replies, then sends SHUTDOWN and calls quit()
                return empty();
            }
            case "blockdev-open-tray" -> {
                RemovableMedia m = media(a);
                boolean force = a.bool("force", false);
                a.done();
                try {
                    m.openTray(force);
                } catch (StorageException e) {
                    if (e.kind() != StorageException.Kind.IN_USE) {
                        throw QmpError.generic(e.getMessage());
                    }
                    // a locked tray stays closed; the guest has been asked to let it go (as QEMU does)
                }
                return empty();
            }
            case "blockdev-close-tray" -> {
                RemovableMedia m = media(a);
                a.done();
                try {
                    m.closeTray();
                } catch (StorageException e) {
                    throw QmpError.generic(e.getMessage());
                }
                return empty();
            }
            case "blockdev-remove-medium" -> {
                String label = label(a);
                RemovableMedia m = media(a);
                a.done();
                MediaStatusDTO st = m.status();
                if (!st.trayOpen) {
                    throw QmpError.generic("Tray of device '" + label + "' is not open");
                }
                try {
                    m.remove(false);
                } catch (StorageException e) {
                    throw QmpError.generic(e.getMessage());
                }
                return empty();
            }
            case "blockdev-insert-medium" -> {
                String label = label(a);
                RemovableMedia m = media(a);
                String node = a.string("node-name");
                a.done();
                Drive d = services.drive(node).orElseThrow(() -> QmpError.generic("Cannot find node " + node));
                MediaStatusDTO st = m.status();
                if (!st.trayOpen) {
                    throw QmpError.generic("Tray of device '" + label + "' is not open");
                }
                if (st.present) {
                    throw QmpError.generic("There already is a medium in device '" + label + "'");
                }
                try {
                    m.load(d, node);
                } catch (StorageException e) {
                    throw QmpError.generic(e.getMessage());
                }
                return empty();
            }
            case "blockdev-add" -> {
                blockdevAdd(a);
                return empty();
            }
            case "blockdev-del" -> {
                String node = a.string("node-name");
                a.done();
                if (!added.contains(node)) {
                    throw QmpError.generic(services.drive(node).isPresent() ? "Node " + node + " is not owned by the"
                            + " monitor" : "Failed to find node with node-name='" + node + "'");
                }
                for (CdromSlot s : slots) {
                    RemovableMedia m = services.media(s.slot()).orElse(null);
                    if (m != null && node.equals(m.status().medium)) {
                        throw QmpError.generic("Node " + node + " is in use");
                    }
                }
                try {
                    services.drives().detach(node);
                    added.remove(node);
                } catch (StorageException e) {
                    throw QmpError.generic(e.getMessage());
                }
                return empty();
            }
            case "block_resize" -> {
                String device = a.optionalString("device");
                String node = a.optionalString("node-name");
                long size = a.integer("size");
                a.done();
                if ((device == null) == (node == null)) {
                    throw QmpError.generic("Need exactly one of 'device' and 'node-name'");
                }
                String id = device != null ? device : node;
                Drive d = services.drive(id).orElseThrow(() -> device != null
                        ? new QmpError("DeviceNotFound", "Device '" + id + "' not found")
                        : QmpError.generic("Cannot find node " + id));
                if (size < 0) {
                    throw QmpError.generic("Parameter 'size' expects a >0 size");
                }
                Resizable r = d.capability(Resizable.class).orElseThrow(() -> QmpError.generic("Image format driver"
                        + " of '" + id + "' does not support resize"));
                try {
                    r.resize(size);
                } catch (StorageException e) {
                    throw QmpError.generic(e.getMessage());
                }
                return empty();
            }
            case "human-monitor-command" -> {
                String line = a.string("command-line");
                a.optional("cpu-index");
                a.done();
                return json.textNode(hmp(line));
            }
            case "x-blockdev-set-iothread" -> {
                a.string("node-name");
                a.optional("iothread");
                a.bool("force", false);
                a.done();
                // Spindle has no iothreads to move a node between: the node stays where it is
                return empty();
            }
            case "device_add" -> {
                String driver = a.string("driver");
                switch (driver) {
                    case "ahci", "ich9-ahci" -> {
                        String id = a.optionalString("id");
                        String bus = a.optionalString("bus");
                        String addr = a.optionalString("addr");
                        a.done();
                        if (bus != null && !bus.equals("pci.0")) {
                            throw QmpError.generic("Bus '" + bus + "' not found");
                        }
                        services.addController(id, addr == null ? null : pciAddress(addr));
                        return empty();
                    }
                    case "virtio-blk-pci", "virtio-blk" -> throw QmpError.generic("'" + driver + "' is not supported:"
                            + " Spindle has no virtio-blk controller yet");
                    case "nvme" -> throw QmpError.generic("'nvme' is not supported: Spindle has no NVMe controller yet");
                    case "ide-hd", "ide-cd" -> throw QmpError.generic("Bus 'ide.0' does not support hotplugging");
                    default -> throw QmpError.generic("'" + driver + "' is not a valid device model name");
                }
            }
            case "device_del" -> {
                String id = a.string("id");
                a.done();
                services.deleteDevice(id);
                return empty();
            }
            default -> throw new QmpError("CommandNotFound", "The command " + name + " has not been found");
        }
    }

    /** {@code addr=} as {@code 00:SS.F}, or QEMU's error. */
    private static String pciAddress(String addr) throws QmpError {
        try {
            return org.spindle.qemu.QemuCommandLine.pciAddress(addr);
        } catch (IllegalArgumentException e) {
            throw QmpError.generic("Property 'addr' doesn't take value '" + addr + "'");
        }
    }

    /**
     * An HMP command line, answered with what QEMU's HMP prints: {@code qemu-io DRIVE "COMMAND"} for a
     * blkdebug drive's breakpoints ({@link DebugRules#command}); anything else is an unknown command.
     */
    private String hmp(String line) throws QmpError {
        String text = line.strip();
        String[] words = text.split("\\s+", 2);
        if (!words[0].equals("qemu-io")) {
            return "unknown command: '" + words[0] + "'\r\n";
        }
        String rest = words.length > 1 ? words[1].strip() : "";
        while (rest.startsWith("-")) {
            // qemu-io's own flags (-d: a node name rather than a device) name the drive the same way here
            int space = rest.indexOf(' ');
            rest = space < 0 ? "" : rest.substring(space + 1).strip();
        }
        int space = rest.indexOf(' ');
        if (space < 0) {
            return "qemu-io: usage: qemu-io [-d] DEVICE \"COMMAND\"\r\n";
        }
        String device = rest.substring(0, space);
        String command = rest.substring(space + 1).strip();
        if (command.length() >= 2 && command.startsWith("\"") && command.endsWith("\"")) {
            command = command.substring(1, command.length() - 1);
        }
        Optional<DebugRules> rules = services.debugRules(device);
        if (rules.isEmpty()) {
            return services.drive(device).isPresent() ? "qemu-io: " + device + " has no blkdebug layer (give its image"
                    + " as blkdebug::IMAGE): Spindle's qemu-io runs break, remove_break, resume and wait_break\r\n"
                    : "Device '" + device + "' not found\r\n";
        }
        try {
            return rules.get().command(command);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw QmpError.generic("interrupted");
        }
    }

    /**
     * A drive's failed request under its error policy ({@link DebugDrive}): {@code BLOCK_IO_ERROR}, and
     * under {@code stop} the machine stops ({@code STOP}, status {@code io-error}) and the request waits
     * for {@code cont}, or until a {@code system_reset} ends its command.
     *
     * @return whether to try the request again
     */
    boolean ioError(String drive, boolean write, String action, org.spindle.storage.api.StorageException e)
            throws InterruptedException {
        ObjectNode data = json.objectNode();
        data.put("device", drive);
        data.put("node-name", drive);
        data.put("operation", write ? "write" : "read");
        data.put("action", action);
        if (DebugDrive.noSpace(e)) {
            data.put("nospace", true);
        }
        data.put("reason", e.getMessage());
        if (!action.equals("stop")) {
            event("BLOCK_IO_ERROR", data);
            return false;
        }
        synchronized (runLock) {
            if (closed) {
                return false;
            }
            // the machine stops before anyone hears of the error: a cont that answers the event finds it stopped
            boolean stopping = status.equals("running");
            if (stopping) {
                status = "io-error";
            }
            event("BLOCK_IO_ERROR", data);
            if (stopping) {
                event("STOP", null);
            }
            long epoch = resets;
            while (!status.equals("running") && !closed && resets == epoch) {
                runLock.wait();
            }
            return !closed && resets == epoch;
        }
    }

    /** After {@code quit}'s reply: {@code SHUTDOWN}. */
    void shutdownEvent() {
        ObjectNode data = json.objectNode();
        data.put("guest", false);
        data.put("reason", "host-qmp-quit");
        event("SHUTDOWN", data);
    }

    /** After {@code quit}'s reply and {@code SHUTDOWN} went out: the process ends with status 0. */
    void exit() {
        services.exit(0);
    }

    /** The machine is going away: requests waiting for {@code cont} get their errors, and added nodes go. */
    void close() {
        synchronized (runLock) {
            closed = true;
            runLock.notifyAll();
        }
        for (String node : added) {
            try {
                services.drives().detach(node);
            } catch (StorageException | RuntimeException e) {
                // the drive manager is going away too
            }
        }
        added.clear();
    }

    /** The guest ejected the device {@code id}. */
    void deviceDeleted(String id) {
        ObjectNode data = json.objectNode();
        data.put("device", id);
        data.put("path", "/machine/peripheral/" + id);
        event("DEVICE_DELETED", data);
    }

    /** What {@code query-commands} lists. */
    private static final List<String> COMMANDS = List.of("qmp_capabilities", "query-version", "query-commands",
            "query-machines", "qom-list-types", "query-status", "system_reset", "stop", "cont", "quit",
            "blockdev-open-tray", "blockdev-close-tray", "blockdev-remove-medium", "blockdev-insert-medium",
            "blockdev-add", "blockdev-del", "block_resize", "x-blockdev-set-iothread", "device_add", "device_del",
            "human-monitor-command");

    private ObjectNode empty() {
        return json.objectNode();
    }

    private void onMachine(Runnable work) throws QmpError {
        try {
            services.machine().call(() -> {
                work.run();
                return null;
            });
        } catch (Exception e) {
            throw QmpError.generic("the machine did not carry it out: " + e.getMessage());
        }
    }

    private ArrayNode machines() {
        ArrayNode list = json.arrayNode();
        String v = compat;
        ObjectNode pc = machine(list, "pc-i440fx-" + v, "pc", 255, true);
        pc.put("is-default", true);
        machine(list, "pc-q35-" + v, "q35", 255, true);
        machine(list, "none", null, 1, false);
        return list;
    }

    private ObjectNode machine(ArrayNode list, String name, String alias, int cpuMax, boolean acpi) {
        ObjectNode m = list.addObject();
        m.put("name", name);
        if (alias != null) {
            m.put("alias", alias);
        }
        m.put("cpu-max", cpuMax);
        m.put("hotpluggable-cpus", false);
        m.put("numa-mem-supported", false);
        m.put("deprecated", false);
        if (alias != null) {
            m.put("default-cpu-type", "qemu64-x86_64-cpu");
            m.put("default-ram-id", "pc.ram");
        }
        if (!compat.equals("7.2")) {
            m.put("acpi", acpi);
        }
        return m;
    }

    private ArrayNode types(String implementing, boolean abstracts) {
        ArrayNode list = json.arrayNode();
        List<QomType> all = new java.util.ArrayList<>(TYPES);
        for (String m : new String[] {"pc-i440fx-" + compat, "pc-q35-" + compat}) {
            all.add(new QomType(m + "-machine", "generic-pc-machine", false));
        }
        for (QomType t : all) {
            if (t.isAbstract() && !abstracts) {
                continue;
            }
            if (implementing != null && !descends(all, t, implementing)) {
                continue;
            }
            ObjectNode o = list.addObject();
            o.put("name", t.name());
            if (t.isAbstract()) {
                o.put("abstract", true);
            }
            if (t.parent() != null) {
                o.put("parent", t.parent());
            }
        }
        return list;
    }

    private static boolean descends(List<QomType> all, QomType t, String ancestor) {
        Map<String, QomType> byName = new java.util.HashMap<>();
        all.forEach(x -> byName.put(x.name(), x));
        for (QomType x = t; x != null; x = x.parent() == null ? null : byName.get(x.parent())) {
            if (x.name().equals(ancestor)) {
                return true;
            }
        }
        return false;
    }

    /** The name a tray command's error messages give the device: its id, else its block device. */
    private static String label(Args a) throws QmpError {
        String id = a.optionalString("id");
        return id != null ? id : a.optionalString("device");
    }

    /** The CD-ROM that {@code id} (a device id) or {@code device} (a block device name) names. */
    private RemovableMedia media(Args a) throws QmpError {
        String id = a.optionalString("id");
        String device = a.optionalString("device");
        if ((id == null) == (device == null)) {
            throw QmpError.generic("Need exactly one of 'device' and 'id'");
        }
        for (CdromSlot s : slots) {
            if (id != null ? id.equals(s.id()) : device.equals(s.drive()) && !device.isEmpty()) {
                return services.media(s.slot()).orElseThrow(() -> QmpError.generic("Device '" + (id != null ? id
                        : device) + "' is not ready (its controller is not running)"));
            }
        }
        if (id != null) {
            throw new QmpError("DeviceNotFound", "Device '" + id + "' not found");
        }
        if (services.drive(device).isPresent()) {
            throw QmpError.generic("Device '" + device + "' is not removable");
        }
        throw new QmpError("DeviceNotFound", "Device '" + device + "' not found");
    }

    /**
     * {@code blockdev-add} of a raw or qcow2 node over a file ({@code file: {driver: file, filename}}),
     * or of a file node, as a drive with the node name as its id; the reply comes once it is open.
     */
    private void blockdevAdd(Args a) throws QmpError {
        String node = a.string("node-name");
        String driver = a.string("driver");
        boolean readOnly = a.bool("read-only", false);
        a.optional("discard");
        a.optional("cache");
        a.optional("auto-read-only");
        String filename;
        switch (driver) {
            case "file" -> filename = a.string("filename");
            case "raw", "qcow2" -> {
                JsonNode file = a.optional("file");
                if (file == null) {
                    throw QmpError.generic("Parameter 'file' is missing");
                }
                if (file.isTextual()) {
                    throw QmpError.generic("blockdev-add: Spindle takes the file as an object ({\"driver\": \"file\","
                            + " \"filename\": …}), not a node name");
                }
                ObjectNode f = (ObjectNode) file;
                Args fa = new Args("blockdev-add", f);
                String fd = fa.string("driver");
                if (!fd.equals("file")) {
                    throw QmpError.generic("blockdev-add: Spindle takes file nodes of driver 'file', not '" + fd + "'");
                }
                filename = fa.string("filename");
                fa.optional("node-name");
                fa.optional("aio");
                fa.optional("locking");
                fa.done();
            }
            default -> throw QmpError.generic("Parameter 'driver' does not accept value '" + driver + "' (Spindle has"
                    + " file, raw and qcow2)");
        }
        a.done();
        if (!node.matches("[A-Za-z][A-Za-z0-9._-]{0,63}")) {
            throw QmpError.generic("Invalid node-name: '" + node + "'");
        }
        if (services.drive(node).isPresent() || services.drives().drive(node).isPresent()) {
            throw QmpError.generic("Duplicate nodes with node-name='" + node + "'");
        }
        DriveSpecDTO spec = new DriveSpecDTO();
        spec.id = node;
        spec.backend = java.nio.file.Path.of(filename).toAbsolutePath().normalize().toUri().toString();
        spec.format = driver.equals("file") ? "raw" : driver;
        spec.readOnly = readOnly;
        try {
            services.drives().attach(spec);
            added.add(node);
            long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
            while (System.nanoTime() < deadline) {
                DriveDTO dto = services.drives().drive(node).orElse(null);
                if (dto != null && dto.state == DriveState.ATTACHED && services.drive(node).isPresent()) {
                    return;
                }
                if (dto != null && dto.state == DriveState.FAILED) {
                    services.drives().detach(node);
                    added.remove(node);
                    throw QmpError.generic("Could not open '" + filename + "': " + dto.failure);
                }
                Thread.sleep(2);
            }
            services.drives().detach(node);
            added.remove(node);
            throw QmpError.generic("Could not open '" + filename + "': it did not open within 30 s");
        } catch (StorageException e) {
            throw QmpError.generic("Could not open '" + filename + "': " + e.getMessage());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw QmpError.generic("interrupted");
        }
    }
}
