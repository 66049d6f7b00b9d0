package org.spindle.storage.core.internal;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatExceptionOfType;

import java.net.URI;
import java.nio.ByteBuffer;

import org.junit.jupiter.api.Test;
import org.spindle.backend.memory.MemoryBackendProvider;
import org.spindle.format.raw.RawFormat;
import org.spindle.storage.api.AccessMode;
import org.spindle.storage.api.CacheMode;
import org.spindle.storage.api.DriveDTO;
import org.spindle.storage.api.OpenOptions;
import org.spindle.storage.api.StorageException;
import org.spindle.storage.api.StorageException.Kind;
import org.spindle.storage.api.VirtualDisk;
import org.spindle.storage.api.WriteZeroes;

class DriveHandleTest {
    private final MemoryBackendProvider memory = new MemoryBackendProvider();

    /** Counts flushes and can be told to fail like a buggy format. */
    private static final class Spy implements VirtualDisk {
        final VirtualDisk inner;
        int flushes;
        RuntimeException bug;

        Spy(VirtualDisk inner) {
            this.inner = inner;
        }

        public int logicalSectorSize() {
            return inner.logicalSectorSize();
        }

        public long capacity() {
            return inner.capacity();
        }

        public boolean isReadOnly() {
            return inner.isReadOnly();
        }

        public String formatName() {
            return "spy";
        }

        public void read(long offset, ByteBuffer dst) throws StorageException {
            if (bug != null) {
                throw bug;
            }
            inner.read(offset, dst);
        }

        public void write(long offset, ByteBuffer src) throws StorageException {
            inner.write(offset, src);
        }

        public void flush() throws StorageException {
            flushes++;
            inner.flush();
        }

        public <T> java.util.Optional<T> capability(Class<T> type) {
            return inner.capability(type);
        }

        public void close() throws StorageException {
            inner.close();
        }
    }

    private Spy disk() throws StorageException {
        return new Spy(new RawFormat().open(memory.open(URI.create("memory:?size=64K"), AccessMode.READ_WRITE),
                OpenOptions.defaults()));
    }

    private static DriveHandle handle(VirtualDisk disk, CacheMode cache) {
        return new DriveHandle("hd7", disk, cache, org.spindle.storage.api.MediaType.DISK, DriveDTO::new, () -> { });
    }

    @Test
    void failuresNameTheDrive() throws Exception {
        DriveHandle drive = handle(disk(), CacheMode.WRITEBACK);
        assertThatExceptionOfType(StorageException.class).isThrownBy(() -> drive.read(65536, ByteBuffer.allocate(1)))
                .satisfies(e -> assertThat(e.drive()).isEqualTo("hd7"))
                .withMessageContaining("on drive hd7").withMessageContaining("offset 65536");
        assertThatExceptionOfType(StorageException.class).isThrownBy(() -> drive.readSectors(1, ByteBuffer.allocate(100)))
                .satisfies(e -> assertThat(e.kind()).isEqualTo(Kind.UNALIGNED))
                .withMessageContaining("drive hd7").withMessageContaining("100 bytes");
        assertThatExceptionOfType(StorageException.class).isThrownBy(() -> drive.capability(WriteZeroes.class)
                .orElseThrow().writeZeroes(65000, 1000)).withMessageContaining("drive hd7");
    }

    @Test
    void aBugInTheFormatComesOutAsAnIoStorageException() throws Exception {
        Spy spy = disk();
        spy.bug = new NullPointerException("oops");
        DriveHandle drive = handle(spy, CacheMode.WRITEBACK);
        assertThatExceptionOfType(StorageException.class).isThrownBy(() -> drive.read(0, ByteBuffer.allocate(1)))
                .satisfies(e -> assertThat(e.kind()).isEqualTo(Kind.IO))
                .withMessageContaining("internal error in the spy format").withMessageContaining("oops");
    }

    @Test
    void writeThroughFlushesEveryWriteAndUnsafeNeverFlushes() throws Exception {
        Spy through = disk();
        DriveHandle drive = handle(through, CacheMode.WRITETHROUGH);
        drive.write(0, ByteBuffer.allocate(512));
        drive.write(512, ByteBuffer.allocate(512));
        assertThat(through.flushes).isEqualTo(2);

        Spy unsafe = disk();
        DriveHandle scratch = handle(unsafe, CacheMode.UNSAFE);
        scratch.write(0, ByteBuffer.allocate(512));
        scratch.flush();
        scratch.close();
        assertThat(unsafe.flushes).isZero();
    }

    @Test
    void closingFlushesOnceAndLaterRequestsSayDetached() throws Exception {
        Spy spy = disk();
        DriveHandle drive = handle(spy, CacheMode.WRITEBACK);
        drive.close();
        drive.close();
        assertThat(spy.flushes).isEqualTo(1);
        assertThatExceptionOfType(StorageException.class).isThrownBy(() -> drive.write(0, ByteBuffer.allocate(1)))
                .satisfies(e -> assertThat(e.kind()).isEqualTo(Kind.BACKEND_UNAVAILABLE))
                .withMessageContaining("detached");
    }

    @Test
    void theDiskItselfIsNeverHandedOut() throws Exception {
        Spy spy = disk();
        DriveHandle drive = handle(spy, CacheMode.WRITEBACK);
        assertThat(drive.capability(VirtualDisk.class)).containsSame(drive);
        assertThat(drive.capability(org.spindle.storage.api.Drive.class)).containsSame(drive);
        assertThat(drive.capability(Object.class)).containsSame(drive);
        assertThat(drive.capability(Spy.class)).isEmpty();
    }

    @Test
    void resizingWaitsForRequestsAndTellsTheManager() throws Exception {
        java.util.concurrent.atomic.AtomicInteger told = new java.util.concurrent.atomic.AtomicInteger();
        DriveHandle drive = new DriveHandle("hd7", disk(), CacheMode.WRITEBACK, org.spindle.storage.api.MediaType.DISK, DriveDTO::new, told::incrementAndGet);
        drive.capability(org.spindle.storage.api.Resizable.class).orElseThrow().resize(128 * 1024);
        assertThat(drive.capacity()).isEqualTo(128 * 1024);
        assertThat(told.get()).isEqualTo(1);
        drive.close();
        assertThatExceptionOfType(StorageException.class)
                .isThrownBy(() -> drive.capability(org.spindle.storage.api.Resizable.class).orElseThrow().resize(512))
                .satisfies(e -> assertThat(e.kind()).isEqualTo(Kind.BACKEND_UNAVAILABLE));
    }

    @Test
    void aNullBufferIsAStorageExceptionToo() throws Exception {
        DriveHandle drive = handle(disk(), CacheMode.WRITEBACK);
        assertThatExceptionOfType(StorageException.class).isThrownBy(() -> drive.read(0, null))
                .satisfies(e -> assertThat(e.kind()).isEqualTo(Kind.IO)).withMessageContaining("drive hd7");
    }

    @Test
    void capabilityNamesFollowTheDisk() throws Exception {
        assertThat(handle(disk(), CacheMode.WRITEBACK).capabilityNames())
                .containsExactly("discard", "write-zeroes", "resize");
    }
}
