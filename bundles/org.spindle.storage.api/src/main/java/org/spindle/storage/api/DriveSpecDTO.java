package org.spindle.storage.api;

import org.osgi.dto.DTO;

/** What an operator asks for when attaching a drive: the fields of an {@code org.spindle.drive} configuration. */
public class DriveSpecDTO extends DTO {
    /** The drive id controllers bind to, e.g. {@code hd0}. Letters, digits, '.', '_' and '-'. */
    public String id;
    /** The backend URI ({@code file:/images/disk.img}, {@code memory:scratch?size=64M}) or a file path. */
    public String backend;
    /** A format name, or {@code auto} to probe. */
    public String format = "auto";
    public boolean readOnly;
    /** A {@link CacheMode} configuration name. */
    public String cache = "writeback";
    /** 512 or 4096, or 0 for the format's own. */
    public int sectorSize;
    /** {@code disk} or {@code cdrom}, or {@code null} for what the format says (ISO images are CDs). */
    public String media;
    /**
     * A writable overlay image (URI or path) that takes the writes while {@code backend} stays
     * read-only; created as a sparse image when it does not exist. {@code null} for none.
     */
    public String overlay;
    /** The block cache size ({@code 64M}, {@code 0} for none), or {@code null} for the default. */
    public String cacheSize;
}
