package org.spindle.shell;

import java.util.List;
import java.util.stream.Collectors;

import org.apache.felix.service.command.Descriptor;
import org.apache.felix.service.command.Parameter;
import org.apache.felix.service.command.annotations.GogoCommand;
import org.osgi.service.component.annotations.Activate;
import org.osgi.service.component.annotations.Component;
import org.osgi.service.component.annotations.Reference;
import org.spindle.storage.api.DriveDTO;
import org.spindle.storage.api.DriveManager;
import org.spindle.storage.api.DriveSpecDTO;
import org.spindle.storage.api.StorageException;

/**
 * The {@code drive:} commands. Each returns DTOs (the shell prints them through {@link DriveConverter}),
 * so scripts can use the fields: {@code (drive:info hd0) state}.
 */
@Component(service = DriveCommands.class)
@GogoCommand(scope = "drive", function = {"list", "info", "attach", "detach"})
public final class DriveCommands {
    private final DriveManager drives;

    @Activate
    public DriveCommands(@Reference DriveManager drives) {
        this.drives = drives;
    }

    @Descriptor("lists every configured drive, attached or not")
    public List<DriveDTO> list() {
        return drives.drives();
    }

    @Descriptor("shows one drive: its image, format, size, capabilities, and why it is not attached")
    public DriveDTO info(@Descriptor("the drive id") String id) {
        return drives.drive(id).orElseThrow(() -> unknown(id));
    }

    @Descriptor("attaches a disk image as a drive and reports whether it attached")
    public DriveDTO attach(
            @Descriptor("open the image read-only")
            @Parameter(names = {"-r", "--read-only"}, presentValue = "true", absentValue = "false") boolean readOnly,
            @Descriptor("image format, or auto to probe")
            @Parameter(names = {"-f", "--format"}, absentValue = "auto") String format,
            @Descriptor("cache mode: writeback, writethrough or unsafe")
            @Parameter(names = {"-c", "--cache"}, absentValue = "writeback") String cache,
            @Descriptor("logical sector size: 512 or 4096 (0: the format's own)")
            @Parameter(names = {"-s", "--sector-size"}, absentValue = "0") int sectorSize,
            @Descriptor("the new drive's id, e.g. hd1") String id,
            @Descriptor("a backend URI (file:/x.img, memory:name?size=64M) or a file path") String backend)
            throws StorageException {
        DriveSpecDTO spec = new DriveSpecDTO();
        spec.id = id;
        spec.backend = backend;
        spec.format = format;
        spec.readOnly = readOnly;
        spec.cache = cache;
        spec.sectorSize = sectorSize;
        return drives.attach(spec);
    }

    @Descriptor("detaches a drive: flushes it, unregisters it and closes its image")
    public DriveDTO detach(@Descriptor("the drive id") String id) throws StorageException {
        DriveDTO before = info(id);
        if (!drives.detach(id)) {
            throw unknown(id);
        }
        return before;
    }

    private IllegalArgumentException unknown(String id) {
        List<DriveDTO> all = drives.drives();
        return new IllegalArgumentException("no drive '" + id + "'" + (all.isEmpty() ? " (no drives are configured)"
                : " (drives: " + all.stream().map(d -> d.id).collect(Collectors.joining(", ")) + ")"));
    }
}
