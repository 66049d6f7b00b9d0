package org.spindle.cli;

import java.net.URI;
import java.nio.file.Path;
import java.util.concurrent.Callable;

import org.spindle.format.chunked.ChunkedManifest;
import org.spindle.format.chunked.ChunkedPublisher;
import org.spindle.storage.api.ByteSize;
import org.spindle.storage.api.OpenOptions;
import org.spindle.storage.api.StorageException;
import org.spindle.storage.api.StorageException.Kind;
import org.spindle.storage.api.VirtualDisk;
import org.spindle.storage.core.DiskOpener;

import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParentCommand;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

/**
 * {@code spindle img chunk}: publishes any readable image (its bases merged) as a chunked image in a
 * directory: {@code chunks/NNNNNNNN.bin}, then {@code manifest.json}, ready to be copied to a web
 * server or object store and opened from there by its manifest's URL.
 */
@Command(name = "chunk", description = "Publishes an image as a chunked image (manifest.json and chunks/) in a directory.")
final class ChunkCommand implements Callable<Integer> {
    @ParentCommand
    SpindleImg tool;

    @Spec
    CommandSpec spec;

    @Option(names = {"-f", "--format"}, paramLabel = "FORMAT", defaultValue = DiskOpener.AUTO,
            description = "the source format (default: probe)")
    String format;

    @Option(names = {"-s", "--chunk-size"}, paramLabel = "SIZE", defaultValue = "4M",
            description = "bytes per chunk, a multiple of 512 up to 64M (default: ${DEFAULT-VALUE})")
    String chunkSize;

    @Option(names = "--width", paramLabel = "DIGITS", defaultValue = "0",
            description = "digits of chunk names (default: 8, more if the image needs them)")
    int width;

    @Option(names = "--id", paramLabel = "ID", description = "the image id recorded in the manifest")
    String imageId;

    @Option(names = {"-p", "--progress"}, description = "show a progress bar")
    boolean progress;

    @Parameters(index = "0", paramLabel = "SOURCE", description = "the image to publish")
    String source;

    @Parameters(index = "1", paramLabel = "DIR", description = "the directory to publish into (it must hold no manifest.json)")
    Path dir;

    @Override
    public Integer call() throws StorageException {
        long size = Images.size(chunkSize);
        if (size > ChunkedManifest.MAX_CHUNK_SIZE) {
            throw new StorageException(Kind.INVALID_CONFIG, "--chunk-size " + chunkSize + " is more than 64M");
        }
        ChunkedPublisher publisher;
        try {
            publisher = new ChunkedPublisher((int) size, width, imageId);
        } catch (IllegalArgumentException e) {
            throw new StorageException(Kind.INVALID_CONFIG, e.getMessage());
        }
        URI sourceUri = Images.uri(source);
        ProgressLine bar = progress ? new ProgressLine(spec.commandLine().getOut()) : null;
        ChunkedManifest manifest;
        try (VirtualDisk disk = tool.opener().open(sourceUri, format, OpenOptions.defaults().withReadOnly(true)).disk()) {
            long total = disk.capacity();
            manifest = publisher.publish(disk, dir, done -> {
                if (bar != null) {
                    bar.update(done, total);
                }
            });
        }
        if (bar != null) {
            bar.finish();
        }
        spec.commandLine().getOut().printf("%s: %d chunks of %s, version %s%n", dir.resolve(ChunkedManifest.FILE_NAME),
                manifest.chunkCount(), ByteSize.format(manifest.chunkSize()), manifest.version());
        return 0;
    }
}
