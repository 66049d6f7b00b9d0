package org.spindle.storage.api;

import java.util.Optional;

import org.osgi.annotation.versioning.ConsumerType;

/**
 * A drive whose medium can change while the guest runs: a CD-ROM's tray, the disc on it, and the
 * guest's lock on the tray. A device model implements it for each removable slot it has and registers
 * it as a service with {@link #SLOT}; operators use it to change discs, and listeners hear every
 * change.
 *
 * <p>The tray and the medium are separate, as on a real drive: an open tray may hold a disc that the
 * guest cannot read until the tray closes again. A guest that has locked the tray (PREVENT ALLOW
 * MEDIUM REMOVAL) keeps it shut: a request to open it fails with {@link StorageException.Kind#IN_USE}
 * unless forced, and the guest is told that someone asked for an eject (as pressing a locked drive's
 * button does). Whatever changes, the guest learns it the way real drives report it (for ATAPI: NOT
 * READY while there is no medium, then UNIT ATTENTION "medium may have changed", and media events).
 *
 * <p>The slot never closes a medium: whoever inserted a {@link VirtualDisk} owns it and may close it
 * once it has been {@linkplain #remove removed}. Methods may be called from any thread.
 *
 * @since 1.3
 */
@ConsumerType
public interface RemovableMedia {
    /** Service property ({@code String}): the slot's name, unique in the runtime, e.g. {@code ide0.1.0}. */
    String SLOT = "spindle.media.slot";

    /** The slot's name. */
    String slot();

    /** The tray, the lock and the medium now. */
    MediaStatusDTO status();

    /**
     * Opens the tray; a medium on it stays there but cannot be read.
     *
     * @param force open even when the guest has locked the tray (a real drive's emergency eject)
     * @throws StorageException {@code IN_USE} when the guest has locked the tray and {@code force} is
     *         false (the guest sees an eject request)
     */
    void openTray(boolean force) throws StorageException;

    /** Closes the tray; a medium on it becomes readable (the guest sees a medium change). */
    void closeTray() throws StorageException;

    /**
     * Changes the disc: opens the tray if it is closed, puts {@code medium} on it in place of any other,
     * and closes it.
     *
     * @param name what the medium is called in status and events (an image path, a drive id)
     * @param force change it even when the guest has locked the tray
     * @throws StorageException {@code IN_USE} when locked and not forced; {@code UNSUPPORTED_FEATURE}
     *         when this drive cannot present the medium (its sector size, for example)
     */
    void insert(VirtualDisk medium, String name, boolean force) throws StorageException;

    /**
     * Puts {@code medium} on the open, empty tray and leaves the tray open (QEMU's
     * {@code blockdev-insert-medium}); closing the tray then makes it readable.
     *
     * @param name what the medium is called in status and events
     * @throws StorageException {@code IN_USE} when the tray is closed or holds a medium already;
     *         {@code UNSUPPORTED_FEATURE} when this drive cannot present the medium, or cannot take a
     *         medium on an open tray (the default)
     * @since 1.6
     */
    default void load(VirtualDisk medium, String name) throws StorageException {
        throw new StorageException(StorageException.Kind.UNSUPPORTED_FEATURE, "slot " + slot()
                + " cannot take a medium on an open tray");
    }

    /**
     * Opens the tray and takes the medium out; the tray stays open.
     *
     * @return the medium that was in the drive, which the caller may now close
     * @throws StorageException {@code IN_USE} when locked and not forced
     */
    Optional<VirtualDisk> remove(boolean force) throws StorageException;

    /** Calls {@code listener} after every change, on the thread that made it; closing the result stops it. */
    AutoCloseable addListener(MediaListener listener);

    /** What hears about media changes. */
    @ConsumerType
    @FunctionalInterface
    interface MediaListener {
        void mediaChanged(MediaEvent event);
    }

    /**
     * One change of a removable slot.
     *
     * @param slot the slot's name
     * @param kind what happened
     * @param medium the name of the medium concerned, or {@code null} when there is none
     * @param byGuest whether the guest caused it (START STOP UNIT, PREVENT ALLOW MEDIUM REMOVAL)
     */
    record MediaEvent(String slot, Kind kind, String medium, boolean byGuest) {
    }

    /** The kinds of {@link MediaEvent}. */
    enum Kind {
        TRAY_OPENED,
        TRAY_CLOSED,
        INSERTED,
        REMOVED,
        /** The guest locked the tray. */
        LOCKED,
        /** The guest unlocked the tray. */
        UNLOCKED,
        /** Someone asked to open a locked tray without force; the guest was told, the tray stayed shut. */
        EJECT_REQUESTED
    }
}
