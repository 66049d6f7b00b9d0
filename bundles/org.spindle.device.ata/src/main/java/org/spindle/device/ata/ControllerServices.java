package org.spindle.device.ata;

import java.lang.System.Logger;
import java.lang.System.Logger.Level;
import java.util.ArrayList;
import java.util.Hashtable;
import java.util.List;
import java.util.Map;
import java.util.regex.Pattern;

import org.osgi.framework.Bundle;
import org.osgi.framework.BundleContext;
import org.osgi.framework.Constants;
import org.osgi.framework.ServiceRegistration;

/**
 * What a controller's runtime component does with the framework, the same for every controller: its
 * name from its configuration, its services (the PCI function, a media slot per CD-ROM) registered
 * with the machine's name and taken away in reverse order, and operator changes run on the
 * controller's thread with a failure logged, never thrown at the framework.
 *
 * @since 1.2
 */
public final class ControllerServices {
    private static final Pattern NAME = Pattern.compile("[A-Za-z0-9][A-Za-z0-9._-]{0,31}");

    /** A change to a controller's devices. */
    @FunctionalInterface
    public interface Work {
        void run() throws Exception;
    }

    private final BundleContext context;
    private final Logger log;
    private final String label;
    private final String machineKey;
    private final String machine;
    private final DeviceThread thread;
    private final List<ServiceRegistration<?>> registrations = new ArrayList<>();

    /**
     * @param label how log lines name the controller ({@code IDE ide0})
     * @param machineKey the service property naming the machine ({@code spindle.machine})
     * @param machine the machine's name, or empty for the only machine
     * @param thread where the controller's operator calls run
     */
    public ControllerServices(BundleContext context, Logger log, String label, String machineKey, String machine,
            DeviceThread thread) {
        this.context = context;
        this.log = log;
        this.label = label;
        this.machineKey = machineKey;
        this.machine = machine;
        this.thread = thread;
    }

    /**
     * A controller's name: the configured one, else the factory configuration's name (after '~' in its
     * PID), else {@code fallback}.
     *
     * @throws IllegalArgumentException when it is not 1 to 32 letters, digits, '.', '_' or '-'
     */
    public static String name(String configured, Map<String, ?> props, String fallback) {
        String n = configured.trim();
        if (n.isEmpty()) {
            Object pid = props.get(Constants.SERVICE_PID);
            String text = pid == null ? "" : pid.toString();
            int tilde = text.indexOf('~');
            n = tilde >= 0 ? text.substring(tilde + 1) : fallback;
        }
        if (!NAME.matcher(n).matches()) {
            throw new IllegalArgumentException("name = " + n + ": 1 to 32 letters, digits, '.', '_' or '-'");
        }
        return n;
    }

    /** Registers {@code service} with {@code props} and the machine's name when there is one. */
    public <T> void register(Class<T> type, T service, Map<String, Object> props) {
        Hashtable<String, Object> all = new Hashtable<>(props);
        if (!machine.isEmpty()) {
            all.put(machineKey, machine);
        }
        registrations.add(context.registerService(type, service, all));
    }

    /** Whether the framework is stopping: drives go before controllers then, which is nothing to warn of. */
    public boolean frameworkStopping() {
        return context.getBundle(0).getState() == Bundle.STOPPING;
    }

    /** Takes every service away, the last registered first. */
    public void unregisterAll() {
        for (int i = registrations.size() - 1; i >= 0; i--) {
            try {
                registrations.get(i).unregister();
            } catch (IllegalStateException gone) {
                // unregistered with the bundle already
            }
        }
        registrations.clear();
    }

    /** Runs a change on the controller's thread; a failure is logged as {@code what} failing. */
    public void onThread(String what, Work work) {
        try {
            thread.call(() -> {
                work.run();
                return null;
            });
        } catch (Exception e) {
            log.log(Level.WARNING, "{0}: {1} failed: {2}", label, what, e.getMessage());
        }
    }
}
