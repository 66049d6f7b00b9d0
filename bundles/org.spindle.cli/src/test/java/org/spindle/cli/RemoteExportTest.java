package org.spindle.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.net.URI;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Random;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.spindle.storage.api.OpenOptions;
import org.spindle.storage.api.StorageException;
import org.spindle.storage.api.VirtualDisk;
import org.spindle.storage.core.DiskOpener;
import org.spindle.storage.core.ServiceLoaderRegistry;
import org.spindle.testing.http.RangeOrigin;

/** A remote base stays read-only; the guest's writes go to a local overlay; {@code img export} merges them. */
class RemoteExportTest {
    @TempDir
    static Path cacheDir;

    @TempDir
    Path dir;

    private static RangeOrigin origin;
    private static byte[] base;

    @BeforeAll
    static void serve() throws Exception {
        // the image tool's HTTP backend reads its settings from system properties
        System.setProperty("spindle.http.cache.dir", cacheDir.toString());
        System.setProperty("spindle.http.chunk.size", "64K");
        base = new byte[2 << 20];
        new Random(5).nextBytes(base);
        origin = new RangeOrigin().serve("/images/base.img", base);
    }

    @AfterAll
    static void stop() throws Exception {
        origin.close();
        System.clearProperty("spindle.http.cache.dir");
        System.clearProperty("spindle.http.chunk.size");
    }

    private int run(StringWriter err, String... args) {
        return SpindleImg.run(new PrintWriter(new StringWriter(), true), new PrintWriter(err, true), args);
    }

    @Test
    void writesGoToTheOverlayAndExportMergesThemWithoutStoringTheSignature() throws Exception {
        URI signed = URI.create(origin.uri("/images/base.img") + "?sig=SECRET-SIGNATURE#read.ahead=2");
        URI overlay = dir.resolve("hd0.sparse").toUri();
        DiskOpener opener = new DiskOpener(ServiceLoaderRegistry.load(RemoteExportTest.class.getClassLoader()));
        byte[] written = new byte[8192];
        Arrays.fill(written, (byte) 0x5A);
        try (VirtualDisk disk = opener.openOverlay(overlay, signed, DiskOpener.AUTO, OpenOptions.defaults()).disk()) {
            disk.write(100L * 512, ByteBuffer.wrap(written));
            disk.flush();
        }
        // the origin's image is untouched, and the overlay holds the base's address but not its signature
        assertThat(origin.image("/images/base.img").data()).isEqualTo(base);
        String stored = new String(Files.readAllBytes(Path.of(overlay)), StandardCharsets.ISO_8859_1);
        assertThat(stored).contains("/images/base.img").doesNotContain("SECRET");
        // the drive opens again over the same signed URL
        try (VirtualDisk disk = opener.openOverlay(overlay, signed, DiskOpener.AUTO, OpenOptions.defaults()).disk()) {
            assertThat(disk.capacity()).isEqualTo(base.length);
        }

        StringWriter err = new StringWriter();
        Path merged = dir.resolve("merged.img");
        assertThat(run(err, "export", "--base", signed.toString(), overlay.getPath(), merged.toString()))
                .as(err.toString()).isZero();
        byte[] expected = base.clone();
        System.arraycopy(written, 0, expected, 100 * 512, written.length);
        assertThat(Files.readAllBytes(merged)).isEqualTo(expected);
        assertThat(origin.log()).filteredOn(s -> s.range() != null)
                .allSatisfy(s -> assertThat(s.path()).endsWith("?sig=SECRET-SIGNATURE"));

        // another base than the overlay's is refused, and nothing is written
        Path wrong = dir.resolve("wrong.img");
        assertThat(run(err, "export", "--base", origin.uri("/images/other.img").toString(), overlay.getPath(),
                wrong.toString())).isEqualTo(1);
        assertThat(err.toString()).contains("was made over").doesNotContain("Exception");
        assertThat(wrong).doesNotExist();
    }

    @Test
    void anOverlayIsRefusedOverABaseThatWasReplacedOrResized() throws Exception {
        byte[] original = new byte[1 << 20];
        new Random(8).nextBytes(original);
        origin.serve("/images/changing.img", original);
        URI remote = origin.uri("/images/changing.img");
        URI overlay = dir.resolve("pinned.sparse").toUri();
        DiskOpener opener = new DiskOpener(ServiceLoaderRegistry.load(RemoteExportTest.class.getClassLoader()));
        try (VirtualDisk disk = opener.openOverlay(overlay, remote, DiskOpener.AUTO, OpenOptions.defaults()).disk()) {
            disk.write(0, ByteBuffer.wrap(new byte[4096]));
            disk.flush();
        }
        String etag = origin.image("/images/changing.img").etag();
        StringWriter info = new StringWriter();
        assertThat(SpindleImg.run(new PrintWriter(info, true), new PrintWriter(new StringWriter(), true), "info",
                overlay.getPath())).isZero();
        assertThat(info.toString()).contains("base-size", Integer.toString(original.length), "etag:" + etag);

        // the same size, other bytes: a new ETag
        byte[] replaced = original.clone();
        replaced[12345] ^= 1;
        origin.serve("/images/changing.img", replaced);
        assertThatThrownBy(() -> opener.openOverlay(overlay, remote, DiskOpener.AUTO, OpenOptions.defaults()))
                .isInstanceOfSatisfying(StorageException.class, e -> {
                    assertThat(e.kind()).isEqualTo(StorageException.Kind.INVALID_CONFIG);
                    assertThat(e.getMessage()).contains("has changed since the overlay", "was version etag:" + etag);
                });
        StringWriter err = new StringWriter();
        Path merged = dir.resolve("merged.img");
        assertThat(run(err, "export", "--base", remote.toString(), overlay.getPath(), merged.toString())).isEqualTo(1);
        assertThat(err.toString()).contains("has changed since the overlay");
        assertThat(merged).doesNotExist();

        // another size
        origin.serve("/images/changing.img", Arrays.copyOf(original, 2 << 20));
        assertThatThrownBy(() -> opener.openOverlay(overlay, remote, DiskOpener.AUTO, OpenOptions.defaults()))
                .isInstanceOfSatisfying(StorageException.class, e -> assertThat(e.getMessage())
                        .contains("it was " + original.length + " bytes and is now " + (2 << 20)));
    }

    @Test
    void anImageMayNotChooseSettingsOrCredentialsForItsBase() throws Exception {
        DiskOpener opener = new DiskOpener(ServiceLoaderRegistry.load(RemoteExportTest.class.getClassLoader()));
        URI overlay = dir.resolve("crafted.sparse").toUri();
        // as a hostile image could: the base's URL asks for the token in $HOME to be sent to it
        opener.create(overlay, "sparse", org.spindle.storage.api.CreateOptions.ofCapacity(base.length).withBacking(
                new org.spindle.storage.api.BackingReference(origin.uri("/images/base.img") + "#token.env=HOME", "raw")))
                .disk().close();
        origin.clearLog();
        assertThatThrownBy(() -> opener.open(overlay, DiskOpener.AUTO, OpenOptions.defaults()))
                .isInstanceOfSatisfying(StorageException.class, e -> {
                    assertThat(e.kind()).isEqualTo(StorageException.Kind.CORRUPT_IMAGE);
                    assertThat(e.getMessage()).contains("settings after '#'");
                });
        assertThat(origin.log()).isEmpty();
    }

    @Test
    void exportOfAnImageWithoutBaseFailsWithOneLine() throws Exception {
        Path plain = Files.write(dir.resolve("plain.img"), new byte[4096]);
        StringWriter err = new StringWriter();
        assertThat(run(err, "export", plain.toString(), dir.resolve("out.img").toString())).isEqualTo(1);
        assertThat(err.toString().strip()).startsWith("spindle img: ").contains("names no base").hasLineCount(1);
        assertThat(dir.resolve("out.img")).doesNotExist();
    }
}
