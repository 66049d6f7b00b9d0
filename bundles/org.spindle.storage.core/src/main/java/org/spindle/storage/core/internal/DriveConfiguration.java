package org.spindle.storage.core.internal;

import org.osgi.service.metatype.annotations.AttributeDefinition;
import org.osgi.service.metatype.annotations.ObjectClassDefinition;
import org.osgi.service.metatype.annotations.Option;
import org.spindle.storage.api.Drive;

/**
 * The metatype of {@code org.spindle.drive} factory configurations, for tools that edit configuration
 * (web consoles, {@code drive:attach} help). {@link DriveConfig} is what reads them; only the backend
 * must be given, the other fields have defaults.
 */
@ObjectClassDefinition(id = Drive.FACTORY_PID, factoryPid = Drive.FACTORY_PID, name = "Spindle drive",
        description = "One disk image attached as a drive: a backend, a format and how to use them.")
@interface DriveConfiguration {
    @AttributeDefinition(name = "Drive id", required = false,
            description = "The id controllers bind to (defaults to the configuration name after '~').")
    String id();

    @AttributeDefinition(name = "Backend",
            description = "A URI (file:/images/disk.img, memory:scratch?size=64M) or a file path.")
    String backend();

    @AttributeDefinition(name = "Format", required = false, description = "An image format name, or auto to probe the image.")
    String format() default "auto";

    @AttributeDefinition(name = "Read-only", required = false, description = "Open the image for reading only.")
    boolean readOnly() default false;

    @AttributeDefinition(name = "Cache mode", required = false, options = {
        @Option(label = "write-back: durable when the guest flushes", value = "writeback"),
        @Option(label = "write-through: every write durable at once", value = "writethrough"),
        @Option(label = "unsafe: ignore guest flushes", value = "unsafe")})
    String cache() default "writeback";

    @AttributeDefinition(name = "Logical sector size", required = false, options = {
        @Option(label = "the format's own (raw: 512)", value = "0"),
        @Option(label = "512 bytes", value = "512"),
        @Option(label = "2048 bytes (cdrom)", value = "2048"),
        @Option(label = "4096 bytes", value = "4096")})
    int sectorSize() default 0;

    @AttributeDefinition(name = "Media", required = false, options = {
        @Option(label = "what the image is (ISO images are CDs, others disks)", value = ""),
        @Option(label = "hard disk", value = "disk"),
        @Option(label = "CD-ROM: 2048-byte sectors, read-only", value = "cdrom")})
    String media() default "";

    @AttributeDefinition(name = "Overlay", required = false,
            description = "A writable overlay image (URI or path) that takes every write while the backend stays"
                    + " read-only; created as a sparse image naming the backend when it does not exist.")
    String overlay() default "";

    @AttributeDefinition(name = "Block cache size", required = false,
            description = "Memory for the drive's block cache, e.g. 64M; 0 for none (local files are cached by the"
                    + " host already). Write-back or write-through follows the cache mode.")
    String cacheSize() default "0";

    @AttributeDefinition(name = "Block cache block size", required = false,
            description = "The unit the block cache reads and holds, a power of two (default 64K).")
    String cacheBlockSize() default "64K";
}
