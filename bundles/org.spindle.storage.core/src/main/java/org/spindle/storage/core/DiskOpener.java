package org.spindle.storage.core;

import java.net.URI;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.stream.Collectors;

import org.spindle.storage.api.AccessMode;
import org.spindle.storage.api.CreateOptions;
import org.spindle.storage.api.Deletable;
import org.spindle.storage.api.DiskFormat;
import org.spindle.storage.api.MediaType;
import org.spindle.storage.api.OpenOptions;
import org.spindle.storage.api.ProbeInput;
import org.spindle.storage.api.StorageBackend;
import org.spindle.storage.api.StorageBackendProvider;
import org.spindle.storage.api.StorageException;
import org.spindle.storage.api.StorageException.Kind;
import org.spindle.storage.api.StorageException.Operation;
import org.spindle.storage.api.VirtualDisk;

/**
 * Opens a disk: backend URI → provider → backend → format (named, or found by probing) → disk.
 *
 * <p>Third-party code (providers, formats) is guarded: whatever it throws comes out as a
 * {@link StorageException}, and a backend is closed again if no disk could be made of it.
 */
public final class DiskOpener {
    /** The format name that asks for probing. */
    public static final String AUTO = "auto";

    private final StorageRegistry registry;

    public DiskOpener(StorageRegistry registry) {
        this.registry = Objects.requireNonNull(registry);
    }

    /** What {@link #open} produced, and from what. */
    public record Opened(VirtualDisk disk, StorageBackendProvider provider, DiskFormat format, int probeScore) {
    }

    /** One format's answer to a probe. */
    public record Probe(DiskFormat format, int score) {
    }

    /**
     * Opens the image at {@code backendUri} as {@code formatName} ({@link #AUTO} to probe).
     *
     * @throws StorageException {@code BACKEND_UNAVAILABLE} when no provider handles the scheme or the
     *         named format is not installed; whatever the provider or format reports otherwise
     */
    public Opened open(URI backendUri, String formatName, OpenOptions options) throws StorageException {
        StorageBackendProvider provider = provider(backendUri);
        DiskFormat named = AUTO.equals(formatName) ? null : format(formatName);
        StorageBackend backend = openBackend(provider, backendUri,
                options.readOnly() ? AccessMode.READ_ONLY : AccessMode.READ_WRITE);
        DiskFormat format = named;
        int score = -1;
        VirtualDisk disk;
        try {
            if (format == null) {
                Probe best = probe(backend).getFirst();
                format = best.format();
                score = best.score();
            }
            DiskFormat chosen = format;
            disk = guarded(chosen, Operation.OPEN, backend, () -> chosen.open(backend, options));
        } catch (StorageException e) {
            closeQuietly(backend, e);
            throw e;
        } catch (RuntimeException e) {
            // a backend that throws something else while being probed
            StorageException se = new StorageException(Kind.IO, "the backend failed while being probed: " + e, e)
                    .withLocation(backendUri.toString()).withOperation(Operation.PROBE);
            closeQuietly(backend, se);
            throw se;
        }
        try {
            checkSectorSize(disk, format, backend);
        } catch (StorageException e) {
            closeQuietly(disk, e);
            throw e;
        }
        return new Opened(disk, provider, format, score);
    }

    /**
     * Creates a new image at {@code backendUri} (which must not exist) and returns it open. A failed
     * create touches nothing that existed before, and deletes what it began (where the backend is
     * {@link Deletable}, as files and memory volumes are), so no half-written image is left behind.
     */
    public Opened create(URI backendUri, String formatName, CreateOptions options) throws StorageException {
        StorageBackendProvider provider = provider(backendUri);
        DiskFormat format = format(formatName);
        StorageBackend backend = openBackend(provider, backendUri, AccessMode.CREATE_NEW);
        try {
            VirtualDisk disk = guarded(format, Operation.CREATE, backend, () -> format.create(backend, options));
            return new Opened(disk, provider, format, -1);
        } catch (StorageException | RuntimeException e) {
            Optional<Deletable> deletable = backend.capability(Deletable.class);
            if (deletable.isPresent()) {
                try {
                    deletable.get().closeAndDelete();
                } catch (StorageException | RuntimeException suppressed) {
                    e.addSuppressed(suppressed);
                }
            } else {
                closeQuietly(backend, e);
            }
            throw e;
        }
    }

    /**
     * Asks every installed format about the image, best first. Never empty: when nothing recognises
     * the image it fails with {@code UNSUPPORTED_FEATURE} naming the formats it tried.
     */
    public List<Probe> probe(StorageBackend backend) throws StorageException {
        ProbeInput input = probeInput(backend);
        List<Probe> answers = new ArrayList<>();
        for (DiskFormat format : registry.formats()) {
            int score;
            try {
                score = format.probe(input);
            } catch (RuntimeException e) {
                // a broken probe must not stop the others from answering
                System.getLogger(DiskOpener.class.getName()).log(System.Logger.Level.WARNING,
                        "format " + format.name() + " failed to probe " + backend.location(), e);
                continue;
            }
            if (score > DiskFormat.PROBE_NO) {
                answers.add(new Probe(format, score));
            }
        }
        if (answers.isEmpty()) {
            throw new StorageException(Kind.UNSUPPORTED_FEATURE, "no installed format recognises the image (tried: "
                    + registry.formats().stream().map(DiskFormat::name).collect(Collectors.joining(", ")) + ")")
                    .withOperation(Operation.PROBE).withLocation(backend.location());
        }
        // stable sort: equal scores keep the registry's order of preference
        answers.sort((a, b) -> Integer.compare(b.score(), a.score()));
        return answers;
    }

    static ProbeInput probeInput(StorageBackend backend) throws StorageException {
        long size = backend.size();
        ByteBuffer head = ByteBuffer.allocate((int) Math.min(size, ProbeInput.HEAD_SIZE));
        backend.read(0, head);
        ByteBuffer tail = ByteBuffer.allocate((int) Math.min(size, ProbeInput.TAIL_SIZE));
        backend.read(size - tail.capacity(), tail);
        return new ProbeInput(backend.location(), size, head.flip(), tail.flip());
    }

    private StorageBackendProvider provider(URI uri) throws StorageException {
        String scheme = uri.getScheme() == null ? "" : uri.getScheme().toLowerCase(java.util.Locale.ROOT);
        return registry.provider(scheme).orElseThrow(() -> new StorageException(Kind.BACKEND_UNAVAILABLE,
                "no storage backend is installed for the scheme '" + scheme + "' (installed: "
                        + String.join(", ", registry.schemes()) + ")")
                .withLocation(uri.toString()).withOperation(Operation.OPEN));
    }

    private DiskFormat format(String name) throws StorageException {
        return registry.format(name).orElseThrow(() -> new StorageException(Kind.BACKEND_UNAVAILABLE,
                "the format '" + name + "' is not installed (installed: " + registry.formats().stream()
                        .map(DiskFormat::name).collect(Collectors.joining(", ")) + "; or use auto)")
                .withOperation(Operation.OPEN));
    }

    private static StorageBackend openBackend(StorageBackendProvider provider, URI uri, AccessMode mode)
            throws StorageException {
        try {
            StorageBackend backend = provider.open(uri, mode);
            if (backend == null) {
                throw new StorageException(Kind.IO, "the backend provider " + provider.getClass().getName()
                        + " returned nothing").withLocation(uri.toString()).withOperation(Operation.OPEN);
            }
            return backend;
        } catch (StorageException e) {
            throw e.withLocation(uri.toString());
        } catch (RuntimeException e) {
            throw new StorageException(Kind.IO, "the backend provider " + provider.getClass().getName()
                    + " failed: " + e, e).withLocation(uri.toString()).withOperation(Operation.OPEN);
        }
    }

    private interface FormatCall {
        VirtualDisk call() throws StorageException;
    }

    private static VirtualDisk guarded(DiskFormat format, Operation op, StorageBackend backend, FormatCall call)
            throws StorageException {
        try {
            VirtualDisk disk = call.call();
            if (disk == null) {
                throw new StorageException(Kind.IO, "the format " + format.name() + " returned no disk")
                        .withOperation(op);
            }
            return disk;
        } catch (StorageException e) {
            throw e.withLocation(backend.location()).withOperation(op);
        } catch (RuntimeException e) {
            throw new StorageException(Kind.IO, "the format " + format.name() + " failed: " + e, e)
                    .withLocation(backend.location()).withOperation(op);
        }
    }

    private static void checkSectorSize(VirtualDisk disk, DiskFormat format, StorageBackend backend)
            throws StorageException {
        int size = disk.logicalSectorSize();
        if (size != 512 && size != 4096 && size != MediaType.CD_SECTOR_SIZE) {
            throw new StorageException(Kind.UNSUPPORTED_FEATURE, "the format " + format.name()
                    + " reports a logical sector size of " + size + " (only 512, 2048 and 4096 are supported)")
                    .withLocation(backend.location()).withOperation(Operation.OPEN);
        }
    }

    private static void closeQuietly(AutoCloseable closeable, Exception primary) {
        try {
            closeable.close();
        } catch (Exception e) {
            primary.addSuppressed(e);
        }
    }
}
