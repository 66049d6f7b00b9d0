package org.spindle.storage.core;

import java.net.URI;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

import org.spindle.storage.api.AllocationMap;
import org.spindle.storage.api.CompressedWrites;
import org.spindle.storage.api.Zeros;
import org.spindle.storage.api.BackingReference;
import org.spindle.storage.api.Discardable;
import org.spindle.storage.api.Extent;
import org.spindle.storage.api.OpenOptions;
import org.spindle.storage.api.Overlay;
import org.spindle.storage.api.StorageException;
import org.spindle.storage.api.StorageException.Kind;
import org.spindle.storage.api.StorageException.Operation;
import org.spindle.storage.api.VirtualDisk;

/**
 * The long operations on images that the command-line tool, the shell and the web console share:
 * sparse-aware copying (convert, export), committing an overlay into its base, comparing, and walking
 * the allocation map. Each reports progress and leaves its source untouched.
 */
public final class ImageOps {
    /** Bytes read and written at a time. */
    static final int CHUNK = 1 << 20;
    /** Runs of zeros at least this long, on this alignment, are not written. */
    static final int ZERO_GRAIN = 4096;

    private ImageOps() {
    }

    /** What a copy did. */
    public record CopyResult(long bytesWritten, long bytesSkipped) {
    }

    /**
     * Copies all of {@code src} into {@code dst}, which must have the same capacity and read as zeros
     * (a freshly created image): ranges {@code src} does not hold, and runs of zeros it holds, are not
     * written, so the copy stays sparse.
     */
    public static CopyResult copy(VirtualDisk src, VirtualDisk dst, Progress progress) throws StorageException {
        long capacity = src.capacity();
        if (dst.capacity() != capacity) {
            throw new StorageException(Kind.INVALID_CONFIG, "the target holds " + dst.capacity()
                    + " bytes, the source " + capacity).withOperation(Operation.WRITE);
        }
        ByteBuffer buffer = ByteBuffer.allocateDirect(CHUNK);
        long written = 0;
        for (Extent e : dataExtents(src, 0, capacity)) {
            for (long pos = e.offset(); pos < e.end(); ) {
                // keep chunks aligned, so they stay aligned with the target's blocks
                long chunkEnd = Math.min(e.end(), (pos / CHUNK + 1) * CHUNK);
                int n = (int) (chunkEnd - pos);
                buffer.clear().limit(n);
                src.read(pos, buffer);
                buffer.flip();
                written += writeNonZero(dst, pos, buffer);
                pos = chunkEnd;
                progress.update(pos, capacity);
            }
        }
        progress.update(capacity, capacity);
        return new CopyResult(written, capacity - written);
    }

    /**
     * As {@link #copy(VirtualDisk, VirtualDisk, Progress)}, with {@code compress} writing every unit of
     * data through the target's {@link CompressedWrites}.
     *
     * @throws StorageException {@code UNSUPPORTED_FEATURE} when {@code compress} is asked of a target
     *         format that cannot store compressed data
     */
    public static CopyResult copy(VirtualDisk src, VirtualDisk dst, Progress progress, boolean compress)
            throws StorageException {
        if (!compress) {
            return copy(src, dst, progress);
        }
        CompressedWrites writer = dst.capability(CompressedWrites.class).orElseThrow(() -> new StorageException(
                Kind.UNSUPPORTED_FEATURE, "the " + dst.formatName() + " format cannot store compressed data")
                .withOperation(Operation.WRITE));
        long capacity = src.capacity();
        if (dst.capacity() != capacity) {
            throw new StorageException(Kind.INVALID_CONFIG, "the target holds " + dst.capacity()
                    + " bytes, the source " + capacity).withOperation(Operation.WRITE);
        }
        int unit = writer.compressionUnit();
        ByteBuffer buffer = ByteBuffer.allocate(unit);
        long written = 0;
        long done = 0; // units below this are written
        for (Extent e : dataExtents(src, 0, capacity)) {
            for (long start = Math.max(done, e.offset() / unit * unit); start < e.end(); start += unit) {
                int n = (int) Math.min(unit, capacity - start);
                buffer.clear().limit(n);
                src.read(start, buffer);
                buffer.flip();
                if (!isZero(buffer, 0, n)) {
                    writer.writeCompressed(start, buffer);
                    written += n;
                }
                done = start + unit;
                progress.update(Math.min(done, capacity), capacity);
            }
        }
        progress.update(capacity, capacity);
        return new CopyResult(written, capacity - written);
    }

    /** Writes the runs of {@code data} that are not all zeros; returns how many bytes it wrote. */
    private static long writeNonZero(VirtualDisk dst, long offset, ByteBuffer data) throws StorageException {
        long written = 0;
        int n = data.remaining();
        int runStart = -1;
        for (int at = 0; at < n; ) {
            int grainEnd = Math.min(n, (int) (((offset + at) / ZERO_GRAIN + 1) * ZERO_GRAIN - offset));
            boolean zero = isZero(data, at, grainEnd - at);
            if (!zero && runStart < 0) {
                runStart = at;
            } else if (zero && runStart >= 0) {
                dst.write(offset + runStart, data.slice(runStart, at - runStart));
                written += at - runStart;
                runStart = -1;
            }
            at = grainEnd;
        }
        if (runStart >= 0) {
            dst.write(offset + runStart, data.slice(runStart, n - runStart));
            written += n - runStart;
        }
        return written;
    }

    private static final ByteBuffer ZEROS = ByteBuffer.allocateDirect(CHUNK).asReadOnlyBuffer();

    static boolean isZero(ByteBuffer data, int at, int length) {
        return Zeros.isZero(data.slice(at, length));
    }

    /**
     * The extents of {@code disk} in {@code [offset, end)} that may hold non-zero data (all of it, for a
     * disk without an allocation map), adjacent ones merged.
     */
    static List<Extent> dataExtents(VirtualDisk disk, long offset, long end) throws StorageException {
        Optional<AllocationMap> map = disk.capability(AllocationMap.class);
        List<Extent> result = new ArrayList<>();
        if (map.isEmpty()) {
            if (end > offset) {
                result.add(Extent.data(offset, end - offset, -1));
            }
            return result;
        }
        for (Extent e : extents(map.get(), offset, end)) {
            if (e.present() && e.data()) {
                if (!result.isEmpty() && result.getLast().end() == e.offset()) {
                    result.set(result.size() - 1, result.getLast().withLength(result.getLast().length() + e.length()));
                } else {
                    result.add(e);
                }
            }
        }
        return result;
    }

    /** Every extent of {@code [offset, end)}, as the map reports them. */
    public static List<Extent> extents(AllocationMap map, long offset, long end) throws StorageException {
        List<Extent> result = new ArrayList<>();
        for (long pos = offset; pos < end; ) {
            Extent e = map.extent(pos, end - pos);
            if (e.length() <= 0 || e.offset() != pos) {
                throw new StorageException(Kind.IO, "the allocation map answered " + e + " for offset " + pos)
                        .withOperation(Operation.READ);
            }
            result.add(e.length() > end - pos ? e.withLength(end - pos) : e);
            pos += Math.min(e.length(), end - pos);
        }
        return result;
    }

    /**
     * The allocation map of a whole disk for {@code img map}: extents with equal status merged, their
     * host offsets kept contiguous.
     */
    public static List<Extent> map(VirtualDisk disk) throws StorageException {
        Optional<AllocationMap> map = disk.capability(AllocationMap.class);
        if (map.isEmpty()) {
            return disk.capacity() == 0 ? List.of() : List.of(Extent.data(0, disk.capacity(), -1));
        }
        List<Extent> merged = new ArrayList<>();
        for (Extent e : extents(map.get(), 0, disk.capacity())) {
            if (!merged.isEmpty()) {
                Extent last = merged.getLast();
                boolean same = last.present() == e.present() && last.data() == e.data() && last.zero() == e.zero()
                        && last.depth() == e.depth()
                        && (last.hostOffset() < 0 ? e.hostOffset() < 0 : e.hostOffset() == last.hostOffset() + last.length());
                if (same && last.end() == e.offset()) {
                    merged.set(merged.size() - 1, last.withLength(last.length() + e.length()));
                    continue;
                }
            }
            merged.add(e);
        }
        return merged;
    }

    /** Where two disks first differ, or -1; with {@code strict} off, bytes past the shorter one must be zeros. */
    public static long firstDifference(VirtualDisk a, VirtualDisk b, boolean strict, Progress progress)
            throws StorageException {
        long common = Math.min(a.capacity(), b.capacity());
        long total = Math.max(a.capacity(), b.capacity());
        if (strict && a.capacity() != b.capacity()) {
            return common;
        }
        ByteBuffer left = ByteBuffer.allocateDirect(CHUNK);
        ByteBuffer right = ByteBuffer.allocateDirect(CHUNK);
        for (long pos = 0; pos < common; ) {
            long chunkEnd = Math.min(common, pos + CHUNK);
            int n = (int) (chunkEnd - pos);
            if (!bothAbsent(a, b, pos, n)) {
                a.read(pos, left.clear().limit(n));
                b.read(pos, right.clear().limit(n));
                int at = left.flip().mismatch(right.flip());
                if (at >= 0) {
                    return pos + at;
                }
            }
            pos = chunkEnd;
            progress.update(pos, total);
        }
        VirtualDisk longer = a.capacity() > b.capacity() ? a : b;
        for (Extent e : dataExtents(longer, common, total)) {
            for (long pos = e.offset(); pos < e.end(); ) {
                int n = (int) Math.min(CHUNK, e.end() - pos);
                longer.read(pos, left.clear().limit(n));
                left.flip();
                for (int i = 0; i < n; i++) {
                    if (left.get(i) != 0) {
                        return pos + i;
                    }
                }
                pos += n;
            }
        }
        progress.update(total, total);
        return -1;
    }

    /** Whether neither disk holds anything in the range: then both read zeros there. */
    private static boolean bothAbsent(VirtualDisk a, VirtualDisk b, long pos, int n) throws StorageException {
        return dataExtents(a, pos, pos + n).isEmpty() && dataExtents(b, pos, pos + n).isEmpty();
    }

    /** What {@link #commit} did. */
    public record CommitResult(URI base, long bytesCommitted) {
    }

    /**
     * Writes what the overlay at {@code overlayUri} holds into its immediate base (which must be
     * writable), flushes the base, and then, if {@code empty} is set, discards everything in the
     * overlay, so it reads its base again. The base is written and flushed before the overlay changes,
     * so a crash in between leaves both reading the same data.
     */
    public static CommitResult commit(DiskOpener opener, URI overlayUri, boolean empty, Progress progress)
            throws StorageException {
        // the overlay alone (its base is opened writable below, not read-only under it)
        DiskOpener.Opened top = opener.openImage(overlayUri, DiskOpener.AUTO, OpenOptions.defaults().withReadOnly(!empty));
        URI baseUri;
        String baseFormat;
        try {
            BackingReference reference = top.disk().capability(Overlay.class).orElseThrow(() -> new StorageException(
                    Kind.INVALID_CONFIG, "the image names no base to commit into")
                    .withLocation(overlayUri.toString()).withOperation(Operation.COMMIT)).base();
            baseUri = DiskOpener.resolve(overlayUri, reference.location());
            baseFormat = reference.format() == null ? DiskOpener.AUTO : reference.format();
        } catch (StorageException | RuntimeException e) {
            try {
                top.disk().close();
            } catch (StorageException closing) {
                e.addSuppressed(closing);
            }
            throw e;
        }
        long committed = 0;
        try (VirtualDisk overlay = top.disk();
                VirtualDisk base = opener.open(baseUri, baseFormat, OpenOptions.defaults()).disk()) {
            AllocationMap map = overlay.capability(AllocationMap.class).orElseThrow(() -> new StorageException(
                    Kind.UNSUPPORTED_FEATURE, "the overlay's format cannot tell what it holds")
                    .withOperation(Operation.COMMIT));
            if (base.capacity() < overlay.capacity()) {
                throw new StorageException(Kind.UNSUPPORTED_FEATURE, "the base (" + base.capacity()
                        + " bytes) is smaller than the overlay (" + overlay.capacity() + "); resize it first")
                        .withLocation(baseUri.toString()).withOperation(Operation.COMMIT);
            }
            ByteBuffer buffer = ByteBuffer.allocateDirect(CHUNK);
            for (Extent e : extents(map, 0, overlay.capacity())) {
                if (!e.present()) {
                    continue;
                }
                for (long pos = e.offset(); pos < e.end(); ) {
                    int n = (int) Math.min(CHUNK, e.end() - pos);
                    buffer.clear().limit(n);
                    if (e.data()) {
                        overlay.read(pos, buffer);
                        buffer.flip();
                    } else {
                        // recorded as zeros in the overlay: zeros in the base, not the last chunk's bytes
                        buffer.put(ZEROS.slice(0, n)).flip();
                    }
                    base.write(pos, buffer);
                    committed += n;
                    pos += n;
                    progress.update(pos, overlay.capacity());
                }
            }
            base.flush();
            if (empty) {
                Optional<Discardable> discard = overlay.capability(Discardable.class);
                if (discard.isPresent()) {
                    discard.get().discard(0, overlay.capacity());
                    overlay.flush();
                }
            }
        }
        progress.update(1, 1);
        return new CommitResult(baseUri, committed);
    }
}
