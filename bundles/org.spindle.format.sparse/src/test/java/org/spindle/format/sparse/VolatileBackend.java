package org.spindle.format.sparse;

import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Optional;
import java.util.SplittableRandom;

import org.spindle.storage.api.Resizable;
import org.spindle.storage.api.StorageBackend;
import org.spindle.storage.api.StorageException;
import org.spindle.storage.api.StorageException.Kind;

/**
 * A backend that models a disk with a volatile write cache: writes and size changes since the last
 * {@link #flush()} are pending, and {@link #powerLoss} keeps only a random subset of them (in their
 * order), as a power cut may. Reads see everything, as the host's page cache does.
 */
final class VolatileBackend implements StorageBackend, Resizable {
    /** A pending change: a write, or a new size when {@code data} is null. */
    private record Change(long offset, byte[] data, long newSize) {
    }

    private byte[] durable;
    private byte[] current;
    private final List<Change> pending = new ArrayList<>();
    private long events;
    private long cutAt = -1;
    private SplittableRandom cutRandom;
    private byte[] cutImage;

    VolatileBackend(byte[] durable) {
        this.durable = durable.clone();
        this.current = durable.clone();
    }

    /**
     * Arranges for the power to fail just before the {@code event}-th write, resize or flush from now:
     * the image that survives is kept for {@link #cutImage()}, and work goes on as if nothing happened.
     */
    void cutBefore(long event, SplittableRandom random) {
        cutAt = events + event;
        cutRandom = random;
    }

    /** The image the planned power failure left, or {@code null} if it has not happened yet. */
    byte[] cutImage() {
        return cutImage;
    }

    /** Set while the disk commits (around {@code flush()}): the events then are where ordering matters. */
    boolean inCommit;
    /** The event numbers (from creation) that happened while {@link #inCommit} was set. */
    final List<Long> commitEvents = new ArrayList<>();

    long events() {
        return events;
    }

    private void event() {
        events++;
        if (inCommit) {
            commitEvents.add(events);
        }
        if (events == cutAt && cutImage == null) {
            cutImage = powerLoss(cutRandom);
        }
    }

    /** Everything written so far, as if all of it had reached the disk. */
    byte[] powerLossFree() {
        return current.clone();
    }

    /** How many changes a power cut now could keep or lose. */
    int pendingCount() {
        return pending.size();
    }

    /** The image a power cut leaves when it keeps exactly the pending changes whose bit is set in {@code keep}. */
    byte[] powerLoss(java.util.BitSet keep) {
        byte[] image = durable.clone();
        for (int i = 0; i < pending.size(); i++) {
            if (keep.get(i)) {
                image = apply(image, pending.get(i));
            }
        }
        return image;
    }

    /** The image a power cut leaves: the durable bytes plus a random subset of the pending changes. */
    byte[] powerLoss(SplittableRandom random) {
        byte[] image = durable.clone();
        for (Change change : pending) {
            if (random.nextBoolean()) {
                image = apply(image, change);
            }
        }
        return image;
    }

    private static byte[] apply(byte[] image, Change change) {
        if (change.data() == null) {
            return Arrays.copyOf(image, (int) change.newSize());
        }
        long end = change.offset() + change.data().length;
        byte[] result = end > image.length ? Arrays.copyOf(image, (int) end) : image;
        System.arraycopy(change.data(), 0, result, (int) change.offset(), change.data().length);
        return result;
    }

    @Override
    public String location() {
        return "volatile:test";
    }

    @Override
    public long size() {
        return current.length;
    }

    @Override
    public boolean isReadOnly() {
        return false;
    }

    @Override
    public void read(long offset, ByteBuffer dst) throws StorageException {
        if (offset < 0 || offset + dst.remaining() > current.length) {
            throw new StorageException(Kind.OUT_OF_BOUNDS, "read past the end").withRange(offset, dst.remaining());
        }
        dst.put(current, (int) offset, dst.remaining());
    }

    @Override
    public void write(long offset, ByteBuffer src) {
        event();
        byte[] data = new byte[src.remaining()];
        src.get(data);
        Change change = new Change(offset, data, -1);
        pending.add(change);
        current = apply(current, change);
    }

    @Override
    public void resize(long newSize) {
        event();
        Change change = new Change(0, null, newSize);
        pending.add(change);
        current = apply(current, change);
    }

    @Override
    public void flush() {
        event();
        durable = current.clone();
        pending.clear();
    }

    @Override
    public <T> Optional<T> capability(Class<T> type) {
        return type == Resizable.class ? Optional.of(type.cast(this)) : Optional.empty();
    }

    @Override
    public void close() {
    }
}
