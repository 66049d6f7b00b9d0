package org.spindle.storage.api;

import java.util.List;

/**
 * What a metadata check of an image found, and what a repair changed. Counting follows
 * {@code qemu-img check}: a <em>corruption</em> can return wrong data to a guest (two blocks sharing
 * storage, a mapping outside the file); a <em>leak</em> only wastes space (storage nothing refers to).
 *
 * @param corruptions corruptions still present after the check (and repair, if asked for)
 * @param leaks leaks still present
 * @param corruptionsRepaired corruptions the repair removed
 * @param leaksRepaired leaks the repair removed
 * @param problems one line per problem found, in the words a person needs to act on it
 * @param allocatedUnits blocks or clusters in use
 * @param totalUnits blocks or clusters the disk has
 * @param imageEnd the offset of the end of the image's used storage
 */
public record CheckReport(long corruptions, long leaks, long corruptionsRepaired, long leaksRepaired,
        List<String> problems, long allocatedUnits, long totalUnits, long imageEnd) {

    public CheckReport {
        problems = List.copyOf(problems);
    }

    /** Whether the image is free of corruptions and leaks. */
    public boolean clean() {
        return corruptions == 0 && leaks == 0;
    }
}
