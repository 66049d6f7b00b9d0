package org.spindle.storage.api;

import java.util.Map;
import java.util.Objects;

/** How a {@link DiskFormat} creates a new image. Immutable. */
public final class CreateOptions {
    private final long capacity;
    private final int logicalSectorSize;
    private final Map<String, String> parameters;
    private final BackingReference backing;
    private final RelatedFiles relatedFiles;

    private CreateOptions(long capacity, int logicalSectorSize, Map<String, String> parameters,
            BackingReference backing, RelatedFiles relatedFiles) {
        this.capacity = capacity;
        this.logicalSectorSize = logicalSectorSize;
        this.parameters = Map.copyOf(parameters);
        this.backing = backing;
        this.relatedFiles = relatedFiles;
    }

    /** How to create or open the image's other files, if the opener gave a way (Spindle's does). */
    public java.util.Optional<RelatedFiles> relatedFiles() {
        return java.util.Optional.ofNullable(relatedFiles);
    }

    public CreateOptions withRelatedFiles(RelatedFiles value) {
        return new CreateOptions(capacity, logicalSectorSize, parameters, backing, value);
    }

    /** @throws IllegalArgumentException if {@code capacity} is negative */
    public static CreateOptions ofCapacity(long capacity) {
        if (capacity < 0) {
            throw new IllegalArgumentException("capacity must not be negative: " + capacity);
        }
        return new CreateOptions(capacity, 512, Map.of(), null, null);
    }

    /** The capacity in bytes. */
    public long capacity() {
        return capacity;
    }

    public int logicalSectorSize() {
        return logicalSectorSize;
    }

    public Map<String, String> parameters() {
        return parameters;
    }

    /** @throws IllegalArgumentException unless {@code value} is 512 or 4096 */
    public CreateOptions withLogicalSectorSize(int value) {
        if (value != 512 && value != 4096) {
            throw new IllegalArgumentException("logical sector size must be 512 or 4096, not " + value);
        }
        return new CreateOptions(capacity, value, parameters, backing, relatedFiles);
    }

    public CreateOptions withParameters(Map<String, String> value) {
        return new CreateOptions(capacity, logicalSectorSize, Objects.requireNonNull(value), backing, relatedFiles);
    }

    /**
     * The base the new image is to be an {@link Overlay} of, or {@code null}. Formats that cannot
     * record a base refuse to create an image when one is given.
     *
     * @since 1.1
     */
    public BackingReference backing() {
        return backing;
    }

    /** @since 1.1 */
    public CreateOptions withBacking(BackingReference value) {
        return new CreateOptions(capacity, logicalSectorSize, parameters, value, relatedFiles);
    }

    @Override
    public String toString() {
        return "CreateOptions[capacity=" + capacity + ", logicalSectorSize=" + logicalSectorSize
                + ", parameters=" + parameters + (backing == null ? "" : ", backing=" + backing) + "]";
    }
}
