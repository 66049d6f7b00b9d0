package org.spindle.format.sparse;

import java.nio.ByteBuffer;
import java.util.Optional;

import org.spindle.storage.api.StorageBackend;
import org.spindle.storage.api.StorageException;

/** A backend lent to a disk for a while: everything passes through except {@link #close()}. */
record BorrowedBackend(StorageBackend owner) implements StorageBackend {
    @Override
    public String location() {
        return owner.location();
    }

    @Override
    public long size() throws StorageException {
        return owner.size();
    }

    @Override
    public boolean isReadOnly() {
        return owner.isReadOnly();
    }

    @Override
    public boolean mayBlock() {
        return owner.mayBlock();
    }

    @Override
    public void read(long offset, ByteBuffer dst) throws StorageException {
        owner.read(offset, dst);
    }

    @Override
    public void write(long offset, ByteBuffer src) throws StorageException {
        owner.write(offset, src);
    }

    @Override
    public void flush() throws StorageException {
        owner.flush();
    }

    @Override
    public <T> Optional<T> capability(Class<T> type) {
        return owner.capability(type);
    }

    @Override
    public void close() {
        // the owner closes it
    }
}
