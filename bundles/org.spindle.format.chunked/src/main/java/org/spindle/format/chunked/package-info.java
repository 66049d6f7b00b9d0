/**
 * Chunked images ({@code aero.chunked-disk-image.v1}): a {@code manifest.json} and whole chunk objects
 * {@code chunks/NNNNNNNN.bin}, served as plain files by any web server or object store and cached whole
 * by content delivery networks. {@link org.spindle.format.chunked.ChunkedManifest} reads and writes
 * manifests under the format's limits; {@link org.spindle.format.chunked.ChunkedPublisher} publishes a
 * disk as one. The format itself ({@code chunked}) is a {@link org.spindle.storage.api.DiskFormat}
 * service of this bundle.
 */
@Export
@Version("1.0.0")
package org.spindle.format.chunked;

import org.osgi.annotation.bundle.Export;
import org.osgi.annotation.versioning.Version;
