package org.spindle.device.ahci;

import java.lang.System.Logger;
import java.lang.System.Logger.Level;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;

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
import org.spindle.device.ata.AtaDisk;
import org.spindle.device.ata.AtaIdentity;
import org.spindle.device.ata.AtapiCdrom;
import org.spindle.device.ata.ControllerServices;
import org.spindle.device.ata.DeviceSpec;
import org.spindle.device.ata.IoMode;
import org.spindle.device.ata.SlotThread;
import org.spindle.machine.api.PciAddress;
import org.spindle.machine.api.PciFunction;
import org.spindle.storage.api.Drive;
import org.spindle.storage.api.RemovableMedia;

/**
 * An ICH9 AHCI HBA in the runtime, one per {@code org.spindle.device.ahci} factory configuration.
 *
 * <p>Its ports ({@code port.0} to {@code port.N}) hold disks over drives, CD-ROMs, or nothing, written
 * as for IDE ({@link DeviceSpec}). SATA ports are hot-pluggable, so the HBA is registered at once: a
 * disk whose drive is attached then is there from power-on; one that comes later is hot-plugged (the
 * guest sees the link come up), one that goes away is pulled (the guest sees it go), and a drive that
 * returns is plugged in again as a new disk. Each CD-ROM is always there and is registered as a
 * {@link RemovableMedia} service, slot {@code NAME.PORT}; a {@code cdrom:ID} drive is its disc, in and
 * out with the drive, as on IDE.
 */
@Capability(namespace = "osgi.service", attribute = "objectClass:List<String>=\"org.spindle.machine.api.PciFunction\"",
        uses = PciFunction.class)
@Capability(namespace = "osgi.service", attribute = "objectClass:List<String>=\"org.spindle.storage.api.RemovableMedia\"",
        uses = RemovableMedia.class)
@Component(configurationPid = AhciComponent.PID, configurationPolicy = ConfigurationPolicy.REQUIRE, service = {})
@Designate(ocd = AhciComponent.Config.class, factory = true)
public final class AhciComponent {
    public static final String PID = "org.spindle.device.ahci";
    private static final Logger LOG = System.getLogger(AhciComponent.class.getName());

    @ObjectClassDefinition(id = PID, name = "Spindle ICH9 AHCI controller",
            description = "An ICH9 AHCI function: its PCI address, its ports, where disk I/O runs, and the device on each port (port.0 to port.31).")
    public @interface Config {
        @AttributeDefinition(name = "Name", required = false,
                description = "Names the HBA's media slots (NAME.PORT); defaults to the configuration name after '~'.")
        String name() default "";

        @AttributeDefinition(name = "PCI address", required = false, description = "BB:DD.F; 00:1f.2 on a q35")
        String spindle_pci_address() default "00:1f.2";

        @AttributeDefinition(name = "Machine", required = false, description = "The machine's name (empty: the only machine)")
        String spindle_machine() default "";

        @AttributeDefinition(name = "Ports", required = false, description = "How many ports the HBA implements, 1 to 32")
        int ports() default AhciHba.DEFAULT_PORTS;

        @AttributeDefinition(name = "I/O", required = false, options = {
            @Option(label = "auto (default): a port starts on I/O threads and runs inline while its data comes quickly from the host's cache",
                    value = "auto"),
            @Option(label = "workers: a disk command's data always moves on an I/O thread; ports and tags in flight at once",
                    value = "workers"),
            @Option(label = "inline: always in the register write that issued it (the machine waits for the storage)",
                    value = "inline")})
        String io() default "auto";

        @AttributeDefinition(name = "Link delay", required = false,
                description = "Nanoseconds of machine time a link takes to come up after COMRESET or spin-up (0: at once)")
        long link_delay() default AhciHba.DEFAULT_LINK_DELAY_NANOS;
    }

    private final String name;
    private final PciAddress address;
    private final int portCount;
    private final IoMode io;
    private final long linkDelay;
    private final DeviceSpec[] ports;
    /** The configuration, for each device's IDENTIFY strings (port.N.serial, .firmware, .model). */
    private final Map<String, Object> props;
    private final SlotThread thread = new SlotThread();
    private final Map<String, Drive> drives = new HashMap<>();
    private final AtapiCdrom[] cdroms;
    /** The drive each disk port holds now, and each CD-ROM's disc that came from its drive. */
    private final Drive[] held;
    private final ControllerServices services;
    private AhciHba hba;
    private boolean active;

    /**
     * @throws IllegalArgumentException naming the property that is wrong (the component then does not
     *         start, and the framework logs why)
     */
    @Activate
    public AhciComponent(BundleContext context, Config config, Map<String, Object> props) {
        this.name = ControllerServices.name(config.name(), props, "ahci");
        this.address = PciAddress.parse(config.spindle_pci_address());
        this.services = new ControllerServices(context, LOG, "AHCI " + name, PciFunction.MACHINE,
                config.spindle_machine().trim(), thread);
        this.portCount = config.ports();
        if (portCount < 1 || portCount > AhciHba.MAX_PORTS) {
            throw new IllegalArgumentException("ports = " + portCount + ": 1 to 32");
        }
        this.io = IoMode.parse(config.io().trim().toLowerCase(Locale.ROOT));
        this.linkDelay = config.link_delay();
        if (linkDelay < 0) {
            throw new IllegalArgumentException("link.delay = " + linkDelay + ": nanoseconds, 0 or more");
        }
        this.ports = ports(props, portCount);
        this.props = Map.copyOf(props);
        for (int i = 0; i < portCount; i++) {
            // a serial, firmware or model that cannot be an IDENTIFY string fails here, named
            AtaIdentity.disk("check").configured("port." + i, props);
        }
        this.cdroms = new AtapiCdrom[portCount];
        this.held = new Drive[portCount];
    }

    /** Reads {@code port.0} to {@code port.N-1}; a {@code port.K} beyond the ports is a mistake, named. */
    static DeviceSpec[] ports(Map<String, ?> props, int count) {
        DeviceSpec[] specs = new DeviceSpec[count];
        Set<String> used = new HashSet<>();
        for (String key : props.keySet()) {
            if (key.startsWith("port.") && !key.matches("port\\.([0-9]|[12][0-9]|3[01])(\\.(serial|firmware|model))?")) {
                throw new IllegalArgumentException(key + ": ports are port.0 to port.31 (with .serial, .firmware or .model"
                        + " for a device's IDENTIFY strings)");
            }
            if (key.matches("port\\.[0-9]+.*") && Integer.parseInt(key.split("\\.")[1]) >= count) {
                throw new IllegalArgumentException(key + ": the HBA has " + count + " ports (ports = " + count + ")");
            }
        }
        for (int i = 0; i < count; i++) {
            Object raw = props.get("port." + i);
            specs[i] = DeviceSpec.parse("port." + i, raw == null ? "" : raw.toString());
            if (specs[i].drive() != null && !used.add(specs[i].drive())) {
                throw new IllegalArgumentException("port." + i + " = " + raw + ": drive " + specs[i].drive()
                        + " is on another port of this HBA already");
            }
        }
        return specs;
    }

    @Activate
    synchronized void activate() {
        active = true;
        Object[] devices = new Object[portCount];
        for (int i = 0; i < portCount; i++) {
            if (ports[i].kind() == DeviceSpec.Kind.CDROM) {
                cdroms[i] = new AtapiCdrom(AtaIdentity.cdrom(DeviceSpec.serial(slot(i))).configured("port." + i, props), slot(i),
                        thread, true);
                devices[i] = cdroms[i];
            } else if (ports[i].kind() == DeviceSpec.Kind.DISK) {
                Drive d = drives.get(ports[i].drive());
                AtaDisk disk = d == null ? null : disk(i, d);
                if (disk != null) {
                    devices[i] = disk;
                    held[i] = d;
                }
            }
        }
        hba = new AhciHba(portCount, io, linkDelay, thread, devices);
        for (int i = 0; i < portCount; i++) {
            if (cdroms[i] != null) {
                services.register(RemovableMedia.class, cdroms[i], Map.of(RemovableMedia.SLOT, slot(i)));
            }
        }
        services.register(PciFunction.class, hba, Map.of(PciFunction.ADDRESS, address.toString()));
        LOG.log(Level.INFO, "AHCI {0} at {1} ({2} ports, {3} I/O): {4}", name, address, portCount, io.configName(),
                describe());
        update();
    }

    @Deactivate
    synchronized void deactivate() {
        active = false;
        services.unregisterAll();
        hba = null;
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
        if (hba == null) {
            return;
        }
        for (int i = 0; i < portCount; i++) {
            if (held[i] != drive) {
                continue;
            }
            int port = i;
            held[i] = null;
            if (ports[i].kind() == DeviceSpec.Kind.DISK) {
                services.onThread("pulling disk " + id, () -> hba.detach(port));
                LOG.log(services.frameworkStopping() ? Level.DEBUG : Level.WARNING, "AHCI {0} port {1}: drive {2} went away; the guest sees the disk pulled",
                        name, port, id);
            } else {
                AtapiCdrom cd = cdroms[i];
                services.onThread("taking out disc " + id, () -> {
                    if (cd.medium().orElse(null) == drive) {
                        cd.remove(true);
                    }
                });
            }
        }
        update();
    }

    /** Brings every port in line with the drives: disks plugged in, discs inserted. */
    private void update() {
        if (!active || hba == null) {
            return;
        }
        for (int i = 0; i < portCount; i++) {
            DeviceSpec spec = ports[i];
            Drive d = spec.drive() == null ? null : drives.get(spec.drive());
            if (d == null || held[i] == d) {
                continue;
            }
            int port = i;
            if (spec.kind() == DeviceSpec.Kind.DISK) {
                AtaDisk disk = disk(i, d);
                if (disk != null) {
                    held[i] = d;
                    services.onThread("plugging in disk " + spec.drive(), () -> hba.attach(port, disk));
                }
            } else {
                AtapiCdrom cd = cdroms[i];
                held[i] = d;
                services.onThread("inserting disc " + spec.drive(), () -> {
                    if (cd.medium().isEmpty()) {
                        cd.insert(d, spec.drive(), true);
                    }
                });
            }
        }
    }

    private AtaDisk disk(int port, Drive d) {
        try {
            return new AtaDisk(d, AtaIdentity.disk(DeviceSpec.serial(ports[port].drive())).configured("port." + port, props),
                    true);
        } catch (IllegalArgumentException e) {
            LOG.log(Level.WARNING, "AHCI {0} port {1}: drive {2} cannot be an ATA disk: {3}", name, port,
                    ports[port].drive(), e.getMessage());
            return null;
        }
    }

    private String slot(int port) {
        return name + "." + port;
    }

    private String describe() {
        List<String> parts = new ArrayList<>();
        for (int i = 0; i < portCount; i++) {
            if (ports[i].kind() != DeviceSpec.Kind.NONE) {
                parts.add("port " + i + " " + ports[i].kind().name().toLowerCase(Locale.ROOT)
                        + (ports[i].drive() == null ? "" : " " + ports[i].drive()));
            }
        }
        return parts.isEmpty() ? "no devices" : String.join(", ", parts);
    }
}
