package org.spindle.machine.core;

import java.util.Hashtable;
import java.util.Map;

import org.osgi.annotation.bundle.Capability;
import org.osgi.framework.BundleContext;
import org.osgi.framework.ServiceRegistration;
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
import org.spindle.machine.api.IsaDevice;
import org.spindle.machine.api.Machine;
import org.spindle.machine.api.PciAddress;
import org.spindle.machine.api.PciFunction;

/**
 * A machine in the runtime: the {@code org.spindle.machine} configuration of a profile builds it, and
 * it is registered as a {@link Machine} service. Every {@link PciFunction} service with a
 * {@code spindle.pci.address} (and, if it has one, this machine's {@code spindle.machine}) is plugged
 * at its address, and every {@link IsaDevice} service by its {@code spindle.isa.name}: before the
 * machine is published as cold plug, afterwards as hot plug (with the guest told through ACPI on a
 * pc). A service that goes away is taken out. A function that cannot be plugged (a taken or
 * malformed address) is left out and the reason is in {@link Machine#problems()}.
 */
@Capability(namespace = "osgi.service", attribute = "objectClass:List<String>=\"org.spindle.machine.api.Machine\"",
        uses = Machine.class)
@Component(configurationPid = MachineConfig.PID, configurationPolicy = ConfigurationPolicy.REQUIRE, service = {})
@Designate(ocd = MachineComponent.Config.class)
public final class MachineComponent {
    @ObjectClassDefinition(name = "Spindle machine", description = "A PC: its type, RAM and board wiring")
    public @interface Config {
        @AttributeDefinition(description = "The machine's name (spindle.machine of its devices)")
        String name() default "machine";

        @AttributeDefinition(description = "pc (i440FX + PIIX3) or q35 (Q35 + ICH9)")
        String type() default "pc";

        @AttributeDefinition(description = "RAM: 512M, 2G, or bytes")
        String ram() default "512M";

        @AttributeDefinition(description = "CPUs the firmware is told of")
        int cpus() default 1;

        @AttributeDefinition(description = "INTx wiring: qemu (QEMU's boards) or slot (PIRQ = (slot + pin) mod 4)")
        String intx_swizzle() default "qemu";

        @AttributeDefinition(description = "ISA IRQ per PIRQ as firmware programs them, e.g. 10,11,12,10; empty: routing off")
        String pirq_routes() default "";

        @AttributeDefinition(description = "RTC start, seconds since 1970 UTC")
        long rtc_start() default 1_767_225_600L;
    }

    private final PcMachine machine;
    private volatile boolean published;
    private ServiceRegistration<Machine> registration;

    @Activate
    public MachineComponent(Map<String, Object> properties) {
        machine = new PcMachine(MachineConfig.from(properties));
    }

    @Activate
    void activate(BundleContext context) {
        Hashtable<String, Object> props = new Hashtable<>();
        props.put(Machine.NAME, machine.name());
        props.put(Machine.TYPE, machine.type());
        published = true;
        registration = context.registerService(Machine.class, machine, props);
    }

    @Deactivate
    void deactivate() {
        published = false;
        if (registration != null) {
            registration.unregister();
        }
        machine.close();
    }

    private boolean mine(Map<String, Object> props) {
        Object name = props.get(PciFunction.MACHINE);
        return name == null || name.toString().equals(machine.name());
    }

    private void onMachine(String what, Runnable work) {
        try {
            machine.call(() -> {
                work.run();
                return null;
            });
        } catch (Exception e) {
            machine.problem(what + ": " + e.getMessage());
        }
    }

    @Reference(cardinality = ReferenceCardinality.MULTIPLE, policy = ReferencePolicy.DYNAMIC,
            policyOption = ReferencePolicyOption.GREEDY)
    void addPciFunction(PciFunction function, Map<String, Object> props) {
        if (!mine(props)) {
            return;
        }
        Object text = props.get(PciFunction.ADDRESS);
        onMachine("PCI function " + text, () -> {
            PciAddress address = PciAddress.parse(text == null ? null : text.toString());
            if (published && machine.type().equals("pc")) {
                machine.hotplug(address, function);
            } else {
                machine.plug(address, function);
            }
        });
    }

    void removePciFunction(PciFunction function, Map<String, Object> props) {
        if (!mine(props)) {
            return;
        }
        onMachine("PCI function " + props.get(PciFunction.ADDRESS) + " leaving", () -> {
            for (Map.Entry<PciAddress, PciFunction> e : machine.pciFunctions().entrySet()) {
                if (e.getValue() == function) {
                    machine.unplug(e.getKey());
                }
            }
        });
    }

    @Reference(cardinality = ReferenceCardinality.MULTIPLE, policy = ReferencePolicy.DYNAMIC,
            policyOption = ReferencePolicyOption.GREEDY)
    void addIsaDevice(IsaDevice device, Map<String, Object> props) {
        if (mine(props)) {
            onMachine("ISA device " + props.get(IsaDevice.NAME), () -> machine.plugIsa(name(device, props), device));
        }
    }

    void removeIsaDevice(IsaDevice device, Map<String, Object> props) {
        if (mine(props)) {
            onMachine("ISA device " + props.get(IsaDevice.NAME) + " leaving", () -> machine.unplugIsa(name(device, props)));
        }
    }

    private static String name(IsaDevice device, Map<String, Object> props) {
        Object n = props.get(IsaDevice.NAME);
        return n != null ? n.toString() : device.getClass().getName() + "@" + System.identityHashCode(device);
    }
}
