package org.spindle.storage.core;

import java.nio.ByteBuffer;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.locks.ReentrantLock;

import org.spindle.storage.api.AllocationMap;
import org.spindle.storage.api.Bounds;
import org.spindle.storage.api.Discardable;
import org.spindle.storage.api.Extent;
import org.spindle.storage.api.MediaType;
import org.spindle.storage.api.Overlay;
import org.spindle.storage.api.StorageException;
import org.spindle.storage.api.StorageException.Kind;
import org.spindle.storage.api.StorageException.Operation;
import org.spindle.storage.api.VirtualDisk;
import org.spindle.storage.api.Zeros;
import org.spindle.storage.api.WriteZeroes;

/**
 * A copy-on-write disk: an overlay image (the top) over a read-only base. What the top holds is read
 * from the top; what it does not hold is read from the base (zeros past the base's end). Writes go to
 * the top only, a whole allocation unit at a time: a write that covers part of a unit the top does not
 * hold yet first copies the rest of that unit from the base, so the unit never mixes the two.
 *
 * <p>Discard may not let older base data show through where the guest wrote since: it frees a unit of
 * the top only where the base reads as zeros, and is a no-op elsewhere (discard is advisory).
 * Zeroing frees units the same way and writes zeros where the base has data.
 *
 * <p>The top must offer {@link AllocationMap} and must store every write it gets, zeros included
 * (formats do so when they record a base). Threading: writes are serialised by one lock so that a
 * copy-up is atomic; reads need none.
 */
final class CowDisk implements VirtualDisk, AllocationMap, Discardable, WriteZeroes {
    private static final ByteBuffer ZEROS = ByteBuffer.allocateDirect(64 * 1024).asReadOnlyBuffer();

    private final VirtualDisk top;
    private final AllocationMap topMap;
    private final VirtualDisk base;
    private final int unit;
    private final ReentrantLock writeLock = new ReentrantLock();

    CowDisk(VirtualDisk top, VirtualDisk base) throws StorageException {
        this.top = top;
        this.base = base;
        this.topMap = top.capability(AllocationMap.class).orElseThrow(() -> new StorageException(
                Kind.UNSUPPORTED_FEATURE, "the " + top.formatName() + " format cannot tell what it holds,"
                + " so it cannot be an overlay").withOperation(Operation.OPEN));
        this.unit = topMap.allocationUnit();
        if (unit <= 0 || Integer.bitCount(unit) != 1) {
            throw new StorageException(Kind.IO, "the " + top.formatName() + " format reports an allocation unit of "
                    + unit + " bytes").withOperation(Operation.OPEN);
        }
    }

    VirtualDisk top() {
        return top;
    }

    VirtualDisk base() {
        return base;
    }

    /** Over a CD, the chain is a CD: 2048-byte sectors, whatever sector size the top was opened with. */
    @Override
    public int logicalSectorSize() {
        return base.mediaType() == MediaType.CDROM ? MediaType.CD_SECTOR_SIZE : top.logicalSectorSize();
    }

    @Override
    public long capacity() {
        return top.capacity();
    }

    @Override
    public boolean isReadOnly() {
        return top.isReadOnly();
    }

    @Override
    public String formatName() {
        return top.formatName();
    }

    /** A CD stays a CD when an overlay takes its writes (its sector size is the top's business). */
    @Override
    public MediaType mediaType() {
        return base.mediaType() == MediaType.CDROM ? MediaType.CDROM : top.mediaType();
    }

    @Override
    public Map<String, Object> details() {
        return top.details();
    }

    @Override
    public int allocationUnit() {
        return unit;
    }

    @Override
    public <T> Optional<T> capability(Class<T> type) {
        if (type == Overlay.class) {
            return top.capability(Overlay.class).map(type::cast);
        }
        if (type == AllocationMap.class) {
            return Optional.of(type.cast(this));
        }
        if (type == Discardable.class || type == WriteZeroes.class) {
            return top.isReadOnly() ? Optional.empty() : Optional.of(type.cast(this));
        }
        return Optional.empty();
    }

    @Override
    public void read(long offset, ByteBuffer dst) throws StorageException {
        int length = dst.remaining();
        Bounds.check(offset, length, capacity(), Operation.READ);
        long pos = offset;
        long end = offset + length;
        while (pos < end) {
            Extent e = topMap.extent(pos, end - pos);
            int n = (int) Math.min(e.length(), end - pos);
            if (e.present()) {
                if (e.data()) {
                    readInto(top, pos, n, dst);
                } else {
                    Zeros.put(dst, n);
                }
            } else {
                readBase(pos, n, dst);
            }
            pos += n;
        }
    }

    /** Reads {@code n} bytes of the base at {@code pos}: zeros for what lies past its end. */
    private void readBase(long pos, int n, ByteBuffer dst) throws StorageException {
        long inBase = Math.max(0, Math.min(n, base.capacity() - pos));
        if (inBase > 0) {
            readInto(base, pos, (int) inBase, dst);
        }
        Zeros.put(dst, n - (int) inBase);
    }

    private static void readInto(VirtualDisk disk, long pos, int n, ByteBuffer dst) throws StorageException {
        int limit = dst.limit();
        dst.limit(dst.position() + n);
        try {
            disk.read(pos, dst);
        } finally {
            dst.limit(limit);
        }
    }

    @Override
    public void write(long offset, ByteBuffer src) throws StorageException {
        int length = src.remaining();
        checkWritable(Operation.WRITE, offset, length);
        Bounds.check(offset, length, capacity(), Operation.WRITE);
        writeLock.lock();
        try {
            long pos = offset;
            long end = offset + length;
            while (pos < end) {
                long unitStart = pos & -(long) unit;
                long unitEnd = Math.min(capacity(), unitStart + unit);
                if (pos == unitStart && end >= unitEnd) {
                    // a run of whole units (the last one may be short at the end of the disk): nothing of
                    // the base survives in them, so they go straight to the top
                    long runEnd = end == capacity() ? end : end & -(long) unit;
                    writeThrough(pos, (int) (runEnd - pos), src);
                    pos = runEnd;
                    continue;
                }
                int n = (int) (Math.min(end, unitEnd) - pos);
                Extent e = topMap.extent(unitStart, unitEnd - unitStart);
                if (e.present()) {
                    writeThrough(pos, n, src);
                } else {
                    copyUp(unitStart, (int) (unitEnd - unitStart), pos, n, src);
                }
                pos += n;
            }
        } finally {
            writeLock.unlock();
        }
    }

    private void writeThrough(long pos, int n, ByteBuffer src) throws StorageException {
        int limit = src.limit();
        src.limit(src.position() + n);
        try {
            top.write(pos, src);
        } finally {
            src.limit(limit);
        }
    }

    /** Writes a whole unit to the top: the base's bytes with {@code n} bytes of {@code src} at {@code pos}. */
    private void copyUp(long unitStart, int unitLength, long pos, int n, ByteBuffer src) throws StorageException {
        ByteBuffer merged = ByteBuffer.allocate(unitLength);
        readBase(unitStart, unitLength, merged);
        merged.position((int) (pos - unitStart));
        int limit = src.limit();
        src.limit(src.position() + n);
        try {
            merged.put(src);
        } finally {
            src.limit(limit);
        }
        top.write(unitStart, merged.clear());
    }

    @Override
    public void flush() throws StorageException {
        if (!top.isReadOnly()) {
            top.flush();
        }
    }

    @Override
    public void discard(long offset, long length) throws StorageException {
        checkWritable(Operation.DISCARD, offset, length);
        Bounds.check(offset, length, capacity(), Operation.DISCARD);
        Optional<Discardable> topDiscard = top.capability(Discardable.class);
        if (topDiscard.isEmpty()) {
            return;
        }
        writeLock.lock();
        try {
            forEachWholeUnit(offset, length, (unitStart, unitLength) -> {
                if (baseReadsZero(unitStart, unitLength)) {
                    topDiscard.get().discard(unitStart, unitLength);
                }
            });
        } finally {
            writeLock.unlock();
        }
    }

    @Override
    public void writeZeroes(long offset, long length) throws StorageException {
        checkWritable(Operation.WRITE_ZEROES, offset, length);
        Bounds.check(offset, length, capacity(), Operation.WRITE_ZEROES);
        Optional<Discardable> topDiscard = top.capability(Discardable.class);
        long pos = offset;
        long end = offset + length;
        while (pos < end) {
            long unitStart = pos & -(long) unit;
            long unitEnd = Math.min(capacity(), unitStart + unit);
            long n = Math.min(end, unitEnd) - pos;
            writeLock.lock();
            try {
                if (pos == unitStart && n == unitEnd - unitStart && topDiscard.isPresent()
                        && baseReadsZero(unitStart, n)) {
                    topDiscard.get().discard(unitStart, n);
                    if (!readsZero(unitStart, (int) n)) {
                        // the top did not free it (discard is advisory): write the zeros
                        writeZerosThrough(pos, n);
                    }
                } else {
                    writeZerosThrough(pos, n);
                }
            } finally {
                writeLock.unlock();
            }
            pos += n;
        }
    }

    private void writeZerosThrough(long pos, long n) throws StorageException {
        writeLock.lock();
        try {
            for (long done = 0; done < n; ) {
                int chunk = (int) Math.min(n - done, ZEROS.capacity());
                write(pos + done, ZEROS.duplicate().limit(chunk));
                done += chunk;
            }
        } finally {
            writeLock.unlock();
        }
    }

    private boolean readsZero(long pos, int n) throws StorageException {
        ByteBuffer check = ByteBuffer.allocate(n);
        read(pos, check);
        return check.flip().mismatch(ByteBuffer.allocate(n)) == -1;
    }

    /** Whether the base holds nothing but zeros in the range, judged by its allocation map only. */
    private boolean baseReadsZero(long pos, long n) throws StorageException {
        if (pos >= base.capacity()) {
            return true;
        }
        Optional<AllocationMap> baseMap = base.capability(AllocationMap.class);
        if (baseMap.isEmpty()) {
            return false;
        }
        long end = Math.min(pos + n, base.capacity());
        for (long at = pos; at < end; ) {
            Extent e = baseMap.get().extent(at, end - at);
            if (e.data() || !e.zero()) {
                return false;
            }
            at += e.length();
        }
        return true;
    }

    private interface UnitAction {
        void apply(long unitStart, long unitLength) throws StorageException;
    }

    /** Calls {@code action} for each allocation unit wholly inside the range (the last unit may be short). */
    private void forEachWholeUnit(long offset, long length, UnitAction action) throws StorageException {
        long end = offset + length;
        for (long unitStart = (offset + unit - 1) & -(long) unit; unitStart < end; unitStart += unit) {
            long unitEnd = Math.min(capacity(), unitStart + unit);
            if (unitEnd <= end) {
                action.apply(unitStart, unitEnd - unitStart);
            }
        }
    }

    @Override
    public Extent extent(long offset, long maxLength) throws StorageException {
        Extent e = topMap.extent(offset, maxLength);
        if (e.present()) {
            return e;
        }
        if (offset >= base.capacity()) {
            return e;
        }
        long n = Math.min(e.length(), base.capacity() - offset);
        Optional<AllocationMap> baseMap = base.capability(AllocationMap.class);
        if (baseMap.isEmpty()) {
            return new Extent(offset, n, true, true, false, 1, -1);
        }
        return baseMap.get().extent(offset, n).deeper(1);
    }

    @Override
    public void close() throws StorageException {
        StorageException failure = null;
        try {
            top.close();
        } catch (StorageException e) {
            failure = e;
        }
        try {
            base.close();
        } catch (StorageException e) {
            if (failure == null) {
                failure = e;
            } else {
                failure.addSuppressed(e);
            }
        }
        if (failure != null) {
            throw failure;
        }
    }

    private void checkWritable(Operation op, long offset, long length) throws StorageException {
        if (top.isReadOnly()) {
            throw new StorageException(Kind.READ_ONLY, "the overlay is read-only").at(op, offset, length);
        }
    }

    @Override
    public String toString() {
        return "CowDisk[" + top + " over " + base + "]";
    }
}
