package org.spindle.storage.api;

import java.io.IOException;
import java.io.Serial;
import java.util.Objects;

/**
 * The one exception of the storage layer: a stable {@link Kind} that callers switch on, plus the
 * context (drive, location, offset, operation) that a person needs to understand what failed.
 *
 * <p>Context is filled in as the exception travels outward: a backend knows the location and offset,
 * the drive layer adds the drive id. Each {@code with…} method sets its field only if it is still
 * unset, so the innermost (most precise) value wins.
 */
public class StorageException extends IOException {
    @Serial
    private static final long serialVersionUID = 1L;

    /** The small, stable set of failure kinds. Controllers map each to a guest status in one place. */
    public enum Kind {
        /** The host I/O failed (the operating system, the network, a device). */
        IO,
        /** The request lies (partly) outside the disk or backend. */
        OUT_OF_BOUNDS,
        /** A sector-addressed request was not a whole number of sectors. */
        UNALIGNED,
        /** An image's metadata is inconsistent or malformed. */
        CORRUPT_IMAGE,
        /** The image or request needs a feature this implementation does not have. */
        UNSUPPORTED_FEATURE,
        /** A write, flush of changed data or resize was attempted on something opened read-only. */
        READ_ONLY,
        /** A removable drive has no medium inserted. */
        NO_MEDIUM,
        /** The backend (or the provider for its scheme, or a format) is not available now. */
        BACKEND_UNAVAILABLE,
        /** Something else holds the image or the drive id (a lock, another drive). */
        IN_USE,
        /** A configuration or option is missing or has a wrong value. */
        INVALID_CONFIG,
        /** The image, file or named volume does not exist. */
        NOT_FOUND,
        /** The host refused access (permissions). */
        ACCESS_DENIED,
        /** Something that was to be created exists already. */
        ALREADY_EXISTS
    }

    /** What was being done when the failure happened. */
    public enum Operation {
        OPEN, CREATE, PROBE, READ, WRITE, FLUSH, DISCARD, WRITE_ZEROES, RESIZE, CLOSE, CONFIGURE,
        /** Checking or repairing an image's metadata. */
        CHECK,
        /** Merging an overlay into its base. */
        COMMIT
    }

    private final Kind kind;
    private final String detail;
    private String drive;
    private String location;
    private long offset = -1;
    private long length = -1;
    private Operation operation;

    public StorageException(Kind kind, String detail) {
        this(kind, detail, null);
    }

    public StorageException(Kind kind, String detail, Throwable cause) {
        super(detail, cause);
        this.kind = Objects.requireNonNull(kind, "kind");
        this.detail = detail == null ? "" : detail;
    }

    public Kind kind() {
        return kind;
    }

    /** The message without context. */
    public String detail() {
        return detail;
    }

    /** The drive id, or {@code null} if the failure happened outside a drive. */
    public String drive() {
        return drive;
    }

    /** The backend location (URI or path), or {@code null}. */
    public String location() {
        return location;
    }

    /** The byte offset of the failed request, or -1. */
    public long offset() {
        return offset;
    }

    /** The byte length of the failed request, or -1. */
    public long length() {
        return length;
    }

    /** The operation, or {@code null}. */
    public Operation operation() {
        return operation;
    }

    public StorageException withDrive(String drive) {
        if (this.drive == null) {
            this.drive = drive;
        }
        return this;
    }

    public StorageException withLocation(String location) {
        if (this.location == null) {
            this.location = location;
        }
        return this;
    }

    public StorageException withOperation(Operation operation) {
        if (this.operation == null) {
            this.operation = operation;
        }
        return this;
    }

    /** Records the byte range of the failed request. */
    public StorageException withRange(long offset, long length) {
        if (this.offset < 0) {
            this.offset = offset;
            this.length = length;
        }
        return this;
    }

    /** Shorthand for {@code withOperation(op).withRange(offset, length)}. */
    public StorageException at(Operation operation, long offset, long length) {
        return withOperation(operation).withRange(offset, length);
    }

    @Override
    public String getMessage() {
        StringBuilder sb = new StringBuilder().append(kind);
        if (operation != null) {
            sb.append(": ").append(operation.name().toLowerCase(java.util.Locale.ROOT).replace('_', ' '));
            if (length >= 0) {
                sb.append(" of ").append(length).append(" bytes");
            }
            if (offset >= 0) {
                sb.append(" at offset ").append(offset);
            }
        }
        if (drive != null) {
            sb.append(operation != null ? " on drive " : ": drive ").append(drive);
        }
        if (location != null) {
            sb.append(" (").append(location).append(')');
        }
        if (!detail.isEmpty()) {
            sb.append(": ").append(detail);
        }
        return sb.toString();
    }
}
