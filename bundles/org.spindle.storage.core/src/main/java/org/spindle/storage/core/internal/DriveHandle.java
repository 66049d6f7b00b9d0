package org.spindle.storage.core.internal;

import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.locks.StampedLock;
import java.util.function.Supplier;

import org.spindle.storage.api.CacheMode;
import org.spindle.storage.api.CacheStatsDTO;
import org.spindle.storage.api.Discardable;
import org.spindle.storage.api.MediaType;
import org.spindle.storage.api.Drive;
import org.spindle.storage.api.DriveDTO;
import org.spindle.storage.api.Resizable;
import org.spindle.storage.api.StorageException;
import org.spindle.storage.api.StorageException.Kind;
import org.spindle.storage.api.StorageException.Operation;
import org.spindle.storage.api.TransferStatistics;
import org.spindle.storage.api.TransferStatsDTO;
import org.spindle.storage.api.VirtualDisk;
import org.spindle.storage.api.WriteZeroes;

/**
 * The {@link Drive} a controller holds: the opened disk plus the drive's identity, its cache mode, and
 * one guard that turns every failure into a {@link StorageException} naming the drive.
 *
 * <p>Requests hold a shared lock; {@link #close()} takes it exclusively, so closing waits for the
 * requests in flight to finish and later requests fail cleanly ({@code BACKEND_UNAVAILABLE}) instead
 * of touching a closed backend.
 */
final class DriveHandle implements Drive {
    static final String DISCARD = "discard";
    static final String WRITE_ZEROES = "write-zeroes";
    static final String RESIZE = "resize";

    private final String id;
    private final VirtualDisk disk;
    private final CacheMode cache;
    private final MediaType media;
    private final Supplier<CacheStatsDTO> cacheStats;
    private final List<TransferStatistics> transfers;
    private final Supplier<DriveDTO> info;
    private final Runnable resized;
    private final StampedLock lifecycle = new StampedLock();
    private volatile boolean closed;

    /** @param resized told after the capacity changed, so that the drive's service properties follow */
    DriveHandle(String id, VirtualDisk disk, CacheMode cache, MediaType media, Supplier<DriveDTO> info,
            Runnable resized) {
        this(id, disk, cache, media, info, resized, null, List.of());
    }

    /**
     * @param cacheStats the block cache's counters, or {@code null} when the drive has no block cache
     * @param transfers the network counters of the chain's images that keep them, top first
     */
    DriveHandle(String id, VirtualDisk disk, CacheMode cache, MediaType media, Supplier<DriveDTO> info,
            Runnable resized, Supplier<CacheStatsDTO> cacheStats, List<TransferStatistics> transfers) {
        this.cacheStats = cacheStats;
        this.transfers = List.copyOf(transfers);
        this.id = id;
        this.disk = disk;
        this.cache = cache;
        this.media = media;
        this.info = info;
        this.resized = resized;
    }

    @Override
    public String id() {
        return id;
    }

    /** The published snapshot, with the block cache's and the network's counters as they are now. */
    @Override
    public DriveDTO info() {
        DriveDTO published = info.get();
        if ((cacheStats == null && transfers.isEmpty()) || published == null) {
            return published;
        }
        DriveDTO dto = new DriveDTO();
        dto.id = published.id;
        dto.configuration = published.configuration;
        dto.backend = published.backend;
        dto.requestedFormat = published.requestedFormat;
        dto.format = published.format;
        dto.readOnly = published.readOnly;
        dto.cache = published.cache;
        dto.media = published.media;
        dto.chain = published.chain;
        dto.state = published.state;
        dto.capacity = published.capacity;
        dto.sectorSize = published.sectorSize;
        dto.capabilities = published.capabilities;
        dto.failureKind = published.failureKind;
        dto.failure = published.failure;
        dto.blockCache = cacheStats == null ? null : cacheStats.get();
        dto.transfers = transferStats();
        return dto;
    }

    /** The network counters now, top image first. */
    TransferStatsDTO[] transferStats() {
        return transfers.stream().map(TransferStatistics::transferStats).toArray(TransferStatsDTO[]::new);
    }

    /** The block cache's counters now, or {@code null}. */
    CacheStatsDTO cacheStats() {
        return cacheStats == null ? null : cacheStats.get();
    }

    @Override
    public int logicalSectorSize() {
        return disk.logicalSectorSize();
    }

    @Override
    public long capacity() {
        return disk.capacity();
    }

    /** A CD is read-only whatever its image allows. */
    @Override
    public boolean isReadOnly() {
        return disk.isReadOnly() || media == MediaType.CDROM;
    }

    @Override
    public MediaType mediaType() {
        return media;
    }

    @Override
    public java.util.Map<String, Object> details() {
        return disk.details();
    }

    @Override
    public String formatName() {
        return disk.formatName();
    }

    @Override
    public void read(long offset, ByteBuffer dst) throws StorageException {
        run(Operation.READ, offset, lengthOf(dst), () -> disk.read(offset, dst));
    }

    @Override
    public void write(long offset, ByteBuffer src) throws StorageException {
        run(Operation.WRITE, offset, lengthOf(src), () -> {
            refuseOnCd(Operation.WRITE);
            disk.write(offset, src);
            if (cache == CacheMode.WRITETHROUGH) {
                disk.flush();
            }
        });
    }

    @Override
    public void readSectors(long lba, ByteBuffer dst) throws StorageException {
        run(Operation.READ, -1, -1, () -> disk.readSectors(lba, dst));
    }

    @Override
    public void writeSectors(long lba, ByteBuffer src) throws StorageException {
        run(Operation.WRITE, -1, -1, () -> {
            refuseOnCd(Operation.WRITE);
            disk.writeSectors(lba, src);
            if (cache == CacheMode.WRITETHROUGH) {
                disk.flush();
            }
        });
    }

    /** A CD is read-only even when its image (an overlay, say) could take writes. */
    private void refuseOnCd(Operation op) throws StorageException {
        if (media == MediaType.CDROM) {
            throw new StorageException(Kind.READ_ONLY, "the drive is a cdrom").withOperation(op);
        }
    }

    private static int lengthOf(ByteBuffer buffer) {
        return buffer == null ? 0 : buffer.remaining();
    }

    @Override
    public void flush() throws StorageException {
        if (cache == CacheMode.UNSAFE) {
            return;
        }
        run(Operation.FLUSH, -1, -1, disk::flush);
    }

    /** Capability names the disk offers, for the DTO and the service properties. */
    String[] capabilityNames() {
        List<String> names = new ArrayList<>();
        capability(Discardable.class).ifPresent(c -> names.add(DISCARD));
        capability(WriteZeroes.class).ifPresent(c -> names.add(WRITE_ZEROES));
        capability(Resizable.class).ifPresent(c -> names.add(RESIZE));
        return names.toArray(String[]::new);
    }

    /**
     * Only this handle and the capabilities this API version knows, each wrapped so its failures name
     * the drive and it cannot run after a detach. Anything else the disk offers stays hidden: handing
     * it out would bypass both (the disk itself above all).
     */
    @Override
    public <T> Optional<T> capability(Class<T> type) {
        if (type.isInstance(this)) {
            return Optional.of(type.cast(this));
        }
        if (media == MediaType.CDROM && (type == Discardable.class || type == WriteZeroes.class || type == Resizable.class)) {
            return Optional.empty();
        }
        if (type == Discardable.class) {
            return disk.capability(Discardable.class).map(d -> type.cast((Discardable) (offset, length) ->
                    run(Operation.DISCARD, offset, length, () -> d.discard(offset, length))));
        }
        if (type == WriteZeroes.class) {
            return disk.capability(WriteZeroes.class).map(w -> type.cast((WriteZeroes) (offset, length) ->
                    run(Operation.WRITE_ZEROES, offset, length, () -> w.writeZeroes(offset, length))));
        }
        if (type == Resizable.class) {
            return disk.capability(Resizable.class).map(r -> type.cast((Resizable) size -> resize(r, size)));
        }
        return Optional.empty();
    }

    /** Resizing waits for the requests in flight and holds new ones, so none is checked against a stale size. */
    private void resize(Resizable resizable, long size) throws StorageException {
        long stamp = lifecycle.writeLock();
        try {
            if (closed) {
                throw new StorageException(Kind.BACKEND_UNAVAILABLE, "the drive has been detached")
                        .withDrive(id).withOperation(Operation.RESIZE);
            }
            resizable.resize(size);
        } catch (StorageException | RuntimeException e) {
            throw context(e, Operation.RESIZE, size, 0);
        } finally {
            lifecycle.unlockWrite(stamp);
        }
        resized.run();
    }

    /** Waits for requests in flight, then flushes (unless unsafe) and closes the disk. */
    @Override
    public void close() throws StorageException {
        long stamp = lifecycle.writeLock();
        try {
            if (closed) {
                return;
            }
            closed = true;
            StorageException failure = null;
            if (!disk.isReadOnly() && cache != CacheMode.UNSAFE) {
                try {
                    disk.flush();
                } catch (StorageException | RuntimeException e) {
                    failure = context(e, Operation.FLUSH, -1, -1);
                }
            }
            try {
                disk.close();
            } catch (StorageException | RuntimeException e) {
                StorageException se = context(e, Operation.CLOSE, -1, -1);
                if (failure == null) {
                    failure = se;
                } else {
                    failure.addSuppressed(se);
                }
            }
            if (failure != null) {
                throw failure;
            }
        } finally {
            lifecycle.unlockWrite(stamp);
        }
    }

    private interface Io {
        void run() throws StorageException;
    }

    private void run(Operation op, long offset, long length, Io io) throws StorageException {
        long stamp = lifecycle.readLock();
        try {
            if (closed) {
                throw new StorageException(Kind.BACKEND_UNAVAILABLE, "the drive has been detached")
                        .withDrive(id).withOperation(op);
            }
            io.run();
        } catch (StorageException | RuntimeException e) {
            throw context(e, op, offset, length);
        } finally {
            lifecycle.unlockRead(stamp);
        }
    }

    private StorageException context(Exception e, Operation op, long offset, long length) {
        StorageException se = e instanceof StorageException s ? s
                : new StorageException(Kind.IO, "internal error in the " + disk.formatName() + " format: " + e, e);
        se.withDrive(id).withOperation(op);
        return offset >= 0 ? se.withRange(offset, length) : se;
    }

    @Override
    public String toString() {
        return "Drive[" + id + ", " + disk + "]";
    }
}
