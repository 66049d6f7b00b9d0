package org.spindle.shell;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;

import org.apache.felix.service.command.Converter;
import org.junit.jupiter.api.Test;
import org.spindle.storage.api.DriveDTO;
import org.spindle.storage.api.DriveState;
import org.spindle.storage.api.TransferStatsDTO;

class DriveFormatTest {
    private static DriveDTO attached() {
        DriveDTO d = new DriveDTO();
        d.id = "hd0";
        d.configuration = "org.spindle.drive~hd0";
        d.backend = "file:///images/disk.img";
        d.requestedFormat = "auto";
        d.format = "raw";
        d.cache = "writeback";
        d.state = DriveState.ATTACHED;
        d.capacity = 64L << 20;
        d.sectorSize = 512;
        d.capabilities = new String[] {"resize"};
        return d;
    }

    /** What the drive manager publishes for a configuration that did not parse: id, state, failure. */
    private static DriveDTO unparsable() {
        DriveDTO d = new DriveDTO();
        d.id = "bad";
        d.configuration = "org.spindle.drive~bad";
        d.state = DriveState.FAILED;
        d.failureKind = "INVALID_CONFIG";
        d.failure = "INVALID_CONFIG: configure (org.spindle.drive~bad): field 'backend' is missing";
        return d;
    }

    @Test
    void aTableHasAHeaderAlignedColumnsAndTheFailuresBelow() {
        String table = DriveFormat.table(List.of(attached(), unparsable()));
        List<String> lines = table.lines().toList();
        assertThat(lines.get(0)).startsWith("ID").contains("STATE").contains("BACKEND");
        assertThat(lines.get(1)).startsWith("hd0").contains("ATTACHED").contains("64 MiB").contains("rw,writeback");
        assertThat(lines.get(2)).startsWith("bad").contains("FAILED");
        assertThat(lines.get(1).indexOf("ATTACHED")).isEqualTo(lines.get(2).indexOf("FAILED"));
        assertThat(lines.get(3)).isEqualTo("  bad: " + unparsable().failure);
    }

    @Test
    void linesPrintedOneByOneStillAlign() {
        String a = DriveFormat.line(attached());
        String b = DriveFormat.line(unparsable());
        assertThat(a.indexOf("ATTACHED")).isEqualTo(b.indexOf("FAILED"));
        assertThat(b).doesNotContain("null");
    }

    @Test
    void detailsShowEverythingAndTheReason() {
        assertThat(DriveFormat.details(attached())).contains("capacity       64 MiB (67108864 bytes)")
                .contains("format         raw (probed)").contains("capabilities   resize");
        assertThat(DriveFormat.details(unparsable())).contains("failure        INVALID_CONFIG")
                .doesNotContain("capacity");
    }

    @Test
    void detailsShowWhatTheNetworkCost() {
        DriveDTO d = attached();
        TransferStatsDTO t = new TransferStatsDTO();
        t.location = "https://images.example/disk.img";
        t.transport = "range";
        t.requests = 12;
        t.bytesFetched = 3L << 20;
        t.bytesRead = 2L << 20;
        t.hits = 40;
        t.misses = 3;
        t.readAheads = 1;
        t.retries = 2;
        t.persistentCapacityBytes = 1L << 30;
        t.persistentUsedBytes = 3L << 20;
        d.transfers = new TransferStatsDTO[] {t.withAmplification()};
        assertThat(DriveFormat.details(d)).contains("network        https://images.example/disk.img (range)")
                .contains("  traffic      3 MiB fetched for 2 MiB read (1.50x), 12 requests, 2 retries, 0 failures")
                .contains("  chunks       40 hits, 3 misses, 1 read ahead")
                .contains("  disk cache   3 MiB of 1 GiB (shared), 0 evictions");
        assertThat(DriveFormat.details(attached())).doesNotContain("network");
    }

    @Test
    void anEmptyListSaysSo() {
        assertThat(DriveFormat.table(List.of())).isEqualTo("no drives configured");
    }

    @Test
    void theConverterFormatsOnlyDrives() throws Exception {
        DriveConverter converter = new DriveConverter();
        assertThat(converter.format(attached(), Converter.PART, null)).isEqualTo("hd0");
        assertThat(converter.format(attached(), Converter.LINE, null).toString()).startsWith("hd0");
        assertThat(converter.format("not a drive", Converter.LINE, null)).isNull();
    }
}
