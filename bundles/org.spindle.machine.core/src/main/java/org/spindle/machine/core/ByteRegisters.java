package org.spindle.machine.core;

import org.spindle.machine.api.IoHandler;

/**
 * Registers one byte wide (the PC's legacy chips): a wider access is that many byte accesses at
 * consecutive ports, lowest first, as the ISA bus splits it.
 */
interface ByteRegisters extends IoHandler {
    int readByte(int port);

    void writeByte(int port, int value);

    @Override
    default long read(long offset, int size) {
        long value = 0;
        for (int i = 0; i < size; i++) {
            value |= (long) (readByte((int) offset + i) & 0xFF) << (8 * i);
        }
        return value;
    }

    @Override
    default void write(long offset, int size, long value) {
        for (int i = 0; i < size; i++) {
            writeByte((int) offset + i, (int) (value >>> (8 * i)) & 0xFF);
        }
    }
}
