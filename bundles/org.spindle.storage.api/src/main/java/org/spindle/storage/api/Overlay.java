package org.spindle.storage.api;

import org.osgi.annotation.versioning.ConsumerType;

/**
 * The mark of an image that stores only its differences from a base image it names (a backing file,
 * in {@code qemu-img} terms). Whoever opens the image (Spindle's opener) opens the base read-only and
 * layers the two; the format itself only records the reference.
 */
@ConsumerType
public interface Overlay {
    /** The base this image was created over. */
    BackingReference base();
}
