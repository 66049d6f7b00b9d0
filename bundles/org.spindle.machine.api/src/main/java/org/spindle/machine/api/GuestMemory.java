package org.spindle.machine.api;

import java.nio.ByteBuffer;

import org.osgi.annotation.versioning.ProviderType;

/**
 * The guest's physical address space, as a device's DMA engine sees it: RAM, and the MMIO regions
 * mapped into it. All values are little-endian, as the PC's are.
 *
 * <p>{@link #read} and {@link #write} reach RAM and MMIO alike (an MSI is a memory write that may
 * land on the interrupt controller); they fail, changing nothing, when any part of the range is
 * neither. {@link #map} is for bulk data: it maps a scatter-gather list onto RAM only, so that a disk
 * transfer moves straight between the image and the guest's memory.
 */
@ProviderType
public interface GuestMemory {
    /** The bytes of RAM the machine has (below and above the 4 GiB boundary together). */
    long ramSize();

    /** Whether every byte of the range is RAM (not MMIO, not unassigned). */
    boolean isRam(long address, long length);

    /** Reads {@code dst.remaining()} bytes at {@code address}, from RAM or MMIO. */
    void read(long address, ByteBuffer dst) throws GuestMemoryException;

    /** Writes {@code src.remaining()} bytes at {@code address}, to RAM or MMIO. */
    void write(long address, ByteBuffer src) throws GuestMemoryException;

    /** Reads a value of {@code size} bytes (1, 2, 4 or 8), zero-extended: one access of that width. */
    long read(long address, int size) throws GuestMemoryException;

    /** Writes the low {@code size} bytes (1, 2, 4 or 8) of {@code value}: one access of that width. */
    void write(long address, int size, long value) throws GuestMemoryException;

    default int readInt(long address) throws GuestMemoryException {
        return (int) read(address, 4);
    }

    default long readLong(long address) throws GuestMemoryException {
        return read(address, 8);
    }

    default void writeInt(long address, int value) throws GuestMemoryException {
        write(address, 4, value);
    }

    default void writeLong(long address, long value) throws GuestMemoryException {
        write(address, 8, value);
    }

    /**
     * Maps {@code list} onto guest RAM, for a transfer in either direction. The buffers are live views:
     * what the controller writes into them is in guest memory at once. They stay valid while the
     * machine runs; a controller drops them when its transfer ends.
     */
    DmaMapping map(SgList list);
}
