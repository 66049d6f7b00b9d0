package org.spindle.format.chunked;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Objects;
import java.util.function.LongConsumer;

import org.spindle.storage.api.StorageException;
import org.spindle.storage.api.StorageException.Kind;
import org.spindle.storage.api.StorageException.Operation;
import org.spindle.storage.api.VirtualDisk;

/**
 * Publishes a disk as a chunked image in a directory: {@code chunks/NNNNNNNN.bin} first, each written
 * under a temporary name, forced to storage and renamed, then {@code manifest.json} the same way, last.
 * A reader (or a mirror copying the directory in name order) therefore never finds a manifest naming a
 * chunk that is not complete. Every chunk is written, zeros included: a chunked image is read by plain
 * GETs of whole objects, and a missing object is an error, not zeros. The manifest lists every chunk's
 * size and SHA-256, and its {@code version} is {@code sha256-} and the SHA-256 of the whole disk.
 *
 * <p>A publication that fails removes what it wrote and leaves no manifest. One publication at a
 * time writes into a directory (a {@code .publish.lock} file holds it), and a manifest is never
 * replaced: it is linked into place only where none is.
 */
public final class ChunkedPublisher {
    /** Held in the directory while a publication runs there: two at once would mix their chunks. */
    static final String LOCK = ".publish.lock";
    private final int chunkSize;
    private final int width;
    private final String imageId;

    /**
     * @param chunkSize bytes per chunk: a multiple of 512 up to {@value ChunkedManifest#MAX_CHUNK_SIZE}
     * @param width digits of chunk names, or 0 for {@value ChunkedManifest#DEFAULT_WIDTH} (more when the
     *        image has more chunks than that many digits can number)
     * @param imageId the name recorded in the manifest, or {@code null}
     */
    public ChunkedPublisher(int chunkSize, int width, String imageId) {
        if (chunkSize <= 0 || chunkSize % 512 != 0 || chunkSize > ChunkedManifest.MAX_CHUNK_SIZE) {
            throw new IllegalArgumentException("the chunk size must be a positive multiple of 512 of at most "
                    + ChunkedManifest.MAX_CHUNK_SIZE + " bytes, not " + chunkSize);
        }
        if (width < 0 || width > ChunkedManifest.MAX_WIDTH) {
            throw new IllegalArgumentException("the chunk name width must be from 1 to " + ChunkedManifest.MAX_WIDTH
                    + ", not " + width);
        }
        this.chunkSize = chunkSize;
        this.width = width;
        this.imageId = imageId;
    }

    /**
     * Writes {@code source} as a chunked image into {@code dir} (created if needed; it must hold no
     * {@code manifest.json} yet).
     *
     * @param progress told of the bytes done after each chunk
     * @return the manifest written
     * @throws StorageException {@code ALREADY_EXISTS} when {@code dir} holds a manifest, {@code IN_USE}
     *         when another publication is writing there, {@code INVALID_CONFIG} when the disk's size
     *         breaks the format's rules, {@code IO} when writing fails; a read failure of the source as
     *         it came
     */
    public ChunkedManifest publish(VirtualDisk source, Path dir, LongConsumer progress) throws StorageException {
        Objects.requireNonNull(progress, "progress");
        long total = source.capacity();
        ChunkedManifest shape;
        try {
            long count = (total + chunkSize - 1) / chunkSize;
            int digits = Math.max(1, Long.toString(Math.max(0, count - 1)).length());
            int w = width == 0 ? Math.max(ChunkedManifest.DEFAULT_WIDTH, digits) : width;
            shape = new ChunkedManifest(imageId, "pending", "application/octet-stream", total, chunkSize, w, null);
        } catch (IllegalArgumentException e) {
            throw new StorageException(Kind.INVALID_CONFIG, "this disk cannot be a chunked image: " + e.getMessage())
                    .withLocation(dir.toString()).withOperation(Operation.CREATE);
        }
        Path manifestFile = dir.resolve(ChunkedManifest.FILE_NAME);
        Path chunks = dir.resolve("chunks");
        List<Path> written = new ArrayList<>();
        Path lock = dir.resolve(LOCK);
        boolean locked = false;
        try {
            Files.createDirectories(chunks);
            try {
                Files.createFile(lock);
                locked = true;
            } catch (FileAlreadyExistsException e) {
                throw new StorageException(Kind.IN_USE, "another publication is writing into " + dir + " (if none"
                        + " runs, one was killed: delete " + LOCK + ")").withLocation(dir.toString())
                        .withOperation(Operation.CREATE);
            }
            if (Files.exists(manifestFile)) {
                throw new StorageException(Kind.ALREADY_EXISTS, dir + " already holds a chunked image ("
                        + ChunkedManifest.FILE_NAME + "): publish each version into a directory of its own")
                        .withLocation(manifestFile.toString()).withOperation(Operation.CREATE);
            }
            MessageDigest whole = sha256();
            List<String> hashes = new ArrayList<>(shape.chunkCount());
            ByteBuffer buffer = ByteBuffer.allocate(chunkSize);
            for (int i = 0; i < shape.chunkCount(); i++) {
                int length = shape.chunkLength(i);
                buffer.clear().limit(length);
                source.read((long) i * chunkSize, buffer);
                buffer.flip();
                whole.update(buffer.duplicate());
                MessageDigest one = sha256();
                one.update(buffer.duplicate());
                hashes.add(HexFormat.of().formatHex(one.digest()));
                Path target = chunks.resolve(shape.chunkName(i));
                place(target, buffer, written, true);
                progress.accept((long) i * chunkSize + length);
            }
            forceDirectory(chunks);
            ChunkedManifest manifest = new ChunkedManifest(imageId, "sha256-" + HexFormat.of().formatHex(whole.digest()),
                    shape.mimeType(), total, chunkSize, shape.chunkIndexWidth(), hashes);
            place(manifestFile, ByteBuffer.wrap(manifest.toJson()), written, false);
            forceDirectory(dir);
            return manifest;
        } catch (StorageException e) {
            undo(written, e);
            throw e.location() == null ? e.withLocation(dir.toString()) : e;
        } catch (RuntimeException e) {
            undo(written, e);
            throw e;
        } catch (IOException e) {
            StorageException se = new StorageException(e instanceof FileAlreadyExistsException ? Kind.ALREADY_EXISTS
                    : Kind.IO, "cannot write the chunked image: " + e, e).withLocation(dir.toString())
                    .withOperation(Operation.CREATE);
            undo(written, se);
            throw se;
        } finally {
            if (locked) {
                try {
                    Files.deleteIfExists(lock);
                } catch (IOException e) {
                    // the publication's outcome stands; a stale lock names itself on the next run
                }
            }
        }
    }

    /**
     * Writes {@code data} to a temporary file, forces it and renames it to {@code target}. A chunk may
     * replace one left by an earlier publication that never got its manifest (nothing refers to it); a
     * manifest never replaces anything.
     */
    private static void place(Path target, ByteBuffer data, List<Path> written, boolean replace) throws IOException {
        Path temporary = target.resolveSibling("." + target.getFileName() + ".part");
        try (FileChannel out = FileChannel.open(temporary, StandardOpenOption.CREATE, StandardOpenOption.WRITE,
                StandardOpenOption.TRUNCATE_EXISTING)) {
            ByteBuffer view = data.duplicate();
            while (view.hasRemaining()) {
                out.write(view);
            }
            out.force(true);
        } catch (IOException e) {
            Files.deleteIfExists(temporary);
            throw e;
        }
        if (!replace) {
            // a hard link is made only where nothing is: no check-then-act window
            try {
                Files.createLink(target, temporary);
            } catch (UnsupportedOperationException | java.nio.file.FileSystemException e) {
                if (e instanceof FileAlreadyExistsException exists) {
                    Files.deleteIfExists(temporary);
                    throw exists;
                }
                // no hard links here: a plain move, which also refuses an existing target
                Files.move(temporary, target);
            }
            Files.deleteIfExists(temporary);
            written.add(target);
            return;
        }
        try {
            Files.move(temporary, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        } catch (AtomicMoveNotSupportedException e) {
            Files.move(temporary, target, StandardCopyOption.REPLACE_EXISTING);
        }
        written.add(target);
    }

    /** Makes the names in {@code dir} durable (where the platform allows opening a directory). */
    private static void forceDirectory(Path dir) {
        try (FileChannel channel = FileChannel.open(dir, StandardOpenOption.READ)) {
            channel.force(true);
        } catch (IOException | UnsupportedOperationException e) {
            // not every platform syncs directories; the files themselves were forced
        }
    }

    private static void undo(List<Path> written, Exception cause) {
        for (int i = written.size() - 1; i >= 0; i--) {
            try {
                Files.deleteIfExists(written.get(i));
            } catch (IOException e) {
                cause.addSuppressed(e);
            }
        }
    }

    private static MessageDigest sha256() {
        try {
            return MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("the JDK has no SHA-256", e);
        }
    }
}
