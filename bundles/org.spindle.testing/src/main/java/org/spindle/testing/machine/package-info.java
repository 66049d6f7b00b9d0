/**
 * Test devices for machines: {@link org.spindle.testing.machine.ProbeFunction} is a PCI function with
 * every kind of BAR and interrupt, which logs what reaches it.
 */
@Export
@Version("1.0.0")
package org.spindle.testing.machine;

import org.osgi.annotation.bundle.Export;
import org.osgi.annotation.versioning.Version;
