package org.spindle.backend.http;

import static org.assertj.core.api.Assertions.assertThat;

import java.net.http.HttpHeaders;
import java.util.List;
import java.util.Map;

import org.junit.jupiter.api.Test;

/** Which validator pins an image's version: a strong ETag, else a date only when it is strong. */
class RemoteImageTest {
    private static HttpHeaders headers(String... pairs) {
        Map<String, List<String>> map = new java.util.LinkedHashMap<>();
        for (int i = 0; i < pairs.length; i += 2) {
            map.put(pairs[i], List.of(pairs[i + 1]));
        }
        return HttpHeaders.of(map, (a, b) -> true);
    }

    @Test
    void aStrongEtagPinsTheVersionAndAWeakOneIsIgnored() {
        RemoteImage strong = RemoteImage.of(10, headers("ETag", "\"v1\"", "Last-Modified", "Sun, 01 Nov 2026 08:00:00 GMT"));
        assertThat(strong.ifRange()).contains("\"v1\"");
        assertThat(strong.validator()).contains("etag:\"v1\"");
        RemoteImage weak = RemoteImage.of(10, headers("ETag", "W/\"v1\""));
        assertThat(weak.ifRange()).isEmpty();
        assertThat(weak.validator()).isEmpty();
    }

    @Test
    void aDateIsUsedOnlyWhenTheServersClockIsAtLeastASecondPastIt() {
        RemoteImage old = RemoteImage.of(10, headers("Last-Modified", "Sun, 01 Nov 2026 08:00:00 GMT",
                "Date", "Wed, 25 Nov 2026 12:00:00 GMT"));
        assertThat(old.ifRange()).contains("Sun, 01 Nov 2026 08:00:00 GMT");
        assertThat(old.validator()).contains("last-modified:Sun, 01 Nov 2026 08:00:00 GMT");
        // modified in the second the response was made: another write in that second would keep the date
        RemoteImage fresh = RemoteImage.of(10, headers("Last-Modified", "Wed, 25 Nov 2026 12:00:00 GMT",
                "Date", "Wed, 25 Nov 2026 12:00:00 GMT"));
        assertThat(fresh.ifRange()).isEmpty();
        assertThat(fresh.validator()).isEmpty();
        RemoteImage undated = RemoteImage.of(10, headers("Last-Modified", "Sun, 01 Nov 2026 08:00:00 GMT"));
        assertThat(undated.ifRange()).isEmpty();
        assertThat(undated.validator()).isEmpty();
        // a changed date is still noticed
        assertThat(fresh.changeIn(headers("Last-Modified", "Wed, 25 Nov 2026 12:00:01 GMT"))).isPresent();
    }
}
