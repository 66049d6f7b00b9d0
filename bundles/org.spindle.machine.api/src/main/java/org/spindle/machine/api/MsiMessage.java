package org.spindle.machine.api;

/**
 * A message-signalled interrupt: a 32-bit write of {@code data} to {@code address}, which the
 * platform routes like any memory write (to the local APIC window it is an interrupt; anywhere else
 * it is memory the guest can look at).
 *
 * @param address the guest physical address (4-byte aligned)
 * @param data the value written
 */
public record MsiMessage(long address, int data) {
    /** Delivers the message: the memory write. */
    public void deliver(GuestMemory memory) throws GuestMemoryException {
        memory.write(address, 4, Integer.toUnsignedLong(data));
    }
}
