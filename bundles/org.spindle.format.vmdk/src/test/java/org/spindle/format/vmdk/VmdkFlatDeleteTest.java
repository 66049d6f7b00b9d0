package org.spindle.format.vmdk;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.spindle.storage.api.CreateOptions;
import org.spindle.storage.core.DiskOpener;
import org.spindle.storage.core.ServiceLoaderRegistry;

/**
 * Taking back an unfinished output (what {@code img convert} does when it fails or is interrupted)
 * deletes a {@code monolithicFlat} VMDK whole: the descriptor and its data file.
 */
class VmdkFlatDeleteTest {
    @TempDir
    Path dir;

    @Test
    void deletingAFlatVmdkDeletesItsDataFileToo() throws Exception {
        DiskOpener opener = new DiskOpener(ServiceLoaderRegistry.load(getClass().getClassLoader()));
        Path descriptor = dir.resolve("out.vmdk");
        try (var disk = opener.create(descriptor.toUri(), "vmdk", CreateOptions.ofCapacity(4L << 20)).disk()) {
            disk.write(0, ByteBuffer.wrap(new byte[] {1, 2, 3}));
        }
        assertThat(dir.resolve("out-flat.vmdk")).exists();
        opener.delete(descriptor.toUri());
        assertThat(descriptor).doesNotExist();
        assertThat(dir.resolve("out-flat.vmdk")).doesNotExist();
        try (var files = Files.list(dir)) {
            assertThat(files).isEmpty();
        }
    }

    @Test
    void aFileNoFormatOpensIsDeletedAlone() throws Exception {
        DiskOpener opener = new DiskOpener(ServiceLoaderRegistry.load(getClass().getClassLoader()));
        Path half = Files.write(dir.resolve("half.vmdk"), "# Disk DescriptorFile\ngarbage".getBytes());
        Path other = Files.write(dir.resolve("half-flat.vmdk"), new byte[512]);
        opener.delete(half.toUri());
        assertThat(half).doesNotExist();
        assertThat(other).as("nothing names it").exists();
    }
}
