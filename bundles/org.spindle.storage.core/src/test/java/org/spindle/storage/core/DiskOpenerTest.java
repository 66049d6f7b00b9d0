package org.spindle.storage.core;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatExceptionOfType;

import java.net.URI;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

import org.assertj.core.api.ThrowableAssert.ThrowingCallable;
import org.assertj.core.api.ThrowableAssertAlternative;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.spindle.backend.file.FileBackendProvider;
import org.spindle.backend.memory.MemoryBackendProvider;
import org.spindle.storage.api.AccessMode;
import org.spindle.storage.api.CreateOptions;
import org.spindle.storage.api.DiskFormat;
import org.spindle.storage.api.OpenOptions;
import org.spindle.storage.api.ProbeInput;
import org.spindle.storage.api.StorageBackend;
import org.spindle.storage.api.StorageException;
import org.spindle.storage.api.StorageException.Kind;
import org.spindle.storage.api.VirtualDisk;

class DiskOpenerTest {
    @TempDir
    Path dir;

    private final MemoryBackendProvider memory = new MemoryBackendProvider();
    private final TestRegistry registry = TestRegistry.withMemoryAndRaw(memory);
    private final DiskOpener opener = new DiskOpener(registry);

    private static ThrowableAssertAlternative<StorageException> failsWith(ThrowingCallable call, Kind kind) {
        return assertThatExceptionOfType(StorageException.class).isThrownBy(call)
                .satisfies(e -> assertThat(e.kind()).isEqualTo(kind));
    }

    /** A format recognising images that start with MAGIC, which it opens as raw after a 512-byte header. */
    static class MagicFormat implements DiskFormat {
        static final byte[] MAGIC = "MAGICIMG".getBytes(StandardCharsets.US_ASCII);
        int opens;
        RuntimeException openFailure;

        @Override
        public String name() {
            return "magic";
        }

        @Override
        public int probe(ProbeInput input) {
            ByteBuffer head = input.head();
            if (head.remaining() < MAGIC.length) {
                return PROBE_NO;
            }
            byte[] got = new byte[MAGIC.length];
            head.get(got);
            return java.util.Arrays.equals(got, MAGIC) ? PROBE_MAGIC : PROBE_NO;
        }

        @Override
        public VirtualDisk open(StorageBackend backend, OpenOptions options) throws StorageException {
            opens++;
            if (openFailure != null) {
                throw openFailure;
            }
            return new org.spindle.format.raw.RawFormat().open(backend, options);
        }

        @Override
        public VirtualDisk create(StorageBackend backend, CreateOptions options) throws StorageException {
            throw new StorageException(Kind.UNSUPPORTED_FEATURE, "magic images cannot be created");
        }
    }

    private URI memoryImage(String name, byte[] head, long size) throws StorageException {
        try (StorageBackend b = memory.open(URI.create("memory:" + name + "?size=" + size), AccessMode.CREATE_NEW)) {
            b.write(0, ByteBuffer.wrap(head));
        }
        return URI.create("memory:" + name);
    }

    @Test
    void probingPrefersAMagicMatchOverRaw() throws Exception {
        MagicFormat magic = new MagicFormat();
        registry.formats.add(magic);
        URI uri = memoryImage("m", MagicFormat.MAGIC, 4096);
        DiskOpener.Opened opened = opener.open(uri, DiskOpener.AUTO, OpenOptions.defaults());
        try (VirtualDisk disk = opened.disk()) {
            assertThat(opened.format()).isSameAs(magic);
            assertThat(opened.probeScore()).isEqualTo(DiskFormat.PROBE_MAGIC);
        }
        URI plain = memoryImage("p", new byte[] {1, 2, 3}, 4096);
        try (VirtualDisk disk = opener.open(plain, DiskOpener.AUTO, OpenOptions.defaults()).disk()) {
            assertThat(disk.formatName()).isEqualTo("raw");
        }
    }

    @Test
    void anEmptyOrTinyImageCanBeProbed() throws Exception {
        URI empty = memoryImage("empty", new byte[0], 0);
        try (VirtualDisk disk = opener.open(empty, DiskOpener.AUTO, OpenOptions.defaults()).disk()) {
            assertThat(disk.capacity()).isZero();
        }
    }

    @Test
    void aBrokenProbeDoesNotStopTheOthers() throws Exception {
        registry.formats.addFirst(new MagicFormat() {
            @Override
            public int probe(ProbeInput input) {
                throw new IllegalStateException("bug");
            }
        });
        URI uri = memoryImage("b", new byte[] {0}, 512);
        try (VirtualDisk disk = opener.open(uri, DiskOpener.AUTO, OpenOptions.defaults()).disk()) {
            assertThat(disk.formatName()).isEqualTo("raw");
        }
    }

    @Test
    void whenNothingRecognisesTheImageTheFormatsTriedAreNamed() throws Exception {
        registry.formats.clear();
        registry.formats.add(new MagicFormat());
        URI uri = memoryImage("n", new byte[] {0}, 512);
        failsWith(() -> opener.open(uri, DiskOpener.AUTO, OpenOptions.defaults()), Kind.UNSUPPORTED_FEATURE)
                .withMessageContaining("tried: magic");
        // the backend was closed again: a writable open succeeds
        memory.open(uri, AccessMode.READ_WRITE).close();
    }

    @Test
    void aBackendThatThrowsWhileProbedComesOutAsIo() {
        registry.providers.put("bad", (org.spindle.storage.api.StorageBackendProvider) new org.spindle.storage.api.StorageBackendProvider() {
            public java.util.Set<String> schemes() {
                return java.util.Set.of("bad");
            }

            public StorageBackend open(URI uri, AccessMode mode) {
                return new StorageBackend() {
                    public String location() {
                        return "bad:x";
                    }

                    public long size() {
                        throw new java.io.UncheckedIOException(new java.io.IOException("socket gone"));
                    }

                    public boolean isReadOnly() {
                        return true;
                    }

                    public void read(long offset, ByteBuffer dst) {
                    }

                    public void write(long offset, ByteBuffer src) {
                    }

                    public void flush() {
                    }

                    public void close() {
                    }
                };
            }
        });
        failsWith(() -> opener.open(URI.create("bad:x"), DiskOpener.AUTO, OpenOptions.defaults()), Kind.IO)
                .withMessageContaining("socket gone").withMessageContaining("bad:x");
    }

    @Test
    void anUnknownSchemeNamesTheInstalledOnes() {
        failsWith(() -> opener.open(URI.create("nbd://host/x"), DiskOpener.AUTO, OpenOptions.defaults()),
                Kind.BACKEND_UNAVAILABLE).withMessageContaining("'nbd'").withMessageContaining("installed: memory");
    }

    @Test
    void aMissingFormatNamesTheInstalledOnes() throws Exception {
        URI uri = memoryImage("f", new byte[] {0}, 512);
        failsWith(() -> opener.open(uri, "qcow2", OpenOptions.defaults()), Kind.BACKEND_UNAVAILABLE)
                .withMessageContaining("'qcow2' is not installed").withMessageContaining("installed: raw");
    }

    @Test
    void aFormatThatThrowsComesOutAsIoAndTheBackendIsClosed() throws Exception {
        MagicFormat magic = new MagicFormat();
        magic.openFailure = new ArrayIndexOutOfBoundsException("bug in the format");
        registry.formats.add(magic);
        URI uri = memoryImage("t", MagicFormat.MAGIC, 4096);
        failsWith(() -> opener.open(uri, DiskOpener.AUTO, OpenOptions.defaults()), Kind.IO)
                .withMessageContaining("the format magic failed").withMessageContaining("bug in the format")
                .withMessageContaining("memory:t");
        memory.open(uri, AccessMode.READ_WRITE).close();
    }

    @Test
    void aFailedCreateLeavesNoFileBehind() {
        registry.providers.put("file", new FileBackendProvider());
        registry.formats.add(new MagicFormat());
        Path target = dir.resolve("new.magic");
        failsWith(() -> opener.create(target.toUri(), "magic", CreateOptions.ofCapacity(4096)),
                Kind.UNSUPPORTED_FEATURE);
        assertThat(target).doesNotExist();
    }

    @Test
    void createThenOpenRoundTrips() throws Exception {
        registry.providers.put("file", new FileBackendProvider());
        Path target = dir.resolve("new.img");
        try (VirtualDisk disk = opener.create(target.toUri(), "raw", CreateOptions.ofCapacity(1 << 20)).disk()) {
            disk.write(512, ByteBuffer.wrap(new byte[] {7}));
        }
        assertThat(Files.size(target)).isEqualTo(1 << 20);
        try (VirtualDisk disk = opener.open(target.toUri(), DiskOpener.AUTO,
                OpenOptions.defaults().withReadOnly(true)).disk()) {
            ByteBuffer one = ByteBuffer.allocate(1);
            disk.read(512, one);
            assertThat(one.get(0)).isEqualTo((byte) 7);
            assertThat(disk.isReadOnly()).isTrue();
        }
    }

    @Test
    void filesBesideAnImageOnAServerKeepItsSettingsAndItsEscapes() throws Exception {
        URI manifest = URI.create("https://cdn.example/images/my%20disk/manifest.json?sig=S#token.env=TOK&read.ahead=2");
        assertThat(DiskOpener.related(manifest, "chunks/00000000.bin")).hasToString(
                "https://cdn.example/images/my%20disk/chunks/00000000.bin#token.env=TOK&read.ahead=2");
        // an absolute location is taken as written, and a local image's parts get no fragment
        assertThat(DiskOpener.related(manifest, "https://other.example/x.bin")).hasToString("https://other.example/x.bin");
        assertThat(DiskOpener.related(URI.create("file:/images/a%20b/disk.vmdk"), "disk-flat.vmdk"))
                .hasToString("file:/images/a%20b/disk-flat.vmdk");
    }
}
