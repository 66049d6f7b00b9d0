package org.spindle.backend.file;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;

import org.junit.jupiter.api.io.TempDir;
import org.spindle.storage.api.AccessMode;
import org.spindle.storage.api.StorageBackend;
import org.spindle.storage.api.StorageException;
import org.spindle.testing.storage.BackendContract;

class FileBackendContractTest extends BackendContract {
    @TempDir
    Path dir;
    private Path file;

    @Override
    protected StorageBackend create(long size) throws StorageException {
        file = dir.resolve("disk-" + System.nanoTime() + ".img");
        try {
            Files.write(file, new byte[0]);
            try (var channel = java.nio.channels.FileChannel.open(file, java.nio.file.StandardOpenOption.WRITE)) {
                channel.truncate(0);
                if (size > 0) {
                    channel.write(java.nio.ByteBuffer.allocate(1), size - 1);
                }
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return FileBackend.open(file, AccessMode.READ_WRITE);
    }

    @Override
    protected StorageBackend reopen(AccessMode mode) throws StorageException {
        return FileBackend.open(file, mode);
    }
}
