package org.spindle.storage.api;

import org.osgi.annotation.versioning.ConsumerType;

/**
 * A disk image format: recognises its images, opens them over a backend and creates new ones.
 * Registered as an OSGi service with the {@link #NAME} property (outside OSGi, through
 * {@link java.util.ServiceLoader}).
 */
@ConsumerType
public interface DiskFormat {
    /** Service property ({@code String}): the format name used in configuration, e.g. {@code qcow2}. */
    String NAME = "spindle.format.name";

    /** Probe score: not this format. */
    int PROBE_NO = 0;
    /** Probe score of a format that accepts anything (raw): used only when nothing else matches. */
    int PROBE_FALLBACK = 1;
    /** Probe score of a weak sign, e.g. a file extension or a header without a checksum. */
    int PROBE_WEAK = 50;
    /** Probe score of a magic number with a plausible header. */
    int PROBE_MAGIC = 100;

    /** The format name, the same as the {@link #NAME} service property. */
    String name();

    /**
     * Scores how surely {@code input} is an image of this format: {@link #PROBE_NO} up to
     * {@link #PROBE_MAGIC}. A truncated or damaged image that carries this format's magic should still
     * score high, so that opening it reports {@code CORRUPT_IMAGE} instead of exposing its metadata to a
     * guest as raw data. Must not throw.
     */
    int probe(ProbeInput input);

    /**
     * Opens the image held by {@code backend}. The disk owns the backend from then on and closes it.
     * If this throws, the caller still owns the backend.
     */
    VirtualDisk open(StorageBackend backend, OpenOptions options) throws StorageException;

    /**
     * Writes a new, empty image into {@code backend} (empty and writable) and opens it. Formats that
     * cannot create images fail with {@code UNSUPPORTED_FEATURE}.
     */
    VirtualDisk create(StorageBackend backend, CreateOptions options) throws StorageException;

    /**
     * Checks the metadata of the image held by {@code backend} and, if {@code repair} is set (and the
     * backend writable), repairs what can be repaired without losing data that a guest could still
     * read. Works on images that {@link #open} refuses as corrupt; that is what it is for. The caller
     * keeps the backend. Formats without metadata to check fail with {@code UNSUPPORTED_FEATURE}, as
     * this default does.
     *
     * @since 1.1
     */
    default CheckReport check(StorageBackend backend, boolean repair) throws StorageException {
        throw new StorageException(StorageException.Kind.UNSUPPORTED_FEATURE,
                "the " + name() + " format has no metadata to check")
                .withOperation(StorageException.Operation.CHECK).withLocation(backend.location());
    }
}
