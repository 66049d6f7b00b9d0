package org.spindle.format.vmdk;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import org.spindle.storage.api.AccessMode;
import org.spindle.storage.api.AllocationMap;
import org.spindle.storage.api.Bounds;
import org.spindle.storage.api.Extent;
import org.spindle.storage.api.RelatedFiles;
import org.spindle.storage.api.StorageBackend;
import org.spindle.storage.api.StorageException;
import org.spindle.storage.api.StorageException.Kind;
import org.spindle.storage.api.StorageException.Operation;
import org.spindle.storage.api.VirtualDisk;
import org.spindle.storage.api.Zeros;

/**
 * A VMDK made of a text descriptor and flat extents ({@code monolithicFlat}: one raw file beside the
 * descriptor; also any descriptor whose extents are all {@code FLAT}, {@code VMFS} or {@code ZERO}),
 * read and write. The extents are opened through the {@link RelatedFiles} the opener gives, relative to
 * the descriptor. {@code ZERO} extents read as zeros and refuse writes, as {@code RDONLY} extents do.
 */
final class VmdkFlatDisk implements VirtualDisk, AllocationMap, org.spindle.storage.api.Deletable {
    static final String SIGNATURE = "# Disk DescriptorFile";
    static final int MAX_DESCRIPTOR = 64 * 1024;
    private static final Pattern EXTENT = Pattern.compile(
            "^\\s*(RW|RDONLY|NOACCESS)\\s+(\\d+)\\s+([A-Z]+)(?:\\s+\"([^\"]*)\"(?:\\s+(\\d+))?)?\\s*$");

    /** One extent: where it starts on the disk, its length, and its file (null for ZERO). */
    private record Part(long start, long length, String access, String type, String file, long fileOffset,
            StorageBackend backend) {
    }

    private final StorageBackend descriptor;
    private final List<Part> parts;
    private final long capacity;
    private final int sectorSize;
    private final boolean readOnly;
    private final String createType;
    private volatile boolean closed;

    private VmdkFlatDisk(StorageBackend descriptor, List<Part> parts, int sectorSize, boolean readOnly, String createType) {
        this.descriptor = descriptor;
        this.parts = parts;
        this.capacity = parts.isEmpty() ? 0 : parts.getLast().start() + parts.getLast().length();
        this.sectorSize = sectorSize;
        this.readOnly = readOnly;
        this.createType = createType;
    }

    static VmdkFlatDisk open(StorageBackend backend, boolean readOnly, int sectorSize, RelatedFiles files)
            throws StorageException {
        long size = backend.size();
        if (size > MAX_DESCRIPTOR) {
            throw new StorageException(Kind.CORRUPT_IMAGE, "a VMDK descriptor of " + size + " bytes (at most "
                    + MAX_DESCRIPTOR + ")");
        }
        ByteBuffer b = ByteBuffer.allocate((int) size);
        backend.read(0, b);
        String text = new String(b.array(), StandardCharsets.UTF_8);
        if (!text.startsWith(SIGNATURE)) {
            throw new StorageException(Kind.CORRUPT_IMAGE, "not a VMDK descriptor (it does not start with '" + SIGNATURE + "')");
        }
        String createType = value(text, "createType");
        Matcher parent = Pattern.compile("(?m)^\\s*parentCID\\s*=\\s*([0-9a-fA-F]+)").matcher(text);
        if (parent.find() && !parent.group(1).equalsIgnoreCase("ffffffff")) {
            throw new StorageException(Kind.UNSUPPORTED_FEATURE, "a VMDK delta disk (parentCID=" + parent.group(1)
                    + "); Spindle reads standalone VMDKs");
        }
        List<String[]> lines = new ArrayList<>();
        for (String line : text.split("\\R")) {
            Matcher m = EXTENT.matcher(line);
            if (m.matches()) {
                lines.add(new String[] {m.group(1), m.group(2), m.group(3), m.group(4), m.group(5)});
            }
        }
        if (lines.isEmpty()) {
            throw new StorageException(Kind.CORRUPT_IMAGE, "the VMDK descriptor lists no extents");
        }
        List<Part> parts = new ArrayList<>();
        long start = 0;
        try {
            for (String[] l : lines) {
                String type = l[2];
                long sectors = Long.parseLong(l[1]);
                if (sectors <= 0 || sectors > (Long.MAX_VALUE >> 10) - start / 512) {
                    throw new StorageException(Kind.CORRUPT_IMAGE, "an extent of " + l[1] + " sectors");
                }
                switch (type) {
                    case "FLAT", "VMFS" -> {
                        if (l[3] == null) {
                            throw new StorageException(Kind.CORRUPT_IMAGE, "a " + type + " extent without a file name");
                        }
                        if (files == null) {
                            throw new StorageException(Kind.UNSUPPORTED_FEATURE, "this VMDK keeps its data in '" + l[3]
                                    + "'; opening it needs an opener that can open related files (Spindle's DiskOpener)");
                        }
                        boolean writable = !readOnly && l[0].equals("RW");
                        StorageBackend extent = files.open(l[3], writable ? AccessMode.READ_WRITE : AccessMode.READ_ONLY);
                        long offset = l[4] == null ? 0 : Long.parseLong(l[4]) * 512;
                        parts.add(new Part(start, sectors * 512, l[0], type, l[3], offset, extent));
                        if (extent.size() < offset + sectors * 512) {
                            throw new StorageException(Kind.CORRUPT_IMAGE, "the extent file '" + l[3] + "' holds "
                                    + extent.size() + " bytes; the descriptor needs " + (offset + sectors * 512));
                        }
                    }
                    case "ZERO" -> parts.add(new Part(start, sectors * 512, l[0], type, null, 0, null));
                    default -> throw new StorageException(Kind.UNSUPPORTED_FEATURE, "VMDK " + type + " extents"
                            + " (createType \"" + createType + "\"); Spindle reads FLAT, VMFS and ZERO extents in a"
                            + " descriptor, and monolithicSparse and streamOptimized images");
                }
                start += sectors * 512;
            }
        } catch (StorageException | RuntimeException e) {
            for (Part p : parts) {
                if (p.backend() != null) {
                    try {
                        p.backend().close();
                    } catch (StorageException suppressed) {
                        e.addSuppressed(suppressed);
                    }
                }
            }
            if (e instanceof NumberFormatException) {
                throw new StorageException(Kind.CORRUPT_IMAGE, "an extent line with a number out of range: " + e.getMessage());
            }
            throw e;
        }
        if (start % sectorSize != 0) {
            throw new StorageException(Kind.INVALID_CONFIG, "the disk size " + start + " is not a whole number of "
                    + sectorSize + "-byte sectors");
        }
        return new VmdkFlatDisk(backend, List.copyOf(parts), sectorSize, readOnly, createType == null ? "custom" : createType);
    }

    static String value(String text, String key) {
        Matcher m = Pattern.compile("(?m)^\\s*" + Pattern.quote(key) + "\\s*=\\s*\"?([^\"\\r\\n]*)\"?\\s*$").matcher(text);
        return m.find() ? m.group(1).strip() : null;
    }

    /** The descriptor of a new monolithicFlat disk of {@code sectors} sectors kept in {@code flatName}. */
    static String descriptor(long sectors, String flatName, int cid) {
        long cylinders = Math.min(sectors / (16 * 63), 16383);
        return SIGNATURE + "\n"
                + "version=1\n"
                + "CID=" + String.format(Locale.ROOT, "%08x", cid) + "\n"
                + "parentCID=ffffffff\n"
                + "createType=\"monolithicFlat\"\n"
                + "\n"
                + "# Extent description\n"
                + "RW " + sectors + " FLAT \"" + flatName + "\" 0\n"
                + "\n"
                + "# The Disk Data Base\n"
                + "#DDB\n"
                + "\n"
                + "ddb.virtualHWVersion = \"4\"\n"
                + "ddb.geometry.cylinders = \"" + cylinders + "\"\n"
                + "ddb.geometry.heads = \"16\"\n"
                + "ddb.geometry.sectors = \"63\"\n"
                + "ddb.adapterType = \"ide\"\n";
    }

    @Override
    public int logicalSectorSize() {
        return sectorSize;
    }

    @Override
    public long capacity() {
        return capacity;
    }

    @Override
    public boolean isReadOnly() {
        return readOnly;
    }

    @Override
    public String formatName() {
        return VmdkFormat.NAME;
    }

    @Override
    public Map<String, Object> details() {
        Map<String, Object> d = new LinkedHashMap<>();
        d.put("create_type", createType);
        d.put("extents", parts.stream().map(p -> p.access() + " " + p.length() / 512 + " " + p.type()
                + (p.file() == null ? "" : " \"" + p.file() + "\" " + p.fileOffset() / 512)).toList());
        return d;
    }

    @Override
    public int allocationUnit() {
        return 512;
    }

    private Part part(long pos) {
        for (Part p : parts) {
            if (pos < p.start() + p.length()) {
                return p;
            }
        }
        return parts.getLast();
    }

    @Override
    public Extent extent(long offset, long maxLength) throws StorageException {
        if (offset < 0 || offset >= capacity || maxLength <= 0) {
            throw new StorageException(Kind.OUT_OF_BOUNDS, "no extent at " + offset + " in a disk of " + capacity
                    + " bytes").withOperation(Operation.READ);
        }
        Part p = part(offset);
        long length = Math.min(maxLength, p.start() + p.length() - offset);
        return p.backend() == null ? Extent.zero(offset, length)
                : Extent.data(offset, length, p.fileOffset() + offset - p.start());
    }

    @Override
    public void read(long offset, ByteBuffer dst) throws StorageException {
        int length = dst.remaining();
        Bounds.check(offset, length, capacity, Operation.READ);
        checkOpen(Operation.READ, offset, length);
        long pos = offset;
        long end = offset + length;
        while (pos < end) {
            Part p = part(pos);
            int n = (int) Math.min(end - pos, p.start() + p.length() - pos);
            int limit = dst.limit();
            dst.limit(dst.position() + n);
            try {
                if (p.backend() == null) {
                    Zeros.put(dst, dst.remaining());
                } else {
                    p.backend().read(p.fileOffset() + pos - p.start(), dst);
                }
            } catch (StorageException e) {
                throw e.at(Operation.READ, offset, length);
            } finally {
                dst.limit(limit);
            }
            pos += n;
        }
    }

    @Override
    public void write(long offset, ByteBuffer src) throws StorageException {
        int length = src.remaining();
        if (readOnly) {
            throw new StorageException(Kind.READ_ONLY, "the VMDK is open read-only").at(Operation.WRITE, offset, length);
        }
        Bounds.check(offset, length, capacity, Operation.WRITE);
        checkOpen(Operation.WRITE, offset, length);
        long pos = offset;
        long end = offset + length;
        while (pos < end) {
            Part p = part(pos);
            if (p.backend() == null || !p.access().equals("RW")) {
                throw new StorageException(Kind.READ_ONLY, "the " + p.access() + " " + p.type() + " extent at sector "
                        + p.start() / 512 + " takes no writes").at(Operation.WRITE, offset, length);
            }
            pos = Math.min(end, p.start() + p.length());
        }
        pos = offset;
        while (pos < end) {
            Part p = part(pos);
            int n = (int) Math.min(end - pos, p.start() + p.length() - pos);
            int limit = src.limit();
            src.limit(src.position() + n);
            try {
                p.backend().write(p.fileOffset() + pos - p.start(), src);
            } catch (StorageException e) {
                throw e.at(Operation.WRITE, offset, length);
            } finally {
                src.limit(limit);
            }
            pos += n;
        }
    }

    @Override
    public void flush() throws StorageException {
        if (readOnly) {
            return;
        }
        for (Part p : parts) {
            if (p.backend() != null && !p.backend().isReadOnly()) {
                p.backend().flush();
            }
        }
    }

    @Override
    public void close() throws StorageException {
        if (closed) {
            return;
        }
        closed = true;
        StorageException failure = null;
        for (Part p : parts) {
            if (p.backend() != null) {
                try {
                    p.backend().close();
                } catch (StorageException e) {
                    failure = failure == null ? e : failure;
                }
            }
        }
        descriptor.close();
        if (failure != null) {
            throw failure;
        }
    }

    /**
     * Deletes the image: its extent files and the descriptor (how an unfinished output is taken back;
     * the opener's delete asks the image for this before it deletes the descriptor alone).
     */
    @Override
    public void closeAndDelete() throws StorageException {
        if (readOnly) {
            throw new StorageException(Kind.READ_ONLY, "the VMDK is open read-only").withOperation(Operation.CLOSE);
        }
        closed = true;
        StorageException failure = null;
        for (Part p : parts) {
            if (p.backend() != null) {
                try {
                    var deletable = p.backend().capability(org.spindle.storage.api.Deletable.class);
                    if (deletable.isPresent()) {
                        deletable.get().closeAndDelete();
                    } else {
                        p.backend().close();
                    }
                } catch (StorageException e) {
                    failure = failure == null ? e : failure;
                }
            }
        }
        var own = descriptor.capability(org.spindle.storage.api.Deletable.class);
        if (own.isPresent()) {
            own.get().closeAndDelete();
        } else {
            descriptor.close();
        }
        if (failure != null) {
            throw failure;
        }
    }

    private void checkOpen(Operation op, long offset, long length) throws StorageException {
        if (closed) {
            throw new StorageException(Kind.NO_MEDIUM, "the VMDK is closed").at(op, offset, length);
        }
    }

    @Override
    public String toString() {
        return "VmdkFlatDisk[" + descriptor.location() + ", " + createType + "]";
    }
}
