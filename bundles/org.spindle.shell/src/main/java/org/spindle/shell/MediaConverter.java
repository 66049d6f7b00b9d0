package org.spindle.shell;

import org.apache.felix.service.command.Converter;
import org.osgi.service.component.annotations.Component;
import org.spindle.storage.api.ByteSize;
import org.spindle.storage.api.MediaStatusDTO;

/** Tells the Gogo shell how to print {@link MediaStatusDTO}s: one line each. */
@Component(property = "osgi.converter.classes=org.spindle.storage.api.MediaStatusDTO")
public final class MediaConverter implements Converter {
    @Override
    public Object convert(Class<?> desiredType, Object in) {
        return null; // nothing converts into a MediaStatusDTO
    }

    @Override
    public CharSequence format(Object target, int level, Converter escape) {
        if (!(target instanceof MediaStatusDTO m)) {
            return null;
        }
        return level == PART ? m.slot : line(m);
    }

    /** {@code ide0.1.0  tray closed, locked  disc cd0 (650 MiB)  3 changes} */
    static String line(MediaStatusDTO m) {
        String tray = "tray " + (m.trayOpen ? "open" : "closed") + (m.locked ? ", locked" : "");
        String disc = m.present ? "disc " + m.medium + " (" + ByteSize.format(m.capacity) + ")"
                : m.medium != null ? m.medium : "no disc";
        return String.format("%-12s %-20s %s  %d change%s", m.slot, tray, disc, m.changes, m.changes == 1 ? "" : "s");
    }
}
