package org.spindle.storage.api;

import org.osgi.dto.DTO;

/** A snapshot of one configured drive, attached or not, with the reason when it is not. */
public class DriveDTO extends DTO {
    public String id;
    /** The configuration PID this drive comes from. */
    public String configuration;
    public String backend;
    /** The format asked for ({@code auto} or a name). */
    public String requestedFormat;
    /** The format the image was opened with, or {@code null} when not attached. */
    public String format;
    public boolean readOnly;
    public String cache;
    public DriveState state;
    /** Capacity in bytes, or 0 when not attached. */
    public long capacity;
    /** Logical sector size, or 0 when not attached. */
    public int sectorSize;
    /** Names of the capabilities the disk offers ({@code discard}, {@code write-zeroes}, {@code resize}). */
    public String[] capabilities = new String[0];
    /** The {@link StorageException.Kind} name of the failure, or {@code null}. */
    public String failureKind;
    /** Why the drive is not attached, or {@code null}. */
    public String failure;
}
