package org.spindle.benchmarks;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.SplittableRandom;

/** Benchmark images: made once, kept between runs, and read through so they are in the page cache. */
final class Images {
    private Images() {
    }

    /** A raw image of {@code size} bytes of pseudo-random data (not sparse, so reads touch real pages). */
    static Path pageCached(long size) throws IOException {
        Path dir = Path.of(System.getProperty("spindle.bench.dir", System.getProperty("java.io.tmpdir")));
        Path image = dir.resolve("spindle-bench-" + (size >> 20) + "m.img");
        if (!Files.exists(image) || Files.size(image) != size) {
            Path partial = dir.resolve(image.getFileName() + ".partial");
            try (FileChannel out = FileChannel.open(partial, StandardOpenOption.CREATE, StandardOpenOption.WRITE,
                    StandardOpenOption.TRUNCATE_EXISTING)) {
                ByteBuffer chunk = ByteBuffer.allocateDirect(1 << 20);
                SplittableRandom random = new SplittableRandom(1);
                for (long done = 0; done < size; done += chunk.capacity()) {
                    chunk.clear();
                    while (chunk.remaining() >= 8) {
                        chunk.putLong(random.nextLong());
                    }
                    chunk.flip();
                    while (chunk.hasRemaining()) {
                        out.write(chunk);
                    }
                }
            }
            Files.move(partial, image, java.nio.file.StandardCopyOption.REPLACE_EXISTING);
        }
        readThrough(image);
        return image;
    }

    /** Reads a file once, so that its pages are in the page cache. */
    static void readThrough(Path file) throws IOException {
        try (FileChannel in = FileChannel.open(file, StandardOpenOption.READ)) {
            ByteBuffer chunk = ByteBuffer.allocateDirect(1 << 20);
            long size = in.size();
            for (long position = 0; position < size; position += chunk.capacity()) {
                in.read(chunk.clear(), position);
            }
        }
    }
}
