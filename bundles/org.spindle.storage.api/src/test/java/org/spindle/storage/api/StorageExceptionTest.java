package org.spindle.storage.api;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;
import org.spindle.storage.api.StorageException.Kind;
import org.spindle.storage.api.StorageException.Operation;

class StorageExceptionTest {
    @Test
    void theMessageCarriesKindOperationRangeDriveAndLocation() {
        StorageException e = new StorageException(Kind.OUT_OF_BOUNDS, "the range ends beyond the size of 4096 bytes")
                .at(Operation.READ, 4000, 512).withDrive("hd0").withLocation("file:/disk.img");
        assertThat(e.getMessage()).isEqualTo("OUT_OF_BOUNDS: read of 512 bytes at offset 4000 on drive hd0"
                + " (file:/disk.img): the range ends beyond the size of 4096 bytes");
    }

    @Test
    void theInnermostContextWins() {
        StorageException e = new StorageException(Kind.IO, "disk on fire").withLocation("file:/inner.img")
                .withRange(10, 20);
        e.withLocation("file:/outer.img").withRange(0, 1).withDrive("a").withDrive("b");
        assertThat(e.location()).isEqualTo("file:/inner.img");
        assertThat(e.offset()).isEqualTo(10);
        assertThat(e.length()).isEqualTo(20);
        assertThat(e.drive()).isEqualTo("a");
    }

    @Test
    void withoutContextTheMessageIsKindAndDetail() {
        assertThat(new StorageException(Kind.NO_MEDIUM, "the tray is open").getMessage())
                .isEqualTo("NO_MEDIUM: the tray is open");
        assertThat(new StorageException(Kind.IN_USE, "x").withDrive("cd0").getMessage())
                .isEqualTo("IN_USE: drive cd0: x");
    }
}
