package org.spindle.device.ata;

import java.nio.ByteBuffer;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * A data phase held in memory: a response the device made up (IDENTIFY, INQUIRY, a TOC) going to the
 * host, or parameters coming from it (TRIM ranges, MODE SELECT pages) that the device acts on once all
 * have arrived.
 */
final class BufferTransfer extends Transfer {
    /** What a device does with the parameters of a data-out phase once all have arrived. */
    interface Action {
        AtaResult apply(byte[] data) throws TransferException;
    }

    private final byte[] data;
    private final AtaResult success;
    private final String actionName;
    private final Map<String, Object> actionArgs;
    private final Action action;

    private BufferTransfer(Direction direction, byte[] data, boolean dma, int drqBlock, AtaResult success,
            String actionName, Map<String, Object> actionArgs, Action action) {
        super(direction, dma, data.length, drqBlock);
        this.data = data;
        this.success = success;
        this.actionName = actionName;
        this.actionArgs = actionArgs;
        this.action = action;
    }

    /** {@code data} to the host, then {@code success}. */
    static BufferTransfer toHost(byte[] data, boolean dma, int drqBlock, AtaResult success) {
        return new BufferTransfer(Direction.IN, data, dma, drqBlock, success, null, Map.of(), null);
    }

    /**
     * {@code length} bytes from the host, then {@code action}; {@code name} and {@code args} let the
     * engine rebuild the action when the transfer is resumed after a restore.
     */
    static BufferTransfer fromHost(int length, boolean dma, int drqBlock, String name, Map<String, Object> args,
            Action action) {
        return new BufferTransfer(Direction.OUT, new byte[length], dma, drqBlock, null, name, args, action);
    }

    /** A data-out phase's action may reach the medium (TRIM discards); data from memory does not. */
    @Override
    public boolean usesStorage() {
        return action != null;
    }

    @Override
    protected void produce(ByteBuffer dst, long offset) {
        dst.put(data, (int) offset, dst.remaining());
    }

    @Override
    protected void consume(ByteBuffer src, long offset) {
        src.get(data, (int) offset, src.remaining());
    }

    @Override
    protected AtaResult complete() throws TransferException {
        return action == null ? success : action.apply(data);
    }

    @Override
    protected Map<String, Object> saveState() {
        Map<String, Object> state = new LinkedHashMap<>();
        state.put("kind", "buffer");
        state.put("data", Arrays.copyOf(data, data.length));
        if (action == null) {
            state.put("status", success.status());
            state.put("error", success.error());
        } else {
            state.put("action", actionName);
            state.put("args", actionArgs);
        }
        return state;
    }

    /** Restores a saved data-in buffer (its result is plain success or the saved registers). */
    static BufferTransfer resumeToHost(Map<String, Object> state) {
        byte[] bytes = (byte[]) state.get("data");
        AtaResult success = new AtaResult(((Number) state.get("status")).intValue(),
                ((Number) state.get("error")).intValue(), null);
        BufferTransfer t = toHost(bytes.clone(), (Boolean) state.get("dma"), ((Number) state.get("drqBlock")).intValue(),
                success);
        t.resumedAt(((Number) state.get("done")).longValue());
        return t;
    }

    /** Restores a saved data-out buffer with the action its engine rebuilt. */
    static BufferTransfer resumeFromHost(Map<String, Object> state, Action action) {
        byte[] bytes = (byte[]) state.get("data");
        @SuppressWarnings("unchecked")
        Map<String, Object> args = (Map<String, Object>) state.get("args");
        BufferTransfer t = new BufferTransfer(Direction.OUT, bytes.clone(), (Boolean) state.get("dma"),
                ((Number) state.get("drqBlock")).intValue(), null, (String) state.get("action"), args, action);
        t.resumedAt(((Number) state.get("done")).longValue());
        return t;
    }
}
