package org.spindle.device.ata;

/**
 * How a command ended, as its transport reports it: the status and error registers, and the other
 * registers when the command sets them (a signature, an interrupt reason, an address).
 *
 * @param status the status register
 * @param error the error register (0 unless {@link Ata#ERR} is set in {@code status}; for a PACKET
 *        device, the sense key in bits 7-4 and ABRT)
 * @param outputs the count, LBA and device registers the command set, or {@code null} when it leaves
 *        them as they were
 */
public record AtaResult(int status, int error, Taskfile outputs) {
    /** A command that succeeded without touching other registers. */
    public static final AtaResult OK = new AtaResult(Ata.DRDY | Ata.DSC, 0, null);

    public static AtaResult ok(Taskfile outputs) {
        return new AtaResult(Ata.DRDY | Ata.DSC, 0, outputs);
    }

    public static AtaResult error(int errorBits) {
        return new AtaResult(Ata.DRDY | Ata.DSC | Ata.ERR, errorBits, null);
    }

    public static AtaResult error(int errorBits, Taskfile outputs) {
        return new AtaResult(Ata.DRDY | Ata.DSC | Ata.ERR, errorBits, outputs);
    }

    public static AtaResult aborted() {
        return error(Ata.ABRT);
    }

    public boolean failed() {
        return (status & Ata.ERR) != 0;
    }
}
