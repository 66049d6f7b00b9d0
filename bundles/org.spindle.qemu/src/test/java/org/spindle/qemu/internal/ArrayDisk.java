package org.spindle.qemu.internal;

import java.nio.ByteBuffer;

import org.spindle.storage.api.Drive;
import org.spindle.storage.api.DriveDTO;

/** A drive over a byte array, for tests. */
final class ArrayDisk implements Drive {
    private final byte[] bytes;

    ArrayDisk(int size) {
        bytes = new byte[size];
    }

    byte[] bytes() {
        return bytes;
    }

    @Override
    public String id() {
        return "array";
    }

    @Override
    public DriveDTO info() {
        DriveDTO dto = new DriveDTO();
        dto.id = id();
        return dto;
    }

    @Override
    public int logicalSectorSize() {
        return 512;
    }

    @Override
    public long capacity() {
        return bytes.length;
    }

    @Override
    public boolean isReadOnly() {
        return false;
    }

    @Override
    public String formatName() {
        return "raw";
    }

    @Override
    public void read(long offset, ByteBuffer dst) {
        dst.put(bytes, (int) offset, dst.remaining());
    }

    @Override
    public void write(long offset, ByteBuffer src) {
        src.get(bytes, (int) offset, src.remaining());
    }

    @Override
    public void flush() {
    }

    @Override
    public void close() {
    }
}
