/**
 * The qtest front door: QEMU's qtest wire protocol for a Spindle {@link org.spindle.machine.api.Machine},
 * so that a test program plays guest driver through port I/O, memory, the clock and interrupt lines.
 * {@link org.spindle.machine.qtest.QtestSession} is the protocol, {@link org.spindle.machine.qtest.QtestServer}
 * the sockets.
 */
@Export
@Version("1.2.0")
package org.spindle.machine.qtest;

import org.osgi.annotation.bundle.Export;
import org.osgi.annotation.versioning.Version;
