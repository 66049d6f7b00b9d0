package org.spindle.format.vhdx;

import java.net.URI;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.SplittableRandom;

import com.code_intelligence.jazzer.junit.FuzzTest;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.condition.EnabledIfSystemProperty;
import org.spindle.backend.memory.MemoryBackendProvider;
import org.spindle.storage.api.AccessMode;
import org.spindle.storage.api.OpenOptions;
import org.spindle.storage.api.StorageBackend;
import org.spindle.storage.api.StorageException;
import org.spindle.storage.api.VirtualDisk;
import org.spindle.storage.core.support.FormatFuzz;

/**
 * Fuzzes the VHDX parsers: the file identifier, both headers, both region tables, the log (entry
 * headers, descriptors, data sectors, the search for the active sequence and its replay, in memory
 * and in place), the metadata table and items (the parent locator's key/value pairs among them), the
 * BAT and the sector bitmaps. Opening, reading, mapping, {@code check}, {@code check --repair} and a
 * write with a flush either work or fail with a {@link StorageException}; nothing else escapes.
 *
 * <p>A VHDX is at least 4 MiB and mostly zeros, so an input is a sparse image: a flags byte, then
 * records of a 4 KiB page number (u16, little-endian), a length (u16) and that many bytes, laid over
 * zeros (up to 16 MiB). With flag bit 0 set the harness recomputes the CRC-32C of the headers, region
 * tables and log entries after the mutation, so the fuzzer gets past the checksums into what they
 * guard. Without {@code JAZZER_FUZZ} this replays
 * {@code src/test/resources/org/spindle/format/vhdx/VhdxParserFuzzTestInputs/fuzzImage}: images QEMU
 * made (one with a log QEMU left to replay when it was killed) and Spindle made (differencing ones
 * among them), encoded by {@link #writeSeeds}, and {@code regression-*}: inputs fuzzing once broke
 * the parsers with.
 */
class VhdxParserFuzzTest {
    private static final VhdxFormat FORMAT = new VhdxFormat();
    private static final MemoryBackendProvider MEMORY = new MemoryBackendProvider();
    private static final int MAX_IMAGE = 16 << 20;
    private static int counter;

    @FuzzTest(maxDuration = "30s")
    void fuzzImage(byte[] input) throws Exception {
        byte[] image = decode(input);
        if (image != null) {
            FormatFuzz.exercise(FORMAT, image, new SplittableRandom(input.length * 31L));
        }
    }

    /** The seeds are images the parsers accept, so the fuzzer starts from inside the format. */
    @Test
    void everySeedDescribesAnImageThatOpensAndChecksClean() throws Exception {
        Path seeds = Path.of("src/test/resources/org/spindle/format/vhdx/VhdxParserFuzzTestInputs/fuzzImage");
        int count = 0;
        try (var files = Files.list(seeds)) {
            for (Path seed : files.filter(p -> !p.getFileName().toString().startsWith("crash-") && !p.getFileName().toString().startsWith("regression-")).toList()) {
                byte[] image = decode(Files.readAllBytes(seed));
                String name = "seed" + (counter++);
                try (StorageBackend backend = MEMORY.open(URI.create("memory:" + name + "?size=0"), AccessMode.CREATE_NEW)) {
                    backend.write(0, ByteBuffer.wrap(image));
                }
                try (VirtualDisk disk = FORMAT.open(MEMORY.open(URI.create("memory:" + name), AccessMode.READ_ONLY),
                        OpenOptions.defaults().withReadOnly(true))) {
                    FormatFuzz.readAndWalk(disk, new SplittableRandom(1));
                }
                try (StorageBackend b = MEMORY.open(URI.create("memory:" + name), AccessMode.READ_ONLY)) {
                    org.assertj.core.api.Assertions.assertThat(FORMAT.check(b, false).corruptions())
                            .as("corruptions in seed %s", seed.getFileName()).isZero();
                }
                count++;
            }
        }
        org.assertj.core.api.Assertions.assertThat(count).isGreaterThanOrEqualTo(6);
    }

    /** The image an input describes, checksums recomputed when its flags ask; null when it describes none. */
    static byte[] decode(byte[] input) {
        if (input == null || input.length < 1) {
            return null;
        }
        ByteBuffer in = ByteBuffer.wrap(input).order(ByteOrder.LITTLE_ENDIAN);
        int flags = in.get() & 0xff;
        int size = 0;
        int start = in.position();
        while (in.remaining() >= 4) {
            long page = Short.toUnsignedInt(in.getShort());
            int length = Math.min(Short.toUnsignedInt(in.getShort()), in.remaining());
            size = (int) Math.max(size, Math.min(MAX_IMAGE, page * 4096 + length));
            in.position(in.position() + length);
        }
        if (size == 0) {
            return null;
        }
        byte[] image = new byte[size];
        in.position(start);
        while (in.remaining() >= 4) {
            long page = Short.toUnsignedInt(in.getShort());
            int length = Math.min(Short.toUnsignedInt(in.getShort()), in.remaining());
            long at = page * 4096;
            int n = (int) Math.max(0, Math.min(length, size - at));
            if (n > 0) {
                in.get(in.position(), image, (int) at, n);
            }
            in.position(in.position() + length);
        }
        if ((flags & 1) != 0) {
            seal(image);
        }
        return image;
    }

    /** Recomputes the checksums of the headers, the region tables and every log entry the current header's log holds. */
    private static void seal(byte[] image) {
        ByteBuffer b = ByteBuffer.wrap(image).order(ByteOrder.LITTLE_ENDIAN);
        for (long at : VhdxHeader.SLOTS) {
            if (at + VhdxHeader.SIZE <= image.length) {
                Crc.seal(image, (int) at, VhdxHeader.SIZE, 4);
            }
        }
        for (long at : VhdxLayout.REGION_TABLES) {
            if (at + VhdxRegionTable.SIZE <= image.length) {
                Crc.seal(image, (int) at, VhdxRegionTable.SIZE, 4);
            }
        }
        for (long slot : VhdxHeader.SLOTS) {
            if (slot + VhdxHeader.SIZE > image.length) {
                continue;
            }
            long logLength = Integer.toUnsignedLong(b.getInt((int) slot + 68));
            long logOffset = b.getLong((int) slot + 72);
            if (logOffset <= 0 || logLength == 0 || logOffset + logLength > image.length || logLength > (4 << 20)) {
                continue;
            }
            for (long p = logOffset; p < logOffset + logLength; p += 4096) {
                if (image[(int) p] == 'l' && image[(int) p + 1] == 'o' && image[(int) p + 2] == 'g' && image[(int) p + 3] == 'e') {
                    long entry = Integer.toUnsignedLong(b.getInt((int) p + 8));
                    if (entry >= 4096 && p + entry <= logOffset + logLength) {
                        Crc.seal(image, (int) p, (int) entry, 4);
                    }
                }
            }
        }
        // the header checksums again: nothing above touched them, but a log entry may overlap a header in a mutated image
        for (long at : VhdxHeader.SLOTS) {
            if (at + VhdxHeader.SIZE <= image.length) {
                Crc.seal(image, (int) at, VhdxHeader.SIZE, 4);
            }
        }
    }

    /** The input describing {@code image}: its non-zero 4 KiB pages, trailing zeros trimmed, checksums left as they are. */
    static byte[] encode(byte[] image, boolean seal) {
        java.io.ByteArrayOutputStream out = new java.io.ByteArrayOutputStream();
        out.write(seal ? 1 : 0);
        for (int page = 0; page * 4096L < image.length && page < 65536; page++) {
            int from = page * 4096;
            int to = Math.min(image.length, from + 4096);
            while (to > from && image[to - 1] == 0) {
                to--;
            }
            boolean last = (page + 1) * 4096L >= image.length;
            if (to == from && !last) {
                continue;
            }
            int length = last ? Math.min(image.length, from + 4096) - from : to - from; // the last page fixes the size
            ByteBuffer rec = ByteBuffer.allocate(4).order(ByteOrder.LITTLE_ENDIAN);
            rec.putShort((short) page).putShort((short) length);
            out.writeBytes(rec.array());
            out.write(image, from, length);
        }
        return out.toByteArray();
    }

    /**
     * Writes the seed corpus from images in {@code -Dvhdx.seeds=DIR} (every {@code *.vhdx} there) into
     * the inputs directory; run by hand when the seeds change.
     */
    @Test
    @EnabledIfSystemProperty(named = "vhdx.seeds", matches = ".+")
    void writeSeeds() throws Exception {
        Path from = Path.of(System.getProperty("vhdx.seeds"));
        Path to = Path.of("src/test/resources/org/spindle/format/vhdx/VhdxParserFuzzTestInputs/fuzzImage");
        Files.createDirectories(to);
        // a Spindle differencing disk over the first seed, with a few sectors of its own (partially present blocks)
        Path diff = from.resolve("spindle-diff.vhdx");
        if (!Files.exists(diff)) {
            org.spindle.storage.core.DiskOpener opener = new org.spindle.storage.core.DiskOpener(
                    org.spindle.storage.core.ServiceLoaderRegistry.load(getClass().getClassLoader()));
            String parent;
            try (var files = Files.list(from)) {
                parent = files.filter(p -> p.toString().endsWith(".vhdx")).sorted().findFirst().orElseThrow()
                        .getFileName().toString();
            }
            long size;
            try (VirtualDisk p = FORMAT.open(org.spindle.backend.file.FileBackend.open(from.resolve(parent), AccessMode.READ_ONLY),
                    OpenOptions.defaults().withReadOnly(true))) {
                size = p.capacity();
            }
            opener.create(diff.toUri(), "vhdx", org.spindle.storage.api.CreateOptions.ofCapacity(size)
                    .withParameters(java.util.Map.of("block_size", "1M"))
                    .withBacking(new org.spindle.storage.api.BackingReference(parent, "vhdx"))).disk().close();
            try (VirtualDisk d = FORMAT.open(org.spindle.backend.file.FileBackend.open(diff, AccessMode.READ_WRITE),
                    OpenOptions.defaults())) {
                d.write(4096, ByteBuffer.wrap(new byte[] {1, 2, 3, 4, 5, 6, 7, 8}));
                d.write(1 << 20, ByteBuffer.allocate(1 << 20).put(0, (byte) 9));
            }
        }
        try (var files = Files.list(from)) {
            for (Path image : files.filter(p -> p.toString().endsWith(".vhdx")).toList()) {
                String name = image.getFileName().toString().replace(".vhdx", "");
                Files.write(to.resolve(name), encode(Files.readAllBytes(image), false));
            }
        }
    }
}
