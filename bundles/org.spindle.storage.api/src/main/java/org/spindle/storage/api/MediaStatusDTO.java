package org.spindle.storage.api;

import org.osgi.dto.DTO;

/**
 * A removable slot now: see {@link RemovableMedia#status()}.
 *
 * @since 1.3
 */
public class MediaStatusDTO extends DTO {
    public String slot;
    /** Whether the tray is open. */
    public boolean trayOpen;
    /** Whether the guest has locked the tray (PREVENT MEDIUM REMOVAL). */
    public boolean locked;
    /** Whether a medium is in the tray (readable only when the tray is closed). */
    public boolean present;
    /** The medium's name, or {@code null} without one. */
    public String medium;
    /** The medium's capacity in bytes, or 0 without one. */
    public long capacity;
    /** How many times the readable medium has changed since the device started. */
    public long changes;
}
