package org.spindle.it.magic;

import java.util.Hashtable;

import org.osgi.framework.BundleActivator;
import org.osgi.framework.BundleContext;
import org.spindle.storage.api.DiskFormat;

/** Registers {@link MagicFormat} the plain OSGi way: a third party needs no DS and no Spindle code. */
public final class MagicActivator implements BundleActivator {
    @Override
    public void start(BundleContext context) {
        Hashtable<String, Object> props = new Hashtable<>();
        props.put(DiskFormat.NAME, "magic");
        context.registerService(DiskFormat.class, new MagicFormat(), props);
    }

    @Override
    public void stop(BundleContext context) {
        // the framework unregisters the service
    }
}
