/**
 * Opening disks outside the drive manager: {@link org.spindle.storage.core.DiskOpener} turns a backend
 * URI and a format name (or {@code auto}) into a {@link org.spindle.storage.api.VirtualDisk}, using the
 * backends and formats of a {@link org.spindle.storage.core.StorageRegistry}: the OSGi services inside
 * the runtime, or {@link java.util.ServiceLoader} in tools such as {@code spindle img}.
 */
@Export
@Version("1.2.0")
package org.spindle.storage.core;

import org.osgi.annotation.bundle.Export;
import org.osgi.annotation.versioning.Version;
