package org.spindle.backend.memory;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatExceptionOfType;

import java.net.URI;
import java.nio.ByteBuffer;

import org.assertj.core.api.ThrowableAssert.ThrowingCallable;
import org.assertj.core.api.ThrowableAssertAlternative;
import org.junit.jupiter.api.Test;
import org.spindle.storage.api.AccessMode;
import org.spindle.storage.api.Discardable;
import org.spindle.storage.api.Resizable;
import org.spindle.storage.api.StorageBackend;
import org.spindle.storage.api.StorageException;
import org.spindle.storage.api.StorageException.Kind;
import org.spindle.storage.api.WriteZeroes;

class MemoryBackendProviderTest {
    private final MemoryBackendProvider provider = new MemoryBackendProvider();

    private static ThrowableAssertAlternative<StorageException> failsWith(ThrowingCallable call, Kind kind) {
        return assertThatExceptionOfType(StorageException.class).isThrownBy(call)
                .satisfies(e -> assertThat(e.kind()).isEqualTo(kind));
    }

    private StorageBackend open(String uri, AccessMode mode) throws StorageException {
        return provider.open(URI.create(uri), mode);
    }

    @Test
    void aNamedVolumeKeepsItsDataAcrossOpens() throws Exception {
        try (StorageBackend b = open("memory:keep?size=1M", AccessMode.READ_WRITE)) {
            b.write(70_000, ByteBuffer.wrap(new byte[] {42}));
        }
        try (StorageBackend b = open("memory:keep", AccessMode.READ_ONLY)) {
            ByteBuffer one = ByteBuffer.allocate(1);
            b.read(70_000, one);
            assertThat(one.get(0)).isEqualTo((byte) 42);
            assertThat(b.size()).isEqualTo(1 << 20);
        }
    }

    @Test
    void anAnonymousVolumeIsFreshEachTime() throws Exception {
        try (StorageBackend a = open("memory:?size=4K", AccessMode.READ_WRITE);
             StorageBackend b = open("memory:?size=4K", AccessMode.READ_WRITE)) {
            a.write(0, ByteBuffer.wrap(new byte[] {1}));
            ByteBuffer one = ByteBuffer.allocate(1);
            b.read(0, one);
            assertThat(one.get(0)).isZero();
        }
    }

    @Test
    void badUrisNameWhatIsWrong() {
        failsWith(() -> open("memory:?size=lots", AccessMode.READ_WRITE), Kind.INVALID_CONFIG)
                .withMessageContaining("parameter size").withMessageContaining("lots");
        failsWith(() -> open("memory:x?size=1M&colour=red", AccessMode.READ_WRITE), Kind.INVALID_CONFIG)
                .withMessageContaining("colour");
        failsWith(() -> open("memory:?size=1M", AccessMode.READ_ONLY), Kind.INVALID_CONFIG);
        failsWith(() -> open("memory:?", AccessMode.READ_WRITE), Kind.INVALID_CONFIG).withMessageContaining("needs a size");
        failsWith(() -> open("memory:bad%20name?size=1", AccessMode.READ_WRITE), Kind.INVALID_CONFIG)
                .withMessageContaining("name");
        failsWith(() -> open("memory:missing", AccessMode.READ_WRITE), Kind.NOT_FOUND).withMessageContaining("?size=");
    }

    @Test
    void aSizeThatDiffersFromTheExistingVolumeIsRefused() throws Exception {
        open("memory:fixed?size=1M", AccessMode.READ_WRITE).close();
        failsWith(() -> open("memory:fixed?size=2M", AccessMode.READ_WRITE), Kind.INVALID_CONFIG)
                .withMessageContaining("exists with size 1048576");
        failsWith(() -> open("memory:fixed?size=1M", AccessMode.CREATE_NEW), Kind.ALREADY_EXISTS);
    }

    @Test
    void closeAndDeleteForgetsTheVolumeButOnlyForItsWriter() throws Exception {
        StorageBackend writer = open("memory:gone?size=4K", AccessMode.READ_WRITE);
        writer.capability(org.spindle.storage.api.Deletable.class).orElseThrow().closeAndDelete();
        failsWith(() -> open("memory:gone", AccessMode.READ_ONLY), Kind.NOT_FOUND);
        open("memory:kept?size=4K", AccessMode.READ_WRITE).close();
        StorageBackend reader = open("memory:kept", AccessMode.READ_ONLY);
        failsWith(() -> reader.capability(org.spindle.storage.api.Deletable.class).orElseThrow().closeAndDelete(),
                Kind.READ_ONLY);
        reader.close();
        open("memory:kept", AccessMode.READ_ONLY).close();
    }

    @Test
    void pagesAreAllocatedOnlyWhenWrittenAndFreedByDiscard() throws Exception {
        try (StorageBackend b = open("memory:sparse?size=1G", AccessMode.READ_WRITE)) {
            MemoryBackend mb = (MemoryBackend) b;
            b.write(5L << 20, ByteBuffer.wrap(new byte[100_000]));
            assertThat(volumeBytes("sparse")).isEqualTo(2 * MemoryVolume.PAGE_SIZE);
            b.capability(Discardable.class).orElseThrow().discard(5L << 20, 3 * MemoryVolume.PAGE_SIZE);
            assertThat(volumeBytes("sparse")).isZero();
            assertThat(mb.capability(WriteZeroes.class)).isPresent();
        }
    }

    @Test
    void aHugeVolumeCostsNothingUntilWritten() throws Exception {
        try (StorageBackend b = open("memory:huge?size=100T", AccessMode.READ_WRITE)) {
            assertThat(b.size()).isEqualTo(100L << 40);
            b.write((100L << 40) - 1, ByteBuffer.wrap(new byte[] {1}));
            ByteBuffer one = ByteBuffer.allocate(1);
            b.read((100L << 40) - 1, one);
            assertThat(one.get(0)).isEqualTo((byte) 1);
            assertThat(volumeBytes("huge")).isEqualTo(MemoryVolume.PAGE_SIZE);
        }
        failsWith(() -> open("memory:?size=200T", AccessMode.READ_WRITE), Kind.INVALID_CONFIG)
                .withMessageContaining("at most 128 TiB");
    }

    @Test
    void shrinkingThenGrowingReadsZerosInTheRegrownPart() throws Exception {
        try (StorageBackend b = open("memory:?size=128K", AccessMode.READ_WRITE)) {
            byte[] ones = new byte[128 * 1024];
            java.util.Arrays.fill(ones, (byte) 1);
            b.write(0, ByteBuffer.wrap(ones));
            Resizable r = b.capability(Resizable.class).orElseThrow();
            r.resize(1000);
            r.resize(128 * 1024);
            ByteBuffer back = ByteBuffer.allocate(128 * 1024);
            b.read(0, back);
            assertThat(back.array()[999]).isEqualTo((byte) 1);
            assertThat(java.util.Arrays.copyOfRange(back.array(), 1000, back.capacity())).containsOnly(0);
        }
    }

    private long volumeBytes(String name) {
        return provider.volume(name).allocatedBytes();
    }
}
