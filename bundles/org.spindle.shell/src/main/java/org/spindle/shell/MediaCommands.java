package org.spindle.shell;

import java.util.ArrayList;
import java.util.Collection;
import java.util.Comparator;
import java.util.List;
import java.util.stream.Collectors;

import org.apache.felix.service.command.Descriptor;
import org.apache.felix.service.command.Parameter;
import org.apache.felix.service.command.annotations.GogoCommand;
import org.osgi.framework.BundleContext;
import org.osgi.framework.InvalidSyntaxException;
import org.osgi.framework.ServiceReference;
import org.osgi.service.component.annotations.Activate;
import org.osgi.service.component.annotations.Component;
import org.spindle.storage.api.Drive;
import org.spindle.storage.api.MediaStatusDTO;
import org.spindle.storage.api.RemovableMedia;
import org.spindle.storage.api.StorageException;

/**
 * The {@code media:} commands: the removable slots of the machine's drives (CD-ROMs), their trays and
 * discs. Each returns {@link MediaStatusDTO}s, so scripts can use the fields:
 * {@code (media:info ide0.1.0) present}. A guest that locked its tray refuses an eject unless it is
 * forced, and is told that someone pressed the button.
 */
@Component(service = MediaCommands.class)
@GogoCommand(scope = "media", function = {"list", "info", "eject", "insert", "open", "close"})
public final class MediaCommands {
    private final BundleContext context;

    @Activate
    public MediaCommands(BundleContext context) {
        this.context = context;
    }

    @Descriptor("lists every removable slot: tray, lock, disc")
    public List<MediaStatusDTO> list() {
        List<MediaStatusDTO> all = new ArrayList<>();
        for (ServiceReference<RemovableMedia> ref : references(null)) {
            RemovableMedia m = context.getService(ref);
            if (m != null) {
                try {
                    all.add(m.status());
                } catch (RuntimeException e) {
                    // one slot that cannot answer (its machine refused the call) must not hide the others
                    MediaStatusDTO unknown = new MediaStatusDTO();
                    unknown.slot = String.valueOf(ref.getProperty(RemovableMedia.SLOT));
                    unknown.medium = "unavailable: " + e.getMessage();
                    all.add(unknown);
                } finally {
                    context.ungetService(ref);
                }
            }
        }
        all.sort(Comparator.comparing(s -> s.slot));
        return all;
    }

    @Descriptor("shows one slot")
    public MediaStatusDTO info(@Descriptor("the slot, e.g. ide0.1.0") String slot) throws StorageException {
        return on(slot, RemovableMedia::status);
    }

    @Descriptor("takes the disc out (the tray stays open)")
    public MediaStatusDTO eject(
            @Descriptor("even when the guest has locked the tray")
            @Parameter(names = {"-f", "--force"}, presentValue = "true", absentValue = "false") boolean force,
            @Descriptor("the slot, e.g. ide0.1.0") String slot) throws StorageException {
        return on(slot, m -> {
            m.remove(force);
            return m.status();
        });
    }

    @Descriptor("puts an attached drive's image in the slot as its disc, and closes the tray")
    public MediaStatusDTO insert(
            @Descriptor("even when the guest has locked the tray")
            @Parameter(names = {"-f", "--force"}, presentValue = "true", absentValue = "false") boolean force,
            @Descriptor("the slot, e.g. ide0.1.0") String slot,
            @Descriptor("the id of an attached drive (drive:attach -r cd1 /images/disc.iso)") String drive)
            throws StorageException {
        Collection<ServiceReference<Drive>> refs;
        try {
            refs = context.getServiceReferences(Drive.class, "(" + Drive.ID + "=" + escape(drive) + ")");
        } catch (InvalidSyntaxException e) {
            throw new IllegalArgumentException("'" + drive + "' is not a drive id");
        }
        if (refs.isEmpty()) {
            throw new IllegalArgumentException("no attached drive '" + drive + "' (drive:list shows them)");
        }
        ServiceReference<Drive> ref = refs.iterator().next();
        Drive d = context.getService(ref);
        try {
            return on(slot, m -> {
                m.insert(d, drive, force);
                return m.status();
            });
        } finally {
            // the slot holds the drive object; the drive manager keeps it open while it is attached
            context.ungetService(ref);
        }
    }

    @Descriptor("opens the tray (the disc stays on it, unreadable)")
    public MediaStatusDTO open(
            @Descriptor("even when the guest has locked the tray")
            @Parameter(names = {"-f", "--force"}, presentValue = "true", absentValue = "false") boolean force,
            @Descriptor("the slot, e.g. ide0.1.0") String slot) throws StorageException {
        return on(slot, m -> {
            m.openTray(force);
            return m.status();
        });
    }

    @Descriptor("closes the tray (a disc on it becomes readable)")
    public MediaStatusDTO close(@Descriptor("the slot, e.g. ide0.1.0") String slot) throws StorageException {
        return on(slot, m -> {
            m.closeTray();
            return m.status();
        });
    }

    private interface SlotWork {
        MediaStatusDTO run(RemovableMedia media) throws StorageException;
    }

    private MediaStatusDTO on(String slot, SlotWork work) throws StorageException {
        List<ServiceReference<RemovableMedia>> refs = references(slot);
        if (refs.isEmpty()) {
            List<MediaStatusDTO> all = list();
            throw new IllegalArgumentException("no removable slot '" + slot + "'" + (all.isEmpty() ? " (there are none)"
                    : " (slots: " + all.stream().map(s -> s.slot).collect(Collectors.joining(", ")) + ")"));
        }
        RemovableMedia m = context.getService(refs.get(0));
        if (m == null) {
            throw new IllegalArgumentException("removable slot '" + slot + "' went away");
        }
        try {
            return work.run(m);
        } finally {
            context.ungetService(refs.get(0));
        }
    }

    private List<ServiceReference<RemovableMedia>> references(String slot) {
        try {
            return new ArrayList<>(context.getServiceReferences(RemovableMedia.class,
                    slot == null ? null : "(" + RemovableMedia.SLOT + "=" + escape(slot) + ")"));
        } catch (InvalidSyntaxException e) {
            throw new IllegalStateException(e);
        }
    }

    private static String escape(String value) {
        return value.replace("\\", "\\\\").replace("*", "\\*").replace("(", "\\(").replace(")", "\\)");
    }
}
