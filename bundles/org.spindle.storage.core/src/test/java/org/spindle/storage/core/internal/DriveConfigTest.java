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
    void mediaOverlayAndBlockCacheAreRead() throws StorageException {
        DriveConfig c = DriveConfig.parse("org.spindle.drive~cd", props(Map.of("backend", "/isos/a.iso",
                "media", "CDROM", "cacheSize", "64M", "cacheBlockSize", "128K")));
        assertThat(c.media()).isEqualTo(org.spindle.storage.api.MediaType.CDROM);
        assertThat(c.cacheSize()).isEqualTo(64L << 20);
        assertThat(c.cacheBlockSize()).isEqualTo(128 << 10);
        DriveConfig o = DriveConfig.parse("org.spindle.drive~hd", props(Map.of("backend", "/img/base.img",
                "overlay", "/tmp/hd.sparse", "cacheSize", 1048576)));
        assertThat(o.overlay().toString()).isEqualTo("file:///tmp/hd.sparse");
        assertThat(o.cacheSize()).isEqualTo(1 << 20);
        DriveConfig d = DriveConfig.parse("org.spindle.drive~hd", props(Map.of("backend", "/img/base.img")));
        assertThat(d.media()).isNull();
        assertThat(d.overlay()).isNull();
        assertThat(d.cacheSize()).isZero();
        assertThat(d.cacheBlockSize()).isEqualTo(64 << 10);
    }

    @Test
    void badMediaOverlayAndCacheSettingsAreNamed() {
        invalid(Map.of("backend", "x", "media", "floppy"), "media", "use disk or cdrom");
        invalid(Map.of("backend", "x", "media", "cdrom", "sectorSize", 512), "sectorSize", "2048");
        invalid(Map.of("backend", "x", "media", "disk", "sectorSize", 2048), "sectorSize", "cdrom media only");
        invalid(Map.of("backend", "/a.img", "overlay", "/a.img"), "overlay", "the backend itself");
        invalid(Map.of("backend", "/a.img", "overlay", "/b.img", "readOnly", true), "overlay", "read-only");
        invalid(Map.of("backend", "x", "cacheSize", "lots"), "cacheSize", "not a size");
        invalid(Map.of("backend", "x", "cacheSize", "1K"), "cacheSize", "less than one cache block");
        invalid(Map.of("backend", "x", "cacheSize", -5), "cacheSize", "negative");
        invalid(Map.of("backend", "x", "cacheBlockSize", "3000"), "cacheBlockSize", "power of two");
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
