package org.spindle.storage.core;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatExceptionOfType;

import java.net.URI;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;

import org.assertj.core.api.ThrowableAssert.ThrowingCallable;
import org.assertj.core.api.ThrowableAssertAlternative;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.spindle.backend.file.FileBackendProvider;
import org.spindle.backend.memory.MemoryBackendProvider;
import org.spindle.format.sparse.SparseFormat;
import org.spindle.storage.api.AllocationMap;
import org.spindle.storage.api.BackingReference;
import org.spindle.storage.api.CreateOptions;
import org.spindle.storage.api.Extent;
import org.spindle.storage.api.OpenOptions;
import org.spindle.storage.api.StorageException;
import org.spindle.storage.api.StorageException.Kind;
import org.spindle.storage.api.VirtualDisk;

class OverlayChainTest {
    @TempDir
    Path dir;

    private final MemoryBackendProvider memory = new MemoryBackendProvider();
    private final TestRegistry registry = TestRegistry.withMemoryAndRaw(memory);
    private final DiskOpener opener;

    OverlayChainTest() {
        registry.formats.add(new SparseFormat());
        registry.providers.put("file", new FileBackendProvider());
        opener = new DiskOpener(registry);
    }

    private static ThrowableAssertAlternative<StorageException> failsWith(ThrowingCallable call, Kind kind) {
        return assertThatExceptionOfType(StorageException.class).isThrownBy(call)
                .satisfies(e -> assertThat(e.kind()).isEqualTo(kind));
    }

    private void overlay(String uri, String base, String baseFormat, long capacity) throws StorageException {
        opener.create(URI.create(uri), "sparse", CreateOptions.ofCapacity(capacity)
                .withBacking(new BackingReference(base, baseFormat))
                .withParameters(Map.of(SparseFormat.BLOCK_SIZE, "4K"))).disk().close();
    }

    private void raw(String uri, byte fill, int size) throws StorageException {
        try (VirtualDisk disk = opener.create(URI.create(uri), "raw", CreateOptions.ofCapacity(size)).disk()) {
            byte[] bytes = new byte[size];
            java.util.Arrays.fill(bytes, fill);
            disk.write(0, ByteBuffer.wrap(bytes));
        }
    }

    private static byte[] read(VirtualDisk disk, long offset, int n) throws StorageException {
        ByteBuffer dst = ByteBuffer.allocate(n);
        disk.read(offset, dst);
        return dst.array();
    }

    @Test
    void aChainOfOverlaysReadsEachLayerAndMapsDepths() throws Exception {
        raw("memory:base?size=0", (byte) 1, 16384);
        overlay("memory:mid?size=0", "base", "raw", 16384);
        try (VirtualDisk mid = opener.open(URI.create("memory:mid"), "auto", OpenOptions.defaults()).disk()) {
            mid.write(4096, ByteBuffer.wrap(new byte[] {2, 2}));
        }
        overlay("memory:top?size=0", "mid", null, 16384);
        DiskOpener.Opened opened = opener.open(URI.create("memory:top"), "auto", OpenOptions.defaults());
        try (VirtualDisk top = opened.disk()) {
            assertThat(opened.bases()).containsExactly(URI.create("memory:mid"), URI.create("memory:base"));
            top.write(8192, ByteBuffer.wrap(new byte[] {3}));
            assertThat(read(top, 0, 1)).containsExactly(1);
            assertThat(read(top, 4096, 3)).containsExactly(2, 2, 1);
            assertThat(read(top, 8192, 2)).containsExactly(3, 1);
            AllocationMap map = top.capability(AllocationMap.class).orElseThrow();
            assertThat(map.extent(0, 4096)).isEqualTo(new Extent(0, 4096, true, true, false, 2, -1));
            assertThat(map.extent(4096, 4096).depth()).isEqualTo(1);
            assertThat(map.extent(8192, 4096).depth()).isZero();
        }
        try (VirtualDisk base = opener.open(URI.create("memory:base"), "raw", OpenOptions.defaults()).disk()) {
            assertThat(read(base, 4096, 2)).as("the base is never written").containsExactly(1, 1);
            assertThat(read(base, 8192, 1)).containsExactly(1);
        }
    }

    @Test
    void aRelativeBaseIsFoundNextToTheOverlay() throws Exception {
        Files.write(dir.resolve("base.img"), new byte[8192]);
        Path sub = Files.createDirectories(dir.resolve("sub"));
        overlay(sub.resolve("top.sparse").toUri().toString(), "../base.img", "raw", 8192);
        DiskOpener.Opened opened = opener.open(sub.resolve("top.sparse").toUri(), "auto", OpenOptions.defaults());
        try (VirtualDisk disk = opened.disk()) {
            assertThat(opened.bases()).containsExactly(dir.resolve("base.img").toUri());
        }
    }

    @Test
    void aLoopIsFoundAndNothingStaysOpen() throws Exception {
        overlay("memory:a?size=0", "b", "sparse", 8192);
        overlay("memory:b?size=0", "a", "sparse", 8192);
        failsWith(() -> opener.open(URI.create("memory:a"), "auto", OpenOptions.defaults()), Kind.CORRUPT_IMAGE)
                .withMessageContaining("loops");
        // every image was closed again: each opens for writing, which a volume still open would refuse
        memory.open(URI.create("memory:a"), org.spindle.storage.api.AccessMode.READ_WRITE).close();
        memory.open(URI.create("memory:b"), org.spindle.storage.api.AccessMode.READ_WRITE).close();
    }

    @Test
    void aChainDeeperThanTheLimitIsRefused() throws Exception {
        raw("memory:l0?size=0", (byte) 0, 4096);
        for (int i = 1; i <= DiskOpener.MAX_CHAIN_DEPTH; i++) {
            overlay("memory:l" + i + "?size=0", "l" + (i - 1), null, 4096);
        }
        // sixteen images under the top: exactly the limit
        opener.open(URI.create("memory:l" + (DiskOpener.MAX_CHAIN_DEPTH - 1)), "auto", OpenOptions.defaults()).disk().close();
        opener.open(URI.create("memory:l" + DiskOpener.MAX_CHAIN_DEPTH), "auto", OpenOptions.defaults()).disk().close();
        overlay("memory:l" + (DiskOpener.MAX_CHAIN_DEPTH + 1) + "?size=0", "l" + DiskOpener.MAX_CHAIN_DEPTH, null, 4096);
        failsWith(() -> opener.open(URI.create("memory:l" + (DiskOpener.MAX_CHAIN_DEPTH + 1)), "auto",
                OpenOptions.defaults()), Kind.CORRUPT_IMAGE).withMessageContaining("deeper than 16 images");
    }

    @Test
    void aBaseLocationThatIsNoPathIsCorruptNotACrash() throws Exception {
        // found by fuzzing: a NUL in the recorded location made Path.of throw out of the opener
        overlay("memory:nul?size=0", "/tmp/base\0.img", "raw", 4096);
        failsWith(() -> opener.open(URI.create("memory:nul"), "auto", OpenOptions.defaults()), Kind.CORRUPT_IMAGE)
                .withMessageContaining("not a valid path");
        memory.open(URI.create("memory:nul"), org.spindle.storage.api.AccessMode.READ_WRITE).close();
    }

    @Test
    void anOverlayOverAnIsoIsACdWithItsSectors() throws Exception {
        registry.formats.add(new org.spindle.format.iso.IsoFormat());
        byte[] iso = new byte[32 * 2048];
        ByteBuffer pvd = ByteBuffer.wrap(iso, 16 * 2048, 2048).slice();
        pvd.put(0, (byte) 1).put(1, "CD001".getBytes(java.nio.charset.StandardCharsets.US_ASCII)).put(6, (byte) 1);
        pvd.order(java.nio.ByteOrder.LITTLE_ENDIAN).putInt(80, 32).putShort(128, (short) 2048);
        pvd.order(java.nio.ByteOrder.BIG_ENDIAN).putInt(84, 32).putShort(130, (short) 2048);
        ByteBuffer end = ByteBuffer.wrap(iso, 17 * 2048, 2048).slice();
        end.put(0, (byte) 255).put(1, "CD001".getBytes(java.nio.charset.StandardCharsets.US_ASCII)).put(6, (byte) 1);
        Path base = Files.write(dir.resolve("disc.iso"), iso);
        try (VirtualDisk disk = opener.openOverlay(dir.resolve("disc.sparse").toUri(), base.toUri(), "auto",
                OpenOptions.defaults()).disk()) {
            assertThat(disk.mediaType()).isEqualTo(org.spindle.storage.api.MediaType.CDROM);
            assertThat(disk.logicalSectorSize()).isEqualTo(2048);
            ByteBuffer sector = ByteBuffer.allocate(2048);
            disk.readSectors(16, sector);
            assertThat(new String(sector.array(), 1, 5, java.nio.charset.StandardCharsets.US_ASCII)).isEqualTo("CD001");
        }
    }

    @Test
    void aMissingBaseIsNamedInTheError() throws Exception {
        overlay("memory:orphan?size=0", "gone", "raw", 4096);
        failsWith(() -> opener.open(URI.create("memory:orphan"), "auto", OpenOptions.defaults()), Kind.NOT_FOUND)
                .withMessageContaining("cannot open the base memory:gone of memory:orphan: no memory volume");
    }

    @Test
    void openOverlayCreatesTheOverlayOnceAndChecksItsBase() throws Exception {
        raw("memory:disk?size=0", (byte) 7, 8192);
        URI top = dir.resolve("scratch.sparse").toUri();
        try (VirtualDisk disk = opener.openOverlay(top, URI.create("memory:disk"), "raw", OpenOptions.defaults()).disk()) {
            disk.write(0, ByteBuffer.wrap(new byte[] {9}));
            assertThat(read(disk, 0, 2)).containsExactly(9, 7);
        }
        try (VirtualDisk disk = opener.openOverlay(top, URI.create("memory:disk"), "raw", OpenOptions.defaults()).disk()) {
            assertThat(read(disk, 0, 2)).as("the existing overlay was reused").containsExactly(9, 7);
        }
        raw("memory:other?size=0", (byte) 0, 8192);
        failsWith(() -> opener.openOverlay(top, URI.create("memory:other"), "raw", OpenOptions.defaults()),
                Kind.INVALID_CONFIG).withMessageContaining("was made over memory:disk");
    }

    @Test
    void aTruncatedSparseImageIsCorruptNotRaw() throws Exception {
        Path file = dir.resolve("cut.img");
        try (VirtualDisk disk = opener.create(file.toUri(), "sparse", CreateOptions.ofCapacity(1 << 20)).disk()) {
            disk.write(0, ByteBuffer.wrap(new byte[] {1}));
        }
        byte[] all = Files.readAllBytes(file);
        Files.write(file, java.util.Arrays.copyOf(all, 40));
        failsWith(() -> opener.open(file.toUri(), "auto", OpenOptions.defaults()), Kind.CORRUPT_IMAGE);
        Files.write(file, java.util.Arrays.copyOf(all, 1000));
        failsWith(() -> opener.open(file.toUri(), "auto", OpenOptions.defaults()), Kind.CORRUPT_IMAGE)
                .withMessageContaining("past the end of the file");
    }
}
