package org.spindle.machine.core;

import java.util.Map;

import org.spindle.machine.api.DeviceStateDTO;

/** Making and checking the platform devices' saved states. */
final class DeviceStates {
    private DeviceStates() {
    }

    static DeviceStateDTO of(String type, int version, Map<String, Object> values) {
        DeviceStateDTO dto = new DeviceStateDTO();
        dto.type = type;
        dto.version = version;
        dto.values = values;
        return dto;
    }

    /** The state's values, once it is of {@code type} and {@code version}; else the refusal naming both. */
    static Map<String, Object> values(DeviceStateDTO state, String device, String type, int version) {
        if (state == null || !type.equals(state.type) || state.version != version || state.values == null) {
            throw new IllegalArgumentException(device + " restores " + type + " version " + version + ", not "
                    + (state == null ? "nothing" : state.type + " version " + state.version));
        }
        return state.values;
    }
}
