package org.spindle.format.vhd;

import java.net.URI;
import java.nio.ByteBuffer;
import java.util.SplittableRandom;

import com.code_intelligence.jazzer.junit.FuzzTest;

import org.spindle.backend.memory.MemoryBackendProvider;
import org.spindle.storage.api.AccessMode;
import org.spindle.storage.api.Deletable;
import org.spindle.storage.api.OpenOptions;
import org.spindle.storage.api.StorageBackend;
import org.spindle.storage.api.StorageException;
import org.spindle.storage.api.VirtualDisk;
import org.spindle.storage.core.support.FormatFuzz;

/**
 * Fuzzes the VHD parsers with whole image files: the footer (and its copy), the dynamic header, the
 * parent locators and the block allocation table, and sector bitmaps. Opening, reading, mapping,
 * {@code check}, {@code check --repair} and a write with a flush either work or fail with a
 * {@link StorageException}; nothing else escapes, and reads and map walks are budgeted.
 *
 * <p>Without {@code JAZZER_FUZZ} this replays
 * {@code src/test/resources/org/spindle/format/vhd/VhdParserFuzzTestInputs/fuzzImage} (images QEMU made).
 */
class VhdParserFuzzTest {
    private static final VhdFormat FORMAT = new VhdFormat();
    private static final MemoryBackendProvider MEMORY = new MemoryBackendProvider();
    private static int counter;

    @FuzzTest(maxDuration = "30s")
    void fuzzImage(byte[] image) throws Exception {
        if (image == null || image.length > (1 << 20)) {
            return;
        }
        SplittableRandom random = new SplittableRandom(image.length * 17L);
        String name = "vfuzz" + (counter++);
        try (StorageBackend backend = MEMORY.open(URI.create("memory:" + name + "?size=0"), AccessMode.CREATE_NEW)) {
            backend.write(0, ByteBuffer.wrap(image));
        }
        try {
            VirtualDisk reader = open(name, true);
            if (reader != null) {
                try (reader) {
                    FormatFuzz.readAndWalk(reader, random);
                }
            }
            try (StorageBackend b = MEMORY.open(URI.create("memory:" + name), AccessMode.READ_ONLY)) {
                FORMAT.check(b, false);
            } catch (StorageException e) {
                // refused
            }
            try (StorageBackend b = MEMORY.open(URI.create("memory:" + name), AccessMode.READ_WRITE)) {
                FORMAT.check(b, true);
            } catch (StorageException e) {
                // refused
            }
            VirtualDisk disk = open(name, false);
            if (disk != null) {
                try (disk) {
                    long capacity = disk.capacity();
                    if (capacity >= 512) {
                        long offset = random.nextLong(capacity / 512) * 512;
                        int length = (int) Math.min(capacity - offset, 512 * (1 + random.nextInt(16)));
                        byte[] data = new byte[length];
                        random.nextBytes(data);
                        disk.write(offset, ByteBuffer.wrap(data));
                        disk.flush();
                    }
                } catch (StorageException e) {
                    // a damaged table found on the way
                }
            }
        } finally {
            MEMORY.open(URI.create("memory:" + name), AccessMode.READ_WRITE).capability(Deletable.class)
                    .orElseThrow().closeAndDelete();
        }
    }

    private static VirtualDisk open(String name, boolean readOnly) throws StorageException {
        StorageBackend backend = MEMORY.open(URI.create("memory:" + name), readOnly ? AccessMode.READ_ONLY : AccessMode.READ_WRITE);
        try {
            return FORMAT.open(backend, OpenOptions.defaults().withReadOnly(readOnly));
        } catch (StorageException e) {
            backend.close();
            return null;
        }
    }
}
