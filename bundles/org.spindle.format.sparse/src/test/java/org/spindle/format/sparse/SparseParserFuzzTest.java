package org.spindle.format.sparse;

import java.nio.ByteBuffer;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.List;
import java.util.SplittableRandom;
import java.util.zip.CRC32C;

import com.code_intelligence.jazzer.junit.FuzzTest;

import org.spindle.storage.api.AllocationMap;
import org.spindle.storage.api.CheckReport;
import org.spindle.storage.api.Extent;
import org.spindle.storage.api.OpenOptions;
import org.spindle.storage.api.StorageException;
import org.spindle.storage.api.StorageException.Kind;
import org.spindle.storage.api.VirtualDisk;
import org.spindle.storage.api.WriteZeroes;

/**
 * Fuzzes the sparse format's header, extension and table parser, {@code check} and {@code check --repair}
 * with whole image files, and compares what they do with {@link SparseSpecModel}, an independent
 * reading of the documented layout.
 *
 * <p>Properties, for every input of at most 1 MiB:
 * <ol>
 * <li>{@code open} either opens the image or refuses it with a {@link StorageException} of kind
 * {@code CORRUPT_IMAGE} or {@code UNSUPPORTED_FEATURE}; nothing else escapes. ({@code INVALID_CONFIG}
 * is not allowed: the default options have no parameters and the 512-byte sector size divides every
 * valid disk size. {@code OUT_OF_BOUNDS} is not allowed either: the header is checked against the file
 * size before anything else is read.) It opens exactly when the model says it must.</li>
 * <li>An opened disk reads what the model says, block by block and across block boundaries; its
 * extents tile the disk, agree with the table, and end on allocation units; opening, reading and
 * closing it writes nothing.</li>
 * <li>{@code check} without repair (on a read-only backend) throws exactly when opening fails before
 * the table could be read, and otherwise reports corruptions exactly when opening refuses the image,
 * and the leaks the model counts.</li>
 * <li>{@code check --repair} (on a writable copy) leaves no corruption it could repair: afterwards the
 * image opens unless the report still counts corruptions (a damaged base reference, which cannot be
 * repaired), a second check finds it clean, and every block reads what it read before wherever it
 * could be read at all (a usable entry's data), the rest reads as zeros. A repair may also stop with
 * {@code OUT_OF_BOUNDS} when it would grow the test backend past its 4 MiB limit.</li>
 * <li>On an image that opens, a write, zeroing a whole block and a flush keep it consistent: reopened, it reads the
 * new data, and {@code check} finds no corruption.</li>
 * </ol>
 *
 * <p>Without {@code JAZZER_FUZZ} set this replays the inputs in
 * {@code src/test/resources/org/spindle/format/sparse/SparseParserFuzzTestInputs/fuzzImage} (a normal
 * {@code mvn test}). To fuzz (30 s unless {@code JAZZER_MAX_DURATION} says otherwise, e.g. {@code 10m}):
 * <pre>
 * JAZZER_FUZZ=1 mvn -o test -pl bundles/org.spindle.format.sparse -Dtest=SparseParserFuzzTest
 * </pre>
 * Crashing inputs are written into the inputs directory above (and so become regression tests);
 * the coverage corpus goes to {@code .cifuzz-corpus/}, which git ignores. The seeds are made by
 * {@link SparseSeedCorpus}.
 */
class SparseParserFuzzTest {
    static final int MAX_INPUT = 1 << 20;
    private static final SparseFormat FORMAT = new SparseFormat();

    @FuzzTest(maxDuration = "30s")
    void fuzzImage(byte[] image) throws Exception {
        if (image == null || image.length > MAX_INPUT) {
            return;
        }
        SparseSpecModel model = SparseSpecModel.of(image);
        SplittableRandom random = new SplittableRandom(crc(image));
        boolean opened = openAndRead(image, model, random);
        checkWithoutRepair(image, model, opened);
        checkAndRepair(image, model);
        if (opened) {
            writeAndReopen(image, model, random);
        }
    }

    // ---- 1 and 2: open, read, map, close ----

    private static boolean openAndRead(byte[] image, SparseSpecModel model, SplittableRandom random)
            throws Exception {
        ByteArrayBackend backend = ByteArrayBackend.writable(image);
        VirtualDisk disk;
        try {
            disk = FORMAT.open(backend, OpenOptions.defaults());
        } catch (StorageException e) {
            allow(e, Kind.CORRUPT_IMAGE, Kind.UNSUPPORTED_FEATURE);
            require(!model.opens(), "open refused an image the model accepts: " + e.getMessage() + "; " + model);
            require(!backend.isClosed(), "a failed open closed the caller's backend");
            require(backend.writes() == 0, "a failed open wrote to the image");
            return false;
        }
        require(model.opens(), "open accepted an image the model refuses: " + model);
        try {
            require(disk.capacity() == model.diskSize, "capacity " + disk.capacity() + " != " + model.diskSize);
            require("sparse".equals(disk.formatName()), "format name " + disk.formatName());
            disk.details();
            compareReads(disk, model, random);
            compareExtents(disk, model);
        } finally {
            disk.close();
        }
        require(backend.isClosed(), "closing the disk did not close its backend");
        require(backend.writes() == 0, "opening, reading and closing an unchanged image wrote to it");
        return true;
    }

    /** Reads every block that has data, the first and last sector and some ranges across block boundaries. */
    private static void compareReads(VirtualDisk disk, SparseSpecModel model, SplittableRandom random)
            throws StorageException {
        long capacity = model.diskSize;
        int bs = model.blockSize;
        long budget = 8L << 20;
        for (long block = 0; block < model.blocks() && budget > 0; block++) {
            if (model.entry(block) != 0) {
                byte[] expected = model.block(block);
                budget -= expected.length;
                compareRange(disk, model, block * bs, expected.length);
            }
        }
        compareRange(disk, model, 0, (int) Math.min(512, capacity));
        compareRange(disk, model, capacity - Math.min(512, capacity), (int) Math.min(512, capacity));
        for (int i = 0; i < 8; i++) {
            int length = 1 + random.nextInt((int) Math.min(8192, capacity));
            long offset;
            if (i % 2 == 0 && model.blocks() > 1) {
                // straddle a block boundary
                long boundary = (1 + random.nextLong(model.blocks() - 1)) * bs;
                offset = Math.max(0, Math.min(capacity - length, boundary - random.nextInt(length)));
            } else {
                offset = random.nextLong(capacity - length + 1);
            }
            compareRange(disk, model, offset, length);
        }
    }

    private static void compareRange(VirtualDisk disk, SparseSpecModel model, long offset, int length)
            throws StorageException {
        if (length == 0) {
            return;
        }
        ByteBuffer got = ByteBuffer.allocate(length);
        disk.read(offset, got);
        require(!got.hasRemaining(), "a read returned short");
        byte[] expected = new byte[length];
        model.read(offset, expected);
        if (!Arrays.equals(got.array(), expected)) {
            throw new AssertionError("reading " + length + " bytes at " + offset + " differs from the table: "
                    + model);
        }
    }

    /** Walks the whole disk extent by extent and checks each against the table. */
    private static void compareExtents(VirtualDisk disk, SparseSpecModel model) throws StorageException {
        AllocationMap map = disk.capability(AllocationMap.class)
                .orElseThrow(() -> new AssertionError("a sparse disk has no AllocationMap"));
        int unit = map.allocationUnit();
        require(unit == model.blockSize, "allocation unit " + unit + " != block size " + model.blockSize);
        long capacity = model.diskSize;
        long calls = 0;
        for (long offset = 0; offset < capacity; ) {
            require(++calls <= model.blocks(), "more extents than blocks");
            Extent extent = map.extent(offset, capacity - offset);
            require(extent.offset() == offset && extent.length() > 0 && extent.end() <= capacity,
                    "extent " + extent + " asked at " + offset + " in a disk of " + capacity);
            require(extent.end() == capacity || extent.end() % unit == 0, "extent " + extent + " ends mid-block");
            long first = offset / unit;
            long entry = model.entry(first);
            require(extent.data() == (entry != 0) && extent.present() == (entry != 0),
                    "extent " + extent + " but block " + first + " has entry " + entry);
            if (entry != 0) {
                require(extent.hostOffset() == entry + offset % unit, "extent " + extent + " for entry " + entry);
            }
            for (long block = first + 1; block * unit < extent.end(); block++) {
                long e = model.entry(block);
                require(entry == 0 ? e == 0 : e == entry + (block - first) * unit,
                        "extent " + extent + " covers block " + block + " with entry " + e);
            }
            offset = extent.end();
        }
        // an extent from the middle of a block starts there and is capped by maxLength
        long middle = capacity / 2;
        Extent part = map.extent(middle, 1);
        require(part.offset() == middle && part.length() == 1, "extent(" + middle + ", 1) = " + part);
        try {
            map.extent(capacity, 1);
            throw new AssertionError("an extent at the end of the disk");
        } catch (StorageException e) {
            allow(e, Kind.OUT_OF_BOUNDS);
        }
    }

    // ---- 3: check without repair ----

    private static void checkWithoutRepair(byte[] image, SparseSpecModel model, boolean opened) throws Exception {
        ByteArrayBackend backend = ByteArrayBackend.readOnly(image);
        CheckReport report;
        try {
            report = FORMAT.check(backend, false);
        } catch (StorageException e) {
            allow(e, Kind.CORRUPT_IMAGE, Kind.UNSUPPORTED_FEATURE);
            require(model.stage != SparseSpecModel.Stage.TABLE,
                    "check threw although the header and the table can be read: " + e.getMessage() + "; " + model);
            return;
        }
        require(model.stage == SparseSpecModel.Stage.TABLE, "check read a table the model cannot: " + model);
        require((report.corruptions() == 0) == opened, "check reports " + report.corruptions()
                + " corruptions but open " + (opened ? "accepted" : "refused") + " the image; " + model);
        require(report.leaks() == model.leaks(), "check reports " + report.leaks() + " leaks, the model "
                + model.leaks() + "; " + model);
        require(report.corruptionsRepaired() == 0 && report.leaksRepaired() == 0, "check without repair repaired");
        require(report.clean() == report.problems().isEmpty(), "clean " + report.clean() + " but problems "
                + report.problems());
        require(report.totalUnits() == model.blocks() && report.imageEnd() == image.length,
                "check report " + report + " for " + model);
    }

    // ---- 4: check --repair ----

    private static void checkAndRepair(byte[] image, SparseSpecModel model) throws Exception {
        ByteArrayBackend backend = ByteArrayBackend.writable(image);
        CheckReport report;
        try {
            report = FORMAT.check(backend, true);
        } catch (StorageException e) {
            if (e.kind() == Kind.OUT_OF_BOUNDS && backend.limitHit()) {
                return; // the repaired image would be larger than the test backend may grow
            }
            allow(e, Kind.CORRUPT_IMAGE, Kind.UNSUPPORTED_FEATURE);
            // the header or the table cannot be read at all, or the base reference is damaged: then the
            // repair, which opens the image to reclaim leaks, fails on the extension and throws instead of
            // reporting, possibly after it has rewritten table entries (a known weakness of SparseCheck,
            // tolerated here; check without repair reports such an image)
            require(model.stage != SparseSpecModel.Stage.TABLE || model.extensionBad,
                    "check --repair threw on an image whose table can be read: " + e.getMessage() + "; " + model);
            return;
        }
        require(model.stage == SparseSpecModel.Stage.TABLE, "check --repair read a table the model cannot");
        require(!backend.isClosed(), "check closed the caller's backend");
        if (report.corruptions() > 0) {
            require(model.extensionBad, "a repair left " + report.corruptions() + " corruptions " + report.problems()
                    + " in an image whose base reference is sound; " + model);
            return;
        }
        require(!model.extensionBad, "a repair reports no corruption although the base reference is damaged");
        require(report.leaks() == 0, "a repair on a resizable backend left " + report.leaks() + " leaks; " + model);
        byte[] repaired = backend.contents();
        if (model.opens() && model.leaks() == 0) {
            require(backend.writes() == 0, "repairing a clean image wrote to it");
        }
        ByteArrayBackend again = ByteArrayBackend.readOnly(repaired);
        CheckReport second = FORMAT.check(again, false);
        require(second.clean(), "a repaired image is not clean: " + second + "; before: " + model
                + "; repaired: " + hex(repaired, 256));
        ByteArrayBackend reopened = ByteArrayBackend.readOnly(repaired);
        VirtualDisk disk;
        try {
            disk = FORMAT.open(reopened, OpenOptions.defaults().withReadOnly(true));
        } catch (StorageException e) {
            throw new AssertionError("a repaired image does not open: " + e.getMessage() + "; " + model, e);
        }
        try (disk) {
            AllocationMap map = disk.capability(AllocationMap.class).orElseThrow();
            int bs = model.blockSize;
            for (long block = 0; block < model.blocks(); block++) {
                long entry = model.entry(block);
                Extent extent = map.extent(block * bs, 1);
                if (entry != 0 && model.usable(entry)) {
                    require(extent.data(), "block " + block + " lost its data in the repair; " + model);
                    byte[] expected = model.block(block);
                    ByteBuffer got = ByteBuffer.allocate(expected.length);
                    disk.read(block * bs, got);
                    require(Arrays.equals(got.array(), expected), "block " + block + " reads other data after"
                            + " the repair; " + model);
                } else {
                    require(!extent.data(), "block " + block + " (entry " + entry + ") has data after the repair; "
                            + model);
                }
            }
        }
    }

    // ---- 5: write, zero a block, flush, reopen ----

    private static void writeAndReopen(byte[] image, SparseSpecModel model, SplittableRandom random)
            throws Exception {
        long capacity = model.diskSize;
        int bs = model.blockSize;
        int length = 1 + random.nextInt((int) Math.min(4096, capacity));
        long offset = random.nextLong(capacity - length + 1);
        byte[] data = new byte[length];
        random.nextBytes(data);
        data[0] |= 1; // never all zeros
        long zeroedBlock = random.nextLong(model.blocks());
        ByteArrayBackend backend = ByteArrayBackend.writable(image);
        VirtualDisk disk = FORMAT.open(backend, OpenOptions.defaults());
        try {
            disk.write(offset, ByteBuffer.wrap(data));
            // zeroing a whole block frees it
            disk.capability(WriteZeroes.class).orElseThrow().writeZeroes(zeroedBlock * bs,
                    Math.min(bs, capacity - zeroedBlock * bs));
            disk.flush();
            disk.close();
        } catch (StorageException e) {
            if (e.kind() == Kind.OUT_OF_BOUNDS && backend.limitHit()) {
                return; // a block larger than the test backend may grow
            }
            throw e;
        }
        byte[] after = backend.contents();
        CheckReport report = FORMAT.check(ByteArrayBackend.readOnly(after), false);
        require(report.corruptions() == 0, "writing to a sound image corrupted it: " + report.problems() + "; "
                + model);
        try (VirtualDisk reopened = FORMAT.open(ByteArrayBackend.readOnly(after), OpenOptions.defaults())) {
            // the zeroed block reads zeros, also where the write, which came first, reached into it
            long dStart = zeroedBlock * bs;
            byte[] expected = new byte[(int) Math.min(bs, capacity - dStart)];
            ByteBuffer got = ByteBuffer.allocate(expected.length);
            reopened.read(dStart, got);
            require(Arrays.equals(got.array(), expected), "a zeroed block does not read as zeros; " + model);
            // the written bytes outside the zeroed block read back
            ByteBuffer back = ByteBuffer.allocate(length);
            reopened.read(offset, back);
            for (int i = 0; i < length; i++) {
                long p = offset + i;
                byte want = p >= dStart && p < dStart + expected.length ? 0 : data[i];
                require(back.get(i) == want, "byte " + p + " of the write reads " + back.get(i) + " after reopening;"
                        + " " + model);
            }
            // every other block with data still reads what it did
            for (long block = 0; block < model.blocks(); block++) {
                long start = block * bs;
                long end = Math.min(capacity, start + bs);
                boolean touched = block == zeroedBlock || (offset < end && offset + length > start);
                if (!touched && model.entry(block) != 0) {
                    byte[] want = model.block(block);
                    ByteBuffer have = ByteBuffer.allocate(want.length);
                    reopened.read(start, have);
                    require(Arrays.equals(have.array(), want), "block " + block + " changed by a write elsewhere; "
                            + model);
                }
            }
        }
    }

    // ---- helpers ----

    private static void allow(StorageException e, Kind... kinds) {
        if (!List.of(kinds).contains(e.kind())) {
            throw new AssertionError("unexpected " + e.kind() + " (allowed: " + List.of(kinds) + "): " + e.getMessage(),
                    e);
        }
    }

    private static void require(boolean condition, String message) {
        if (!condition) {
            throw new AssertionError(message);
        }
    }

    private static long crc(byte[] bytes) {
        CRC32C crc = new CRC32C();
        crc.update(bytes);
        return crc.getValue();
    }

    static String hex(byte[] bytes, int max) {
        return HexFormat.of().formatHex(bytes, 0, Math.min(max, bytes.length))
                + (bytes.length > max ? "… (" + bytes.length + " bytes)" : "");
    }
}
