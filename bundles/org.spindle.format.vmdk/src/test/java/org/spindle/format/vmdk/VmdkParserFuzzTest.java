package org.spindle.format.vmdk;

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
 * Fuzzes the VMDK parsers with whole image files: the sparse extent header (and the footer of a
 * streamOptimized image), the embedded descriptor, the grain directory and tables, grain markers and
 * compressed grains. Opening, reading and mapping either work or fail with a {@link StorageException};
 * nothing else escapes, and reads and map walks are budgeted.
 *
 * <p>Without {@code JAZZER_FUZZ} this replays
 * {@code src/test/resources/org/spindle/format/vmdk/VmdkParserFuzzTestInputs/fuzzImage} (images QEMU made).
 */
class VmdkParserFuzzTest {
    private static final VmdkFormat FORMAT = new VmdkFormat();
    private static final MemoryBackendProvider MEMORY = new MemoryBackendProvider();
    private static int counter;

    @FuzzTest(maxDuration = "30s")
    void fuzzImage(byte[] image) throws Exception {
        if (image == null || image.length > (1 << 20)) {
            return;
        }
        SplittableRandom random = new SplittableRandom(image.length * 13L);
        String name = "kfuzz" + (counter++);
        try (StorageBackend backend = MEMORY.open(URI.create("memory:" + name + "?size=0"), AccessMode.CREATE_NEW)) {
            backend.write(0, ByteBuffer.wrap(image));
        }
        try {
            StorageBackend backend = MEMORY.open(URI.create("memory:" + name), AccessMode.READ_ONLY);
            VirtualDisk disk;
            try {
                disk = FORMAT.open(backend, OpenOptions.defaults().withReadOnly(true));
            } catch (StorageException e) {
                backend.close();
                return;
            }
            try (disk) {
                FormatFuzz.readAndWalk(disk, random);
            }
        } finally {
            MEMORY.open(URI.create("memory:" + name), AccessMode.READ_WRITE).capability(Deletable.class)
                    .orElseThrow().closeAndDelete();
        }
    }
}
