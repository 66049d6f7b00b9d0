package org.spindle.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class SpindleImgTest {
    @TempDir
    Path dir;

    private final StringWriter out = new StringWriter();
    private final StringWriter err = new StringWriter();

    private int run(String... args) {
        return SpindleImg.run(new PrintWriter(out, true), new PrintWriter(err, true), args);
    }

    @Test
    void infoDescribesARawImage() throws Exception {
        Path image = dir.resolve("disk.img");
        try (var f = new java.io.RandomAccessFile(image.toFile(), "rw")) {
            f.setLength(64L << 20);
        }
        assertThat(run("info", image.toString())).isZero();
        assertThat(out.toString()).contains("format:       raw (probed)")
                .contains("virtual size: 64 MiB (67108864 bytes)").contains("131072 sectors")
                .contains("capabilities: none");
    }

    @Test
    void infoJsonIsOneObjectWithEscapedStrings() throws Exception {
        Path image = Files.write(dir.resolve("we\"ird.img"), new byte[1536]);
        assertThat(run("info", "--json", image.toString())).isZero();
        assertThat(out.toString().strip()).startsWith("{\"filename\": \"").endsWith("}")
                .contains("we\\\"ird.img").contains("\"format\": \"raw\"").contains("\"virtual-size\": 1536")
                .contains("\"logical-sector-size\": 512").contains("\"probed\": true")
                .contains("\"capabilities\": []");
    }

    @Test
    void aMissingImageIsOneClearLineAndStatusOne() {
        Path missing = dir.resolve("missing.img");
        assertThat(run("info", missing.toString())).isEqualTo(1);
        assertThat(err.toString().strip()).startsWith("spindle img: NOT_FOUND: open").contains("missing.img")
                .doesNotContain("Exception").hasLineCount(1);
    }

    @Test
    void anUnknownFormatNamesTheInstalledOnes() throws Exception {
        Path image = Files.write(dir.resolve("a.img"), new byte[512]);
        assertThat(run("info", "-f", "vdi", image.toString())).isEqualTo(1);
        assertThat(err.toString()).contains("'vdi' is not installed").contains("installed: chunked, iso, qcow2, raw, sparse, vhd, vhdx, vmdk");
    }

    @Test
    void aMemoryUriWorksToo() {
        assertThat(run("info", "memory:?size=1M")).isEqualTo(1);
        assertThat(err.toString()).contains("read-only");
    }

    @Test
    void badUsageIsStatusTwoWithHelp() {
        assertThat(run("info")).isEqualTo(2);
        assertThat(err.toString()).contains("Missing required parameter: 'IMAGE'");
    }
}
