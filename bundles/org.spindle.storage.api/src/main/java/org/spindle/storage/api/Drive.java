package org.spindle.storage.api;

import org.osgi.annotation.versioning.ProviderType;

/**
 * An attached drive: a {@link VirtualDisk} with an identity, registered as a service (under both
 * {@code Drive} and {@code VirtualDisk}) for each attached drive configuration. Controllers select the
 * drive they serve with a filter on {@link #ID}.
 *
 * <p>Every failure of a drive's I/O is a {@link StorageException} naming the drive: no other exception
 * leaves it.
 */
@ProviderType
public interface Drive extends VirtualDisk {
    /** The factory PID of drive configurations: {@code org.spindle.drive~NAME}. */
    String FACTORY_PID = "org.spindle.drive";

    /** Service property ({@code String}): the drive id. */
    String ID = "spindle.drive.id";
    /** Service property ({@code String}): the backend URI. */
    String BACKEND = "spindle.drive.backend";
    /** Service property ({@code String}): the format the image was opened with. */
    String FORMAT = "spindle.drive.format";
    /** Service property ({@code Boolean}). */
    String READ_ONLY = "spindle.drive.readonly";
    /** Service property ({@code Long}): capacity in bytes. */
    String CAPACITY = "spindle.drive.capacity";
    /** Service property ({@code Integer}): logical sector size. */
    String SECTOR_SIZE = "spindle.drive.sectorsize";
    /** Service property ({@code String[]}): capability names, see {@link DriveDTO#capabilities}. */
    String CAPABILITIES = "spindle.drive.capabilities";
    /** Service property ({@code String}): the {@link MediaType} configuration name, {@code disk} or {@code cdrom}. */
    String MEDIA = "spindle.drive.media";

    String id();

    /** A snapshot of this drive's configuration and state. */
    DriveDTO info();
}
