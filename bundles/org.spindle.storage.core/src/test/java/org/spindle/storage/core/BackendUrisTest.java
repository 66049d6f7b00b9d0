package org.spindle.storage.core;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatExceptionOfType;

import java.nio.file.Path;

import org.junit.jupiter.api.Test;
import org.spindle.storage.api.StorageException;
import org.spindle.storage.api.StorageException.Kind;

class BackendUrisTest {
    @Test
    void aBaseIsRecordedAndShownWithoutItsSecrets() {
        assertThat(DiskOpener.reference(java.net.URI.create("https://u:p@images.example:8443/a/b.img?sig=x%2B#c=1")))
                .isEqualTo("https://images.example:8443/a/b.img");
        assertThat(DiskOpener.reference(java.net.URI.create("memory:disk?size=1M"))).isEqualTo("memory:disk?size=1M");
        assertThat(DiskOpener.reference(java.net.URI.create("file:///images/a%20b.img")))
                .isEqualTo("file:///images/a%20b.img");
    }

    @Test
    void aPathBecomesAnAbsoluteFileUri() throws StorageException {
        assertThat(BackendUris.parse("images/disk.img"))
                .isEqualTo(Path.of("images/disk.img").toAbsolutePath().toUri());
        assertThat(BackendUris.parse("/tmp/a b.img").toString()).isEqualTo("file:///tmp/a%20b.img");
    }

    @Test
    void aUriIsKeptWithItsSchemeInLowerCase() throws StorageException {
        assertThat(BackendUris.parse("memory:demo?size=64M").toString()).isEqualTo("memory:demo?size=64M");
        assertThat(BackendUris.parse("FILE:/x.img").getScheme()).isEqualTo("file");
    }

    @Test
    void emptyAndMalformedAreInvalidConfig() {
        assertThatExceptionOfType(StorageException.class).isThrownBy(() -> BackendUris.parse(" "))
                .satisfies(e -> assertThat(e.kind()).isEqualTo(Kind.INVALID_CONFIG));
        assertThatExceptionOfType(StorageException.class).isThrownBy(() -> BackendUris.parse("http://a b/"))
                .satisfies(e -> assertThat(e.kind()).isEqualTo(Kind.INVALID_CONFIG))
                .withMessageContaining("%20");
    }
}
