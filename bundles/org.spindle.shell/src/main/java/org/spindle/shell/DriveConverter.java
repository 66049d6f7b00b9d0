package org.spindle.shell;

import java.util.List;

import org.apache.felix.service.command.Converter;
import org.osgi.service.component.annotations.Component;
import org.spindle.storage.api.DriveDTO;

/** Tells the Gogo shell how to print {@link DriveDTO}s: a table line in lists, every field alone. */
@Component(property = "osgi.converter.classes=org.spindle.storage.api.DriveDTO")
public final class DriveConverter implements Converter {
    @Override
    public Object convert(Class<?> desiredType, Object in) {
        return null; // nothing converts into a DriveDTO
    }

    @Override
    public CharSequence format(Object target, int level, Converter escape) {
        if (!(target instanceof DriveDTO drive)) {
            return null;
        }
        return switch (level) {
            case INSPECT -> DriveFormat.details(drive);
            case LINE -> DriveFormat.line(drive);
            default -> drive.id;
        };
    }

    /** For callers that print a whole list as one table. */
    public static String table(List<DriveDTO> drives) {
        return DriveFormat.table(drives);
    }
}
