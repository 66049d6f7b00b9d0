package org.spindle.format.iso;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatExceptionOfType;
import static org.assertj.core.api.Assertions.fail;

import java.net.URI;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.List;

import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Combinators;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import net.jqwik.api.constraints.IntRange;
import net.jqwik.api.constraints.LongRange;
import org.spindle.backend.memory.MemoryBackendProvider;
import org.spindle.storage.api.AccessMode;
import org.spindle.storage.api.OpenOptions;
import org.spindle.storage.api.StorageBackend;
import org.spindle.storage.api.StorageException;
import org.spindle.storage.api.StorageException.Kind;
import org.spindle.storage.api.VirtualDisk;

/**
 * Reads at random places return exactly the image's bytes or fail whole; and descriptor sectors full of
 * random bytes never make opening fail with anything but a {@link StorageException}.
 */
class IsoDiskPropertiesTest {
    private static final int SECTORS = 40;
    private static final byte[] IMAGE = IsoImage.ofSectors(SECTORS).primary("SYS", "VOL", 32).bootRecord()
            .terminator().bytes();
    private final IsoFormat iso = new IsoFormat();

    private static StorageBackend backendWith(byte[] image) throws StorageException {
        StorageBackend backend = new MemoryBackendProvider().open(URI.create("memory:?size=" + image.length),
                AccessMode.READ_WRITE);
        backend.write(0, ByteBuffer.wrap(image));
        return backend;
    }

    @Property(tries = 500)
    void readsReturnTheBackingBytesOrFailWhole(
            @ForAll @LongRange(min = -3 * 2048, max = (SECTORS + 3) * 2048L) long offset,
            @ForAll @IntRange(min = 0, max = 12 * 2048) int length) throws Exception {
        try (VirtualDisk disk = iso.open(backendWith(IMAGE), OpenOptions.defaults())) {
            ByteBuffer dst = ByteBuffer.allocate(length + 16).position(8).limit(8 + length);
            if (offset >= 0 && offset + length <= IMAGE.length) {
                disk.read(offset, dst);
                assertThat(dst.position()).isEqualTo(8 + length);
                assertThat(Arrays.copyOfRange(dst.array(), 8, 8 + length))
                        .isEqualTo(Arrays.copyOfRange(IMAGE, (int) offset, (int) offset + length));
            } else {
                assertThatExceptionOfType(StorageException.class).isThrownBy(() -> disk.read(offset, dst))
                        .satisfies(e -> assertThat(e.kind()).isEqualTo(Kind.OUT_OF_BOUNDS));
                assertThat(dst.position()).isEqualTo(8);
            }
            assertThat(dst.array()).startsWith(new byte[8]).endsWith(new byte[8]);
        }
    }

    /** Descriptors with the right identifier and random contents, sometimes with a truncated file. */
    @Provide
    Arbitrary<byte[]> hostileImages() {
        Arbitrary<byte[]> descriptor = Arbitraries.bytes().array(byte[].class).ofSize(2048).map(d -> {
            System.arraycopy("CD001".getBytes(StandardCharsets.US_ASCII), 0, d, 1, 5);
            return d;
        });
        Arbitrary<Integer> type = Arbitraries.of(0, 1, 1, 1, 2, 255, 7);
        // a plausible volume size (and 2048-byte blocks), or -1 to leave the random bytes as they are
        Arbitrary<Integer> volumeSize = Arbitraries.oneOf(Arbitraries.just(-1), Arbitraries.integers().between(0, 30),
                Arbitraries.integers().between(17, 20));
        Arbitrary<byte[]> typed = Combinators.combine(descriptor, type, volumeSize, Arbitraries.of(true, false))
                .as((d, t, size, elTorito) -> {
                    byte[] copy = d.clone();
                    copy[0] = (byte) (int) t;
                    copy[6] = 1;
                    if (size >= 0) {
                        ByteBuffer.wrap(copy).order(ByteOrder.LITTLE_ENDIAN).putInt(80, size)
                                .putShort(128, (short) 2048);
                        ByteBuffer.wrap(copy).putInt(84, size).putShort(130, (short) 2048);
                    }
                    if (elTorito) {
                        byte[] id = Arrays.copyOf("EL TORITO SPECIFICATION".getBytes(StandardCharsets.US_ASCII), 32);
                        System.arraycopy(id, 0, copy, 7, 32);
                    }
                    return copy;
                });
        return typed.list().ofMinSize(0).ofMaxSize(6).flatMap(descriptors -> Arbitraries.integers()
                .between(0, 3).map(cut -> assemble(descriptors, cut)));
    }

    private static byte[] assemble(List<byte[]> descriptors, int cutSectors) {
        byte[] image = new byte[(16 + descriptors.size() + 4) * 2048];
        for (int i = 0; i < descriptors.size(); i++) {
            System.arraycopy(descriptors.get(i), 0, image, (16 + i) * 2048, 2048);
        }
        return Arrays.copyOf(image, image.length - cutSectors * 2048);
    }

    @Property(tries = 300)
    void hostileDescriptorsFailOnlyAsStorageExceptions(@ForAll("hostileImages") byte[] image) throws Exception {
        StorageBackend backend = backendWith(image);
        try (VirtualDisk disk = iso.open(backend, OpenOptions.defaults())) {
            assertThat(disk.capacity()).isEqualTo(image.length);
            ByteBuffer all = ByteBuffer.allocate(image.length);
            disk.read(0, all);
            assertThat(all.array()).isEqualTo(image);
            assertThat(disk.details()).containsKey("el-torito");
        } catch (StorageException e) {
            backend.close();
            assertThat(e.kind()).isIn(Kind.CORRUPT_IMAGE, Kind.UNSUPPORTED_FEATURE);
        } catch (RuntimeException e) {
            backend.close();
            fail("opening let a " + e + " escape", e);
        }
    }
}
