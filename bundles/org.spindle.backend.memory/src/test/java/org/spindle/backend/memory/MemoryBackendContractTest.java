package org.spindle.backend.memory;

import java.net.URI;

import org.spindle.storage.api.AccessMode;
import org.spindle.storage.api.StorageBackend;
import org.spindle.storage.api.StorageException;
import org.spindle.testing.storage.BackendContract;

class MemoryBackendContractTest extends BackendContract {
    private final MemoryBackendProvider provider = new MemoryBackendProvider();
    private String name;

    @Override
    protected StorageBackend create(long size) throws StorageException {
        name = "v" + System.nanoTime();
        return provider.open(URI.create("memory:" + name + "?size=" + size), AccessMode.CREATE_NEW);
    }

    @Override
    protected StorageBackend reopen(AccessMode mode) throws StorageException {
        return provider.open(URI.create("memory:" + name), mode);
    }
}
