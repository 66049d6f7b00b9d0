package org.spindle.testing.storage;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.ByteBuffer;
import java.util.Arrays;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.spindle.storage.api.AccessMode;
import org.spindle.storage.api.StorageBackend;
import org.spindle.storage.api.StorageException;
import org.spindle.storage.api.StorageException.Kind;

/**
 * What every {@link StorageBackend} must do. A backend bundle extends this class in its tests and says
 * how to make a backend; the suite checks the contract written on the interface.
 */
public abstract class BackendContract {
    private StorageBackend open;

    /** Creates a new writable backend holding {@code size} zero bytes. */
    protected abstract StorageBackend create(long size) throws StorageException;

    /** Opens the backend last created again (after it was closed) with {@code mode}. */
    protected abstract StorageBackend reopen(AccessMode mode) throws StorageException;

    private StorageBackend track(StorageBackend backend) {
        open = backend;
        return backend;
    }

    @AfterEach
    void closeBackend() throws StorageException {
        if (open != null) {
            open.close();
        }
    }

    @Test
    void writtenBytesReadBackAtAnyOffset() throws StorageException {
        StorageBackend backend = track(create(64 * 1024));
        byte[] data = pattern(1000, 7);
        backend.write(12345, ByteBuffer.wrap(data));
        ByteBuffer back = ByteBuffer.allocate(1000);
        backend.read(12345, back);
        assertThat(back.array()).isEqualTo(data);
        assertThat(back.position()).isEqualTo(1000);
        ByteBuffer around = ByteBuffer.allocate(2);
        backend.read(12344, around);
        assertThat(around.get(0)).isZero();
        assertThat(around.get(1)).isEqualTo(data[0]);
    }

    @Test
    void directBuffersWorkLikeHeapBuffers() throws StorageException {
        StorageBackend backend = track(create(8192));
        ByteBuffer src = ByteBuffer.allocateDirect(4096).put(pattern(4096, 3)).flip();
        backend.write(4096, src);
        ByteBuffer dst = ByteBuffer.allocateDirect(4096);
        backend.read(4096, dst);
        byte[] got = new byte[4096];
        dst.flip().get(got);
        assertThat(got).isEqualTo(pattern(4096, 3));
    }

    @Test
    void aNewBackendReadsAsZeros() throws StorageException {
        StorageBackend backend = track(create(100_000));
        assertThat(backend.size()).isEqualTo(100_000);
        ByteBuffer all = ByteBuffer.allocate(100_000);
        backend.read(0, all);
        assertThat(all.array()).containsOnly(0);
    }

    @Test
    void readPastTheEndFailsOutOfBoundsAndTransfersNothing() throws StorageException {
        StorageBackend backend = track(create(4096));
        ByteBuffer dst = ByteBuffer.allocate(512);
        assertThatThrownBy(() -> backend.read(4000, dst)).isInstanceOfSatisfying(StorageException.class,
                e -> assertThat(e.kind()).isEqualTo(Kind.OUT_OF_BOUNDS));
        assertThat(dst.position()).isZero();
        assertThatThrownBy(() -> backend.read(-1, ByteBuffer.allocate(1))).isInstanceOfSatisfying(
                StorageException.class, e -> assertThat(e.kind()).isEqualTo(Kind.OUT_OF_BOUNDS));
        assertThatThrownBy(() -> backend.read(Long.MAX_VALUE, ByteBuffer.allocate(2))).isInstanceOfSatisfying(
                StorageException.class, e -> assertThat(e.kind()).isEqualTo(Kind.OUT_OF_BOUNDS));
    }

    @Test
    void aWritePastTheEndGrowsTheBackend() throws StorageException {
        StorageBackend backend = track(create(4096));
        backend.write(8192, ByteBuffer.wrap(pattern(100, 1)));
        assertThat(backend.size()).isEqualTo(8292);
        ByteBuffer gap = ByteBuffer.allocate(4096);
        backend.read(4096, gap);
        assertThat(gap.array()).containsOnly(0);
    }

    @Test
    void dataSurvivesCloseAndReopen() throws StorageException {
        StorageBackend backend = create(8192);
        backend.write(100, ByteBuffer.wrap(pattern(300, 9)));
        backend.flush();
        backend.close();
        StorageBackend again = track(reopen(AccessMode.READ_WRITE));
        ByteBuffer back = ByteBuffer.allocate(300);
        again.read(100, back);
        assertThat(back.array()).isEqualTo(pattern(300, 9));
    }

    @Test
    void aReadOnlyOpenRefusesWritesAndChangesNothing() throws StorageException {
        StorageBackend backend = create(4096);
        backend.write(0, ByteBuffer.wrap(pattern(10, 5)));
        backend.close();
        StorageBackend readOnly = track(reopen(AccessMode.READ_ONLY));
        assertThat(readOnly.isReadOnly()).isTrue();
        assertThatThrownBy(() -> readOnly.write(0, ByteBuffer.wrap(new byte[10]))).isInstanceOfSatisfying(
                StorageException.class, e -> assertThat(e.kind()).isEqualTo(Kind.READ_ONLY));
        assertThatThrownBy(() -> readOnly.write(4096, ByteBuffer.wrap(new byte[10]))).isInstanceOfSatisfying(
                StorageException.class, e -> assertThat(e.kind()).isEqualTo(Kind.READ_ONLY));
        readOnly.flush();
        ByteBuffer back = ByteBuffer.allocate(10);
        readOnly.read(0, back);
        assertThat(back.array()).isEqualTo(pattern(10, 5));
        assertThat(readOnly.size()).isEqualTo(4096);
    }

    @Test
    void aSecondWriterIsRefusedWithInUse() throws StorageException {
        StorageBackend writer = track(create(4096));
        assertThatThrownBy(() -> reopen(AccessMode.READ_WRITE).close()).isInstanceOfSatisfying(
                StorageException.class, e -> assertThat(e.kind()).isEqualTo(Kind.IN_USE));
        writer.write(0, ByteBuffer.wrap(new byte[] {1}));
    }

    @Test
    void closingTwiceIsHarmless() throws StorageException {
        StorageBackend backend = create(512);
        backend.close();
        backend.close();
    }

    @Test
    void failuresNameTheLocation() throws StorageException {
        StorageBackend backend = track(create(512));
        assertThatThrownBy(() -> backend.read(512, ByteBuffer.allocate(1))).isInstanceOfSatisfying(
                StorageException.class, e -> {
                    assertThat(e.location()).isEqualTo(backend.location());
                    assertThat(e.getMessage()).contains(backend.location()).contains("512");
                });
    }

    /** Deterministic test bytes. */
    protected static byte[] pattern(int length, int seed) {
        byte[] data = new byte[length];
        for (int i = 0; i < length; i++) {
            data[i] = (byte) (i * 31 + seed * 17 + (i >>> 8));
        }
        return data;
    }

    protected static boolean allZero(byte[] data) {
        return Arrays.equals(data, new byte[data.length]);
    }
}
