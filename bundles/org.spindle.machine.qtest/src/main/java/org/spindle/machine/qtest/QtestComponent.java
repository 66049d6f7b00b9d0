package org.spindle.machine.qtest;

import java.io.IOException;

import org.osgi.service.component.annotations.Activate;
import org.osgi.service.component.annotations.Component;
import org.osgi.service.component.annotations.ConfigurationPolicy;
import org.osgi.service.component.annotations.Deactivate;
import org.osgi.service.component.annotations.Reference;
import org.osgi.service.metatype.annotations.AttributeDefinition;
import org.osgi.service.metatype.annotations.Designate;
import org.osgi.service.metatype.annotations.ObjectClassDefinition;
import org.spindle.machine.api.Machine;

/**
 * The qtest front door in the runtime: with an {@code org.spindle.machine.qtest} configuration it
 * serves the machine's qtest protocol at the configured address (or connects to a test program
 * there), for as long as the configuration and the machine exist.
 */
@Component(configurationPid = QtestComponent.PID, configurationPolicy = ConfigurationPolicy.REQUIRE, service = {})
@Designate(ocd = QtestComponent.Config.class)
public final class QtestComponent {
    public static final String PID = "org.spindle.machine.qtest";

    @ObjectClassDefinition(name = "Spindle qtest front door", description = "QEMU's qtest protocol for a machine")
    public @interface Config {
        @AttributeDefinition(description = "unix:PATH or tcp:HOST:PORT")
        String address();

        @AttributeDefinition(description = "listen: accept test programs; connect: connect to one that listens (as QEMU's -qtest does)")
        String mode() default "listen";

        @AttributeDefinition(description = "Which machine: an LDAP filter on the Machine service")
        String machine_target() default "";
    }

    private final QtestServer server;

    @Activate
    public QtestComponent(@Reference(name = "machine") Machine machine, Config config) throws IOException {
        server = switch (config.mode()) {
            case "listen" -> QtestServer.listen(machine, config.address());
            case "connect" -> QtestServer.connect(machine, config.address());
            default -> throw new IllegalArgumentException("qtest mode '" + config.mode() + "': listen or connect");
        };
    }

    @Deactivate
    void deactivate() throws IOException {
        server.close();
    }
}
