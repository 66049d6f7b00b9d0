package org.spindle.storage.api;

import java.util.Map;
import java.util.Objects;

/** How a {@link DiskFormat} opens an image. Immutable; built with the {@code with…} methods. */
public final class OpenOptions {
    private static final OpenOptions DEFAULTS = new OpenOptions(false, 0, Map.of(), null);

    private final boolean readOnly;
    private final int logicalSectorSize;
    private final Map<String, String> parameters;
    private final RelatedFiles relatedFiles;

    private OpenOptions(boolean readOnly, int logicalSectorSize, Map<String, String> parameters,
            RelatedFiles relatedFiles) {
        this.readOnly = readOnly;
        this.logicalSectorSize = logicalSectorSize;
        this.parameters = Map.copyOf(parameters);
        this.relatedFiles = relatedFiles;
    }

    /** How to open the image's other files, if the opener gave a way (Spindle's does). */
    public java.util.Optional<RelatedFiles> relatedFiles() {
        return java.util.Optional.ofNullable(relatedFiles);
    }

    public OpenOptions withRelatedFiles(RelatedFiles value) {
        return new OpenOptions(readOnly, logicalSectorSize, parameters, value);
    }

    public static OpenOptions defaults() {
        return DEFAULTS;
    }

    public boolean readOnly() {
        return readOnly;
    }

    /** The sector size asked for, or 0 for the format's own (a header's value, or 512). */
    public int logicalSectorSize() {
        return logicalSectorSize;
    }

    /** Format-specific parameters. */
    public Map<String, String> parameters() {
        return parameters;
    }

    public OpenOptions withReadOnly(boolean value) {
        return new OpenOptions(value, logicalSectorSize, parameters, relatedFiles);
    }

    /** @throws IllegalArgumentException unless {@code value} is 0, 512, 2048 (CD media) or 4096 */
    public OpenOptions withLogicalSectorSize(int value) {
        if (value != 0 && value != 512 && value != MediaType.CD_SECTOR_SIZE && value != 4096) {
            throw new IllegalArgumentException("logical sector size must be 512, 2048 or 4096, not " + value);
        }
        return new OpenOptions(readOnly, value, parameters, relatedFiles);
    }

    public OpenOptions withParameters(Map<String, String> value) {
        return new OpenOptions(readOnly, logicalSectorSize, Objects.requireNonNull(value), relatedFiles);
    }

    @Override
    public String toString() {
        return "OpenOptions[readOnly=" + readOnly + ", logicalSectorSize=" + logicalSectorSize
                + ", parameters=" + parameters + "]";
    }
}
