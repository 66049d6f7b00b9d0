package org.spindle.format.qcow2;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.Locale;
import java.util.Map;
import java.util.Set;

import org.osgi.service.component.annotations.Component;
import org.spindle.storage.api.BackingReference;
import org.spindle.storage.api.ByteSize;
import org.spindle.storage.api.CheckReport;
import org.spindle.storage.api.CreateOptions;
import org.spindle.storage.api.DiskFormat;
import org.spindle.storage.api.OpenOptions;
import org.spindle.storage.api.ProbeInput;
import org.spindle.storage.api.StorageBackend;
import org.spindle.storage.api.StorageException;
import org.spindle.storage.api.StorageException.Kind;
import org.spindle.storage.api.StorageException.Operation;
import org.spindle.storage.api.VirtualDisk;

/**
 * QEMU's qcow2 format, versions 2 and 3. See {@link Qcow2Disk} for the behaviour and
 * {@code docs/images.md} for the options.
 *
 * <p>Create parameters (named as {@code qemu-img} names them): {@code cluster_size} (512 to 2M, default
 * 64K), {@code compat} ({@code 0.10} or {@code 1.1}, default 1.1), {@code refcount_bits} (1 to 64,
 * default 16), {@code lazy_refcounts} ({@code on|off}), {@code compression_type} ({@code zlib|zstd}),
 * {@code extended_l2} ({@code on|off}). Open parameters: {@code l2_cache_size}.
 */
@Component(property = DiskFormat.NAME + "=" + Qcow2Format.NAME)
public final class Qcow2Format implements DiskFormat {
    public static final String NAME = "qcow2";
    public static final String CLUSTER_SIZE = "cluster_size";
    public static final String COMPAT = "compat";
    public static final String REFCOUNT_BITS = "refcount_bits";
    public static final String LAZY_REFCOUNTS = "lazy_refcounts";
    public static final String COMPRESSION_TYPE = "compression_type";
    public static final String EXTENDED_L2 = "extended_l2";
    public static final String L2_CACHE_SIZE = Qcow2Disk.L2_CACHE_SIZE;
    private static final Set<String> CREATE_KEYS = Set.of(CLUSTER_SIZE, COMPAT, REFCOUNT_BITS, LAZY_REFCOUNTS,
            COMPRESSION_TYPE, EXTENDED_L2);
    private static final Set<String> OPEN_KEYS = Set.of(L2_CACHE_SIZE, org.spindle.storage.api.Snapshots.OPEN_PARAMETER);

    @Override
    public String name() {
        return NAME;
    }

    @Override
    public int probe(ProbeInput input) {
        ByteBuffer head = input.head();
        if (head.remaining() < 4) {
            return PROBE_NO;
        }
        // a truncated or damaged image still scores, so that opening it says why it cannot be read
        return head.order(ByteOrder.BIG_ENDIAN).getInt(head.position()) == Qcow2Header.MAGIC ? PROBE_MAGIC : PROBE_NO;
    }

    @Override
    public VirtualDisk open(StorageBackend backend, OpenOptions options) throws StorageException {
        for (String key : options.parameters().keySet()) {
            if (!OPEN_KEYS.contains(key)) {
                throw new StorageException(Kind.INVALID_CONFIG, "unknown qcow2 open option '" + key + "' (known: "
                        + String.join(", ", OPEN_KEYS) + ")").withOperation(Operation.OPEN).withLocation(backend.location());
            }
        }
        int sectorSize = options.logicalSectorSize() == 0 ? 512 : options.logicalSectorSize();
        try {
            return Qcow2Disk.open(backend, options.readOnly() || backend.isReadOnly(), sectorSize, options.parameters());
        } catch (StorageException e) {
            throw e.withOperation(Operation.OPEN).withLocation(backend.location());
        }
    }

    @Override
    public VirtualDisk create(StorageBackend backend, CreateOptions options) throws StorageException {
        try {
            Settings settings = Settings.parse(options.parameters());
            long capacity = options.capacity();
            if (capacity % options.logicalSectorSize() != 0) {
                throw new StorageException(Kind.INVALID_CONFIG, "a capacity of " + capacity
                        + " bytes is not a whole number of " + options.logicalSectorSize() + "-byte sectors");
            }
            Qcow2Create.write(backend, capacity, settings, options.backing());
            return Qcow2Disk.open(backend, false, options.logicalSectorSize(), Map.of());
        } catch (StorageException e) {
            throw e.withOperation(Operation.CREATE).withLocation(backend.location());
        }
    }

    @Override
    public CheckReport check(StorageBackend backend, boolean repair) throws StorageException {
        try {
            Qcow2File file = new Qcow2File(backend, readHeader(backend));
            return Qcow2Check.check(file, repair && !backend.isReadOnly());
        } catch (StorageException e) {
            throw e.withOperation(Operation.CHECK).withLocation(backend.location());
        }
    }

    static Qcow2Header readHeader(StorageBackend backend) throws StorageException {
        long fileSize = backend.size();
        ByteBuffer head = ByteBuffer.allocate((int) Math.min(fileSize, 1 << Qcow2Header.MAX_CLUSTER_BITS));
        backend.read(0, head);
        return Qcow2Header.parse(head.flip(), fileSize);
    }

    /** What the image's backing format extension says, in Spindle's format names. */
    static String spindleFormatName(String qemuName) {
        if (qemuName == null || qemuName.isEmpty()) {
            return null;
        }
        return "vpc".equals(qemuName) ? "vhd" : qemuName;
    }

    /** The name QEMU knows a Spindle format by, for the backing format extension. */
    static String qemuFormatName(String spindleName) {
        return "vhd".equals(spindleName) ? "vpc" : spindleName;
    }

    static long parseSize(String key, String text, Operation op) throws StorageException {
        try {
            return ByteSize.parse(text.toUpperCase(Locale.ROOT));
        } catch (IllegalArgumentException e) {
            throw new StorageException(Kind.INVALID_CONFIG, key + ": " + e.getMessage()).withOperation(op);
        }
    }

    /** Create settings, checked against each other. */
    record Settings(int clusterBits, int version, int refcountOrder, boolean lazyRefcounts, int compressionType,
            boolean extendedL2) {
        static Settings parse(Map<String, String> p) throws StorageException {
            for (String key : p.keySet()) {
                if (!CREATE_KEYS.contains(key)) {
                    throw new StorageException(Kind.INVALID_CONFIG, "unknown qcow2 option '" + key + "' (known: "
                            + String.join(", ", new java.util.TreeSet<>(CREATE_KEYS)) + ")");
                }
            }
            int clusterBits = 16;
            if (p.containsKey(CLUSTER_SIZE)) {
                long v = parseSize(CLUSTER_SIZE, p.get(CLUSTER_SIZE), Operation.CREATE);
                if (v < 512 || v > (2 << 20) || Long.bitCount(v) != 1) {
                    throw new StorageException(Kind.INVALID_CONFIG, CLUSTER_SIZE + " must be a power of two from 512 to 2M, not " + v);
                }
                clusterBits = Long.numberOfTrailingZeros(v);
            }
            int version = 3;
            String compat = p.getOrDefault(COMPAT, "1.1");
            switch (compat) {
                case "0.10", "v2" -> version = 2;
                case "1.1", "v3" -> version = 3;
                default -> throw new StorageException(Kind.INVALID_CONFIG, COMPAT + " must be 0.10 or 1.1, not '" + compat + "'");
            }
            int order = 4;
            if (p.containsKey(REFCOUNT_BITS)) {
                int bits;
                try {
                    bits = Integer.parseInt(p.get(REFCOUNT_BITS));
                } catch (NumberFormatException e) {
                    bits = -1;
                }
                if (bits < 1 || bits > 64 || Integer.bitCount(bits) != 1) {
                    throw new StorageException(Kind.INVALID_CONFIG, REFCOUNT_BITS + " must be 1, 2, 4, 8, 16, 32 or 64, not '"
                            + p.get(REFCOUNT_BITS) + "'");
                }
                order = Integer.numberOfTrailingZeros(bits);
            }
            boolean lazy = flag(p, LAZY_REFCOUNTS);
            boolean extL2 = flag(p, EXTENDED_L2);
            int compression = Qcow2Header.COMPRESSION_ZLIB;
            String ct = p.getOrDefault(COMPRESSION_TYPE, "zlib");
            switch (ct) {
                case "zlib" -> compression = Qcow2Header.COMPRESSION_ZLIB;
                case "zstd" -> compression = Qcow2Header.COMPRESSION_ZSTD;
                default -> throw new StorageException(Kind.INVALID_CONFIG, COMPRESSION_TYPE + " must be zlib or zstd, not '" + ct + "'");
            }
            if (version == 2) {
                String why = order != 4 ? REFCOUNT_BITS + " other than 16" : lazy ? LAZY_REFCOUNTS
                        : extL2 ? EXTENDED_L2 : compression != 0 ? COMPRESSION_TYPE + "=zstd" : null;
                if (why != null) {
                    throw new StorageException(Kind.INVALID_CONFIG, why + " needs compat=1.1");
                }
            }
            if (extL2 && clusterBits < 14) {
                throw new StorageException(Kind.INVALID_CONFIG, EXTENDED_L2 + " needs a " + CLUSTER_SIZE + " of at least 16K");
            }
            return new Settings(clusterBits, version, order, lazy, compression, extL2);
        }

        private static boolean flag(Map<String, String> p, String key) throws StorageException {
            String v = p.getOrDefault(key, "off");
            return switch (v) {
                case "on", "true", "yes" -> true;
                case "off", "false", "no" -> false;
                default -> throw new StorageException(Kind.INVALID_CONFIG, key + " must be on or off, not '" + v + "'");
            };
        }
    }

    /** Encodes a backing reference for the header: the location as given, the format in QEMU's words. */
    static byte[] backingName(BackingReference backing) {
        return backing.location().getBytes(StandardCharsets.UTF_8);
    }
}
