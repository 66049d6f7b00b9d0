package org.spindle.format.qcow2;

import java.net.URI;
import java.nio.ByteBuffer;
import java.util.SplittableRandom;

import com.code_intelligence.jazzer.junit.FuzzTest;

import org.spindle.backend.memory.MemoryBackendProvider;
import org.spindle.storage.api.AccessMode;
import org.spindle.storage.api.CheckReport;
import org.spindle.storage.api.Deletable;
import org.spindle.storage.api.OpenOptions;
import org.spindle.storage.api.Snapshots;
import org.spindle.storage.api.StorageBackend;
import org.spindle.storage.api.StorageException;
import org.spindle.storage.api.VirtualDisk;
import org.spindle.storage.core.support.FormatFuzz;
import org.spindle.storage.api.WriteZeroes;

/**
 * Fuzzes the qcow2 parsers with whole image files: the header and its extensions, the L1 and L2
 * tables, the refcount table and blocks, the snapshot table, compressed cluster descriptors.
 *
 * <p>Properties, for every input of at most 1 MiB: opening (read-only), reading, mapping, listing
 * snapshots, {@code check}, {@code check --repair}, and on an image that opens writable a write, a
 * zeroing and a flush, either work or fail with a {@link StorageException}; nothing else escapes, and
 * nothing runs unbounded (reads and map walks are budgeted here; the format bounds its own tables).
 * After a repair that reports no corruption left, a second check must find none either.
 *
 * <p>Without {@code JAZZER_FUZZ} this replays the inputs in
 * {@code src/test/resources/org/spindle/format/qcow2/Qcow2ParserFuzzTestInputs/fuzzImage} (images
 * QEMU made, with every feature). To fuzz: {@code ./spindle fuzz 10m}, or
 * {@code JAZZER_FUZZ=1 mvn -o test -pl bundles/org.spindle.format.qcow2 -Dtest=Qcow2ParserFuzzTest}.
 */
class Qcow2ParserFuzzTest {
    static final int MAX_INPUT = 1 << 20;
    private static final Qcow2Format FORMAT = new Qcow2Format();
    private static final MemoryBackendProvider MEMORY = new MemoryBackendProvider();
    private static int counter;

    @FuzzTest(maxDuration = "30s")
    void fuzzImage(byte[] image) throws Exception {
        if (image == null || image.length > MAX_INPUT) {
            return;
        }
        SplittableRandom random = new SplittableRandom(image.length * 31L + (image.length > 0 ? image[0] : 0));
        String name = "fuzz" + (counter++);
        try (StorageBackend backend = MEMORY.open(URI.create("memory:" + name + "?size=0"), AccessMode.CREATE_NEW)) {
            backend.write(0, ByteBuffer.wrap(image));
        }
        try {
            readOnly(name, random);
            check(name);
            writable(name, random);
        } finally {
            // every disk above was closed: the volume must be free to delete
            MEMORY.open(URI.create("memory:" + name), AccessMode.READ_WRITE).capability(Deletable.class)
                    .orElseThrow().closeAndDelete();
        }
    }

    private static void readOnly(String name, SplittableRandom random) throws Exception {
        VirtualDisk disk = open(name, true);
        if (disk == null) {
            return;
        }
        try (disk) {
            FormatFuzz.readAndWalk(disk, random);
            disk.capability(Snapshots.class).ifPresent(s -> {
                try {
                    s.snapshots();
                } catch (StorageException e) {
                    // a damaged snapshot table
                }
            });
        }
    }

    /** The image opened, or null if the format refused it (the caller's backend stays the caller's to close). */
    private static VirtualDisk open(String name, boolean readOnly) throws StorageException {
        StorageBackend backend = MEMORY.open(URI.create("memory:" + name), readOnly ? AccessMode.READ_ONLY : AccessMode.READ_WRITE);
        try {
            return FORMAT.open(backend, OpenOptions.defaults().withReadOnly(readOnly));
        } catch (StorageException e) {
            backend.close();
            return null;
        }
    }

    private static void check(String name) throws Exception {
        try (StorageBackend backend = MEMORY.open(URI.create("memory:" + name), AccessMode.READ_ONLY)) {
            FORMAT.check(backend, false);
        } catch (StorageException e) {
            // refused: fine
        }
        CheckReport repaired;
        try (StorageBackend backend = MEMORY.open(URI.create("memory:" + name), AccessMode.READ_WRITE)) {
            repaired = FORMAT.check(backend, true);
        } catch (StorageException e) {
            return;
        }
        if (repaired.corruptions() == repaired.corruptionsRepaired()) {
            try (StorageBackend backend = MEMORY.open(URI.create("memory:" + name), AccessMode.READ_ONLY)) {
                CheckReport again = FORMAT.check(backend, false);
                if (again.corruptions() != 0) {
                    throw new AssertionError("a repair left corruption: " + repaired + " then " + again);
                }
            } catch (StorageException e) {
                // the repair could not reach what is damaged: reported by the first check already
            }
        }
    }

    private static void writable(String name, SplittableRandom random) throws Exception {
        VirtualDisk disk = open(name, false);
        if (disk == null) {
            return;
        }
        try (disk) {
            long capacity = disk.capacity();
            if (capacity == 0) {
                return;
            }
            int length = (int) Math.min(capacity, 512 * (1 + random.nextInt(64)));
            long offset = random.nextLong(capacity / 512 - length / 512 + 1) * 512;
            byte[] data = new byte[length];
            random.nextBytes(data);
            disk.write(offset, ByteBuffer.wrap(data));
            disk.capability(WriteZeroes.class).orElseThrow().writeZeroes(0, Math.min(capacity, 4096));
            disk.flush();
        } catch (StorageException e) {
            // a damaged table found on the way
        }
    }
}
