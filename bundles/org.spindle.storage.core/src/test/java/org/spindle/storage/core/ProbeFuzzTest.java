package org.spindle.storage.core;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

import com.code_intelligence.jazzer.junit.FuzzTest;

import org.spindle.storage.api.DiskFormat;
import org.spindle.storage.api.OpenOptions;
import org.spindle.storage.api.StorageException;
import org.spindle.storage.api.StorageException.Kind;
import org.spindle.storage.api.VirtualDisk;
import org.spindle.storage.core.DiskOpener.Probe;

/**
 * Fuzzes format probing ({@link DiskOpener#probe}) over every format the class path offers through
 * {@link ServiceLoaderRegistry} (raw and sparse here), and opening the image read-only with the format
 * that wins.
 *
 * <p>Properties, for every input of at most 1 MiB:
 * <ul>
 * <li>probing never throws: its only documented failure, {@code UNSUPPORTED_FEATURE} when nothing
 * recognises the image, cannot happen while raw (which accepts anything) is installed; it answers
 * the same twice, best first, each format once, with scores from 1 to 100, raw always among them;</li>
 * <li>an image that starts with the sparse magic ({@code AEROSPAR}, or the legacy {@code AEROSPRS}) is
 * never opened as raw: sparse wins the probe, and opening either gives a sparse disk or fails with
 * {@code CORRUPT_IMAGE} or {@code UNSUPPORTED_FEATURE}; sparse wins nothing else;</li>
 * <li>whatever wins opens the image or refuses it with one of those two kinds (raw never refuses), a
 * refused backend stays open for its caller, an opened disk is read-only, reads its first and last
 * sector (raw: the input's own bytes) and closes its backend.</li>
 * </ul>
 *
 * <p>Without {@code JAZZER_FUZZ} set this replays the inputs in
 * {@code src/test/resources/org/spindle/storage/core/ProbeFuzzTestInputs/fuzzProbe}. To fuzz (30 s
 * unless {@code JAZZER_MAX_DURATION} says otherwise, e.g. {@code 10m}):
 * <pre>
 * JAZZER_FUZZ=1 mvn -o test -pl bundles/org.spindle.storage.core -Dtest=ProbeFuzzTest
 * </pre>
 * The formats come from jars, which Jazzer instruments only because the root pom sets
 * {@code jazzer.instrument=org.spindle.**} for surefire. Crashing inputs are written into the inputs
 * directory above; the coverage corpus goes to {@code .cifuzz-corpus/}, which git ignores.
 */
class ProbeFuzzTest {
    static final int MAX_INPUT = 1 << 20;
    private static final ServiceLoaderRegistry REGISTRY = ServiceLoaderRegistry.load(ProbeFuzzTest.class.getClassLoader());
    private static final List<byte[]> SPARSE_MAGICS = List.of("AEROSPAR".getBytes(StandardCharsets.US_ASCII),
            "AEROSPRS".getBytes(StandardCharsets.US_ASCII));

    @FuzzTest(maxDuration = "30s")
    void fuzzProbe(byte[] image) throws Exception {
        if (image == null || image.length > MAX_INPUT) {
            return;
        }
        Set<String> installed = new HashSet<>(REGISTRY.formats().stream().map(DiskFormat::name).toList());
        require(installed.containsAll(Set.of("raw", "sparse")), "the test class path lacks a format: " + installed);
        DiskOpener opener = new DiskOpener(REGISTRY);
        BytesBackend backend = new BytesBackend(image);
        List<Probe> probes;
        try {
            probes = opener.probe(backend);
        } catch (StorageException e) {
            throw new AssertionError("probing threw although raw accepts anything: " + e.getMessage(), e);
        }
        require(!backend.isClosed(), "probing closed the backend");
        checkAnswers(probes, opener.probe(backend));

        boolean magic = SPARSE_MAGICS.stream().anyMatch(m -> startsWith(image, m));
        Probe best = probes.getFirst();
        String winner = best.format().name();
        require(magic == winner.equals("sparse"), (magic ? "an image with the sparse magic" : "an image without it")
                + " probed as " + winner + " (score " + best.score() + ")");
        if (magic) {
            require(best.score() == DiskFormat.PROBE_MAGIC, "the sparse magic scored " + best.score());
        }

        VirtualDisk disk;
        try {
            disk = best.format().open(backend, OpenOptions.defaults().withReadOnly(true));
        } catch (StorageException e) {
            require(!winner.equals("raw"), "raw refused an image: " + e.getMessage());
            if (e.kind() != Kind.CORRUPT_IMAGE && e.kind() != Kind.UNSUPPORTED_FEATURE) {
                throw new AssertionError("opening as " + winner + " failed with " + e.kind() + ": " + e.getMessage(), e);
            }
            require(!backend.isClosed(), "a failed open closed the caller's backend");
            return;
        }
        try (disk) {
            require(disk.formatName().equals(winner), "opened as " + winner + ", the disk says " + disk.formatName());
            require(!magic || !disk.formatName().equals("raw"), "an image with the sparse magic opened as raw");
            require(disk.isReadOnly(), "a read-only open gave a writable disk");
            int sector = disk.logicalSectorSize();
            require(sector == 512 || sector == 2048 || sector == 4096, "sector size " + sector);
            long capacity = disk.capacity();
            require(capacity >= 0, "capacity " + capacity);
            if (winner.equals("raw")) {
                require(capacity == image.length, "a raw disk of " + capacity + " bytes over " + image.length);
            }
            if (disk.sectorCount() > 0) {
                readSector(disk, 0, image, winner);
                readSector(disk, disk.sectorCount() - 1, image, winner);
            }
            // a tail shorter than a sector reads by bytes
            long tail = capacity % sector;
            if (tail > 0) {
                ByteBuffer rest = ByteBuffer.allocate((int) tail);
                disk.read(capacity - tail, rest);
                if (winner.equals("raw")) {
                    require(Arrays.equals(rest.array(), 0, (int) tail, image, (int) (capacity - tail), image.length),
                            "the raw tail differs from the input");
                }
            }
        }
        require(backend.isClosed(), "closing the disk did not close its backend");
    }

    private static void checkAnswers(List<Probe> probes, List<Probe> again) {
        require(!probes.isEmpty(), "probing answered nothing");
        require(probes.equals(again), "probing the same image twice answered " + probes + " and " + again);
        Set<String> seen = new HashSet<>();
        int previous = Integer.MAX_VALUE;
        boolean raw = false;
        for (Probe p : probes) {
            require(seen.add(p.format().name()), "format " + p.format().name() + " answered twice");
            require(p.score() > DiskFormat.PROBE_NO && p.score() <= DiskFormat.PROBE_MAGIC, "score " + p.score());
            require(p.score() <= previous, "answers not best first: " + probes);
            previous = p.score();
            raw |= p.format().name().equals("raw") && p.score() == DiskFormat.PROBE_FALLBACK;
        }
        require(raw, "raw is not among the answers as the fallback: " + probes);
    }

    private static void readSector(VirtualDisk disk, long lba, byte[] image, String format) throws StorageException {
        int sector = disk.logicalSectorSize();
        ByteBuffer buffer = ByteBuffer.allocate(sector);
        disk.readSectors(lba, buffer);
        require(!buffer.hasRemaining(), "a sector read returned short");
        if (format.equals("raw")) {
            int from = (int) (lba * sector);
            require(Arrays.equals(buffer.array(), 0, sector, image, from, from + sector),
                    "raw sector " + lba + " differs from the input");
        }
    }

    private static boolean startsWith(byte[] image, byte[] prefix) {
        return image.length >= prefix.length && Arrays.equals(image, 0, prefix.length, prefix, 0, prefix.length);
    }

    private static void require(boolean condition, String message) {
        if (!condition) {
            throw new AssertionError(message);
        }
    }
}
