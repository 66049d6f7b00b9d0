package org.spindle.format.vhdx;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.UUID;

import org.spindle.storage.api.StorageException;
import org.spindle.storage.api.StorageException.Kind;

/**
 * One of the two 4 KiB headers (at 64 KiB and 128 KiB): sequence number, the file, data and log
 * GUIDs, and where the log is. The current header is the valid one with the higher sequence number.
 */
record VhdxHeader(long sequence, UUID fileWriteGuid, UUID dataWriteGuid, UUID logGuid, int logVersion, int version,
        long logLength, long logOffset) {
    static final int SIZE = 4096;
    static final long[] SLOTS = {64 << 10, 128 << 10};
    private static final byte[] SIGNATURE = "head".getBytes(StandardCharsets.US_ASCII);

    /** Parses a header, or throws naming what is wrong with it (the caller decides which slot wins). */
    static VhdxHeader parse(byte[] raw) throws StorageException {
        if (!Arrays.equals(raw, 0, 4, SIGNATURE, 0, 4)) {
            throw new StorageException(Kind.CORRUPT_IMAGE, "no 'head' signature");
        }
        if (Crc.stored(raw, 4) != Crc.of(raw, 0, SIZE, 4)) {
            throw new StorageException(Kind.CORRUPT_IMAGE, "the checksum does not match");
        }
        ByteBuffer b = ByteBuffer.wrap(raw).order(ByteOrder.LITTLE_ENDIAN);
        return new VhdxHeader(b.getLong(8), Guids.read(b, 16), Guids.read(b, 32), Guids.read(b, 48),
                Short.toUnsignedInt(b.getShort(64)), Short.toUnsignedInt(b.getShort(66)),
                Integer.toUnsignedLong(b.getInt(68)), b.getLong(72));
    }

    /** Checks the fields a reader relies on, against the file's size. */
    void validate() throws StorageException {
        if (version != 1) {
            throw new StorageException(Kind.UNSUPPORTED_FEATURE, "VHDX version " + version + " (only version 1 is defined)");
        }
        if (logVersion != 0 && !logGuid.equals(Guids.ZERO)) {
            throw new StorageException(Kind.UNSUPPORTED_FEATURE, "log version " + logVersion
                    + " with a log to replay (only log version 0 is defined)");
        }
        if (logLength % VhdxLayout.MB != 0 || logOffset % VhdxLayout.MB != 0 || logOffset < VhdxLayout.MB
                || logLength == 0 && !logGuid.equals(Guids.ZERO)) {
            throw new StorageException(Kind.CORRUPT_IMAGE, "the log at " + Long.toUnsignedString(logOffset) + " ("
                    + logLength + " bytes) is not placed in whole MiB after the header section");
        }
    }

    byte[] encode() {
        byte[] raw = new byte[SIZE];
        ByteBuffer b = ByteBuffer.wrap(raw).order(ByteOrder.LITTLE_ENDIAN);
        b.put(0, SIGNATURE);
        b.putLong(8, sequence);
        Guids.write(b, 16, fileWriteGuid);
        Guids.write(b, 32, dataWriteGuid);
        Guids.write(b, 48, logGuid);
        b.putShort(64, (short) logVersion);
        b.putShort(66, (short) version);
        b.putInt(68, (int) logLength);
        b.putLong(72, logOffset);
        Crc.seal(raw, 0, SIZE, 4);
        return raw;
    }

    VhdxHeader next(UUID newFileWrite, UUID newDataWrite, UUID newLog) {
        return new VhdxHeader(sequence + 1, newFileWrite, newDataWrite, newLog, logVersion, version, logLength, logOffset);
    }

    boolean hasLog() {
        return !logGuid.equals(Guids.ZERO);
    }
}
