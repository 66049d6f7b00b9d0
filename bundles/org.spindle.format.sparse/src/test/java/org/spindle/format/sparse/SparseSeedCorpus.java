package org.spindle.format.sparse;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;

import org.spindle.storage.api.BackingReference;
import org.spindle.storage.api.CreateOptions;
import org.spindle.storage.api.StorageException;
import org.spindle.storage.api.VirtualDisk;

/**
 * Writes the seed inputs of {@link SparseParserFuzzTest}: small valid images made by
 * {@link SparseFormat#create} (written to, flushed, closed, captured), and copies of them damaged by
 * hand in the ways {@code check} knows. Not a test; run it from the module's folder, after
 * {@code mvn -o test-compile}, with the test class path and the inputs directory as its argument (it
 * rewrites the seeds it makes and leaves other files, such as Jazzer's {@code crash-*} inputs, alone):
 * <pre>
 * mvn -o -q dependency:build-classpath -Dmdep.outputFile=target/test.classpath
 * java -cp target/test-classes:target/classes:$(cat target/test.classpath) org.spindle.format.sparse.SparseSeedCorpus \
 *     src/test/resources/org/spindle/format/sparse/SparseParserFuzzTestInputs/fuzzImage
 * </pre>
 * {@link SparseSeedCorpusTest} checks that every seed is what its name says.
 */
final class SparseSeedCorpus {
    private static final SparseFormat FORMAT = new SparseFormat();

    private SparseSeedCorpus() {
    }

    public static void main(String[] args) throws IOException {
        Path dir = Path.of(args[0]);
        Files.createDirectories(dir);
        for (Map.Entry<String, byte[]> seed : seeds().entrySet()) {
            Files.write(dir.resolve(seed.getKey()), seed.getValue());
        }
    }

    static Map<String, byte[]> seeds() throws StorageException {
        Map<String, byte[]> seeds = new LinkedHashMap<>();
        // valid images
        byte[] empty = image(4096, 512, null);
        seeds.put("valid-empty-bs512", empty);
        byte[] three = image(8192, 512, null, 0, 3 * 512 + 17, 15 * 512);
        seeds.put("valid-3-blocks-bs512", three);
        seeds.put("valid-bs1k-across-blocks", image(64 * 1024, 1024, null, 1000, 40_000));
        seeds.put("valid-partial-last-block", image(2560, 1024, null, 2048));
        byte[] overlay = image(8192, 512, new BackingReference("base.img", "raw"), 1024);
        seeds.put("valid-overlay", overlay);
        seeds.put("valid-overlay-probed-base", image(8192, 512, new BackingReference("memory:base", null)));
        seeds.put("valid-bs4k", image(32 * 1024, 4096, null, 5000));
        seeds.put("valid-file-ends-in-padding", Arrays.copyOf(empty, 128));

        // leaks: check repairs them, open accepts them
        seeds.put("leak-unused-slot", withLong(three, 64 + 3 * 8, 0));
        byte[] tail = Arrays.copyOf(three, three.length + 700);
        Arrays.fill(tail, three.length, tail.length, (byte) 0x5A);
        seeds.put("leak-tail", tail);
        seeds.put("leak-allocated-too-high", withLong(three, 0x38, 6));

        // corruptions: check repairs them, open refuses them
        long first = entry(three, 0);
        seeds.put("corrupt-shared-slot", withLong(three, 64 + 15 * 8, first));
        seeds.put("corrupt-past-end-of-file", withLong(three, 64 + 3 * 8, three.length));
        seeds.put("corrupt-misaligned", withLong(three, 64 + 3 * 8, entry(three, 3) + 100));
        seeds.put("corrupt-before-data", withLong(three, 64 + 3 * 8, 64));
        seeds.put("corrupt-beyond-allocated", withLong(three, 0x38, 1));
        seeds.put("corrupt-negative-entry", withLong(three, 64, -512));

        // headers open refuses
        byte[] legacy = three.clone();
        System.arraycopy("AEROSPRS".getBytes(StandardCharsets.US_ASCII), 0, legacy, 0, 8);
        seeds.put("header-legacy-magic", legacy);
        seeds.put("header-version-2", withInt(three, 0x08, 2));
        seeds.put("header-bad-block-size", withInt(three, 0x10, 768));
        seeds.put("header-truncated", Arrays.copyOf(three, 40));
        // a 1 MiB disk in 512-byte blocks has a 16 KiB table; the file ends after 1 KiB
        byte[] cut = Arrays.copyOf(header(512, 1 << 20), 1024);
        seeds.put("header-table-cut-off", cut);
        // a table of 2^24 + 1 entries: larger than the 128 MiB the parser holds
        seeds.put("header-table-too-large", header(512, ((1L << 24) + 1) * 512));
        // a disk size that overflows ceil(disk size / block size) computed naively
        seeds.put("header-huge-disk-size", withLong(withLong(header(1024, 512), 0x18, 0x7FFF_FFFF_FFFF_FE00L), 0x28,
                Math.ceilDiv(0x7FFF_FFFF_FFFF_FE00L, 1024)));

        // a damaged base reference: opening refuses it, check reports it as not repairable
        byte[] badCrc = overlay.clone();
        badCrc[64 + 16 * 8 + 20] ^= 1; // a byte of the base location
        seeds.put("extension-bad-checksum", badCrc);
        seeds.put("extension-version-2", withInt(overlay, 64 + 16 * 8 + 8, 2));
        // a damaged base reference in an image that also needs a repair
        seeds.put("extension-bad-checksum-with-leak", withLong(badCrc, 0x38, 4));
        // ... and one whose table the repair changes before it stops (reported, see the fuzz test)
        seeds.put("extension-bad-checksum-with-shared-slot", withLong(badCrc, 64 + 5 * 8, entry(overlay, 2)));
        return seeds;
    }

    /** A new image written with a 0x01.. pattern of 300 bytes at each of {@code writes}, flushed and closed. */
    private static byte[] image(long capacity, int blockSize, BackingReference base, long... writes)
            throws StorageException {
        ByteArrayBackend backend = ByteArrayBackend.writable(new byte[0]);
        CreateOptions options = CreateOptions.ofCapacity(capacity)
                .withParameters(Map.of(SparseFormat.BLOCK_SIZE, Integer.toString(blockSize)));
        if (base != null) {
            options = options.withBacking(base);
        }
        try (VirtualDisk disk = FORMAT.create(backend, options)) {
            for (long at : writes) {
                byte[] data = new byte[(int) Math.min(300, capacity - at)];
                for (int i = 0; i < data.length; i++) {
                    data[i] = (byte) (1 + (at + i) % 251);
                }
                disk.write(at, ByteBuffer.wrap(data));
            }
            disk.flush();
        }
        return backend.contents();
    }

    /** A bare, valid header with nothing after it. */
    private static byte[] header(int blockSize, long diskSize) {
        long entries = Math.ceilDiv(diskSize, blockSize);
        long dataOffset = Math.ceilDiv(64 + 8 * entries, blockSize) * blockSize;
        ByteBuffer b = ByteBuffer.allocate(64).order(ByteOrder.LITTLE_ENDIAN);
        b.put("AEROSPAR".getBytes(StandardCharsets.US_ASCII)).putInt(1).putInt(64).putInt(blockSize).putInt(0)
                .putLong(diskSize).putLong(64).putLong(entries).putLong(dataOffset).putLong(0);
        return b.array();
    }

    private static long entry(byte[] image, int block) {
        return ByteBuffer.wrap(image).order(ByteOrder.LITTLE_ENDIAN).getLong(64 + 8 * block);
    }

    private static byte[] withLong(byte[] image, int at, long value) {
        byte[] copy = image.clone();
        ByteBuffer.wrap(copy).order(ByteOrder.LITTLE_ENDIAN).putLong(at, value);
        return copy;
    }

    private static byte[] withInt(byte[] image, int at, int value) {
        byte[] copy = image.clone();
        ByteBuffer.wrap(copy).order(ByteOrder.LITTLE_ENDIAN).putInt(at, value);
        return copy;
    }
}
