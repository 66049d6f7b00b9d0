/**
 * The machine contract of Spindle: what device models consume from the machine they are plugged
 * into, and what they offer it.
 *
 * <p>A device reaches the guest through {@link org.spindle.machine.api.GuestMemory} (the physical
 * address space: RAM, and MMIO regions other devices registered), moving data by
 * {@link org.spindle.machine.api.SgList scatter-gather lists} mapped straight onto guest RAM, so a
 * disk read lands in the guest with one copy. It offers registers by mapping an
 * {@link org.spindle.machine.api.IoHandler} into an {@link org.spindle.machine.api.IoSpace} (port I/O
 * or MMIO, accesses of 1, 2, 4 or 8 bytes), signals through an
 * {@link org.spindle.machine.api.InterruptLine} or an {@link org.spindle.machine.api.MsiMessage},
 * keeps time with the {@link org.spindle.machine.api.VirtualClock}, and takes part in the machine's
 * life through {@link org.spindle.machine.api.DeviceLifecycle}: reset, quiesce and resume, and a
 * versioned {@link org.spindle.machine.api.DeviceStateDTO} to save and restore.
 *
 * <p>Device models run on the machine thread; nothing here is meant to be called concurrently
 * unless it says so.
 */
@Export
@Version("1.3.0")
package org.spindle.machine.api;

import org.osgi.annotation.bundle.Export;
import org.osgi.annotation.versioning.Version;
