/**
 * Playing guest driver: {@link org.spindle.testing.qtest.QtestClient} speaks QEMU's qtest protocol to a
 * machine, and {@link org.spindle.testing.qtest.QPci} enumerates and configures its PCI bus the way
 * firmware does, through config mechanism #1 or ECAM.
 */
@Export
@Version("1.0.0")
package org.spindle.testing.qtest;

import org.osgi.annotation.bundle.Export;
import org.osgi.annotation.versioning.Version;
