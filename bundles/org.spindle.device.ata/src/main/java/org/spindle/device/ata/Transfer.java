package org.spindle.device.ata;

import java.nio.ByteBuffer;
import java.util.List;
import java.util.Map;

/**
 * The data phase of a started command and the registers at its end. A controller moves the bytes, by
 * PIO or DMA, in pieces of any size and in order: {@link #toHost} for data going to the guest,
 * {@link #fromHost} for data coming from it; then it asks {@link #finish()} for the status to report.
 * A failure of the medium ends the phase early: the method returns {@code false} and {@link #result()}
 * holds the error to report. A controller that cannot move the data (a scatter-gather list too short,
 * a wrong direction) ends it with {@link #abort}; from then on nothing reaches the disk. A transfer
 * without data ({@link Direction#NONE}) is ended by {@link #finish()} too: most have their result
 * already, but one that {@link #usesStorage()} does its work there.
 *
 * <p>Transfers are not thread-safe: a controller uses each on one thread at a time (the machine
 * thread, or an I/O thread it hands the data phase to). A transfer in progress can be saved
 * ({@link #save()}) and given back to its engine after a restore.
 */
public abstract class Transfer {
    /** Which way the data goes. */
    public enum Direction {
        /**
         * No data: the command has finished ({@link #result()} says how), or, when
         * {@link #usesStorage()}, its work on the medium (a cache flush, a verify) is done by
         * {@link #finish()}.
         */
        NONE,
        /** From the device to the host (a read). */
        IN,
        /** From the host to the device (a write). */
        OUT
    }

    private final Direction direction;
    private final boolean dma;
    private final long length;
    private final int drqBlock;
    private long done;
    private AtaResult result;

    protected Transfer(Direction direction, boolean dma, long length, int drqBlock) {
        this.direction = direction;
        this.dma = dma;
        this.length = length;
        this.drqBlock = drqBlock;
    }

    /** A command that has finished without data. */
    public static Transfer none(AtaResult result) {
        Transfer t = new Transfer(Direction.NONE, false, 0, 0) {
            @Override
            protected void produce(ByteBuffer dst, long offset) {
                throw new IllegalStateException("no data phase");
            }

            @Override
            protected Map<String, Object> saveState() {
                return Map.of();
            }
        };
        t.result = result;
        return t;
    }

    public final Direction direction() {
        return direction;
    }

    /**
     * Whether moving the data (or finishing) reaches the medium, so it may take as long as the
     * storage takes. A controller that keeps slow work off the machine thread moves such transfers
     * elsewhere; the rest (IDENTIFY data, logs, sense, commands that only change settings) move from
     * memory and are done at once.
     */
    public boolean usesStorage() {
        return false;
    }

    /** Whether the command asked for DMA (otherwise PIO). */
    public final boolean dma() {
        return dma;
    }

    /** The bytes of the whole data phase. */
    public final long length() {
        return length;
    }

    /** The bytes moved so far. */
    public final long done() {
        return done;
    }

    public final long remaining() {
        return length - done;
    }

    /**
     * For PIO, the bytes of one DRQ block (the transport interrupts between blocks): the sector size, or
     * the multiple count of sectors; for a PACKET command, the whole length (the byte count limit cuts it).
     */
    public final int drqBlock() {
        return drqBlock;
    }

    /** Whether the phase has ended, by moving everything, by an error or by an abort. */
    public final boolean ended() {
        return result != null || done == length;
    }

    /** How the command ended, once it has; {@code null} while data remains to move. */
    public final AtaResult result() {
        return result;
    }

    /**
     * Moves the next {@code dst.remaining()} bytes (at most {@link #remaining()}) from the device into
     * {@code dst}, advancing its position.
     *
     * @return {@code false} when an error ended the phase ({@link #result()} says which); the bytes
     *         before the failing block may have moved, but {@link #done()} counts only calls that
     *         succeeded
     */
    public final boolean toHost(ByteBuffer dst) {
        return toHost(List.of(dst));
    }

    /** {@link #toHost(ByteBuffer)} into each buffer in turn (a DMA scatter-gather list). */
    public final boolean toHost(List<ByteBuffer> dsts) {
        return move(Direction.IN, dsts);
    }

    /**
     * Takes the next {@code src.remaining()} bytes (at most {@link #remaining()}) from {@code src} to the
     * device, advancing its position.
     *
     * @return {@code false} when an error ended the phase
     */
    public final boolean fromHost(ByteBuffer src) {
        return fromHost(List.of(src));
    }

    /** {@link #fromHost(ByteBuffer)} from each buffer in turn. */
    public final boolean fromHost(List<ByteBuffer> srcs) {
        return move(Direction.OUT, srcs);
    }

    private boolean move(Direction expected, List<ByteBuffer> buffers) {
        if (direction != expected) {
            throw new IllegalStateException("a " + direction + " transfer moved " + expected);
        }
        if (result != null) {
            return false;
        }
        try {
            done += expected == Direction.IN ? produceAll(buffers, done) : consumeAll(buffers, done);
            return true;
        } catch (TransferException e) {
            result = e.result();
            return false;
        }
    }

    /**
     * Ends the phase once every byte has moved (or an error ended it) and returns the registers to
     * report. The end of a write is where it becomes durable when the device writes through. Calling
     * it again returns the same result.
     *
     * @throws IllegalStateException when data remains to move and no error ended the phase
     */
    public final AtaResult finish() {
        if (result == null) {
            if (done != length) {
                throw new IllegalStateException(remaining() + " bytes of the data phase have not moved");
            }
            try {
                result = complete();
            } catch (TransferException e) {
                result = e.result();
            }
        }
        return result;
    }

    /**
     * Ends the phase because the controller cannot move the data; what has not reached the device
     * never will.
     *
     * @param error the error register bits to report ({@link Ata#ABRT} usually)
     */
    public final AtaResult abort(int error) {
        if (result == null) {
            result = aborted(error);
        }
        return result;
    }

    /**
     * What a transfer in progress is, for {@link AtaDisk#resume} and {@link AtapiCdrom#resume} after a
     * restore: plain values only.
     */
    public final Map<String, Object> save() {
        Map<String, Object> state = new java.util.LinkedHashMap<>(saveState());
        state.put("direction", direction.name());
        state.put("dma", dma);
        state.put("length", length);
        state.put("drqBlock", drqBlock);
        state.put("done", done);
        return state;
    }

    /** Sets the progress of a transfer being resumed. */
    final Transfer resumedAt(long doneBytes) {
        if (doneBytes < 0 || doneBytes > length) {
            throw new IllegalArgumentException("a saved transfer at " + doneBytes + " of " + length + " bytes");
        }
        this.done = doneBytes;
        return this;
    }

    /** Fills {@code dst} with the bytes at {@code offset} of the data phase. */
    protected abstract void produce(ByteBuffer dst, long offset) throws TransferException;

    /** Takes {@code src}, the bytes at {@code offset} of the data phase. */
    protected void consume(ByteBuffer src, long offset) throws TransferException {
        throw new IllegalStateException("not a data-out phase");
    }

    /**
     * Fills the buffers in turn with the bytes from {@code offset} on, up to the end of the phase;
     * returns the bytes moved. The default asks {@link #produce} once per buffer.
     */
    protected long produceAll(List<ByteBuffer> dsts, long offset) throws TransferException {
        long moved = 0;
        for (ByteBuffer dst : dsts) {
            int n = (int) Math.min(dst.remaining(), length - offset - moved);
            if (n <= 0) {
                break;
            }
            produce(dst.slice(dst.position(), n), offset + moved);
            dst.position(dst.position() + n);
            moved += n;
        }
        return moved;
    }

    /** Takes the buffers in turn as the bytes from {@code offset} on; the default calls {@link #consume} per buffer. */
    protected long consumeAll(List<ByteBuffer> srcs, long offset) throws TransferException {
        long moved = 0;
        for (ByteBuffer src : srcs) {
            int n = (int) Math.min(src.remaining(), length - offset - moved);
            if (n <= 0) {
                break;
            }
            consume(src.slice(src.position(), n), offset + moved);
            src.position(src.position() + n);
            moved += n;
        }
        return moved;
    }

    /** The result once every byte has moved. */
    protected AtaResult complete() throws TransferException {
        return AtaResult.OK;
    }

    /** The result of an {@link #abort}. */
    protected AtaResult aborted(int error) {
        return AtaResult.error(error);
    }

    /** The values that describe this transfer, besides the common ones {@link #save()} adds. */
    protected abstract Map<String, Object> saveState();

    /** A failure that ends a data phase with {@code result}. */
    public static final class TransferException extends Exception {
        private static final long serialVersionUID = 1L;
        private final transient AtaResult result;

        public TransferException(AtaResult result, String message, Throwable cause) {
            super(message, cause, false, false);
            this.result = result;
        }

        public AtaResult result() {
            return result;
        }
    }
}
