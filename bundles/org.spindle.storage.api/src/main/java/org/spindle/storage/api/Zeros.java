package org.spindle.storage.api;

import java.nio.ByteBuffer;

/** Zero-filling and zero-testing of buffers, shared by every format's read and write paths. */
public final class Zeros {
    private static final ByteBuffer ZEROS = ByteBuffer.allocateDirect(64 * 1024).asReadOnlyBuffer();

    private Zeros() {
    }

    /** Puts {@code n} zero bytes into {@code dst} at its position, in bulk. */
    public static void put(ByteBuffer dst, int n) {
        for (int done = 0; done < n; ) {
            int chunk = Math.min(n - done, ZEROS.capacity());
            dst.put(ZEROS.duplicate().limit(chunk));
            done += chunk;
        }
    }

    /** Whether the bytes of {@code data} between its position and limit are all zero. */
    public static boolean isZero(ByteBuffer data) {
        for (int at = data.position(); at < data.limit(); at += ZEROS.capacity()) {
            int n = Math.min(ZEROS.capacity(), data.limit() - at);
            if (data.slice(at, n).mismatch(ZEROS.slice(0, n)) != -1) {
                return false;
            }
        }
        return true;
    }
}
