package org.spindle.device.ata;

import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;

/** Moves a transfer's data the way a controller would, for tests. */
final class Drain {
    private Drain() {
    }

    /** Reads the whole data-in phase by PIO in chunks of {@code chunk} bytes. */
    static byte[] pio(Transfer t, int chunk) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        while (t.remaining() > 0) {
            ByteBuffer b = ByteBuffer.allocate((int) Math.min(chunk, t.remaining()));
            if (!t.toHost(b)) {
                break;
            }
            out.write(b.array(), 0, b.position());
        }
        return out.toByteArray();
    }

    /** Reads the whole data-in phase into {@code pieces} direct buffers of the given sizes (a DMA list). */
    static byte[] dma(Transfer t, int... pieces) {
        List<ByteBuffer> list = new ArrayList<>();
        for (int p : pieces) {
            list.add(ByteBuffer.allocateDirect(p));
        }
        t.toHost(list);
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        for (ByteBuffer b : list) {
            b.flip();
            byte[] a = new byte[b.remaining()];
            b.get(a);
            out.writeBytes(a);
        }
        return out.toByteArray();
    }

    static int[] repeat(int size, int count) {
        int[] a = new int[count];
        java.util.Arrays.fill(a, size);
        return a;
    }
}
