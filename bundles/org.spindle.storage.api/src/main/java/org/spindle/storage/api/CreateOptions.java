package org.spindle.storage.api;

import java.util.Map;
import java.util.Objects;

/** How a {@link DiskFormat} creates a new image. Immutable. */
public final class CreateOptions {
    private final long capacity;
    private final int logicalSectorSize;
    private final Map<String, String> parameters;

    private CreateOptions(long capacity, int logicalSectorSize, Map<String, String> parameters) {
        this.capacity = capacity;
        this.logicalSectorSize = logicalSectorSize;
        this.parameters = Map.copyOf(parameters);
    }

    /** @throws IllegalArgumentException if {@code capacity} is negative */
    public static CreateOptions ofCapacity(long capacity) {
        if (capacity < 0) {
            throw new IllegalArgumentException("capacity must not be negative: " + capacity);
        }
        return new CreateOptions(capacity, 512, Map.of());
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
        return new CreateOptions(capacity, value, parameters);
    }

    public CreateOptions withParameters(Map<String, String> value) {
        return new CreateOptions(capacity, logicalSectorSize, Objects.requireNonNull(value));
    }

    @Override
    public String toString() {
        return "CreateOptions[capacity=" + capacity + ", logicalSectorSize=" + logicalSectorSize
                + ", parameters=" + parameters + "]";
    }
}
