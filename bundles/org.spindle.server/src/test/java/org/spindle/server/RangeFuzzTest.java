package org.spindle.server;

import static org.assertj.core.api.Assertions.assertThat;

import com.code_intelligence.jazzer.api.FuzzedDataProvider;
import com.code_intelligence.jazzer.junit.FuzzTest;

/**
 * Fuzzes the Range header parser with any header against any size: it never throws, and a range it
 * accepts lies inside the representation.
 */
class RangeFuzzTest {
    @FuzzTest(maxDuration = "30s")
    void fuzzRange(FuzzedDataProvider data) {
        long size = data.consumeLong(0, Long.MAX_VALUE);
        String header = data.consumeRemainingAsString();
        ByteRange range = ByteRange.parse(header, size);
        if (range instanceof ByteRange.Single s) {
            assertThat(s.first()).isBetween(0L, size - 1);
            assertThat(s.last()).isBetween(s.first(), size - 1);
            assertThat(s.size()).isEqualTo(size);
        }
    }
}
