package org.spindle.format.vhdx;

import java.nio.ByteBuffer;
import java.util.List;

import org.spindle.storage.api.StorageBackend;
import org.spindle.storage.api.StorageException;
import org.spindle.storage.api.StorageException.Kind;
import org.spindle.storage.api.Zeros;

/**
 * A read-only file with a log replayed in memory: reads see the replayed updates over the file, and
 * the file as long as the log's head entry says it must be. How a read-only open reads an image
 * whose log was not replayed (after a crash), without writing it.
 */
final class ReplayedView implements StorageBackend {
    private final StorageBackend file;
    private final List<VhdxLog.Patch> patches;
    private final long size;
    private final long fileSize;

    ReplayedView(StorageBackend file, VhdxLog.Replay replay) throws StorageException {
        this.file = file;
        this.patches = replay.patches();
        this.fileSize = file.size();
        long end = Math.max(fileSize, replay.head().lastFileOffset());
        for (VhdxLog.Patch p : patches) {
            end = Math.max(end, p.end());
        }
        this.size = end;
    }

    @Override
    public String location() {
        return file.location();
    }

    @Override
    public long size() {
        return size;
    }

    @Override
    public boolean isReadOnly() {
        return true;
    }

    @Override
    public void read(long offset, ByteBuffer dst) throws StorageException {
        int length = dst.remaining();
        if (offset < 0 || offset + length > size) {
            throw new StorageException(Kind.OUT_OF_BOUNDS, "read of " + length + " bytes at " + offset + " beyond the "
                    + size + "-byte file");
        }
        int start = dst.position();
        long inFile = Math.max(0, Math.min(length, fileSize - offset));
        if (inFile > 0) {
            ByteBuffer part = dst.duplicate().limit(start + (int) inFile);
            file.read(offset, part);
        }
        ByteBuffer rest = dst.duplicate().position(start + (int) inFile);
        Zeros.put(rest, rest.remaining());
        for (VhdxLog.Patch p : patches) {
            long from = Math.max(offset, p.offset());
            long to = Math.min(offset + length, p.end());
            if (from >= to) {
                continue;
            }
            int at = start + (int) (from - offset);
            if (p.data() == null) {
                ByteBuffer z = dst.duplicate().position(at);
                Zeros.put(z, (int) (to - from));
            } else {
                dst.put(at, p.data(), (int) (from - p.offset()), (int) (to - from));
            }
        }
        dst.position(start + length);
    }

    @Override
    public void write(long offset, ByteBuffer src) throws StorageException {
        throw new StorageException(Kind.READ_ONLY, "a log replayed in memory is read-only");
    }

    @Override
    public void flush() {
    }

    @Override
    public void close() throws StorageException {
        file.close();
    }
}
