package org.spindle.device.ata;

import java.util.Locale;

/**
 * Where a controller runs the data phases of disk commands that reach the storage (reads, writes,
 * flushes, verifies): a controller's {@code io} setting.
 *
 * @since 1.6
 */
public enum IoMode {
    /** Inside the register write that issued the command, on the machine thread. */
    INLINE,
    /** On an I/O thread ({@link IoThreads}), the completion posted back to the machine thread. */
    WORKERS,
    /**
     * Per device: on I/O threads until a window of quick data phases shows the storage quick (data the
     * host has cached), then inline until they wait for the storage again (see {@link AutoPlacement}).
     */
    AUTO;

    /** The configuration name: {@code inline}, {@code workers} or {@code auto}. */
    public String configName() {
        return name().toLowerCase(Locale.ROOT);
    }

    /** @throws IllegalArgumentException naming the text and the accepted values */
    public static IoMode parse(String text) {
        for (IoMode io : values()) {
            if (io.configName().equals(text)) {
                return io;
            }
        }
        throw new IllegalArgumentException("io '" + text + "' (auto, inline or workers)");
    }
}
