/**
 * The ATA and ATAPI command sets, for controllers to share: IDE and AHCI carry the same commands over
 * different transports.
 *
 * <p>Guest input becomes a typed command in a pure parser ({@link org.spindle.device.ata.AtaParser} for
 * a {@link org.spindle.device.ata.Taskfile}, {@link org.spindle.device.ata.AtapiParser} for a 12-byte
 * CDB); an executor ({@link org.spindle.device.ata.AtaDisk}, {@link org.spindle.device.ata.AtapiCdrom})
 * runs it against a {@code VirtualDisk} and hands the controller a {@link org.spindle.device.ata.Transfer}:
 * the data phase, which the controller moves by PIO or DMA, and the registers to report at its end.
 * Nothing here knows about ports, FISes or interrupts, and nothing here throws at a guest: every
 * failure is a status with ATA error bits or SCSI sense.
 */
@Export
@Version("1.6.0")
package org.spindle.device.ata;

import org.osgi.annotation.bundle.Export;
import org.osgi.annotation.versioning.Version;
