package org.spindle.device.ata;

import java.util.concurrent.Callable;

/**
 * How a call from outside the machine (an operator changing a disc) reaches the thread that owns a
 * device: engines are not thread-safe, so such calls run there, between two register accesses.
 */
@FunctionalInterface
public interface DeviceThread {
    /** Runs calls on the caller's thread: for tests, and devices no other thread touches. */
    DeviceThread DIRECT = Callable::call;

    /** Runs {@code work} on the device's thread and returns what it returned or throws what it threw. */
    Object call(Callable<?> work) throws Exception;
}
