package org.spindle.device.ide;

import java.util.HashSet;
import java.util.Map;
import java.util.Set;

import org.spindle.device.ata.DeviceSpec;

/**
 * What an {@code org.spindle.device.ide} configuration puts in the controller's four places: for each
 * of {@code primary.master}, {@code primary.slave}, {@code secondary.master} and
 * {@code secondary.slave}, nothing (empty), {@code disk:ID} (an ATA disk over drive ID),
 * {@code cdrom:ID} (a CD-ROM whose disc is drive ID while it is attached) or {@code cdrom} (a CD-ROM
 * whose disc the operator inserts).
 */
record IdePositions(Position[] positions) {
    static final String[] KEYS = {"primary.master", "primary.slave", "secondary.master", "secondary.slave"};

    enum Kind {
        NONE, DISK, CDROM
    }

    /**
     * One place: its kind and the drive it follows (null for none).
     *
     * @param index 0 to 3: primary master, primary slave, secondary master, secondary slave
     */
    record Position(int index, Kind kind, String drive) {
        String key() {
            return KEYS[index];
        }

        /** The channel (0 primary, 1 secondary) and unit (0 master, 1 slave), as in a slot name. */
        String channelUnit() {
            return (index >> 1) + "." + (index & 1);
        }
    }

    /**
     * Reads the four places from a configuration.
     *
     * @throws IllegalArgumentException naming the property and what is wrong with it
     */
    static IdePositions parse(Map<String, ?> props) {
        Position[] positions = new Position[4];
        Set<String> drives = new HashSet<>();
        for (int i = 0; i < 4; i++) {
            Object raw = props.get(KEYS[i]);
            String text = raw == null ? "" : raw.toString().trim();
            Position p = position(i, text);
            if (p.drive() != null && !drives.add(p.drive())) {
                throw new IllegalArgumentException(KEYS[i] + " = " + text + ": drive " + p.drive()
                        + " is in another place of this controller already");
            }
            positions[i] = p;
        }
        return new IdePositions(positions);
    }

    private static Position position(int index, String text) {
        DeviceSpec spec = DeviceSpec.parse(KEYS[index], text);
        Kind kind = switch (spec.kind()) {
            case NONE -> Kind.NONE;
            case DISK -> Kind.DISK;
            case CDROM -> Kind.CDROM;
        };
        return new Position(index, kind, spec.drive());
    }
}
