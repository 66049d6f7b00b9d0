package org.spindle.backend.file;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.net.URI;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.spindle.storage.api.AccessMode;
import org.spindle.storage.api.Resizable;
import org.spindle.storage.api.StorageException;
import org.spindle.storage.api.StorageException.Kind;
import org.spindle.testing.storage.HostFiles;

class FileBackendTest {
    @TempDir
    Path dir;

    private final FileBackendProvider provider = new FileBackendProvider();

    private static org.assertj.core.api.ThrowableAssertAlternative<StorageException> failsWith(
            org.assertj.core.api.ThrowableAssert.ThrowingCallable call, Kind kind) {
        return org.assertj.core.api.Assertions.assertThatExceptionOfType(StorageException.class).isThrownBy(call)
                .satisfies(e -> assertThat(e.kind()).isEqualTo(kind));
    }

    @Test
    void aMissingFileIsNotFoundAndNamesThePath() {
        Path missing = dir.resolve("nope.img");
        failsWith(() -> provider.open(missing.toUri(), AccessMode.READ_WRITE), Kind.NOT_FOUND)
                .withMessageContaining(missing.toUri().toString());
        assertThat(missing).doesNotExist();
    }

    @Test
    void aMissingFolderIsSaidToo() {
        Path missing = dir.resolve("no-folder/nope.img");
        failsWith(() -> provider.open(missing.toUri(), AccessMode.READ_ONLY), Kind.NOT_FOUND)
                .withMessageContaining("does not exist either");
    }

    @Test
    void aDirectoryIsNotAnImage() {
        failsWith(() -> provider.open(dir.toUri(), AccessMode.READ_ONLY), Kind.INVALID_CONFIG)
                .withMessageContaining("is a directory");
    }

    @Test
    void noPermissionIsAccessDeniedAndTheFileIsUnchanged() throws Exception {
        Path file = Files.write(dir.resolve("locked.img"), new byte[] {1, 2, 3});
        HostFiles.denyAccess(file);
        try {
            failsWith(() -> provider.open(file.toUri(), AccessMode.READ_WRITE), Kind.ACCESS_DENIED)
                    .withMessageContaining("permission denied").withMessageContaining(file.toUri().toString());
        } finally {
            HostFiles.allowAccess(file);
        }
        assertThat(Files.readAllBytes(file)).containsExactly(1, 2, 3);
    }

    @Test
    void createNewRefusesAnExistingFileAndLeavesItAlone() throws Exception {
        Path file = Files.write(dir.resolve("exists.img"), new byte[] {9});
        failsWith(() -> provider.open(file.toUri(), AccessMode.CREATE_NEW), Kind.ALREADY_EXISTS);
        assertThat(Files.readAllBytes(file)).containsExactly(9);
    }

    @Test
    void createNewMakesAnEmptyFile() throws Exception {
        Path file = dir.resolve("new.img");
        try (var backend = provider.open(file.toUri(), AccessMode.CREATE_NEW)) {
            assertThat(backend.size()).isZero();
            backend.capability(Resizable.class).orElseThrow().resize(1 << 20);
            assertThat(backend.size()).isEqualTo(1 << 20);
        }
        assertThat(Files.size(file)).isEqualTo(1 << 20);
    }

    @Test
    void aReaderKeepsWritersOutButNotOtherReaders() throws Exception {
        Path file = Files.write(dir.resolve("shared.img"), new byte[4096]);
        try (var reader = provider.open(file.toUri(), AccessMode.READ_ONLY);
             var second = provider.open(file.toUri(), AccessMode.READ_ONLY)) {
            failsWith(() -> provider.open(file.toUri(), AccessMode.READ_WRITE), Kind.IN_USE);
            assertThat(second.size()).isEqualTo(4096);
        }
        provider.open(file.toUri(), AccessMode.READ_WRITE).close();
    }

    @Test
    void aWriterKeepsReadersOut() throws Exception {
        Path file = Files.write(dir.resolve("busy.img"), new byte[4096]);
        try (var writer = provider.open(file.toUri(), AccessMode.READ_WRITE)) {
            failsWith(() -> provider.open(file.toUri(), AccessMode.READ_ONLY), Kind.IN_USE)
                    .withMessageContaining("open for writing");
        }
    }

    @Test
    void malformedUrisAreInvalidConfig() {
        failsWith(() -> provider.open(URI.create("file://otherhost/x.img"), AccessMode.READ_ONLY), Kind.INVALID_CONFIG)
                .withMessageContaining("remote");
        failsWith(() -> provider.open(URI.create("file:relative.img"), AccessMode.READ_ONLY), Kind.INVALID_CONFIG)
                .withMessageContaining("absolute path");
        failsWith(() -> provider.open(URI.create("file:/x.img?cache=no"), AccessMode.READ_ONLY), Kind.INVALID_CONFIG)
                .withMessageContaining("no parameters");
    }

    @Test
    void anInterruptedRequestDoesNotBreakTheOtherUsersOfTheImage() throws Exception {
        Path file = Files.write(dir.resolve("interrupted.img"), new byte[8192]);
        // pread reads (a mapped read touches no channel: see the next test)
        try (var first = FileBackend.open(file, AccessMode.READ_ONLY, false);
             var second = FileBackend.open(file, AccessMode.READ_ONLY, false)) {
            Thread.currentThread().interrupt();
            try {
                failsWith(() -> first.read(0, ByteBuffer.allocate(512)), Kind.IO).withMessageContaining("interrupted");
                assertThat(Thread.currentThread().isInterrupted()).as("the interrupt status is kept").isTrue();
            } finally {
                Thread.interrupted();
            }
            // both handles go on working on a reopened channel, and the image is still locked against writers
            ByteBuffer back = ByteBuffer.allocate(512);
            first.read(0, back);
            second.read(512, back.clear());
            failsWith(() -> provider.open(file.toUri(), AccessMode.READ_WRITE), Kind.IN_USE);
        }
        provider.open(file.toUri(), AccessMode.READ_WRITE).close();
    }

    @Test
    void aClosedBackendSaysSo() throws Exception {
        Path file = Files.write(dir.resolve("closed.img"), new byte[512]);
        var backend = provider.open(file.toUri(), AccessMode.READ_WRITE);
        backend.close();
        failsWith(() -> backend.read(0, ByteBuffer.allocate(1)), Kind.BACKEND_UNAVAILABLE)
                .withMessageContaining("closed");
    }

    @Test
    void aMappedReadOnAnInterruptedThreadSucceedsAndKeepsTheInterrupt() throws Exception {
        byte[] bytes = pattern(8192);
        Path file = Files.write(dir.resolve("interrupted-mapped.img"), bytes);
        try (var backend = FileBackend.open(file, AccessMode.READ_ONLY)) {
            assertThat(backend.readsMapped()).isTrue();
            ByteBuffer dst = ByteBuffer.allocate(512);
            Thread.currentThread().interrupt();
            try {
                backend.read(4096, dst);
                assertThat(Thread.currentThread().isInterrupted()).isTrue();
            } finally {
                Thread.interrupted();
            }
            assertThat(dst.array()).isEqualTo(java.util.Arrays.copyOfRange(bytes, 4096, 4608));
        }
    }

    @ParameterizedTest(name = "mapped reads: {0}")
    @ValueSource(booleans = {false, true})
    void aFileTruncatedUnderneathFailsTheReadWithoutTransferring(boolean mapped) throws Exception {
        Path file = Files.write(dir.resolve("shrinks.img"), new byte[3 * 4096]);
        try (var backend = FileBackend.open(file, AccessMode.READ_ONLY, mapped)) {
            try (var other = java.nio.channels.FileChannel.open(file, java.nio.file.StandardOpenOption.WRITE)) {
                other.truncate(4096);
            }
            // a heap and a direct buffer: a mapped copy of a page wholly past the end faults (SIGBUS,
            // an InternalError in Java) and the pread that follows names the problem
            for (ByteBuffer dst : new ByteBuffer[] {ByteBuffer.allocate(4096), ByteBuffer.allocateDirect(4096)}) {
                assertThatThrownBy(() -> backend.read(4096, dst)).isInstanceOfSatisfying(StorageException.class,
                        e -> assertThat(e.kind()).isEqualTo(Kind.OUT_OF_BOUNDS));
                assertThat(dst.position()).isZero();
            }
            ByteBuffer first = ByteBuffer.allocate(4096);
            backend.read(0, first);
            assertThat(first.position()).isEqualTo(4096);
        }
    }

    @Test
    void theProviderCanBeToldToReadWithPread() throws Exception {
        Path file = Files.write(dir.resolve("pread.img"), pattern(4096));
        FileBackendProvider.Config config = new FileBackendProvider.Config() {
            @Override
            public boolean mapped_reads() {
                return false;
            }

            @Override
            public Class<? extends java.lang.annotation.Annotation> annotationType() {
                return FileBackendProvider.Config.class;
            }
        };
        try (var preads = (FileBackend) new FileBackendProvider(config).open(file.toUri(), AccessMode.READ_ONLY);
             var mapped = (FileBackend) provider.open(file.toUri(), AccessMode.READ_ONLY)) {
            assertThat(preads.readsMapped()).isFalse();
            assertThat(mapped.readsMapped()).isTrue();
            ByteBuffer a = ByteBuffer.allocate(4096);
            ByteBuffer b = ByteBuffer.allocate(4096);
            preads.read(0, a);
            mapped.read(0, b);
            assertThat(a.array()).isEqualTo(b.array()).isEqualTo(pattern(4096));
        }
    }

    static byte[] pattern(int length) {
        byte[] bytes = new byte[length];
        new java.util.SplittableRandom(length).nextBytes(bytes);
        return bytes;
    }
}
