package org.spindle.storage.core.internal;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatExceptionOfType;

import java.util.Hashtable;
import java.util.Map;

import org.junit.jupiter.api.Test;
import org.spindle.storage.api.CacheMode;
import org.spindle.storage.api.DriveSpecDTO;
import org.spindle.storage.api.StorageException;
import org.spindle.storage.api.StorageException.Kind;

class DriveConfigTest {
    private static Hashtable<String, Object> props(Map<String, Object> map) {
        return new Hashtable<>(map);
    }

    private static void invalid(Map<String, Object> map, String field, String detail) {
        assertThatExceptionOfType(StorageException.class)
                .isThrownBy(() -> DriveConfig.parse("org.spindle.drive~hd0", props(map)))
                .satisfies(e -> assertThat(e.kind()).isEqualTo(Kind.INVALID_CONFIG))
                .withMessageContaining("field '" + field + "'").withMessageContaining(detail)
                .withMessageContaining("org.spindle.drive~hd0");
    }

    @Test
    void defaultsFillEverythingButTheBackend() throws StorageException {
        DriveConfig c = DriveConfig.parse("org.spindle.drive~hd0", props(Map.of("backend", "memory:x?size=1M")));
        assertThat(c.id()).isEqualTo("hd0");
        assertThat(c.format()).isEqualTo("auto");
        assertThat(c.readOnly()).isFalse();
        assertThat(c.cache()).isEqualTo(CacheMode.WRITEBACK);
        assertThat(c.sectorSize()).isZero();
    }

    @Test
    void stringValuesFromCfgFilesAreAccepted() throws StorageException {
        DriveConfig c = DriveConfig.parse("org.spindle.drive~x", props(Map.of("id", "cd0", "backend", "/isos/a.iso",
                "format", "RAW", "readOnly", "true", "cache", "WriteThrough", "sectorSize", "4096")));
        assertThat(c.id()).isEqualTo("cd0");
        assertThat(c.backend().toString()).isEqualTo("file:///isos/a.iso");
        assertThat(c.format()).isEqualTo("raw");
        assertThat(c.readOnly()).isTrue();
        assertThat(c.cache()).isEqualTo(CacheMode.WRITETHROUGH);
        assertThat(c.sectorSize()).isEqualTo(4096);
    }

    @Test
    void eachBadFieldIsNamed() {
        invalid(Map.of(), "backend", "is missing");
        invalid(Map.of("backend", "x", "id", "bad id"), "id", "'bad id'");
        invalid(Map.of("backend", "x", "readOnly", "maybe"), "readOnly", "'maybe'");
        invalid(Map.of("backend", "x", "cache", "fast"), "cache", "'fast'");
        invalid(Map.of("backend", "x", "sectorSize", 1024), "sectorSize", "1024");
        invalid(Map.of("backend", "x", "sectorSize", "big"), "sectorSize", "'big'");
        invalid(Map.of("backend", "x", "format", "q cow"), "format", "'q cow'");
        invalid(Map.of("backend", "http://a b/"), "backend", "not a valid URI");
    }

    @Test
    void anOperatorSpecIsValidatedBeforeAnythingIsStored() throws StorageException {
        DriveSpecDTO spec = new DriveSpecDTO();
        spec.id = "hd1";
        spec.backend = "memory:y?size=1M";
        assertThat(DriveConfig.properties(spec).get("backend")).isEqualTo("memory:y?size=1M");
        spec.cache = "sometimes";
        assertThatExceptionOfType(StorageException.class).isThrownBy(() -> DriveConfig.properties(spec))
                .withMessageContaining("field 'cache'");
        spec.cache = null;
        spec.id = null;
        assertThatExceptionOfType(StorageException.class).isThrownBy(() -> DriveConfig.properties(spec))
                .withMessageContaining("field 'id'");
    }
}
