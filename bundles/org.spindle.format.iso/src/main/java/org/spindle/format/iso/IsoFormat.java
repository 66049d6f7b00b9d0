package org.spindle.format.iso;

import java.nio.ByteBuffer;
import java.util.Locale;

import org.osgi.service.component.annotations.Component;
import org.spindle.storage.api.CreateOptions;
import org.spindle.storage.api.DiskFormat;
import org.spindle.storage.api.MediaType;
import org.spindle.storage.api.OpenOptions;
import org.spindle.storage.api.ProbeInput;
import org.spindle.storage.api.StorageBackend;
import org.spindle.storage.api.StorageException;
import org.spindle.storage.api.StorageException.Kind;
import org.spindle.storage.api.StorageException.Operation;
import org.spindle.storage.api.VirtualDisk;

/**
 * CD images: the 2048-byte user data of each sector of a data track, one after the other, as
 * mastering tools write them. Such a disk is CD-ROM media and always read-only.
 *
 * <h2>Recognising an image</h2>
 * Probing looks only for the ISO 9660 standard identifier "CD001" in the volume descriptor at sector
 * 16 (ECMA-119). An El Torito bootable image is recognised through it, since its boot record is one of
 * those descriptors. A UDF-only image (whose sector 16 starts ECMA-167's "BEA01" sequence instead) is
 * not recognised by probing; a file named {@code *.iso} only scores weakly. Either can still be opened
 * by naming this format.
 *
 * <h2>Opening</h2>
 * The file must be a whole number of sectors. If it has a primary volume descriptor, the volume it
 * describes must fit in the file and use 2048-byte logical blocks. A file without "CD001" at sector 16
 * is accepted as a CD image without a file system, e.g. a bootable image or an audio-less data track in
 * another layout: its bytes are presented as they are.
 *
 * <p>Opening with {@link OpenOptions#readOnly()} false is allowed, so that a drive configured without
 * a read-only flag can still take a CD, but the disk is read-only all the same: a CD cannot be written.
 * The only sector size is 2048 bytes; no parameters are taken.
 */
@Component(property = DiskFormat.NAME + "=" + IsoFormat.NAME)
public final class IsoFormat implements DiskFormat {
    public static final String NAME = "iso";

    @Override
    public String name() {
        return NAME;
    }

    @Override
    public int probe(ProbeInput input) {
        ByteBuffer head = input.head();
        if (VolumeDescriptors.hasStandardId(head, VolumeDescriptors.FIRST_ID_OFFSET)) {
            // whether or not the size fits: opening then says what is wrong rather than showing raw bytes
            return PROBE_MAGIC;
        }
        long size = input.size();
        return hasIsoName(input.location()) && size > 0 && size % VolumeDescriptors.SECTOR == 0
                ? PROBE_WEAK : PROBE_NO;
    }

    /** A path or URI ending in ".iso", ignoring case and, for a URI, its query. */
    private static boolean hasIsoName(String location) {
        String lower = location.toLowerCase(Locale.ROOT);
        int query = lower.indexOf('?');
        return lower.endsWith(".iso") || query >= 0 && lower.substring(0, query).endsWith(".iso");
    }

    @Override
    public VirtualDisk open(StorageBackend backend, OpenOptions options) throws StorageException {
        if (!options.parameters().isEmpty()) {
            throw new StorageException(Kind.INVALID_CONFIG, "the iso format takes no parameters, got "
                    + options.parameters().keySet()).withOperation(Operation.OPEN).withLocation(backend.location());
        }
        int sectorSize = options.logicalSectorSize();
        if (sectorSize != 0 && sectorSize != MediaType.CD_SECTOR_SIZE) {
            throw new StorageException(Kind.INVALID_CONFIG, "a CD image has 2048-byte sectors; a logical sector"
                    + " size of " + sectorSize + " cannot be used with it (leave it unset or give 2048)")
                    .withOperation(Operation.OPEN).withLocation(backend.location());
        }
        try {
            return IsoDisk.open(backend);
        } catch (StorageException e) {
            throw e.withOperation(Operation.OPEN).withLocation(backend.location());
        }
    }

    @Override
    public VirtualDisk create(StorageBackend backend, CreateOptions options) throws StorageException {
        throw new StorageException(Kind.UNSUPPORTED_FEATURE, "ISO images are read-only; build them with a"
                + " mastering tool such as xorriso or genisoimage")
                .withOperation(Operation.CREATE).withLocation(backend.location());
    }
}
