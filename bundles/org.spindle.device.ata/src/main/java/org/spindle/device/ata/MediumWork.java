package org.spindle.device.ata;

import java.nio.ByteBuffer;
import java.util.Map;
import java.util.function.Supplier;

/**
 * A command without data whose work reaches the medium (FLUSH CACHE, READ VERIFY): the work is done
 * by {@link #finish()}, on whatever thread the controller calls it, so a controller that keeps slow
 * work off the machine thread can move it there as it moves a data phase.
 */
final class MediumWork extends Transfer {
    /** The work, and the registers to report. */
    interface Work {
        AtaResult run();
    }

    private final Work work;
    private final Supplier<Map<String, Object>> saved;

    /** @param saved what the engine needs to run the work again after a restore */
    MediumWork(Work work, Supplier<Map<String, Object>> saved) {
        super(Direction.NONE, false, 0, 0);
        this.work = work;
        this.saved = saved;
    }

    @Override
    public boolean usesStorage() {
        return true;
    }

    @Override
    protected void produce(ByteBuffer dst, long offset) {
        throw new IllegalStateException("no data phase");
    }

    @Override
    protected AtaResult complete() {
        return work.run();
    }

    @Override
    protected Map<String, Object> saveState() {
        return saved.get();
    }
}
