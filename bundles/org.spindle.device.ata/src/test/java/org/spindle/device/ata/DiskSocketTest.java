package org.spindle.device.ata;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.ByteBuffer;
import java.util.Optional;

import org.junit.jupiter.api.Test;

import org.spindle.storage.api.Discardable;
import org.spindle.storage.api.StorageException;

/** An ATA disk over a socket whose drive goes away and comes back. */
class DiskSocketTest {
    private final ArrayDisk first = ArrayDisk.disk(1000);
    private final DiskSocket socket = new DiskSocket("hd0", first);
    private final AtaDisk disk = new AtaDisk(socket, AtaIdentity.disk("S"));

    private Transfer read(long lba) {
        return disk.execute(new Taskfile(Ata.READ_SECTORS, 0, 1, lba, 0xE0));
    }

    @Test
    void aDetachedDriveIsAMediaErrorAndItsReturnIsServedAgain() throws Exception {
        assertThat(Drain.pio(read(7), 512)).isEqualTo(first.slice(7 * 512, 512));

        socket.disconnect();
        Transfer failed = read(7);
        Drain.pio(failed, 512);
        assertThat(failed.result().error()).as("a read the medium could not return").isEqualTo(Ata.UNC);
        Transfer write = disk.execute(new Taskfile(Ata.WRITE_SECTORS, 0, 1, 3, 0xE0));
        write.fromHost(ByteBuffer.allocate(512));
        assertThat(write.result().error()).isEqualTo(Ata.ABRT);
        assertThatThrownBy(() -> socket.flush()).isInstanceOfSatisfying(StorageException.class,
                e -> assertThat(e.kind()).isEqualTo(StorageException.Kind.BACKEND_UNAVAILABLE))
                .hasMessageContaining("drive hd0 is detached");

        ArrayDisk second = ArrayDisk.disk(1000);
        socket.connect(second);
        assertThat(Drain.pio(read(9), 512)).isEqualTo(second.slice(9 * 512, 512));
    }

    @Test
    void aDriveOfAnotherShapeIsRefusedAndTheSocketStaysAsItWas() throws Exception {
        assertThatThrownBy(() -> socket.connect(ArrayDisk.disk(1001)))
                .isInstanceOfSatisfying(StorageException.class,
                        e -> assertThat(e.kind()).isEqualTo(StorageException.Kind.INVALID_CONFIG))
                .hasMessageContaining("512512 bytes").hasMessageContaining("512000 bytes");
        assertThat(socket.connected()).containsSame(first);
        assertThatThrownBy(() -> socket.connect(new ArrayDisk(512 * 1000, 4096, false)))
                .hasMessageContaining("4096-byte sectors");
        assertThatThrownBy(() -> socket.connect(new ArrayDisk(512 * 1000, 512, true)))
                .hasMessageContaining("came back read-only");
        assertThat(Drain.pio(read(1), 512)).isEqualTo(first.slice(512, 512));
    }

    @Test
    void discardsGoToTheDriveConnectedNowAndAreDroppedByOneThatCannot() throws Exception {
        assertThat(socket.capability(Discardable.class)).isPresent();
        socket.discard(0, 4096);
        assertThat(first.discards).hasSize(1);
        ArrayDisk plain = new ArrayDisk(512 * 1000, 512, false) {
            @Override
            public <T> Optional<T> capability(Class<T> type) {
                return Optional.empty();
            }
        };
        socket.connect(plain);
        socket.discard(0, 4096);
        assertThat(plain.discards).isEmpty();
    }
}
