package org.spindle.format.chunked;

import static org.assertj.core.api.Assertions.assertThat;

import com.code_intelligence.jazzer.junit.FuzzTest;

/**
 * Fuzzes the manifest parser: any bytes either give a manifest that keeps the format's rules (and
 * reads back as itself from its own JSON) or fail with {@link IllegalArgumentException}; nothing else
 * escapes, and nothing is allocated beyond the limits.
 */
class ManifestFuzzTest {
    @FuzzTest(maxDuration = "30s")
    void fuzzManifest(byte[] json) {
        if (json == null) {
            return;
        }
        ChunkedManifest m;
        try {
            m = ChunkedManifest.parse(json);
        } catch (IllegalArgumentException e) {
            return;
        }
        assertThat(m.chunkCount()).isBetween(1, ChunkedManifest.MAX_CHUNKS);
        assertThat((long) m.chunkCount() * m.chunkSize()).isGreaterThanOrEqualTo(m.totalSize());
        assertThat(m.chunkLength(m.chunkCount() - 1)).isPositive();
        assertThat(ChunkedManifest.parse(m.toJson())).isEqualTo(m);
    }
}
