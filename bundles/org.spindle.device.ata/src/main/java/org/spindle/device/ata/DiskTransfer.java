package org.spindle.device.ata;

import java.nio.ByteBuffer;
import java.util.List;
import java.util.Map;

import org.spindle.storage.api.StorageException;
import org.spindle.storage.api.VirtualDisk;

/**
 * Sectors moving between a {@link VirtualDisk} and the host, straight into or out of the controller's
 * buffers (guest RAM, for DMA). A scatter-gather list of many small pieces goes through one bounce
 * buffer instead: one disk request for the lot and memory copies, rather than a request per piece.
 */
final class DiskTransfer extends Transfer {
    /** Below this average piece size a list goes through the bounce buffer. */
    static final int SMALL_PIECE = 16 * 1024;
    /** The bounce buffer's size: the most one disk request of a gathered list moves. */
    static final int BOUNCE_SIZE = 256 * 1024;

    /**
     * How an engine turns a storage failure into the registers (and sense) to report: {@code e} failed
     * the request for {@code length} bytes at {@code byteOffset} (0 bytes for a flush at the end).
     */
    interface Failure {
        AtaResult map(StorageException e, boolean write, long byteOffset, long length);
    }

    /** What happens when every byte has moved: a flush when writing through, for example. */
    interface Completion {
        AtaResult complete() throws StorageException;
    }

    private final VirtualDisk disk;
    private final long start;
    private final Failure failure;
    private final Completion completion;
    private final Bounce bounce;
    private final java.util.function.Supplier<Map<String, Object>> saved;

    /**
     * @param saved what the engine needs to rebuild this transfer after a restore (beyond where it
     *        starts and how far it got), asked for only when the transfer is saved
     */
    DiskTransfer(VirtualDisk disk, boolean write, boolean dma, long start, long length, int drqBlock,
            Failure failure, Completion completion, Bounce bounce, java.util.function.Supplier<Map<String, Object>> saved) {
        super(write ? Direction.OUT : Direction.IN, dma, length, drqBlock);
        this.disk = disk;
        this.start = start;
        this.failure = failure;
        this.completion = completion;
        this.bounce = bounce;
        this.saved = saved;
    }

    @Override
    public boolean usesStorage() {
        return true;
    }

    @Override
    protected void produce(ByteBuffer dst, long offset) throws TransferException {
        int length = dst.remaining();
        try {
            disk.read(start + offset, dst);
        } catch (StorageException e) {
            throw new TransferException(failure.map(e, false, start + offset, length), e.getMessage(), e);
        }
    }

    @Override
    protected void consume(ByteBuffer src, long offset) throws TransferException {
        int length = src.remaining();
        try {
            disk.write(start + offset, src);
        } catch (StorageException e) {
            throw new TransferException(failure.map(e, true, start + offset, length), e.getMessage(), e);
        }
    }

    @Override
    protected long produceAll(List<ByteBuffer> dsts, long offset) throws TransferException {
        if (!scattered(dsts)) {
            return super.produceAll(dsts, offset);
        }
        ByteBuffer staging = bounce.take();
        try {
            return gather(dsts, offset, staging);
        } finally {
            bounce.give(staging);
        }
    }

    private long gather(List<ByteBuffer> dsts, long offset, ByteBuffer staging) throws TransferException {
        long room = Math.min(total(dsts), length() - offset);
        long moved = 0;
        int i = 0;
        int inPiece = 0;
        while (moved < room) {
            // One disk read for as many pieces as the bounce buffer holds.
            int want = (int) Math.min(staging.capacity(), room - moved);
            staging.clear().limit(want);
            try {
                disk.read(start + offset + moved, staging);
            } catch (StorageException e) {
                throw new TransferException(failure.map(e, false, start + offset + moved, want), e.getMessage(), e);
            }
            staging.flip();
            while (staging.hasRemaining() && i < dsts.size()) {
                ByteBuffer dst = dsts.get(i);
                int n = Math.min(dst.remaining() - inPiece, staging.remaining());
                dst.put(dst.position() + inPiece, staging, staging.position(), n);
                staging.position(staging.position() + n);
                inPiece += n;
                if (inPiece == dst.remaining()) {
                    dst.position(dst.limit());
                    inPiece = 0;
                    i++;
                }
            }
            moved += want;
        }
        if (inPiece > 0) {
            // The data phase ended inside this piece.
            ByteBuffer dst = dsts.get(i);
            dst.position(dst.position() + inPiece);
        }
        return moved;
    }

    @Override
    protected long consumeAll(List<ByteBuffer> srcs, long offset) throws TransferException {
        if (!scattered(srcs)) {
            return super.consumeAll(srcs, offset);
        }
        ByteBuffer staging = bounce.take();
        try {
            return scatter(srcs, offset, staging);
        } finally {
            bounce.give(staging);
        }
    }

    private long scatter(List<ByteBuffer> srcs, long offset, ByteBuffer staging) throws TransferException {
        long moved = 0;
        int i = 0;
        while (i < srcs.size() && offset + moved < length()) {
            staging.clear();
            int room = (int) Math.min(staging.capacity(), length() - offset - moved);
            while (i < srcs.size() && room > 0) {
                ByteBuffer src = srcs.get(i);
                int n = Math.min(src.remaining(), room);
                staging.put(staging.position(), src, src.position(), n);
                staging.position(staging.position() + n);
                room -= n;
                if (n == src.remaining()) {
                    src.position(src.limit());
                    i++;
                } else {
                    src.position(src.position() + n);
                }
            }
            staging.flip();
            int n = staging.remaining();
            try {
                disk.write(start + offset + moved, staging);
            } catch (StorageException e) {
                throw new TransferException(failure.map(e, true, start + offset + moved, n), e.getMessage(), e);
            }
            moved += n;
        }
        return moved;
    }

    private static boolean scattered(List<ByteBuffer> buffers) {
        return buffers.size() > 1 && total(buffers) / buffers.size() < SMALL_PIECE;
    }

    private static long total(List<ByteBuffer> buffers) {
        long total = 0;
        for (ByteBuffer b : buffers) {
            total += b.remaining();
        }
        return total;
    }

    @Override
    protected AtaResult complete() throws TransferException {
        try {
            return completion.complete();
        } catch (StorageException e) {
            throw new TransferException(failure.map(e, direction() == Direction.OUT, start + length(), 0), e.getMessage(), e);
        }
    }

    @Override
    protected Map<String, Object> saveState() {
        Map<String, Object> state = new java.util.LinkedHashMap<>(saved.get());
        state.put("kind", "sectors");
        state.put("start", start);
        return state;
    }

    /**
     * The bounce buffers an engine lends its transfers: one per transfer in progress, kept for the next
     * (transfers of one engine may run on several threads at once, as queued commands do).
     */
    static final class Bounce {
        private final java.util.concurrent.ConcurrentLinkedQueue<ByteBuffer> free = new java.util.concurrent.ConcurrentLinkedQueue<>();

        ByteBuffer take() {
            ByteBuffer b = free.poll();
            return b != null ? b : ByteBuffer.allocateDirect(BOUNCE_SIZE);
        }

        void give(ByteBuffer b) {
            if (free.size() < Ata.QUEUE_DEPTH) {
                free.offer(b.clear());
            }
        }
    }
}
