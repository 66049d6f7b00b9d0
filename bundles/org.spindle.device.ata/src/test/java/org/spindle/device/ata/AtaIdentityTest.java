package org.spindle.device.ata;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.Map;

import org.junit.jupiter.api.Test;

class AtaIdentityTest {
    @Test
    void aPlaceTakesItsSerialFirmwareAndModelFromConfiguration() {
        AtaIdentity id = AtaIdentity.disk("hd0").configured("port.2", Map.of("port.2.serial", "testdisk",
                "port.2.firmware", "version", "port.3.model", "not this place's"));
        assertThat(id).isEqualTo(new AtaIdentity("Spindle ATA Disk", "testdisk", "version"));
        assertThat(AtaIdentity.cdrom("cd").configured("primary.slave", Map.of("primary.slave.model", "QEMU DVD-ROM")))
                .isEqualTo(new AtaIdentity("QEMU DVD-ROM", "cd", "1.0"));
    }

    @Test
    void aValueThatCannotBeAnIdentifyStringIsNamed() {
        assertThatThrownBy(() -> AtaIdentity.disk("hd0").configured("primary.master",
                Map.of("primary.master.serial", "012345678901234567890")))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("primary.master").hasMessageContaining("serial").hasMessageContaining("longer than 20");
        assertThatThrownBy(() -> AtaIdentity.disk("hd0").configured("port.0", Map.of("port.0.firmware", "v\u00e9")))
                .hasMessageContaining("port.0").hasMessageContaining("not printable ASCII");
    }
}
