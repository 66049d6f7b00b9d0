package org.spindle.format.vhd;

import java.util.SplittableRandom;

import com.code_intelligence.jazzer.junit.FuzzTest;

import org.spindle.storage.api.StorageException;
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

    @FuzzTest(maxDuration = "30s")
    void fuzzImage(byte[] image) throws Exception {
        if (image == null || image.length > (1 << 20)) {
            return;
        }
        FormatFuzz.exercise(FORMAT, image, new SplittableRandom(image.length * 17L));
    }
}
