package org.spindle.qemu.internal;

import java.io.IOException;
import java.io.OutputStream;
import java.io.PrintStream;
import java.net.SocketAddress;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.Channels;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Dictionary;
import java.util.Hashtable;
import java.util.List;
import java.util.Map;
import java.util.Optional;

import com.fasterxml.jackson.databind.ObjectMapper;

import org.osgi.framework.BundleContext;
import org.osgi.framework.BundleException;
import org.osgi.framework.InvalidSyntaxException;
import org.osgi.framework.ServiceReference;
import org.osgi.service.cm.Configuration;
import org.osgi.service.cm.ConfigurationAdmin;
import org.osgi.service.component.annotations.Activate;
import org.osgi.service.component.annotations.Component;
import org.osgi.service.component.annotations.ConfigurationPolicy;
import org.osgi.service.component.annotations.Deactivate;
import org.osgi.service.component.annotations.Reference;
import org.osgi.service.metatype.annotations.AttributeDefinition;
import org.osgi.service.metatype.annotations.Designate;
import org.osgi.service.metatype.annotations.ObjectClassDefinition;
import org.spindle.machine.api.Machine;
import org.spindle.machine.api.PciAddress;
import org.spindle.machine.api.PciFunction;
import org.spindle.machine.qtest.QtestServer;
import org.spindle.qemu.QemuCommandLine;
import org.spindle.qemu.QemuCommandLineException;
import org.spindle.storage.api.Drive;
import org.spindle.storage.api.DriveDTO;
import org.spindle.storage.api.DriveManager;
import org.spindle.storage.api.DriveState;
import org.spindle.storage.api.RemovableMedia;

/**
 * The QEMU front end in the runtime: an {@code org.spindle.qemu} configuration holds a QEMU command
 * line, and this component builds what it asks for (drives, controllers, then the machine, so that
 * every controller is plugged cold), connects the qtest socket and serves QMP on the monitor's. When
 * something cannot be built (an option Spindle does not take, an image that does not open) it says
 * what on standard error and stops the framework with exit status 1, as QEMU exits.
 */
@Component(configurationPid = FrontEnd.PID, configurationPolicy = ConfigurationPolicy.REQUIRE, service = {})
@Designate(ocd = FrontEnd.Config.class)
public final class FrontEnd {
    public static final String PID = "org.spindle.qemu";
    /** The system property the launcher reads its exit status from. */
    public static final String EXIT_CODE = "spindle.exit.code";

    @ObjectClassDefinition(name = "Spindle QEMU front end",
            description = "A machine built from a QEMU command line, with its qtest socket and QMP monitor")
    public @interface Config {
        @AttributeDefinition(description = "The command line's arguments, after the program name")
        String[] args();

        @AttributeDefinition(description = "What relative image paths are relative to (empty: the working directory)")
        String cwd() default "";

        @AttributeDefinition(description = "The QEMU version whose QMP schema the replies follow: 7.2 or 10.0")
        String compat() default "10.0";

        @AttributeDefinition(description = "What error messages start with")
        String program() default "spindle-system-x86_64";

        @AttributeDefinition(description = "Milliseconds the drives and controllers have to come up")
        long start_timeout() default 30_000;

        @AttributeDefinition(description = "Stop the framework, with exit status 1, when the machine cannot be built")
        boolean exit_on_failure() default true;
    }

    private static final System.Logger LOG = System.getLogger(FrontEnd.class.getName());

    private final BundleContext context;
    private final ConfigurationAdmin cm;
    private final DriveManager drives;
    private final Config config;
    private final String machineName = "qemu";
    private final List<Configuration> created = new ArrayList<>();
    private final List<AutoCloseable> open = new ArrayList<>();
    private final Thread starter;
    /** The controllers that can be unplugged (given by -device or device_add), by id. */
    private final Map<String, Plugged> devices = new java.util.concurrent.ConcurrentHashMap<>();
    private volatile QmpCommands qmp;
    /** The configurations of ejected controllers being deleted, by id. */
    private final Map<String, Thread> deleting = new java.util.concurrent.ConcurrentHashMap<>();
    private volatile String machineType;

    /**
     * A hot-pluggable controller.
     *
     * @param unplugging whether the guest has been asked to give it up
     */
    private record Plugged(String id, Configuration configuration, PciAddress address, boolean unplugging) {
        Plugged(String id, Configuration configuration, PciAddress address) {
            this(id, configuration, address, false);
        }
    }
    private volatile boolean stopping;
    private volatile String failure;
    private volatile boolean ready;

    @Activate
    public FrontEnd(BundleContext context, Config config, @Reference ConfigurationAdmin cm,
            @Reference DriveManager drives) {
        this.context = context;
        this.config = config;
        this.cm = cm;
        this.drives = drives;
        this.starter = new Thread(this::start, "spindle-qemu-start");
        starter.setDaemon(true);
        starter.start();
    }

    /** Whether the machine is built and its sockets connected. */
    public boolean ready() {
        return ready;
    }

    /** Why the machine could not be built, or {@code null}. */
    public String failure() {
        return failure;
    }

    private void start() {
        timing("front end activated");
        try {
            QemuCommandLine line = QemuCommandLine.parse(List.of(config.args()));
            Path cwd = Path.of(config.cwd().isEmpty() ? System.getProperty("user.dir") : config.cwd());
            Assembly assembly = Assembly.of(line, machineName, cwd);
            build(line, assembly, cwd);
        } catch (QemuCommandLineException | IllegalArgumentException e) {
            fail(e.getMessage());
        } catch (InterruptedException e) {
            // deactivated while starting
        } catch (Exception e) {
            fail(e.getMessage() == null ? e.toString() : e.getMessage());
        }
    }

    private void build(QemuCommandLine line, Assembly assembly, Path cwd) throws Exception {
        long deadline = System.nanoTime() + config.start_timeout() * 1_000_000L;
        QmpCommands qmp = new QmpCommands(services(), config.compat(), assembly.slots());
        this.qmp = qmp;
        this.machineType = line.machine();
        Map<String, DebugRules> rules = new java.util.HashMap<>();
        for (Assembly.Layered l : assembly.layered()) {
            if (l.rules() != null) {
                rules.put(l.id(), new DebugRules(l.id(), l.rules().isEmpty() ? DebugRules.Rules.NONE
                        : DebugRules.read(cwd.resolve(l.rules()))));
            }
        }
        for (Assembly.Conf c : assembly.drives()) {
            apply(c);
        }
        for (Assembly.Conf c : assembly.controllers()) {
            Configuration configuration = apply(c);
            if (!c.name().equals("ide")) {
                // a controller of -device (not the board's own) can be unplugged, as QEMU's can
                devices.put(c.name(), new Plugged(c.name(), configuration, PciAddress.parse(c.address())));
            }
        }
        // every controller up (its disks' drives open) before the machine: a cold-plugged board
        List<Assembly.Conf> waiting = new ArrayList<>(assembly.controllers());
        // and every drive open (an AHCI port meets its disk at power-on, not as a hot-plug later)
        List<Assembly.Layered> unlayered = new ArrayList<>(assembly.layered());
        java.util.Set<String> opening = new java.util.HashSet<>();
        assembly.drives().forEach(c -> opening.add(String.valueOf(c.props().get("id"))));
        while (!waiting.isEmpty() || !unlayered.isEmpty() || !opening.isEmpty()) {
            checkDrives();
            for (DriveDTO d : drives.drives()) {
                if (d.state == DriveState.ATTACHED) {
                    opening.remove(d.id);
                }
            }
            unlayered.removeIf(l -> layer(l, rules.get(l.id()), qmp));
            waiting.removeIf(c -> function(c.address()));
            if (!waiting.isEmpty() || !unlayered.isEmpty() || !opening.isEmpty()) {
                pause(deadline, () -> "the controllers " + waiting.stream().map(c -> c.name() + " (" + c.address() + ")")
                        .toList() + " or the drives " + opening + " did not start (the log says why)");
            }
        }
        timing("controllers up");
        checkDrives();
        apply(assembly.machine());
        Machine machine;
        while ((machine = machine()) == null) {
            pause(deadline, () -> "the machine did not start (the log says why)");
        }
        for (Assembly.Conf c : assembly.controllers()) {
            if (!machine.pciFunctions().containsKey(PciAddress.parse(c.address()))) {
                throw new IllegalStateException("the controller " + c.name() + " could not be plugged at "
                        + c.address() + ": " + machine.problems());
            }
        }
        timing("machine up");
        Machine built = machine;
        synchronized (this) {
            open.add(built.watchEjects(this::ejected));
        }
        Thread machineThread = built.call(Thread::currentThread);
        layers.values().forEach(d -> d.machineThread(machineThread));
        for (Assembly.CdromSlot s : assembly.slots()) {
            RemovableMedia m = media(s.slot()).orElseThrow(() -> new IllegalStateException("CD-ROM " + s.slot()
                    + " is missing"));
            synchronized (this) {
                open.add(m.addListener(qmp::mediaChanged));
            }
        }
        timing("CD-ROMs watched");
        if (line.qtest() != null) {
            QtestServer.TrafficLog log = qtestLog(line.qtestLog());
            QtestServer qtest = QtestServer.connect(machine, line.qtest(), log);
            synchronized (this) {
                open.add(qtest);
            }
        }
        timing("qtest connected");
        if (line.monitor() != null) {
            monitor(line.monitor(), qmp);
        }
        timing("monitor connected");
        ready = true;
        LOG.log(System.Logger.Level.INFO, "QEMU front end: {0} machine with {1} drives and {2} controllers", line.machine(),
                assembly.drives().size(), assembly.controllers().size());
    }

    private static final boolean TIMING = Boolean.getBoolean("spindle.qemu.timing");

    private static void timing(String what) {
        if (TIMING) {
            long since = java.time.Duration.between(ProcessHandle.current().info().startInstant()
                    .orElse(java.time.Instant.now()), java.time.Instant.now()).toMillis();
            System.err.println("spindle-qemu timing: " + what + " at " + since + " ms");
        }
    }

    /** Debug drives the front end registered, by id. */
    private final Map<String, DebugDrive> layers = new java.util.concurrent.ConcurrentHashMap<>();

    /**
     * Registers drive {@code l.id()} over the image's drive {@code l.base()} once that is open: the
     * drive the controllers see, with blkdebug's rules and the error policies.
     *
     * @return whether it is registered
     */
    private boolean layer(Assembly.Layered l, DebugRules rules, QmpCommands qmp) {
        ServiceReference<Drive> ref;
        try {
            ref = context.getServiceReferences(Drive.class, "(" + Drive.ID + "=" + l.base() + ")").stream().findFirst()
                    .orElse(null);
        } catch (InvalidSyntaxException e) {
            throw new IllegalArgumentException(e);
        }
        Drive base = ref == null ? null : context.getService(ref);
        if (base == null) {
            return false;
        }
        DebugDrive drive = new DebugDrive(base, l.id(), rules, l.werror(), l.rerror(), qmp::ioError);
        Hashtable<String, Object> props = new Hashtable<>();
        for (String key : ref.getPropertyKeys()) {
            if (!key.startsWith("service.") && !key.equals("objectClass") && !key.startsWith("component.")) {
                props.put(key, ref.getProperty(key));
            }
        }
        props.put(Drive.ID, l.id());
        org.osgi.framework.ServiceRegistration<Drive> registration = context.registerService(Drive.class, drive, props);
        layers.put(l.id(), drive);
        synchronized (this) {
            open.add(() -> {
                drive.close();
                registration.unregister();
                context.ungetService(ref);
            });
        }
        return true;
    }

    private interface Message {
        String text();
    }

    private void pause(long deadline, Message timeout) throws InterruptedException {
        if (stopping) {
            throw new InterruptedException();
        }
        if (System.nanoTime() > deadline) {
            throw new IllegalStateException(timeout.text());
        }
        Thread.sleep(1);
    }

    /** A drive that failed to open fails the start, as QEMU fails on an image it cannot open. */
    private void checkDrives() {
        for (DriveDTO d : drives.drives()) {
            if (d.state == DriveState.FAILED && created.stream().anyMatch(c -> c.getPid().equals(d.configuration))) {
                throw new IllegalStateException("-drive id=" + d.id + ": could not open '" + d.backend + "': " + d.failure);
            }
        }
    }

    private Configuration apply(Assembly.Conf c) throws IOException {
        Configuration configuration = c.name() == null ? cm.getConfiguration(c.pid(), "?")
                : cm.getFactoryConfiguration(c.pid(), c.name(), "?");
        Dictionary<String, Object> props = new Hashtable<>();
        c.props().forEach(props::put);
        synchronized (this) {
            created.add(configuration);
        }
        configuration.update(props);
        return configuration;
    }

    private boolean function(String address) {
        PciAddress wanted = PciAddress.parse(address);
        try {
            Collection<ServiceReference<PciFunction>> refs = context.getServiceReferences(PciFunction.class,
                    "(" + PciFunction.MACHINE + "=" + machineName + ")");
            return refs.stream().anyMatch(r -> wanted.equals(PciAddress.parse(String.valueOf(r.getProperty(
                    PciFunction.ADDRESS)))));
        } catch (InvalidSyntaxException e) {
            throw new IllegalStateException(e);
        }
    }

    private Machine machine() {
        return service(Machine.class, "(" + Machine.NAME + "=" + machineName + ")").orElse(null);
    }

    private Optional<RemovableMedia> media(String slot) {
        return service(RemovableMedia.class, "(" + RemovableMedia.SLOT + "=" + slot + ")");
    }

    private <T> Optional<T> service(Class<T> type, String filter) {
        try {
            for (ServiceReference<T> r : context.getServiceReferences(type, filter)) {
                T s = context.getService(r);
                if (s != null) {
                    // the framework counts uses; the component holds none beyond its own life
                    context.ungetService(r);
                    return Optional.of(s);
                }
            }
            return Optional.empty();
        } catch (InvalidSyntaxException e) {
            throw new IllegalArgumentException(e);
        } catch (IllegalStateException e) {
            return Optional.empty();
        }
    }

    private QmpCommands.Services services() {
        return new QmpCommands.Services() {
            @Override
            public Machine machine() {
                Machine m = FrontEnd.this.machine();
                if (m == null) {
                    throw new IllegalStateException("the machine is gone");
                }
                return m;
            }

            @Override
            public Optional<RemovableMedia> media(String slot) {
                return FrontEnd.this.media(slot);
            }

            @Override
            public Optional<Drive> drive(String id) {
                String safe = id.replaceAll("[\\\\()*]", "");
                return safe.equals(id) ? service(Drive.class, "(" + Drive.ID + "=" + id + ")") : Optional.empty();
            }

            @Override
            public DriveManager drives() {
                return drives;
            }

            @Override
            public void exit(int status) {
                stopFramework(status);
            }

            @Override
            public void addController(String id, String address) throws QmpError {
                FrontEnd.this.addController(id, address);
            }

            @Override
            public void deleteDevice(String id) throws QmpError {
                FrontEnd.this.deleteDevice(id);
            }

            @Override
            public Optional<DebugRules> debugRules(String id) {
                DebugDrive d = layers.get(id);
                return d == null ? Optional.empty() : d.rules();
            }
        };
    }

    /**
     * {@code device_add} of an AHCI controller: plugged at {@code address} (or the first free slot) on a
     * pc, whose guest hears of it through ACPI; the reply comes once it is on the bus.
     */
    private void addController(String id, String address) throws QmpError {
        if (!"pc".equals(machineType)) {
            throw QmpError.generic("Bus 'pcie.0' does not support hotplugging");
        }
        if (id != null && (devices.containsKey(id) || id.equals("ide"))) {
            throw QmpError.generic("Duplicate device ID '" + id + "'");
        }
        if (id != null && !QemuCommandLine.isDeviceId(id)) {
            throw QmpError.generic("Parameter 'id' expects an identifier");
        }
        Machine machine = machine();
        if (machine == null) {
            throw QmpError.generic("the machine is not running");
        }
        Map<PciAddress, PciFunction> plugged = machine.pciFunctions();
        PciAddress at;
        if (address != null) {
            at = PciAddress.parse(address);
            for (PciAddress taken : plugged.keySet()) {
                if (taken.device() == at.device()) {
                    throw QmpError.generic("PCI: slot " + at.device() + " function " + at.function()
                            + " not available for ich9-ahci, in use by " + plugged.get(taken));
                }
            }
        } else {
            java.util.Set<Integer> taken = new java.util.HashSet<>();
            plugged.keySet().forEach(a -> taken.add(a.device()));
            int slot = Assembly.freeSlot(taken);
            if (slot < 0) {
                throw QmpError.generic("PCI: no slot/function available for ich9-ahci, all in use");
            }
            at = PciAddress.of(slot, 0);
        }
        String name = id != null ? id : "ahci-" + at.device();
        Thread deletion = deleting.remove(name);
        if (deletion != null) {
            // the configuration of an ejected controller of this name must be gone before it is made again
            try {
                deletion.join(10_000);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw QmpError.generic("interrupted");
            }
        }
        Configuration configuration;
        try {
            configuration = apply(new Assembly.Conf(Assembly.AHCI_FACTORY, name,
                    Assembly.ahci(name, at.toString(), machineName, 6), at.toString()));
        } catch (IOException e) {
            throw QmpError.generic("device_add: " + e.getMessage());
        }
        devices.put(name, new Plugged(name, configuration, at));
        long deadline = System.nanoTime() + 10_000_000_000L;
        while (!machine.pciFunctions().containsKey(at)) {
            if (System.nanoTime() > deadline) {
                devices.remove(name);
                deleteQuietly(configuration);
                throw QmpError.generic("device_add: the AHCI controller did not come up at " + at + ": "
                        + machine.problems());
            }
            try {
                Thread.sleep(1);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw QmpError.generic("interrupted");
            }
        }
    }

    /** {@code device_del}: the guest is asked to give the device up; DEVICE_DELETED follows its eject. */
    private void deleteDevice(String id) throws QmpError {
        Plugged p = devices.get(id);
        if (p == null) {
            if (id.equals("ide")) {
                throw QmpError.generic("Bus '" + ("q35".equals(machineType) ? "pcie.0" : "pci.0")
                        + "' does not support hotplugging");
            }
            throw new QmpError("DeviceNotFound", "Device '" + id + "' not found");
        }
        if (!"pc".equals(machineType)) {
            throw QmpError.generic("Bus 'pcie.0' does not support hotplugging");
        }
        if (p.unplugging()) {
            throw QmpError.generic("Device " + id + " is already in the process of unplug");
        }
        Machine machine = machine();
        Plugged unplugging = new Plugged(p.id(), p.configuration(), p.address(), true);
        if (!devices.replace(id, p, unplugging)) {
            throw QmpError.generic("Device " + id + " is already in the process of unplug");
        }
        try {
            machine.call(() -> {
                machine.requestUnplug(p.address());
                return null;
            });
        } catch (Exception e) {
            devices.replace(id, unplugging, p);
            throw QmpError.generic("device_del " + id + ": " + e.getMessage());
        }
    }

    /** The guest ejected {@code address}: its controller's configuration goes, and QMP hears DEVICE_DELETED. */
    private void ejected(PciAddress address) {
        for (Plugged p : devices.values()) {
            if (p.address().equals(address) && devices.remove(p.id(), p)) {
                Thread t = new Thread(() -> deleteQuietly(p.configuration()), "spindle-qemu-unplug");
                t.setDaemon(true);
                deleting.put(p.id(), t);
                t.start();
                QmpCommands q = qmp;
                if (q != null) {
                    q.deviceDeleted(p.id());
                }
            }
        }
    }

    private void deleteQuietly(Configuration c) {
        synchronized (this) {
            created.remove(c);
        }
        try {
            c.delete();
        } catch (IOException | IllegalStateException e) {
            LOG.log(System.Logger.Level.WARNING, "could not delete configuration {0}: {1}", c.getPid(), e.getMessage());
        }
    }

    /** {@code -qtest-log PATH}: nothing for {@code /dev/null}, else each line with QEMU's prefix. */
    private QtestServer.TrafficLog qtestLog(String path) throws IOException {
        if (path == null || path.equals("/dev/null")) {
            return null;
        }
        OutputStream os = Files.newOutputStream(Path.of(path), StandardOpenOption.CREATE, StandardOpenOption.WRITE,
                StandardOpenOption.APPEND);
        PrintStream out = new PrintStream(os, true, StandardCharsets.UTF_8);
        synchronized (this) {
            open.add(out);
        }
        long start = System.nanoTime();
        return (received, text) -> {
            double t = (System.nanoTime() - start) / 1e9;
            synchronized (out) {
                out.printf(java.util.Locale.ROOT, "[%s +%.6f] %s%n", received ? "R" : "S", t, text);
            }
        };
    }

    /** Connects to the monitor's socket (or listens there, with {@code server=on}) and serves QMP. */
    private void monitor(QemuCommandLine.Monitor monitor, QmpCommands qmp) throws IOException {
        SocketAddress address = QtestServer.address(monitor.address());
        if (!monitor.server()) {
            SocketChannel channel;
            try {
                channel = SocketChannel.open(address);
            } catch (IOException e) {
                throw new IOException("-mon: could not connect to " + monitor.address() + ": " + e.getMessage(), e);
            }
            synchronized (this) {
                open.add(channel);
            }
            serveQmp(channel, monitor.pretty(), qmp);
            return;
        }
        if (address instanceof UnixDomainSocketAddress u) {
            // a socket file an earlier run left goes; any other file there is refused, never deleted
            QtestServer.removeStaleSocket(u.getPath());
        }
        ServerSocketChannel server = address instanceof UnixDomainSocketAddress
                ? ServerSocketChannel.open(StandardProtocolFamily.UNIX) : ServerSocketChannel.open();
        try {
            server.bind(address);
        } catch (IOException e) {
            server.close();
            throw e;
        }
        synchronized (this) {
            open.add(server);
            if (address instanceof UnixDomainSocketAddress u) {
                open.add(() -> Files.deleteIfExists(u.getPath()));
            }
        }
        Thread t = new Thread(() -> {
            while (server.isOpen()) {
                try {
                    SocketChannel c = server.accept();
                    synchronized (this) {
                        if (stopping) {
                            c.close();
                            return;
                        }
                        open.add(c);
                    }
                    serveQmp(c, monitor.pretty(), qmp);
                } catch (IOException e) {
                    return;
                }
            }
        }, "spindle-qmp-accept");
        t.setDaemon(true);
        t.start();
    }

    /** One JSON mapper for every connection, made by the first (it takes a while: not on the way to qtest). */
    private static final class Json {
        static final ObjectMapper MAPPER = new ObjectMapper();
    }

    private void serveQmp(SocketChannel channel, boolean pretty, QmpCommands qmp) {
        Thread t = new Thread(() -> {
            try (channel) {
                new QmpConnection(Json.MAPPER, Channels.newOutputStream(channel), pretty, qmp)
                        .serve(Channels.newInputStream(channel));
            } catch (IOException e) {
                // the peer went away
            }
        }, "spindle-qmp");
        t.setDaemon(true);
        t.start();
    }

    private void fail(String message) {
        failure = message;
        if (stopping) {
            return;
        }
        System.err.println(config.program() + ": " + message);
        if (config.exit_on_failure()) {
            stopFramework(1);
        }
    }

    private void stopFramework(int status) {
        System.setProperty(EXIT_CODE, String.valueOf(status));
        Thread t = new Thread(() -> {
            try {
                context.getBundle(0).stop();
            } catch (BundleException | IllegalStateException e) {
                // stopping already
            }
        }, "spindle-qemu-exit");
        t.start();
    }

    @Deactivate
    void deactivate() throws InterruptedException {
        stopping = true;
        starter.interrupt();
        starter.join(5_000);
        QmpCommands q = qmp;
        if (q != null) {
            q.close();
        }
        List<AutoCloseable> toClose;
        List<Configuration> toDelete;
        synchronized (this) {
            toClose = new ArrayList<>(open);
            toDelete = new ArrayList<>(created);
        }
        for (AutoCloseable c : toClose) {
            try {
                c.close();
            } catch (Exception e) {
                // closing anyway
            }
        }
        // the machine first, then controllers, then drives: the reverse of building
        java.util.Collections.reverse(toDelete);
        for (Configuration c : toDelete) {
            try {
                c.delete();
            } catch (IOException | IllegalStateException e) {
                // configuration admin is going away with the framework
            }
        }
    }
}
