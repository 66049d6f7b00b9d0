package org.spindle.storage.api;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatIllegalArgumentException;

import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.constraints.LongRange;
import org.junit.jupiter.api.Test;

class ByteSizeTest {
    @Test
    void parsesBinaryUnitsInEveryCommonSpelling() {
        assertThat(ByteSize.parse("512")).isEqualTo(512);
        assertThat(ByteSize.parse("512B")).isEqualTo(512);
        assertThat(ByteSize.parse("64K")).isEqualTo(65536);
        assertThat(ByteSize.parse("64kib")).isEqualTo(65536);
        assertThat(ByteSize.parse(" 10 MiB ")).isEqualTo(10L << 20);
        assertThat(ByteSize.parse("2G")).isEqualTo(2L << 30);
        assertThat(ByteSize.parse("1.5GB")).isEqualTo(3L << 29);
        assertThat(ByteSize.parse("1T")).isEqualTo(1L << 40);
    }

    @Test
    void refusesWhatIsNotASizeNamingTheValue() {
        assertThatIllegalArgumentException().isThrownBy(() -> ByteSize.parse("lots")).withMessageContaining("'lots'");
        assertThatIllegalArgumentException().isThrownBy(() -> ByteSize.parse("-1"));
        assertThatIllegalArgumentException().isThrownBy(() -> ByteSize.parse("512iB"));
        assertThatIllegalArgumentException().isThrownBy(() -> ByteSize.parse("9E")).withMessageContaining("out of range");
        assertThatIllegalArgumentException().isThrownBy(() -> ByteSize.parse("99999999999999999999"));
    }

    @Test
    void formatsForPeople() {
        assertThat(ByteSize.format(512)).isEqualTo("512 B");
        assertThat(ByteSize.format(64L << 20)).isEqualTo("64 MiB");
        assertThat(ByteSize.format(3L << 29)).isEqualTo("1.5 GiB");
    }

    @Property
    void aFormattedSizeParsesBackWithinItsRounding(@ForAll @LongRange(min = 0, max = 1L << 50) long bytes) {
        long back = ByteSize.parse(ByteSize.format(bytes).replace(" ", ""));
        // three significant digits: off by at most half a unit in the third digit
        assertThat((double) Math.abs(back - bytes)).isLessThanOrEqualTo(bytes * 0.005 + 1);
    }

    @Property
    void wholeMebibytesBelowAGibibyteAreExact(@ForAll @LongRange(min = 0, max = 1023) long mebibytes) {
        assertThat(ByteSize.parse(ByteSize.format(mebibytes << 20).replace(" ", ""))).isEqualTo(mebibytes << 20);
    }
}
