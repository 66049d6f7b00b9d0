package org.spindle.format.sparse;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.net.URISyntaxException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;

import org.junit.jupiter.api.Test;

/**
 * Keeps the seed corpus of {@link SparseParserFuzzTest} honest: each seed is what its name says
 * (so every kind of image the parser must handle is in the corpus), and {@link SparseSpecModel},
 * the fuzz test's oracle, classifies the seeds as their names say.
 */
class SparseSeedCorpusTest {
    private static List<Path> seeds() throws IOException, URISyntaxException {
        Path dir = Path.of(SparseSeedCorpusTest.class.getResource("SparseParserFuzzTestInputs/fuzzImage").toURI());
        try (Stream<Path> files = Files.list(dir)) {
            return files.sorted().toList();
        }
    }

    @Test
    void everySeedIsWhatItsNameSays() throws Exception {
        List<Path> seeds = seeds();
        assertThat(seeds).extracting(p -> p.getFileName().toString().replaceFirst("-.*", ""))
                .contains("valid", "leak", "corrupt", "header", "extension");
        for (Path seed : seeds) {
            String name = seed.getFileName().toString();
            SparseSpecModel model = SparseSpecModel.of(Files.readAllBytes(seed));
            if (name.startsWith("valid-")) {
                assertThat(model.opens()).as(name + ": " + model).isTrue();
                assertThat(model.leaks()).as(name).isZero();
            } else if (name.startsWith("leak-")) {
                assertThat(model.opens()).as(name + ": " + model).isTrue();
                assertThat(model.leaks()).as(name).isPositive();
            } else if (name.startsWith("corrupt-")) {
                assertThat(model.stage).as(name).isEqualTo(SparseSpecModel.Stage.TABLE);
                assertThat(model.corruptEntries).as(name + ": " + model).isPositive();
            } else if (name.startsWith("header-")) {
                assertThat(model.stage).as(name).isNotEqualTo(SparseSpecModel.Stage.TABLE);
            } else if (name.startsWith("extension-")) {
                assertThat(model.extensionBad).as(name + ": " + model).isTrue();
            }
            // crash-* and other files Jazzer adds are regression inputs of any kind
        }
    }

    @Test
    void theGeneratorStillMakesImagesOfEveryKind() throws Exception {
        // the generator runs against the current format: its images must still be what they are named
        SparseSeedCorpus.seeds().forEach((name, bytes) -> {
            SparseSpecModel model = SparseSpecModel.of(bytes);
            if (name.startsWith("valid-") || name.startsWith("leak-")) {
                assertThat(model.opens()).as(name + ": " + model).isTrue();
            } else {
                assertThat(model.opens()).as(name + ": " + model).isFalse();
            }
        });
    }
}
