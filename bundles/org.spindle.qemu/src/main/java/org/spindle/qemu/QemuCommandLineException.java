package org.spindle.qemu;

/** A command line the QEMU-compatible launcher does not take; the message names the option and why. */
public final class QemuCommandLineException extends Exception {
    private static final long serialVersionUID = 1L;

    public QemuCommandLineException(String message) {
        super(message);
    }
}
