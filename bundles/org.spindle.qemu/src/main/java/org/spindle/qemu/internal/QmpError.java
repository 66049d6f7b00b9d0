package org.spindle.qemu.internal;

/**
 * A command's failure as QMP reports it: {@code {"error": {"class": …, "desc": …}}}.
 *
 * @param errorClass QEMU's error class: {@code GenericError} nearly always, {@code CommandNotFound} or
 *        {@code DeviceNotFound} where QEMU says so
 */
final class QmpError extends Exception {
    private static final long serialVersionUID = 1L;

    final String errorClass;

    QmpError(String errorClass, String desc) {
        super(desc, null, false, false);
        this.errorClass = errorClass;
    }

    static QmpError generic(String desc) {
        return new QmpError("GenericError", desc);
    }
}
