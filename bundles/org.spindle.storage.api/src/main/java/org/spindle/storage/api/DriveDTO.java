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
    /** The {@link MediaType} configuration name: {@code disk} or {@code cdrom}. */
    public String media;
    /**
     * The images under the top one, nearest first: the bases of an overlay chain ({@code overlay} over
     * {@code backend}, or backing files the image names). Empty for a single image.
     */
    public String[] chain = new String[0];
    /** The block cache's counters, or {@code null} when the drive has no block cache. */
    public CacheStatsDTO blockCache;
    /**
     * What reading each image of the chain over a network has cost, top first, for the images whose
     * backend or format counts it ({@link TransferStatistics}); empty when none does.
     *
     * @since 1.5
     */
    public TransferStatsDTO[] transfers = new TransferStatsDTO[0];
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
