package org.spindle.storage.core.internal;

import java.nio.ByteBuffer;
import java.util.Optional;

import org.spindle.storage.api.Discardable;
import org.spindle.storage.api.StorageException;
import org.spindle.storage.api.StorageException.Kind;
import org.spindle.storage.api.VirtualDisk;

/** A disk whose writes and flushes fail, before touching anything, while {@link #failing} is set. */
final class FaultyDisk implements VirtualDisk {
    final VirtualDisk inner;
    volatile boolean failing;
    int writes;

    FaultyDisk(VirtualDisk inner) {
        this.inner = inner;
    }

    @Override
    public int logicalSectorSize() {
        return inner.logicalSectorSize();
    }

    @Override
    public long capacity() {
        return inner.capacity();
    }

    @Override
    public boolean isReadOnly() {
        return inner.isReadOnly();
    }

    @Override
    public String formatName() {
        return inner.formatName();
    }

    @Override
    public void read(long offset, ByteBuffer dst) throws StorageException {
        inner.read(offset, dst);
    }

    @Override
    public void write(long offset, ByteBuffer src) throws StorageException {
        if (failing) {
            throw new StorageException(Kind.IO, "injected write failure").at(StorageException.Operation.WRITE, offset,
                    src.remaining());
        }
        writes++;
        inner.write(offset, src);
    }

    @Override
    public void flush() throws StorageException {
        if (failing) {
            throw new StorageException(Kind.IO, "injected flush failure");
        }
        inner.flush();
    }

    @Override
    public <T> Optional<T> capability(Class<T> type) {
        if (type == Discardable.class) {
            return inner.capability(Discardable.class).map(d -> type.cast((Discardable) (offset, length) -> {
                if (failing) {
                    throw new StorageException(Kind.IO, "injected discard failure");
                }
                d.discard(offset, length);
            }));
        }
        return Optional.empty();
    }

    @Override
    public void close() throws StorageException {
        inner.close();
    }
}
