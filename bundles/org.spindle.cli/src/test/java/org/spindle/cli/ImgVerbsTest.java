package org.spindle.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.io.PrintWriter;
import java.io.RandomAccessFile;
import java.io.StringWriter;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.SplittableRandom;

import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Every {@code img} verb: what it does, and how it fails (one clear line, non-zero status, nothing written). */
class ImgVerbsTest {
    @TempDir
    Path dir;

    private StringWriter out;
    private StringWriter err;

    @BeforeEach
    void streams() {
        out = new StringWriter();
        err = new StringWriter();
    }

    private int run(String... args) {
        out.getBuffer().setLength(0);
        err.getBuffer().setLength(0);
        return SpindleImg.run(new PrintWriter(out, true), new PrintWriter(err, true), args);
    }

    private String path(String name) {
        return dir.resolve(name).toString();
    }

    /** A raw image of {@code size} bytes with random data in a few places and holes elsewhere. */
    private Path rawWithData(String name, long size, long seed) throws IOException {
        Path file = dir.resolve(name);
        SplittableRandom random = new SplittableRandom(seed);
        try (RandomAccessFile f = new RandomAccessFile(file.toFile(), "rw")) {
            f.setLength(size);
            for (long at = 0; at + 512 + 4096 < size; at += size / 8) {
                byte[] data = new byte[3 * 4096 + 100];
                random.nextBytes(data);
                f.seek(at + 512);
                f.write(data, 0, (int) Math.min(data.length, size - at - 512));
            }
        }
        return file;
    }

    private void assertOneLineError(String... words) {
        assertThat(err.toString().strip()).startsWith("spindle img: ").doesNotContain("Exception").hasLineCount(1)
                .contains(words);
    }

    // ---- create

    @Test
    void createMakesASparseImageWithOptions() throws Exception {
        assertThat(run("create", "-f", "sparse", "-o", "block_size=64K", path("a.sparse"), "10M")).isZero();
        assertThat(out.toString()).contains("Formatting '" + path("a.sparse") + "', fmt=sparse size=10485760");
        assertThat(run("info", "--json", path("a.sparse"))).isZero();
        assertThat(out.toString()).contains("\"block-size\": 65536").contains("\"virtual-size\": 10485760");
    }

    @Test
    void createRefusesAnExistingFileAndLeavesItAlone() throws Exception {
        Path existing = Files.write(dir.resolve("keep.img"), new byte[] {1, 2, 3});
        assertThat(run("create", existing.toString(), "1M")).isEqualTo(1);
        assertOneLineError("ALREADY_EXISTS");
        assertThat(Files.readAllBytes(existing)).containsExactly(1, 2, 3);
    }

    @Test
    void createWithBadArgumentsWritesNothing() throws Exception {
        assertThat(run("create", "-f", "sparse", "-o", "block_size=3000", path("bad.sparse"), "1M")).isEqualTo(1);
        assertOneLineError("INVALID_CONFIG", "power of two");
        assertThat(run("create", path("bad.img"), "ten")).isEqualTo(1);
        assertOneLineError("not a size");
        assertThat(run("create", "-f", "sparse", "-o", "colour=red", path("bad.sparse"), "1M")).isEqualTo(1);
        assertOneLineError("unknown sparse option 'colour'");
        assertThat(run("create", "-f", "nosuch", path("bad.img"), "1M")).isEqualTo(1);
        assertOneLineError("'nosuch' is not installed");
        assertThat(run("create", path("bad.img"))).isEqualTo(1);
        assertOneLineError("give a SIZE");
        assertThat(run("create", "-b", path("missing.img"), path("bad.sparse"))).isEqualTo(1);
        assertOneLineError("NOT_FOUND");
        assertThat(run("create", "--sector-size", "1024", path("bad.img"), "1M")).isEqualTo(1);
        assertOneLineError("--sector-size");
        rawWithData("b.img", 4096, 1);
        assertThat(run("create", "-b", path("b.img"), path("raw-overlay.img"))).as("raw cannot be an overlay").isEqualTo(1);
        assertOneLineError("cannot record a base");
        Files.delete(dir.resolve("b.img"));
        assertThat(run("create", "--sector-size", "1024", path("bad.img"), "1M")).isEqualTo(1);
        assertOneLineError("--sector-size");
        assertThat(dir.toFile().list()).isEmpty();
    }

    @Test
    void createWithABaseTakesItsSizeAndInfoShowsTheChain() throws Exception {
        rawWithData("base.img", 1 << 20, 1);
        assertThat(run("create", "-f", "sparse", "-b", "base.img", "-F", "raw", path("top.sparse"))).isZero();
        assertThat(out.toString()).contains("size=1048576 backing_file=base.img backing_fmt=raw");
        assertThat(run("info", path("top.sparse"))).isZero();
        assertThat(out.toString()).contains("backing file: " + path("base.img"));
        assertThat(run("info", "--json", path("top.sparse"))).isZero();
        assertThat(out.toString()).contains("\"backing-filename\": \"base.img\"")
                .contains("\"full-backing-filename\": \"" + path("base.img") + "\"");
        assertThat(run("compare", path("top.sparse"), path("base.img"))).isZero();
    }

    // ---- convert

    @Test
    void convertCopiesOnlyDataAndRoundTrips() throws Exception {
        Path raw = rawWithData("disk.img", 8 << 20, 2);
        assertThat(run("convert", "-O", "sparse", "-o", "block_size=64K", raw.toString(), path("disk.sparse"))).isZero();
        assertThat(run("compare", raw.toString(), path("disk.sparse"))).isZero();
        assertThat(out.toString()).contains("Images are identical.");
        // eight runs of data in 64 KiB blocks: 8 blocks, not 128
        assertThat(run("info", "--json", path("disk.sparse"))).isZero();
        assertThat(out.toString()).contains("\"allocated-blocks\": 8");
        assertThat(run("convert", "-O", "raw", path("disk.sparse"), path("back.img"))).isZero();
        assertThat(Files.readAllBytes(dir.resolve("back.img"))).isEqualTo(Files.readAllBytes(raw));
        assertThat(Files.size(dir.resolve("back.img"))).isEqualTo(8 << 20);
    }

    @Test
    void convertOfAnOverlayExportsTheMergedImage() throws Exception {
        Path base = rawWithData("base.img", 1 << 20, 3);
        assertThat(run("create", "-f", "sparse", "-o", "block_size=4K", "-b", "base.img", path("top.sparse"))).isZero();
        assertThat(run("convert", "-O", "raw", path("top.sparse"), path("merged.img"))).isZero();
        assertThat(Files.readAllBytes(dir.resolve("merged.img"))).isEqualTo(Files.readAllBytes(base));
    }

    @Test
    void convertShowsProgressWhenAsked() throws Exception {
        Path raw = rawWithData("p.img", 4 << 20, 4);
        assertThat(run("convert", "-p", raw.toString(), path("p2.img"))).isZero();
        assertThat(out.toString()).contains("100.0%").contains("\r");
        assertThat(run("convert", raw.toString(), path("p3.img"))).isZero();
        assertThat(out.toString()).isEmpty();
    }

    @Test
    void aFailedConvertLeavesNoOutput() throws Exception {
        Path raw = rawWithData("odd.img", (1 << 20) + 100, 5);
        // a sparse image must be a whole number of 512-byte sectors: creation fails, nothing is left
        assertThat(run("convert", "-O", "sparse", raw.toString(), path("odd.sparse"))).isEqualTo(1);
        assertOneLineError("INVALID_CONFIG");
        assertThat(dir.resolve("odd.sparse")).doesNotExist();
        assertThat(run("convert", path("missing.img"), path("out.img"))).isEqualTo(1);
        assertOneLineError("NOT_FOUND", "missing.img");
        assertThat(dir.resolve("out.img")).doesNotExist();
        assertThat(run("convert", raw.toString())).isEqualTo(2);
        assertThat(err.toString()).contains("Missing required parameter");
    }

    @Test
    void aDirectoryIsNoImage() throws Exception {
        Path folder = Files.createDirectory(dir.resolve("folder.img"));
        for (String verb : new String[] {"info", "check", "map"}) {
            assertThat(run(verb, folder.toString())).as(verb).isEqualTo(1);
            assertOneLineError(folder.toString());
        }
        assertThat(run("convert", folder.toString(), path("copy.img"))).isEqualTo(1);
        assertOneLineError(folder.toString());
        assertThat(dir.resolve("copy.img")).doesNotExist();
    }

    @Test
    void convertRefusesAnUnreadableSource() throws Exception {
        Path raw = rawWithData("secret.img", 1 << 20, 6);
        org.junit.jupiter.api.Assumptions.assumeFalse("root".equals(System.getProperty("user.name")),
                "root reads any file; the permission case is covered by the backend's own tests");
        raw.toFile().setReadable(false);
        assertThat(run("convert", raw.toString(), path("copy.img"))).isEqualTo(1);
        assertOneLineError("ACCESS_DENIED");
        assertThat(dir.resolve("copy.img")).doesNotExist();
    }

    // ---- check

    @Test
    void checkReportsACleanImage() throws Exception {
        assertThat(run("create", "-f", "sparse", path("c.sparse"), "4M")).isZero();
        assertThat(run("check", path("c.sparse"))).isZero();
        assertThat(out.toString()).contains("No errors were found on the image.").contains("0/4 = 0.00% allocated");
        assertThat(run("check", "--json", path("c.sparse"))).isZero();
        assertThat(out.toString()).contains("\"check-errors\": 0").contains("\"leaks\": 0");
    }

    @Test
    void checkFindsCorruptionAndRepairFixesIt() throws Exception {
        Path raw = rawWithData("d.img", 1 << 20, 7);
        assertThat(run("convert", "-O", "sparse", "-o", "block_size=4K", raw.toString(), path("d.sparse"))).isZero();
        byte[] before = Files.readAllBytes(dir.resolve("d.sparse"));
        // point block 200 at block 1's data slot: two blocks share storage
        ByteBuffer file = ByteBuffer.wrap(before.clone()).order(ByteOrder.LITTLE_ENDIAN);
        long slotOfBlock0 = file.getLong(64);
        file.putLong(64 + 200 * 8, slotOfBlock0);
        Files.write(dir.resolve("d.sparse"), file.array());
        assertThat(run("check", path("d.sparse"))).isEqualTo(CheckCommand.CORRUPT);
        assertThat(out.toString()).contains("block 200 shares data slot").contains("1 errors were found");
        assertThat(run("info", path("d.sparse"))).isEqualTo(1);
        assertOneLineError("CORRUPT_IMAGE", "check --repair");
        assertThat(run("check", "-r", "leaks", path("d.sparse"))).isEqualTo(CheckCommand.CORRUPT);
        assertThat(run("check", "--repair", path("d.sparse"))).isZero();
        assertThat(out.toString()).contains("Repaired: 1 corruptions").contains("No errors were found");
        assertThat(run("check", path("d.sparse"))).isZero();
    }

    @Test
    void checkReportsLeaksWithItsOwnStatus() throws Exception {
        Path raw = rawWithData("l.img", 1 << 20, 8);
        assertThat(run("convert", "-O", "sparse", "-o", "block_size=4K", raw.toString(), path("l.sparse"))).isZero();
        ByteBuffer file = ByteBuffer.wrap(Files.readAllBytes(dir.resolve("l.sparse"))).order(ByteOrder.LITTLE_ENDIAN);
        int block = 0;
        while (file.getLong(64 + block * 8) == 0) {
            block++;
        }
        file.putLong(64 + block * 8, 0);
        Files.write(dir.resolve("l.sparse"), file.array());
        assertThat(run("check", path("l.sparse"))).isEqualTo(CheckCommand.LEAKS);
        assertThat(out.toString()).contains("1 leaked blocks");
        assertThat(run("check", "-r", "leaks", path("l.sparse"))).isZero();
        assertThat(run("check", path("l.sparse"))).isZero();
    }

    @Test
    void checkOfAFormatWithoutMetadataIs63() throws Exception {
        rawWithData("r.img", 1 << 20, 9);
        assertThat(run("check", path("r.img"))).isEqualTo(CheckCommand.NOT_SUPPORTED);
        assertThat(err.toString()).contains("no metadata to check");
        assertThat(run("check", "-r", "sometimes", path("r.img"))).isEqualTo(1);
        assertOneLineError("-r takes leaks or all");
        assertThat(run("check", "--repair", path("r.img"))).isEqualTo(CheckCommand.NOT_SUPPORTED);
    }

    @Test
    void checkOfAMissingOrTruncatedImageFailsCleanly() throws Exception {
        assertThat(run("check", path("none.sparse"))).isEqualTo(1);
        assertOneLineError("NOT_FOUND");
        assertThat(run("create", "-f", "sparse", path("t.sparse"), "4M")).isZero();
        byte[] all = Files.readAllBytes(dir.resolve("t.sparse"));
        Files.write(dir.resolve("t.sparse"), Arrays.copyOf(all, 30));
        assertThat(run("check", path("t.sparse"))).isEqualTo(1);
        assertOneLineError("CORRUPT_IMAGE", "shorter than the 64-byte header");
        assertThat(Files.size(dir.resolve("t.sparse"))).isEqualTo(30);
    }

    // ---- chunk

    @Test
    void chunkPublishesAnImageThatReadsBackAsTheSameDisk() throws IOException {
        Path raw = rawWithData("disk.img", 3 * 1024 * 1024 + 1024, 21);
        assertThat(run("convert", "-O", "qcow2", raw.toString(), path("disk.qcow2"))).isZero();
        assertThat(run("chunk", "-s", "1M", "--id", "win7", path("disk.qcow2"), path("pub"))).as(err.toString()).isZero();
        assertThat(out.toString()).contains("manifest.json: 4 chunks of 1 MiB", "version sha256-");
        assertThat(dir.resolve("pub/chunks/00000003.bin")).hasSize(1024);
        assertThat(run("info", path("pub/manifest.json"))).isZero();
        assertThat(out.toString()).contains("chunked", "win7");
        assertThat(run("compare", raw.toString(), path("pub/manifest.json"))).as(out + err.toString()).isZero();
        assertThat(run("convert", path("pub/manifest.json"), path("back.img"))).isZero();
        assertThat(Files.readAllBytes(dir.resolve("back.img"))).isEqualTo(Files.readAllBytes(raw));
    }

    @Test
    void chunkRefusesABadChunkSizeAndAnExistingManifestWithOneLine() throws IOException {
        Path raw = rawWithData("disk.img", 1024 * 1024, 22);
        assertThat(run("chunk", "-s", "1000", raw.toString(), path("pub"))).isNotZero();
        assertOneLineError("multiple of 512");
        assertThat(run("chunk", "-s", "128M", raw.toString(), path("pub"))).isNotZero();
        assertOneLineError("64M");
        assertThat(run("chunk", raw.toString(), path("pub"))).isZero();
        assertThat(run("chunk", raw.toString(), path("pub"))).isNotZero();
        assertOneLineError("already holds a chunked image");
    }

    // ---- compare

    @Test
    void compareFindsTheFirstDifferenceAcrossFormats() throws Exception {
        Path raw = rawWithData("x.img", 1 << 20, 10);
        assertThat(run("convert", "-O", "sparse", raw.toString(), path("x.sparse"))).isZero();
        try (RandomAccessFile f = new RandomAccessFile(raw.toFile(), "rw")) {
            f.seek(700_001);
            f.write(0x5A);
        }
        assertThat(run("compare", raw.toString(), path("x.sparse"))).isEqualTo(CompareCommand.DIFFERENT);
        assertThat(out.toString()).contains("Content mismatch at offset 700001!");
    }

    @Test
    void compareTreatsExtraZerosAsEqualUnlessStrict() throws Exception {
        Path small = rawWithData("s.img", 1 << 20, 11);
        Path big = dir.resolve("b.img");
        Files.copy(small, big);
        try (RandomAccessFile f = new RandomAccessFile(big.toFile(), "rw")) {
            f.setLength(2 << 20);
        }
        assertThat(run("compare", small.toString(), big.toString())).isZero();
        assertThat(out.toString()).contains("differ in size").contains("Images are identical.");
        assertThat(run("compare", "--strict", small.toString(), big.toString())).isEqualTo(CompareCommand.DIFFERENT);
        assertThat(run("compare", small.toString(), path("nothing.img"))).isEqualTo(CompareCommand.ERROR);
        assertOneLineError("NOT_FOUND");
    }

    // ---- map

    @Test
    void mapJsonListsEveryExtentWithQemuFields() throws Exception {
        assertThat(run("create", "-f", "sparse", "-o", "block_size=4K", path("m.sparse"), "64K")).isZero();
        Path raw = dir.resolve("m.img");
        byte[] data = new byte[64 * 1024];
        Arrays.fill(data, 8192, 16384, (byte) 1);
        Files.write(raw, data);
        Files.delete(dir.resolve("m.sparse"));
        assertThat(run("convert", "-O", "sparse", "-o", "block_size=4K", raw.toString(), path("m.sparse"))).isZero();
        assertThat(run("map", "--json", path("m.sparse"))).isZero();
        assertThat(out.toString().lines()).containsExactly(
                "[",
                "{\"start\": 0, \"length\": 8192, \"depth\": 0, \"present\": false, \"zero\": true, \"data\": false},",
                "{\"start\": 8192, \"length\": 8192, \"depth\": 0, \"present\": true, \"zero\": false, \"data\": true, \"offset\": 4096},",
                "{\"start\": 16384, \"length\": 49152, \"depth\": 0, \"present\": false, \"zero\": true, \"data\": false}",
                "]");
        assertThat(run("map", path("m.sparse"))).isZero();
        assertThat(out.toString()).contains("0x2000").contains("0x1000").contains(path("m.sparse"));
        assertThat(run("map", "--json", path("none.sparse"))).isEqualTo(1);
        assertOneLineError("NOT_FOUND");
    }

    // ---- commit

    @Test
    void commitWritesTheOverlayIntoItsBaseAndEmptiesIt() throws Exception {
        Path base = rawWithData("cb.img", 1 << 20, 12);
        assertThat(run("create", "-f", "sparse", "-o", "block_size=4K", "-b", "cb.img", "-F", "raw",
                path("ct.sparse"))).isZero();
        // write through a raw view of the merged chain: convert a changed copy back is awkward, so
        // change the overlay with the library and check the tool's commit
        byte[] expected = Files.readAllBytes(base);
        try (var disk = new org.spindle.storage.core.DiskOpener(
                org.spindle.storage.core.ServiceLoaderRegistry.load(getClass().getClassLoader()))
                .open(dir.resolve("ct.sparse").toUri(), "auto", org.spindle.storage.api.OpenOptions.defaults()).disk()) {
            byte[] patch = new byte[5000];
            Arrays.fill(patch, (byte) 0x77);
            disk.write(10_000, ByteBuffer.wrap(patch));
            System.arraycopy(patch, 0, expected, 10_000, patch.length);
        }
        assertThat(Files.readAllBytes(base)).isNotEqualTo(expected);
        assertThat(run("commit", path("ct.sparse"))).isZero();
        assertThat(out.toString()).contains("Image committed into " + base);
        assertThat(Files.readAllBytes(base)).isEqualTo(expected);
        assertThat(run("info", "--json", path("ct.sparse"))).isZero();
        assertThat(out.toString()).contains("\"allocated-blocks\": 0");
        assertThat(run("compare", path("ct.sparse"), base.toString())).isZero();
    }

    @Test
    void commitOfAnImageWithoutBaseFails() throws Exception {
        rawWithData("nb.img", 1 << 20, 13);
        assertThat(run("commit", path("nb.img"))).isEqualTo(1);
        assertOneLineError("names no base");
    }

    // ---- resize

    @Test
    void resizeWorksOnSparseImagesToo() throws Exception {
        assertThat(run("create", "-f", "sparse", "-o", "block_size=64K", path("g.sparse"), "1M")).isZero();
        assertThat(run("resize", path("g.sparse"), "+3M")).isZero();
        assertThat(run("info", "--json", path("g.sparse"))).isZero();
        assertThat(out.toString()).contains("\"virtual-size\": 4194304");
        assertThat(run("check", path("g.sparse"))).isZero();
    }

    @Test
    void resizeGrowsAndShrinksOnlyWhenAsked() throws Exception {
        rawWithData("z.img", 1 << 20, 14);
        assertThat(run("resize", path("z.img"), "+1M")).isZero();
        assertThat(Files.size(dir.resolve("z.img"))).isEqualTo(2 << 20);
        assertThat(run("resize", path("z.img"), "1M")).isEqualTo(1);
        assertOneLineError("add --shrink");
        assertThat(Files.size(dir.resolve("z.img"))).isEqualTo(2 << 20);
        assertThat(run("resize", "--shrink", path("z.img"), "-1M")).isZero();
        assertThat(Files.size(dir.resolve("z.img"))).isEqualTo(1 << 20);
        assertThat(run("resize", path("z.img"), "-5M")).isEqualTo(1);
        assertOneLineError("cannot shrink by 5M");
        assertThat(run("resize", path("z.img"), "1000")).isEqualTo(1);
        assertOneLineError("add --shrink");
    }
}
