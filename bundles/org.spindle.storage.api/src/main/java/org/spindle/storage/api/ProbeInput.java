package org.spindle.storage.api;

import java.nio.ByteBuffer;
import java.util.Objects;

/**
 * What a {@link DiskFormat} may look at to recognise an image: the first bytes, the last bytes and the
 * size of the backend. Probing is a pure function of this input, so it never does I/O.
 */
public final class ProbeInput {
    /** How many leading bytes are offered: enough for every known header, ISO 9660's at 32 KiB included. */
    public static final int HEAD_SIZE = 64 * 1024;
    /** How many trailing bytes are offered: a VHD footer. */
    public static final int TAIL_SIZE = 512;

    private final String location;
    private final long size;
    private final ByteBuffer head;
    private final ByteBuffer tail;

    /**
     * @param location where the image lives (for hints such as a file extension)
     * @param size the backend size in bytes
     * @param head the first {@code min(size, HEAD_SIZE)} bytes
     * @param tail the last {@code min(size, TAIL_SIZE)} bytes
     */
    public ProbeInput(String location, long size, ByteBuffer head, ByteBuffer tail) {
        this.location = Objects.requireNonNull(location, "location");
        this.size = size;
        this.head = head.asReadOnlyBuffer();
        this.tail = tail.asReadOnlyBuffer();
    }

    public String location() {
        return location;
    }

    public long size() {
        return size;
    }

    /** A fresh read-only view of the leading bytes (position 0), in big-endian order. */
    public ByteBuffer head() {
        return head.duplicate().clear();
    }

    /** A fresh read-only view of the trailing bytes (position 0), in big-endian order. */
    public ByteBuffer tail() {
        return tail.duplicate().clear();
    }
}
