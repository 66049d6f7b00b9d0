/**
 * Test suites for storage bundles. {@link org.spindle.testing.storage.BackendContract} is the
 * behaviour every {@link org.spindle.storage.api.StorageBackend} must show;
 * {@link org.spindle.testing.storage.DiskModelCheck} runs random operation sequences against a disk
 * and against an in-memory model and fails on the first difference (jqwik shrinks it to a minimal
 * sequence).
 */
@Export
@Version("1.1.0")
package org.spindle.testing.storage;

import org.osgi.annotation.bundle.Export;
import org.osgi.annotation.versioning.Version;
