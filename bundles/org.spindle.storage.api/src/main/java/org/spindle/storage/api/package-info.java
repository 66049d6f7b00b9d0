/**
 * The storage contract of Spindle: what disk controllers consume and what disk image formats and
 * storage backends provide.
 *
 * <p>Three layers meet here. A {@link org.spindle.storage.api.StorageBackend} is a byte-addressed
 * store (a file, memory, an HTTP resource), opened by a
 * {@link org.spindle.storage.api.StorageBackendProvider} for a URI scheme. A
 * {@link org.spindle.storage.api.DiskFormat} turns a backend into a
 * {@link org.spindle.storage.api.VirtualDisk}: the guest-visible array of sectors. A
 * {@link org.spindle.storage.api.Drive} is a configured, attached disk, registered as a service for
 * controllers to bind to; the {@link org.spindle.storage.api.DriveManager} lists, attaches and
 * detaches them.
 *
 * <p>Optional abilities ({@link org.spindle.storage.api.Discardable},
 * {@link org.spindle.storage.api.WriteZeroes}, {@link org.spindle.storage.api.Resizable},
 * {@link org.spindle.storage.api.AllocationMap}, {@link org.spindle.storage.api.Overlay}) are small
 * interfaces found at run time through {@code capability(Class)}, never by widening the core
 * interfaces. A drive whose medium changes while the guest runs (a CD-ROM) is offered by its device
 * as a {@link org.spindle.storage.api.RemovableMedia} service. Every failure is a {@link org.spindle.storage.api.StorageException} with a stable
 * {@link org.spindle.storage.api.StorageException.Kind}.
 */
@Export
@Version("1.6.0")
package org.spindle.storage.api;

import org.osgi.annotation.bundle.Export;
import org.osgi.annotation.versioning.Version;
