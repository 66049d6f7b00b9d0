/**
 * The QEMU front end: {@link org.spindle.qemu.QemuCommandLine} reads the subset of QEMU's command line
 * that QEMU-style device test programs (libqtest) pass; the bundle builds the machine, drives and
 * controllers it asks for from configurations, connects the qtest socket, and answers QMP on the
 * monitor socket. {@code spindle-system-x86_64} is the launcher that starts it.
 */
@Export
@Version("1.0.0")
package org.spindle.qemu;

import org.osgi.annotation.bundle.Export;
import org.osgi.annotation.versioning.Version;
