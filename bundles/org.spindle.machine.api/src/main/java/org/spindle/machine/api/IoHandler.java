package org.spindle.machine.api;

import org.osgi.annotation.versioning.ConsumerType;

/**
 * A device's registers in an {@link IoSpace}: accesses of 1, 2, 4 or 8 bytes at an offset from the
 * start of the device's region. A read returns the value in the low {@code size} bytes; a write's
 * value is in the low {@code size} bytes. Called on the machine thread; a handler must not throw
 * (a guest's access to a register that does not exist reads all ones or as the specification says,
 * and writes to it are ignored).
 */
@ConsumerType
public interface IoHandler {
    long read(long offset, int size);

    void write(long offset, int size, long value);
}
