package org.spindle.format.vhd;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
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
 * Microsoft's VHD format (QEMU calls it {@code vpc}): fixed, dynamic and differencing disks. See
 * {@link VhdDisk} and {@link VhdFooter}.
 *
 * <p>Create parameters: {@code subformat} ({@code dynamic} or {@code fixed}, default dynamic),
 * {@code block_size} (dynamic disks; default 2M), {@code force_size} ({@code on}: always record the
 * maximum geometry, so every reader takes the exact byte size). Without it the geometry is the
 * specification's for the size when that describes the size exactly, and the maximum otherwise: the
 * size asked for is always the size every tool reads. A base ({@code -b}) makes a differencing disk.
 */
@Component(property = DiskFormat.NAME + "=" + VhdFormat.NAME)
public final class VhdFormat implements DiskFormat {
    public static final String NAME = "vhd";
    public static final String SUBFORMAT = "subformat";
    public static final String BLOCK_SIZE = "block_size";
    public static final String FORCE_SIZE = "force_size";
    /** The specification's limit: 2040 GiB. */
    static final long MAX_SIZE = 2040L << 30;

    @Override
    public String name() {
        return NAME;
    }

    @Override
    public int probe(ProbeInput input) {
        ByteBuffer head = input.head();
        if (head.remaining() >= 8 && Arrays.equals(bytes(head, head.position(), 8), VhdFooter.COOKIE)) {
            return PROBE_MAGIC;
        }
        ByteBuffer tail = input.tail();
        if (tail.remaining() >= VhdFooter.SIZE
                && Arrays.equals(bytes(tail, tail.limit() - VhdFooter.SIZE, 8), VhdFooter.COOKIE)) {
            return PROBE_MAGIC;
        }
        return PROBE_NO;
    }

    private static byte[] bytes(ByteBuffer b, int at, int n) {
        byte[] out = new byte[n];
        b.get(at, out);
        return out;
    }

    @Override
    public VirtualDisk open(StorageBackend backend, OpenOptions options) throws StorageException {
        if (!options.parameters().isEmpty()) {
            throw new StorageException(Kind.INVALID_CONFIG, "the vhd format takes no open parameters, got "
                    + options.parameters().keySet()).withOperation(Operation.OPEN).withLocation(backend.location());
        }
        int sectorSize = options.logicalSectorSize() == 0 ? 512 : options.logicalSectorSize();
        try {
            return VhdDisk.open(backend, options.readOnly() || backend.isReadOnly(), sectorSize);
        } catch (StorageException e) {
            throw e.withOperation(Operation.OPEN).withLocation(backend.location());
        }
    }

    @Override
    public VirtualDisk create(StorageBackend backend, CreateOptions options) throws StorageException {
        try {
            Map<String, String> p = options.parameters();
            for (String key : p.keySet()) {
                if (!Set.of(SUBFORMAT, BLOCK_SIZE, FORCE_SIZE).contains(key)) {
                    throw new StorageException(Kind.INVALID_CONFIG, "unknown vhd option '" + key + "' (known: "
                            + BLOCK_SIZE + ", " + FORCE_SIZE + ", " + SUBFORMAT + ")");
                }
            }
            String subformat = p.getOrDefault(SUBFORMAT, "dynamic");
            if (!subformat.equals("dynamic") && !subformat.equals("fixed")) {
                throw new StorageException(Kind.INVALID_CONFIG, SUBFORMAT + " must be dynamic or fixed, not '" + subformat + "'");
            }
            boolean force = switch (p.getOrDefault(FORCE_SIZE, "off")) {
                case "on", "true", "yes" -> true;
                case "off", "false", "no" -> false;
                default -> throw new StorageException(Kind.INVALID_CONFIG, FORCE_SIZE + " must be on or off");
            };
            int blockSize = VhdDynamicHeader.DEFAULT_BLOCK_SIZE;
            if (p.containsKey(BLOCK_SIZE)) {
                long v;
                try {
                    v = ByteSize.parse(p.get(BLOCK_SIZE).toUpperCase(Locale.ROOT));
                } catch (IllegalArgumentException e) {
                    throw new StorageException(Kind.INVALID_CONFIG, BLOCK_SIZE + ": " + e.getMessage());
                }
                if (v < 512 || v > VhdDynamicHeader.MAX_BLOCK_SIZE || Long.bitCount(v) != 1) {
                    throw new StorageException(Kind.INVALID_CONFIG, BLOCK_SIZE + " must be a power of two from 512 to 256M");
                }
                blockSize = (int) v;
            }
            long capacity = options.capacity();
            if (capacity % 512 != 0 || capacity % options.logicalSectorSize() != 0) {
                throw new StorageException(Kind.INVALID_CONFIG, "a capacity of " + capacity
                        + " bytes is not a whole number of sectors");
            }
            if (capacity > MAX_SIZE) {
                throw new StorageException(Kind.INVALID_CONFIG, "a VHD holds at most 2040 GiB; " + capacity + " bytes asked");
            }
            BackingReference backing = options.backing();
            if (backing != null && subformat.equals("fixed")) {
                throw new StorageException(Kind.INVALID_CONFIG, "a fixed VHD cannot have a parent: differencing disks are dynamic");
            }
            VhdGeometry exact = VhdGeometry.forSectors(capacity / 512);
            VhdGeometry geometry = !force && exact.bytes() == capacity ? exact : VhdGeometry.MAXIMUM;
            long now = System.currentTimeMillis() / 1000;
            UUID id = UUID.randomUUID();
            if (subformat.equals("fixed")) {
                VhdFooter footer = VhdFooter.create(VhdFooter.TYPE_FIXED, capacity, geometry, 0, id, now);
                backend.write(capacity, ByteBuffer.wrap(footer.raw));
            } else {
                writeDynamic(backend, capacity, geometry, blockSize, id, now, backing, options.relatedFiles());
            }
            backend.flush();
            return VhdDisk.open(backend, false, options.logicalSectorSize());
        } catch (StorageException e) {
            throw e.withOperation(Operation.CREATE).withLocation(backend.location());
        }
    }

    private static void writeDynamic(StorageBackend backend, long capacity, VhdGeometry geometry, int blockSize, UUID id,
            long now, BackingReference backing, java.util.Optional<RelatedFiles> relatedFiles) throws StorageException {
        long entries = (capacity + blockSize - 1) / blockSize;
        if (entries * 4 > VhdDynamicHeader.MAX_TABLE_BYTES) {
            throw new StorageException(Kind.INVALID_CONFIG, "the block table would be larger than 128 MiB: choose larger blocks");
        }
        long pos = VhdFooter.SIZE + VhdDynamicHeader.SIZE;
        UUID parentId = null;
        int parentTimestamp = 0;
        String parentName = null;
        List<VhdDynamicHeader.Locator> locators = new ArrayList<>();
        List<byte[]> locatorData = new ArrayList<>();
        int type = VhdFooter.TYPE_DYNAMIC;
        if (backing != null) {
            type = VhdFooter.TYPE_DIFFERENCING;
            RelatedFiles files = relatedFiles.orElseThrow(() -> new StorageException(Kind.UNSUPPORTED_FEATURE,
                    "a differencing VHD records its parent's identity; creating one needs an opener that can open"
                    + " the parent (Spindle's DiskOpener)"));
            VhdFooter parent = parentFooter(files, backing.location());
            if (parent.virtualSize() != capacity) {
                throw new StorageException(Kind.INVALID_CONFIG, "a differencing disk has its parent's size ("
                        + parent.virtualSize() + " bytes), not " + capacity);
            }
            parentId = parent.uniqueId();
            parentTimestamp = parent.timestamp();
            String location = backing.location();
            parentName = location.substring(location.replace('\\', '/').lastIndexOf('/') + 1);
            boolean relative = !location.startsWith("/") && !location.matches("[A-Za-z]:.*");
            if (relative) {
                locatorData.add(((location.startsWith(".") ? "" : ".\\") + location.replace('/', '\\'))
                        .getBytes(StandardCharsets.UTF_16LE));
                locators.add(new VhdDynamicHeader.Locator("W2ru", 0, 0, 0));
            } else {
                locatorData.add(location.getBytes(StandardCharsets.UTF_16LE));
                locators.add(new VhdDynamicHeader.Locator("W2ku", 0, 0, 0));
            }
            List<VhdDynamicHeader.Locator> placed = new ArrayList<>();
            for (int i = 0; i < locators.size(); i++) {
                int length = locatorData.get(i).length;
                int space = (length + 511) / 512;
                placed.add(new VhdDynamicHeader.Locator(locators.get(i).code(), space, length, pos));
                pos += space * 512L;
            }
            locators = placed;
        }
        long tableOffset = pos;
        long tableBytes = (entries * 4 + 511) & ~511L;
        VhdFooter footer = VhdFooter.create(type, capacity, geometry, VhdFooter.SIZE, id, now);
        VhdDynamicHeader header = VhdDynamicHeader.create(tableOffset, (int) entries, blockSize, parentId, parentTimestamp,
                parentName, locators);
        backend.write(0, ByteBuffer.wrap(footer.raw));
        backend.write(VhdFooter.SIZE, ByteBuffer.wrap(header.raw));
        for (int i = 0; i < locators.size(); i++) {
            ByteBuffer space = ByteBuffer.allocate(locators.get(i).dataSpace() * 512);
            space.put(locatorData.get(i));
            backend.write(locators.get(i).dataOffset(), space.clear());
        }
        byte[] table = new byte[(int) tableBytes];
        Arrays.fill(table, (byte) 0xff);
        backend.write(tableOffset, ByteBuffer.wrap(table));
        backend.write(tableOffset + tableBytes, ByteBuffer.wrap(footer.raw));
    }

    /** The parent's footer, read through the opener's related files (the location is relative to the new image). */
    private static VhdFooter parentFooter(RelatedFiles files, String backingLocation) throws StorageException {
        try (StorageBackend parent = files.open(backingLocation, AccessMode.READ_ONLY)) {
            long size = parent.size();
            if (size < VhdFooter.SIZE) {
                throw new StorageException(Kind.INVALID_CONFIG, "the parent '" + backingLocation + "' is not a VHD");
            }
            byte[] raw = new byte[VhdFooter.SIZE];
            parent.read(size - VhdFooter.SIZE, ByteBuffer.wrap(raw));
            try {
                return VhdFooter.parse(raw);
            } catch (StorageException e) {
                throw new StorageException(Kind.INVALID_CONFIG, "the parent '" + backingLocation + "' is not a VHD: "
                        + e.detail());
            }
        }
    }

    @Override
    public CheckReport check(StorageBackend backend, boolean repair) throws StorageException {
        try {
            return VhdCheck.check(backend, repair && !backend.isReadOnly());
        } catch (StorageException e) {
            throw e.withOperation(Operation.CHECK).withLocation(backend.location());
        }
    }
}
