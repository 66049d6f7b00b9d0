package org.spindle.device.ide;

import java.lang.System.Logger;
import java.lang.System.Logger.Level;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

import org.osgi.annotation.bundle.Capability;
import org.osgi.framework.BundleContext;
import org.osgi.service.component.annotations.Activate;
import org.osgi.service.component.annotations.Component;
import org.osgi.service.component.annotations.ConfigurationPolicy;
import org.osgi.service.component.annotations.Deactivate;
import org.osgi.service.component.annotations.Reference;
import org.osgi.service.component.annotations.ReferenceCardinality;
import org.osgi.service.component.annotations.ReferencePolicy;
import org.osgi.service.component.annotations.ReferencePolicyOption;
import org.osgi.service.metatype.annotations.AttributeDefinition;
import org.osgi.service.metatype.annotations.Designate;
import org.osgi.service.metatype.annotations.ObjectClassDefinition;
import org.osgi.service.metatype.annotations.Option;
import org.spindle.device.ata.SlotThread;
import org.spindle.device.ata.AtaDisk;
import org.spindle.device.ata.AtaIdentity;
import org.spindle.device.ata.AtapiCdrom;
import org.spindle.device.ata.ControllerServices;
import org.spindle.device.ata.DeviceSpec;
import org.spindle.device.ata.DiskSocket;
import org.spindle.device.ata.IoMode;
import org.spindle.device.ide.IdePositions.Kind;
import org.spindle.device.ide.IdePositions.Position;
import org.spindle.machine.api.PciAddress;
import org.spindle.machine.api.PciFunction;
import org.spindle.storage.api.Drive;
import org.spindle.storage.api.RemovableMedia;

/**
 * A PIIX3 IDE controller in the runtime, one per {@code org.spindle.device.ide} factory configuration.
 *
 * <p>Its four places hold ATA disks over drives, CD-ROMs, or nothing ({@link IdePositions}). The
 * controller is registered as a {@link PciFunction} (for the machine to plug at its address) once
 * every disk's drive is attached, since a guest cannot meet a fixed disk arriving later; CD-ROMs need
 * nothing to start. Each CD-ROM is registered as a {@link RemovableMedia} service, its slot named
 * {@code NAME.CHANNEL.UNIT} ({@code ide0.1.0}: secondary master of {@code ide0}).
 *
 * <p>Drives come and go while the guest runs. A CD-ROM's drive is its disc: attached, it is inserted
 * (the guest sees a medium change), detached, it is taken out (the guest sees the tray open and no
 * medium), whether or not the guest locked the tray, as the drive is gone either way. A disc an
 * operator inserted instead is left alone. A disk's drive that goes away leaves the disk failing every
 * request with a media error until it comes back with the same size.
 */
@Capability(namespace = "osgi.service", attribute = "objectClass:List<String>=\"org.spindle.machine.api.PciFunction\"",
        uses = PciFunction.class)
@Capability(namespace = "osgi.service", attribute = "objectClass:List<String>=\"org.spindle.storage.api.RemovableMedia\"",
        uses = RemovableMedia.class)
@Component(configurationPid = IdeComponent.PID, configurationPolicy = ConfigurationPolicy.REQUIRE, service = {})
@Designate(ocd = IdeComponent.Config.class, factory = true)
public final class IdeComponent {
    public static final String PID = "org.spindle.device.ide";
    private static final Logger LOG = System.getLogger(IdeComponent.class.getName());

    @ObjectClassDefinition(id = PID, name = "Spindle PIIX3 IDE controller",
            description = "A PIIX3 IDE function: its PCI address, its channels' mode, and the devices in its four places.")
    public @interface Config {
        @AttributeDefinition(name = "Name", required = false,
                description = "Names the controller's media slots (NAME.CHANNEL.UNIT); defaults to the configuration name after '~'.")
        String name() default "";

        @AttributeDefinition(name = "PCI address", required = false, description = "BB:DD.F; 00:01.1 on a pc")
        String spindle_pci_address() default "00:01.1";

        @AttributeDefinition(name = "Machine", required = false,
                description = "The machine's name (empty: the only machine)")
        String spindle_machine() default "";

        @AttributeDefinition(name = "Channel mode", required = false, options = {
            @Option(label = "compatibility: legacy ports and IRQ 14/15, fixed (programming interface 80h, the PIIX3)",
                    value = "compatibility"),
            @Option(label = "switchable: compatibility, the guest may switch a channel to native (8Ah)", value = "switchable"),
            @Option(label = "native: BARs 0-3 and INTA#, the guest may switch back (8Fh)", value = "native")})
        String mode() default "compatibility";

        @AttributeDefinition(name = "I/O", required = false, options = {
            @Option(label = "auto (default): a device starts on I/O threads and runs inline while its data comes quickly from the host's cache",
                    value = "auto"),
            @Option(label = "workers: storage work (DMA, PIO blocks, flushes) always runs on an I/O thread, the command in flight meanwhile",
                    value = "workers"),
            @Option(label = "inline: always in the register write that issued it (the machine waits for the storage)",
                    value = "inline")})
        String io() default "auto";

        @AttributeDefinition(name = "Primary master", required = false,
                description = "disk:ID (an ATA disk over drive ID), cdrom:ID (a CD-ROM whose disc is drive ID), cdrom, or empty")
        String primary_master() default "";

        @AttributeDefinition(name = "Primary slave", required = false, description = "As primary master")
        String primary_slave() default "";

        @AttributeDefinition(name = "Secondary master", required = false, description = "As primary master")
        String secondary_master() default "";

        @AttributeDefinition(name = "Secondary slave", required = false, description = "As primary master")
        String secondary_slave() default "";
    }

    private final String name;
    private final PciAddress address;
    private final Piix3Ide.Mode mode;
    private final IoMode io;
    private final Position[] positions;
    /** The configuration, for each device's IDENTIFY strings (PLACE.serial, .firmware, .model). */
    private final Map<String, Object> props;
    private final SlotThread thread = new SlotThread();
    private final Map<String, Drive> drives = new HashMap<>();
    private final DiskSocket[] sockets = new DiskSocket[4];
    private final AtapiCdrom[] cdroms = new AtapiCdrom[4];
    /** The drive each CD-ROM holds because it is the drive its place follows. */
    private final Drive[] inserted = new Drive[4];
    /** The drive each disk's socket refused last (another size), so that it is not tried again. */
    private final Drive[] refused = new Drive[4];
    private final ControllerServices services;
    private Piix3Ide controller;
    private String waitingFor;
    private boolean active;

    /**
     * @throws IllegalArgumentException naming the property that is wrong (the component then does not
     *         start, and the framework logs why)
     */
    @Activate
    public IdeComponent(BundleContext context, Config config, Map<String, Object> props) {
        this.name = ControllerServices.name(config.name(), props, "ide");
        this.address = PciAddress.parse(config.spindle_pci_address());
        this.services = new ControllerServices(context, LOG, "IDE " + name, PciFunction.MACHINE,
                config.spindle_machine().trim(), thread);
        this.mode = Piix3Ide.Mode.parse(config.mode().trim().toLowerCase(Locale.ROOT));
        this.io = IoMode.parse(config.io().trim().toLowerCase(Locale.ROOT));
        this.positions = IdePositions.parse(props).positions();
        this.props = Map.copyOf(props);
        for (String key : IdePositions.KEYS) {
            // a serial, firmware or model that cannot be an IDENTIFY string fails here, named
            AtaIdentity.disk("check").configured(key, props);
        }
    }

    @Activate
    synchronized void activate() {
        active = true;
        update();
    }

    @Deactivate
    synchronized void deactivate() {
        active = false;
        // The function first: the machine takes it off the bus, then nothing runs the devices.
        services.unregisterAll();
        controller = null;
    }

    @Reference(service = Drive.class, cardinality = ReferenceCardinality.MULTIPLE, policy = ReferencePolicy.DYNAMIC,
            policyOption = ReferencePolicyOption.GREEDY)
    synchronized void addDrive(Drive drive, Map<String, Object> props) {
        drives.put(String.valueOf(props.get(Drive.ID)), drive);
        update();
    }

    synchronized void removeDrive(Drive drive, Map<String, Object> props) {
        String id = String.valueOf(props.get(Drive.ID));
        drives.remove(id, drive);
        if (controller == null) {
            return;
        }
        for (Position p : positions) {
            int i = p.index();
            if (!id.equals(p.drive())) {
                continue;
            }
            if (sockets[i] != null && sockets[i].connected().orElse(null) == drive) {
                services.onThread("detaching disk " + id, () -> sockets[i].disconnect());
                // When the framework stops, drives go before controllers: nothing to warn of.
                LOG.log(services.frameworkStopping() ? Level.DEBUG : Level.WARNING,
                        "IDE {0} {1}: drive {2} went away; the guest''s disk fails until it returns", name, p.key(), id);
            }
            if (cdroms[i] != null && inserted[i] == drive) {
                AtapiCdrom cd = cdroms[i];
                services.onThread("taking out disc " + id, () -> {
                    if (cd.medium().orElse(null) == drive) {
                        cd.remove(true);
                    }
                });
                inserted[i] = null;
            }
        }
        update();
    }

    /** Starts the controller once its disks are there, and brings every place in line with the drives. */
    private void update() {
        if (!active) {
            return;
        }
        if (controller == null && !start()) {
            return;
        }
        for (Position p : positions) {
            int i = p.index();
            Drive d = p.drive() == null ? null : drives.get(p.drive());
            if (d == null) {
                continue;
            }
            if (p.kind() == Kind.DISK && sockets[i].connected().isEmpty() && refused[i] != d) {
                // a drive refused once (another size) is not tried again until it is replaced
                refused[i] = d;
                services.onThread("reconnecting disk " + p.drive(), () -> {
                    sockets[i].connect(d);
                    refused[i] = null;
                });
            } else if (p.kind() == Kind.CDROM && inserted[i] != d) {
                AtapiCdrom cd = cdroms[i];
                services.onThread("inserting disc " + p.drive(), () -> {
                    if (cd.medium().isEmpty()) {
                        cd.insert(d, p.drive(), true);
                        inserted[i] = d;
                    }
                });
            }
        }
    }

    /** Builds and registers the controller if every disk's drive is attached; says what it waits for if not. */
    private boolean start() {
        Object[] devices = new Object[4];
        for (Position p : positions) {
            int i = p.index();
            if (p.kind() == Kind.DISK) {
                Drive d = drives.get(p.drive());
                if (d == null) {
                    waiting(p.key() + " waits for drive " + p.drive());
                    return false;
                }
                try {
                    sockets[i] = new DiskSocket(p.drive(), d);
                    devices[i] = new AtaDisk(sockets[i], AtaIdentity.disk(DeviceSpec.serial(p.drive())).configured(p.key(), props));
                } catch (IllegalArgumentException e) {
                    sockets[i] = null;
                    waiting(p.key() + ": drive " + p.drive() + " cannot be an ATA disk: " + e.getMessage());
                    return false;
                }
            } else if (p.kind() == Kind.CDROM) {
                cdroms[i] = new AtapiCdrom(AtaIdentity.cdrom(DeviceSpec.serial(slot(p))).configured(p.key(), props), slot(p),
                        thread);
                devices[i] = cdroms[i];
            }
        }
        controller = new Piix3Ide(mode, io, thread, devices);
        waitingFor = null;
        for (Position p : positions) {
            if (cdroms[p.index()] != null) {
                services.register(RemovableMedia.class, cdroms[p.index()], Map.of(RemovableMedia.SLOT, slot(p)));
            }
        }
        services.register(PciFunction.class, controller, Map.of(PciFunction.ADDRESS, address.toString()));
        LOG.log(Level.INFO, "IDE {0} at {1} ({2}, io {3}): {4}", name, address, mode.configName(), io.configName(),
                describe());
        return true;
    }

    private void waiting(String why) {
        if (!why.equals(waitingFor)) {
            waitingFor = why;
            LOG.log(Level.INFO, "IDE {0} not started: {1}", name, why);
        }
    }

    private String slot(Position p) {
        return name + "." + p.channelUnit();
    }

    private String describe() {
        List<String> parts = new ArrayList<>();
        for (Position p : positions) {
            if (p.kind() != Kind.NONE) {
                parts.add(p.key() + " " + p.kind().name().toLowerCase(Locale.ROOT) + (p.drive() == null ? "" : " " + p.drive()));
            }
        }
        return String.join(", ", parts);
    }
}
