package org.spindle.machine.api;

import java.util.Map;

import org.osgi.dto.DTO;

/**
 * A device's saved state: what {@link DeviceLifecycle#save} returns and {@link DeviceLifecycle#restore}
 * takes back, to carry a device across a reset, a snapshot or a swap of its implementation. The
 * {@code values} hold plain data only (numbers, booleans, strings, byte arrays, lists and maps of
 * them), under names the device documents.
 */
public class DeviceStateDTO extends DTO {
    /** What kind of device wrote the state (for example {@code org.spindle.machine.core.Pic8259}). */
    public String type;

    /** The layout version of {@link #values}; a device refuses a version it cannot read. */
    public int version;

    /** The state itself. */
    public Map<String, Object> values;
}
