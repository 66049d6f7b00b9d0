package org.spindle.testing.qtest;

/** A qtest request answered with {@code FAIL} or {@code ERR}, or a connection that broke. */
public final class QtestException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    public QtestException(String message) {
        super(message);
    }

    public QtestException(String message, Throwable cause) {
        super(message, cause);
    }
}
