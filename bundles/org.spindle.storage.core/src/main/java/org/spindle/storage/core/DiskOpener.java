package org.spindle.storage.core;

import java.net.URI;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.stream.Collectors;

import org.spindle.storage.api.AccessMode;
import org.spindle.storage.api.BackingReference;
import org.spindle.storage.api.ContentVersion;
import org.spindle.storage.api.CreateOptions;
import org.spindle.storage.api.Deletable;
import org.spindle.storage.api.DiskFormat;
import org.spindle.storage.api.MediaType;
import org.spindle.storage.api.OpenOptions;
import org.spindle.storage.api.Overlay;
import org.spindle.storage.api.ProbeInput;
import org.spindle.storage.api.RelatedFiles;
import org.spindle.storage.api.WholeObject;
import org.spindle.storage.api.WholeObjectReader;
import org.spindle.storage.api.StorageBackend;
import org.spindle.storage.api.StorageBackendProvider;
import org.spindle.storage.api.StorageException;
import org.spindle.storage.api.StorageException.Kind;
import org.spindle.storage.api.StorageException.Operation;
import org.spindle.storage.api.TransferStatistics;
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
    /** The format overlays are created in when none is named. */
    public static final String OVERLAY_FORMAT = "sparse";

    private final StorageRegistry registry;

    public DiskOpener(StorageRegistry registry) {
        this.registry = Objects.requireNonNull(registry);
    }

    /** Where the providers and formats come from. */
    public StorageRegistry registry() {
        return registry;
    }

    /** The most bases an overlay may stand on: deeper chains are refused (loops are found earlier). */
    public static final int MAX_CHAIN_DEPTH = 16;

    /**
     * One image of an opened chain: where it is, and which provider and format opened it.
     *
     * @param transfers what reading the image over a network costs ({@link TransferStatistics} of its
     *        disk, else of its backend), or {@code null} when neither counts it
     * @param version the {@link ContentVersion} of its backend, or {@code null} when it has none
     * @since 1.2 (transfers and version)
     */
    public record Layer(URI location, StorageBackendProvider provider, DiskFormat format,
            TransferStatistics transfers, String version) {
        /** A layer without network counters or version. */
        public Layer(URI location, StorageBackendProvider provider, DiskFormat format) {
            this(location, provider, format, null, null);
        }
    }

    /**
     * What {@link #open} produced, and from what.
     *
     * @param disk the disk; for an overlay, the copy-on-write view of the whole chain
     * @param provider the provider of the top image
     * @param format the format of the top image
     * @param probeScore the top image's probe score, or -1 when its format was named
     * @param layers every image of the chain, top first: a single element for a plain image
     */
    public record Opened(VirtualDisk disk, StorageBackendProvider provider, DiskFormat format, int probeScore,
            List<Layer> layers) {
        public Opened {
            layers = List.copyOf(layers);
        }

        /** The bases under the top image, nearest first. */
        public List<URI> bases() {
            return layers.stream().skip(1).map(Layer::location).toList();
        }
    }

    /** One format's answer to a probe. */
    public record Probe(DiskFormat format, int score) {
    }

    /**
     * Opens the image at {@code backendUri} as {@code formatName} ({@link #AUTO} to probe). An image
     * that is an {@link Overlay} gets its base opened read-only (probed unless the overlay names its
     * format), recursively, and comes back as one copy-on-write disk.
     *
     * @throws StorageException {@code BACKEND_UNAVAILABLE} when no provider handles the scheme or the
     *         named format is not installed; {@code CORRUPT_IMAGE} for a chain that loops or is deeper
     *         than {@link #MAX_CHAIN_DEPTH}; whatever the provider or format reports otherwise
     */
    public Opened open(URI backendUri, String formatName, OpenOptions options) throws StorageException {
        return openChain(backendUri, formatName, options, new ArrayList<>(), null);
    }

    /**
     * Opens an overlay as {@link #open} does, but its base from {@code base}: the same image as the one
     * the overlay names, given in full. An overlay records its base {@linkplain #reference without the
     * query, fragment and user information} of a network URL, since those may carry a signature or a
     * token; this is how such a base is opened again.
     *
     * @throws StorageException {@code INVALID_CONFIG} when the top image is no overlay, or names another
     *         base than {@code base}
     */
    public Opened open(URI backendUri, String formatName, OpenOptions options, URI base) throws StorageException {
        return openChain(backendUri, formatName, options, new ArrayList<>(), base);
    }

    /**
     * How an overlay records {@code base}: a URL with a host loses its user information, query and
     * fragment (a signature or token must never be written into an image); anything else is kept as is.
     */
    public static String reference(URI base) {
        if (base.isOpaque() || base.getHost() == null
                || (base.getRawUserInfo() == null && base.getRawQuery() == null && base.getRawFragment() == null)) {
            return base.toString();
        }
        try {
            return new URI(base.getScheme(), null, base.getHost(), base.getPort(), base.getPath(), null, null)
                    .toString();
        } catch (java.net.URISyntaxException e) {
            throw new IllegalArgumentException(e);
        }
    }

    private Opened openChain(URI uri, String formatName, OpenOptions options, List<URI> above, URI override)
            throws StorageException {
        Opened top;
        try {
            top = openImage(uri, formatName, options);
        } catch (StorageException e) {
            if (above.isEmpty()) {
                throw e;
            }
            throw new StorageException(e.kind(), "cannot open the base " + reference(uri) + " of " + reference(above.getLast()) + ": "
                    + e.detail(), e).withLocation(reference(uri)).withOperation(Operation.OPEN);
        }
        Opened base = null;
        try {
            Optional<Overlay> overlay = top.disk().capability(Overlay.class);
            if (overlay.isEmpty()) {
                if (override != null) {
                    StorageException e = new StorageException(Kind.INVALID_CONFIG, "the overlay " + uri
                            + " names no base, not " + reference(override)).withLocation(reference(uri))
                            .withOperation(Operation.OPEN);
                    throw e;
                }
                return top;
            }
            above.add(uri);
            BackingReference reference = overlay.get().base();
            URI baseUri = resolve(uri, reference.location());
            if (baseUri.getRawFragment() != null && override == null) {
                // a fragment holds backend settings, credentials among them (which variable's token to
                // send): an image must not choose them for its base, only the configuration may
                throw new StorageException(Kind.CORRUPT_IMAGE, "the image names its base with settings after '#' ("
                        + reference(baseUri) + "#…): settings for a base come from the configuration, not from an"
                        + " image").withLocation(reference(uri)).withOperation(Operation.OPEN);
            }
            if (override != null) {
                if (!reference(baseUri).equals(reference(override))) {
                    throw new StorageException(Kind.INVALID_CONFIG, "the overlay " + uri + " was made over "
                            + reference(baseUri) + ", not over " + reference(override))
                            .withLocation(reference(uri)).withOperation(Operation.OPEN);
                }
                baseUri = override;
            }
            if (above.contains(baseUri)) {
                throw new StorageException(Kind.CORRUPT_IMAGE, "the chain of bases loops: " + uri + " names "
                        + reference(baseUri) + ", which is already above it").withLocation(reference(uri)).withOperation(Operation.OPEN);
            }
            if (above.size() > MAX_CHAIN_DEPTH) {
                throw new StorageException(Kind.CORRUPT_IMAGE, "the chain of bases is deeper than "
                        + MAX_CHAIN_DEPTH + " images under the top one").withLocation(reference(uri)).withOperation(Operation.OPEN);
            }
            // a base is byte-addressed under its overlay: its own sector size is fine
            OpenOptions baseOptions = OpenOptions.defaults().withReadOnly(true);
            base = openChain(baseUri, reference.format() == null ? AUTO : reference.format(), baseOptions, above,
                    null);
            checkPinned(uri, baseUri, reference, base);
            VirtualDisk cow = new CowDisk(top.disk(), base.disk());
            List<Layer> layers = new ArrayList<>(top.layers());
            layers.addAll(base.layers());
            return new Opened(cow, top.provider(), top.format(), top.probeScore(), layers);
        } catch (StorageException | RuntimeException e) {
            // a format's bug (a RuntimeException) comes out as IO, and nothing stays open
            StorageException se = e instanceof StorageException s ? s : new StorageException(Kind.IO,
                    "the format " + top.format().name() + " failed: " + e, e).withLocation(reference(uri))
                    .withOperation(Operation.OPEN);
            closeQuietly(top.disk(), se);
            if (base != null) {
                closeQuietly(base.disk(), se);
            }
            throw se;
        }
    }

    /**
     * Refuses a base that is not the version the overlay was made over: another size, or another
     * {@link ContentVersion} (or none, where one was recorded). The overlay's writes were made over
     * the old bytes; reading them over the new ones would show the guest a disk that never existed.
     */
    private static void checkPinned(URI overlay, URI baseUri, BackingReference reference, Opened base)
            throws StorageException {
        long capacity = base.disk().capacity();
        String now = base.layers().getFirst().version();
        String why = null;
        if (reference.size() >= 0 && capacity != reference.size()) {
            why = "it was " + reference.size() + " bytes and is now " + capacity;
        } else if (reference.version() != null && now == null) {
            why = "it was version " + reference.version() + " and now gives no version to compare";
        } else if (reference.version() != null && !reference.version().equals(now)) {
            why = "it was version " + reference.version() + " and is now " + now;
        }
        if (why != null) {
            throw new StorageException(Kind.INVALID_CONFIG, "the base " + reference(baseUri)
                    + " has changed since the overlay " + reference(overlay) + " was made over it (" + why
                    + "): the overlay's writes belong to the old image, so it is not opened over the new one")
                    .withLocation(reference(overlay)).withOperation(Operation.OPEN);
        }
    }

    /**
     * Opens {@code overlayUri} as a copy-on-write overlay of {@code baseUri}, creating it (as a sparse
     * image naming the base) when it does not exist yet. An existing overlay must name that base.
     *
     * @throws StorageException {@code INVALID_CONFIG} when the overlay exists but was made over
     *         another image, or over none
     */
    public Opened openOverlay(URI overlayUri, URI baseUri, String baseFormat, OpenOptions options)
            throws StorageException {
        if (!exists(overlayUri)) {
            long capacity;
            String version;
            Opened base = open(baseUri, baseFormat, OpenOptions.defaults().withReadOnly(true));
            try (VirtualDisk disk = base.disk()) {
                capacity = disk.capacity();
                version = base.layers().getFirst().version();
            }
            // a base that can change under its name (a remote image) pins its size and version: replaced
            // later, it is refused rather than mixed with the writes; a local base pins nothing, as in QEMU
            BackingReference named = new BackingReference(reference(baseUri), AUTO.equals(baseFormat) ? null : baseFormat);
            CreateOptions create = CreateOptions.ofCapacity(capacity).withBacking(version == null ? named
                    : named.pinned(capacity, version));
            create(overlayUri, OVERLAY_FORMAT, create).disk().close();
        }
        // the base is opened from baseUri itself (the overlay may hold it without query or fragment)
        return open(overlayUri, AUTO, options, baseUri);
    }

    /** Whether something exists at {@code uri}: its backend opens read-only. */
    public boolean exists(URI uri) throws StorageException {
        StorageBackendProvider provider = provider(uri);
        try (StorageBackend backend = openBackend(provider, uri, AccessMode.READ_ONLY)) {
            return backend != null;
        } catch (StorageException e) {
            if (e.kind() == Kind.NOT_FOUND) {
                return false;
            }
            throw e;
        }
    }

    /**
     * Where a base named by an overlay lives: a URI or absolute path as written, a relative path
     * against the overlay's own location (for a name-addressed scheme such as {@code memory:}, the
     * name is taken in the same scheme).
     */
    public static URI resolve(URI overlay, String location) throws StorageException {
        String s = location.strip();
        boolean hasScheme = s.matches("[A-Za-z][A-Za-z0-9+.-]+:.*");
        boolean absolute;
        try {
            absolute = !hasScheme && java.nio.file.Path.of(s).isAbsolute();
        } catch (java.nio.file.InvalidPathException e) {
            throw new StorageException(Kind.CORRUPT_IMAGE, "the base location '" + s.replace('\0', '?')
                    + "' is not a valid path: " + e.getReason()).withLocation(overlay.toString());
        }
        if (hasScheme || absolute) {
            return BackendUris.parse(s);
        }
        if (overlay.isOpaque()) {
            return BackendUris.parse(overlay.getScheme() + ":" + s);
        }
        try {
            return overlay.resolve(new URI(null, null, s.replace(java.io.File.separatorChar, '/'), null)).normalize();
        } catch (java.net.URISyntaxException e) {
            throw new StorageException(Kind.CORRUPT_IMAGE, "the base location '" + s + "' is not a valid path", e);
        }
    }

    /**
     * Opens one image and nothing under it, even if it is an {@link Overlay}: for work on the image
     * itself (committing it, checking it). Reads of what it does not hold then return zeros.
     */
    public Opened openImage(URI backendUri, String formatName, OpenOptions options) throws StorageException {
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
            OpenOptions withFiles = options.relatedFiles().isPresent() ? options
                    : options.withRelatedFiles(relatedFiles(backendUri));
            disk = guarded(chosen, Operation.OPEN, backend, () -> chosen.open(backend, withFiles));
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
        } catch (StorageException | RuntimeException e) {
            StorageException se = e instanceof StorageException s ? s : new StorageException(Kind.IO,
                    "the format " + format.name() + " failed: " + e, e).withLocation(backendUri.toString())
                    .withOperation(Operation.OPEN);
            closeQuietly(disk, se);
            throw se;
        }
        TransferStatistics transfers = disk.capability(TransferStatistics.class)
                .or(() -> backend.capability(TransferStatistics.class)).orElse(null);
        String version = backend.capability(ContentVersion.class).flatMap(ContentVersion::contentVersion).orElse(null);
        return new Opened(disk, provider, format, score, List.of(new Layer(backendUri, provider, format, transfers,
                version)));
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
            CreateOptions withFiles = options.relatedFiles().isPresent() ? options
                    : options.withRelatedFiles(relatedFiles(backendUri));
            VirtualDisk disk = guarded(format, Operation.CREATE, backend, () -> format.create(backend, withFiles));
            return new Opened(disk, provider, format, -1, List.of(new Layer(backendUri, provider, format)));
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

    /** Opens files named relative to {@code image} (or absolutely) through the installed providers. */
    private RelatedFiles relatedFiles(URI image) {
        return new RelatedFiles() {
            @Override
            public StorageBackend open(String location, AccessMode mode) throws StorageException {
                URI uri = related(image, location);
                return openBackend(provider(uri), uri, mode);
            }

            @Override
            public byte[] readWhole(String location, WholeObject object) throws StorageException {
                URI uri = related(image, location);
                if (provider(uri) instanceof WholeObjectReader reader) {
                    byte[] bytes = reader.readWhole(uri, object);
                    if (bytes.length != object.size()) {
                        throw new StorageException(Kind.IO, "the backend for " + uri.getScheme() + ": returned "
                                + bytes.length + " bytes of an object of " + object.size())
                                .withLocation(reference(uri)).withOperation(Operation.READ);
                    }
                    return bytes;
                }
                return RelatedFiles.super.readWhole(location, object);
            }
        };
    }

    /**
     * A file named by an image, resolved against the image's location. A relative name on a server
     * (an HTTP URL) keeps the image's fragment: the settings given for the image hold for its parts.
     */
    static URI related(URI image, String location) throws StorageException {
        URI uri = resolve(image, location);
        if (!image.isOpaque() && image.getHost() != null && image.getRawFragment() != null
                && uri.getRawFragment() == null && !location.strip().matches("[A-Za-z][A-Za-z0-9+.-]+:.*")) {
            try {
                // as raw text: the multi-argument constructors would quote the '%' of escapes again
                return new URI(uri.toString() + "#" + image.getRawFragment());
            } catch (java.net.URISyntaxException e) {
                return uri;
            }
        }
        return uri;
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
                .withLocation(reference(uri)).withOperation(Operation.OPEN));
    }

    private DiskFormat format(String name) throws StorageException {
        return registry.format(name).orElseThrow(() -> new StorageException(Kind.BACKEND_UNAVAILABLE,
                "the format '" + name + "' is not installed (installed: " + registry.formats().stream()
                        .map(DiskFormat::name).collect(Collectors.joining(", ")) + "; or use auto)")
                .withOperation(Operation.OPEN));
    }

    /**
     * Deletes the image at {@code uri}, for taking back an output that could not be finished. An image
     * that spans several files (a VMDK descriptor and its extents) deletes them all when it opens and
     * is {@link Deletable} itself; otherwise, and for a file too unfinished to open, the file alone.
     *
     * @throws StorageException {@code UNSUPPORTED_FEATURE} when its backend cannot delete
     */
    public void delete(URI uri) throws StorageException {
        try {
            VirtualDisk image = openImage(uri, AUTO, OpenOptions.defaults()).disk();
            Optional<Deletable> whole = image.capability(Deletable.class);
            if (whole.isPresent()) {
                whole.get().closeAndDelete();
                return;
            }
            image.close();
        } catch (StorageException unfinished) {
            // not an image any format opens: the file alone
        }
        StorageBackend backend = openBackend(provider(uri), uri, AccessMode.READ_WRITE);
        Optional<Deletable> deletable = backend.capability(Deletable.class);
        if (deletable.isEmpty()) {
            StorageException e = new StorageException(Kind.UNSUPPORTED_FEATURE, "the backend cannot delete")
                    .withLocation(reference(uri));
            closeQuietly(backend, e);
            throw e;
        }
        deletable.get().closeAndDelete();
    }

    /** Opens the backend at {@code uri} itself, for tools that look at its bytes (sizes, checks). */
    public StorageBackend openBackend(URI uri, AccessMode mode) throws StorageException {
        return openBackend(provider(uri), uri, mode);
    }

    private static StorageBackend openBackend(StorageBackendProvider provider, URI uri, AccessMode mode)
            throws StorageException {
        try {
            StorageBackend backend = provider.open(uri, mode);
            if (backend == null) {
                throw new StorageException(Kind.IO, "the backend provider " + provider.getClass().getName()
                        + " returned nothing").withLocation(reference(uri)).withOperation(Operation.OPEN);
            }
            return backend;
        } catch (StorageException e) {
            throw e.withLocation(reference(uri));
        } catch (RuntimeException e) {
            throw new StorageException(Kind.IO, "the backend provider " + provider.getClass().getName()
                    + " failed: " + e, e).withLocation(reference(uri)).withOperation(Operation.OPEN);
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
