package org.spindle.format.vhdx;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.UUID;

import org.osgi.service.component.annotations.Component;
import org.spindle.storage.api.AccessMode;
import org.spindle.storage.api.BackingReference;
import org.spindle.storage.api.ByteSize;
import org.spindle.storage.api.CheckReport;
import org.spindle.storage.api.CreateOptions;
import org.spindle.storage.api.DiskFormat;
import org.spindle.storage.api.OpenOptions;
import org.spindle.storage.api.ProbeInput;
import org.spindle.storage.api.RelatedFiles;
import org.spindle.storage.api.StorageBackend;
import org.spindle.storage.api.StorageException;
import org.spindle.storage.api.StorageException.Kind;
import org.spindle.storage.api.StorageException.Operation;
import org.spindle.storage.api.VirtualDisk;

/**
 * Microsoft's VHDX format: fixed, dynamic and differencing disks, read and write, with the metadata
 * log replayed on open and written for every BAT change. See {@link VhdxFile} and {@link VhdxDisk}.
 *
 * <p>Create parameters: {@code subformat} ({@code dynamic} or {@code fixed}), {@code block_size}
 * (a power of two from 1 MiB to 256 MiB; by default chosen from the size as QEMU does),
 * {@code log_size} (whole MiB, at least 1 MiB; default 1 MiB), {@code physical_sector_size}
 * (512 or 4096; default the logical sector size). The logical sector size comes from the create
 * options (512 or 4096). A base ({@code -b}) makes a differencing disk, which records the parent's
 * DataWriteGuid and its path relative to the new file.
 */
@Component(property = DiskFormat.NAME + "=" + VhdxFormat.NAME)
public final class VhdxFormat implements DiskFormat {
    public static final String NAME = "vhdx";
    public static final String SUBFORMAT = "subformat";
    public static final String BLOCK_SIZE = "block_size";
    public static final String LOG_SIZE = "log_size";
    public static final String PHYSICAL_SECTOR_SIZE = "physical_sector_size";
    private static final String CREATOR = "Spindle";

    @Override
    public String name() {
        return NAME;
    }

    @Override
    public int probe(ProbeInput input) {
        ByteBuffer head = input.head();
        if (head.remaining() >= 8) {
            byte[] sig = new byte[8];
            head.get(head.position(), sig);
            if (VhdxLayout.hasSignature(sig)) {
                return PROBE_MAGIC;
            }
        }
        return PROBE_NO;
    }

    @Override
    public VirtualDisk open(StorageBackend backend, OpenOptions options) throws StorageException {
        try {
            if (!options.parameters().isEmpty()) {
                throw new StorageException(Kind.INVALID_CONFIG, "the vhdx format takes no open parameters, got "
                        + options.parameters().keySet());
            }
            VhdxFile file = VhdxFile.open(backend, options.readOnly() || backend.isReadOnly());
            int asked = options.logicalSectorSize();
            if (asked != 0 && asked != file.metadata.logicalSectorSize()) {
                throw new StorageException(Kind.INVALID_CONFIG, "the VHDX has " + file.metadata.logicalSectorSize()
                        + "-byte logical sectors, not " + asked);
            }
            VhdxDisk disk = VhdxDisk.open(file);
            if (file.metadata.hasParent() && options.relatedFiles().isPresent()) {
                checkParent(disk, options.relatedFiles().get(), file);
            }
            return disk;
        } catch (StorageException e) {
            throw e.withOperation(Operation.OPEN).withLocation(backend.location());
        }
    }

    /** The parent must be the one the child was made from: its DataWriteGuid is the child's parent_linkage. */
    private static void checkParent(VhdxDisk disk, RelatedFiles files, VhdxFile child) throws StorageException {
        String location = disk.base().location();
        try (StorageBackend parent = files.open(location, AccessMode.READ_ONLY)) {
            VhdxFile p = VhdxFile.open(parent, true);
            UUID data = p.header().dataWriteGuid();
            UUID linkage = disk.parentLinkage("parent_linkage");
            UUID linkage2 = disk.parentLinkage("parent_linkage2");
            if (!data.equals(linkage) && !data.equals(linkage2)) {
                throw new StorageException(Kind.CORRUPT_IMAGE, "the parent '" + location
                        + "' has changed since this differencing disk was made (its DataWriteGuid is " + data
                        + ", the child expects " + linkage + ")");
            }
            if (p.metadata.logicalSectorSize() != child.metadata.logicalSectorSize()) {
                throw new StorageException(Kind.CORRUPT_IMAGE, "the parent '" + location + "' has "
                        + p.metadata.logicalSectorSize() + "-byte sectors, the child " + child.metadata.logicalSectorSize());
            }
        }
    }

    @Override
    public VirtualDisk create(StorageBackend backend, CreateOptions options) throws StorageException {
        try {
            Map<String, String> p = options.parameters();
            for (String key : p.keySet()) {
                if (!Set.of(SUBFORMAT, BLOCK_SIZE, LOG_SIZE, PHYSICAL_SECTOR_SIZE).contains(key)) {
                    throw new StorageException(Kind.INVALID_CONFIG, "unknown vhdx option '" + key + "' (known: "
                            + BLOCK_SIZE + ", " + LOG_SIZE + ", " + PHYSICAL_SECTOR_SIZE + ", " + SUBFORMAT + ")");
                }
            }
            String subformat = p.getOrDefault(SUBFORMAT, "dynamic");
            if (!subformat.equals("dynamic") && !subformat.equals("fixed")) {
                throw new StorageException(Kind.INVALID_CONFIG, SUBFORMAT + " must be dynamic or fixed, not '" + subformat + "'");
            }
            int logical = options.logicalSectorSize();
            if (logical != 512 && logical != 4096) {
                throw new StorageException(Kind.INVALID_CONFIG, "a VHDX has 512- or 4096-byte logical sectors, not " + logical);
            }
            int physical = logical;
            if (p.containsKey(PHYSICAL_SECTOR_SIZE)) {
                long v = size(p, PHYSICAL_SECTOR_SIZE);
                if (v != 512 && v != 4096) {
                    throw new StorageException(Kind.INVALID_CONFIG, PHYSICAL_SECTOR_SIZE + " must be 512 or 4096");
                }
                physical = (int) v;
            }
            long capacity = options.capacity();
            BackingReference backing = options.backing();
            long logSize = p.containsKey(LOG_SIZE) ? size(p, LOG_SIZE) : VhdxLayout.MB;
            if (logSize < VhdxLayout.MB || logSize % VhdxLayout.MB != 0 || logSize > 256 * VhdxLayout.MB) {
                throw new StorageException(Kind.INVALID_CONFIG, LOG_SIZE + " must be whole MiB from 1M to 256M");
            }
            Map<String, String> locator = Map.of();
            if (backing != null) {
                if (subformat.equals("fixed")) {
                    throw new StorageException(Kind.INVALID_CONFIG, "a fixed VHDX cannot have a parent: differencing disks are dynamic");
                }
                RelatedFiles files = options.relatedFiles().orElseThrow(() -> new StorageException(Kind.UNSUPPORTED_FEATURE,
                        "a differencing VHDX records its parent's identity; creating one needs an opener that can open"
                        + " the parent (Spindle's DiskOpener)"));
                VhdxFile parent = parentFile(files, backing.location());
                if (capacity != parent.metadata.diskSize()) {
                    throw new StorageException(Kind.INVALID_CONFIG, "a differencing disk has its parent's size ("
                            + parent.metadata.diskSize() + " bytes), not " + capacity);
                }
                if (parent.metadata.logicalSectorSize() != logical) {
                    throw new StorageException(Kind.INVALID_CONFIG, "a differencing disk has its parent's "
                            + parent.metadata.logicalSectorSize() + "-byte sectors");
                }
                Map<String, String> pairs = new LinkedHashMap<>();
                pairs.put("parent_linkage", Guids.braced(parent.header().dataWriteGuid()));
                pairs.put("relative_path", relativePath(backend.location(), backing.location()));
                locator = pairs;
            }
            if (capacity <= 0 || capacity % logical != 0) {
                throw new StorageException(Kind.INVALID_CONFIG, "a capacity of " + capacity
                        + " bytes is not a whole number of " + logical + "-byte sectors");
            }
            if (capacity > VhdxLayout.MAX_DISK_SIZE) {
                throw new StorageException(Kind.INVALID_CONFIG, "a VHDX holds at most 64 TiB; " + capacity + " bytes asked");
            }
            long blockSize = p.containsKey(BLOCK_SIZE) ? size(p, BLOCK_SIZE)
                    : backing != null ? 2 * VhdxLayout.MB : defaultBlockSize(capacity);
            if (blockSize == 0) {
                blockSize = defaultBlockSize(capacity);
            }
            if (blockSize < VhdxLayout.MIN_BLOCK || blockSize > VhdxLayout.MAX_BLOCK || Long.bitCount(blockSize) != 1) {
                throw new StorageException(Kind.INVALID_CONFIG, BLOCK_SIZE + " must be a power of two from 1M to 256M");
            }
            VhdxMetadata metadata = new VhdxMetadata(blockSize, subformat.equals("fixed"), backing != null, capacity,
                    UUID.randomUUID(), logical, physical, locator);
            write(backend, metadata, logSize);
            backend.flush();
            return VhdxDisk.open(VhdxFile.open(backend, false));
        } catch (StorageException e) {
            throw e.withOperation(Operation.CREATE).withLocation(backend.location());
        }
    }

    private static long size(Map<String, String> p, String key) throws StorageException {
        try {
            return ByteSize.parse(p.get(key).toUpperCase(Locale.ROOT));
        } catch (IllegalArgumentException e) {
            throw new StorageException(Kind.INVALID_CONFIG, key + ": " + e.getMessage());
        }
    }

    /** The block size QEMU picks for a size: 8 MiB up to 1 GiB, 16 MiB below 1 TiB, 32 MiB below 32 TiB, then 64 MiB. */
    static long defaultBlockSize(long capacity) {
        if (capacity > 32L << 40) {
            return 64 * VhdxLayout.MB;
        } else if (capacity >= 1L << 40) {
            return 32 * VhdxLayout.MB;
        } else if (capacity > 1L << 30) {
            return 16 * VhdxLayout.MB;
        }
        return 8 * VhdxLayout.MB;
    }

    private static VhdxFile parentFile(RelatedFiles files, String location) throws StorageException {
        try {
            StorageBackend parent = files.open(location, AccessMode.READ_ONLY);
            try (parent) {
                return VhdxFile.open(parent, true);
            }
        } catch (StorageException e) {
            throw new StorageException(Kind.INVALID_CONFIG, "the parent '" + location + "' is not a VHDX: " + e.detail());
        }
    }

    /** The parent's path relative to the child's directory, with backslashes as the locator wants. */
    static String relativePath(String child, String parent) throws StorageException {
        String p = parent;
        if (p.startsWith("/") || p.startsWith("file:")) {
            String c = child.startsWith("file:") ? java.net.URI.create(child).getPath() : child;
            String q = p.startsWith("file:") ? java.net.URI.create(p).getPath() : p;
            if (c == null || !c.startsWith("/")) {
                throw new StorageException(Kind.INVALID_CONFIG, "the parent '" + parent
                        + "' must be given relative to the differencing disk");
            }
            Path dir = Path.of(c).toAbsolutePath().normalize().getParent();
            p = dir.relativize(Path.of(q).normalize()).toString();
        } else if (p.matches("[A-Za-z][A-Za-z0-9+.-]+:.*")) {
            // another backend's URI: relative when both live in the same opaque namespace (memory:name)
            java.net.URI pu = java.net.URI.create(p);
            java.net.URI cu;
            try {
                cu = java.net.URI.create(child);
            } catch (IllegalArgumentException e) {
                cu = null;
            }
            if (cu == null || !pu.isOpaque() || !cu.isOpaque() || !pu.getScheme().equals(cu.getScheme())
                    || pu.getSchemeSpecificPart().contains("/")) {
                throw new StorageException(Kind.INVALID_CONFIG, "the parent '" + parent
                        + "' must be given relative to the differencing disk");
            }
            String name = pu.getSchemeSpecificPart();
            p = name.contains("?") ? name.substring(0, name.indexOf('?')) : name;
        }
        return p.replace('/', '\\');
    }

    /** Lays out a new file: identifier, headers, region tables, log, metadata, BAT, and for a fixed disk every block. */
    private static void write(StorageBackend backend, VhdxMetadata metadata, long logSize) throws StorageException {
        long logOffset = VhdxLayout.HEADER_SECTION;
        long metaOffset = logOffset + logSize;
        long metaLength = VhdxLayout.MB;
        long batOffset = metaOffset + metaLength;
        long payloadBlocks = (metadata.diskSize() + metadata.blockSize() - 1) / metadata.blockSize();
        long chunkRatio = VhdxLayout.SECTORS_PER_BITMAP_BLOCK * metadata.logicalSectorSize() / metadata.blockSize();
        long entries = (payloadBlocks + chunkRatio - 1) / chunkRatio * (chunkRatio + 1);
        long batLength = VhdxLayout.roundUp(entries * 8, VhdxLayout.MB);
        if (batLength > Integer.MAX_VALUE) {
            throw new StorageException(Kind.INVALID_CONFIG, "the BAT would take " + batLength + " bytes: choose larger blocks");
        }
        long dataOffset = batOffset + batLength;
        backend.write(0, ByteBuffer.wrap(VhdxLayout.fileIdentifier(CREATOR)));
        VhdxHeader first = new VhdxHeader(1, UUID.randomUUID(), UUID.randomUUID(), Guids.ZERO, 0, 1, logSize, logOffset);
        backend.write(VhdxHeader.SLOTS[0], ByteBuffer.wrap(first.encode()));
        backend.write(VhdxHeader.SLOTS[1], ByteBuffer.wrap(first.next(first.fileWriteGuid(), first.dataWriteGuid(),
                Guids.ZERO).encode()));
        VhdxRegionTable regions = new VhdxRegionTable(List.of(
                new VhdxRegionTable.Region(VhdxLayout.REGION_BAT, batOffset, batLength, true),
                new VhdxRegionTable.Region(VhdxLayout.REGION_METADATA, metaOffset, metaLength, true)));
        for (long at : VhdxLayout.REGION_TABLES) {
            backend.write(at, ByteBuffer.wrap(regions.encode()));
        }
        VhdxFile.writeZeros(backend, logOffset, logSize);
        backend.write(metaOffset, ByteBuffer.wrap(metadata.encodeRegion((int) metaLength)));
        long end = dataOffset;
        if (metadata.leaveBlockAllocated()) {
            ByteBuffer table = ByteBuffer.allocate((int) batLength).order(ByteOrder.LITTLE_ENDIAN);
            for (long k = 0; k < payloadBlocks; k++) {
                table.putLong((int) ((k + k / chunkRatio) * 8),
                        VhdxLayout.entry(VhdxLayout.PAYLOAD_FULLY_PRESENT, dataOffset + k * metadata.blockSize()));
            }
            backend.write(batOffset, table);
            end = dataOffset + payloadBlocks * metadata.blockSize();
        } else {
            VhdxFile.writeZeros(backend, batOffset, batLength);
        }
        // the file reaches its end: what lies between reads as zeros
        backend.write(end - VhdxLayout.PAGE, ByteBuffer.allocate(VhdxLayout.PAGE));
    }

    @Override
    public CheckReport check(StorageBackend backend, boolean repair) throws StorageException {
        try {
            return VhdxCheck.check(backend, repair && !backend.isReadOnly());
        } catch (StorageException e) {
            throw e.withOperation(Operation.CHECK).withLocation(backend.location());
        }
    }
}
