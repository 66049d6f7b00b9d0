package org.spindle.qemu.internal;

import java.nio.ByteBuffer;
import java.util.Map;
import java.util.Optional;

import org.spindle.storage.api.Drive;
import org.spindle.storage.api.DriveDTO;
import org.spindle.storage.api.MediaType;
import org.spindle.storage.api.StorageException;

/**
 * A drive as QEMU's block layer presents it to a device: over the drive that holds the image, with
 * blkdebug's breakpoints and injected errors ({@link DebugRules}, or none) and the drive's error
 * policies ({@code werror} for writes and flushes, {@code rerror} for reads). Under {@code stop}
 * (or {@code enospc} when the host disk is full) a failed request stops the machine
 * ({@code BLOCK_IO_ERROR}, then {@code STOP}) and waits; on {@code cont} it is tried again. The
 * controller's request simply takes longer: the guest never sees the error.
 *
 * <p>Requests may wait here for a long time, so the controller must call it from I/O threads, not from
 * the machine thread (the front end puts such drives only on AHCI ports, with {@code io = workers}).
 */
final class DebugDrive implements Drive {
    /** What happens after a failed request. */
    interface Policy {
        /**
         * Called with every failure; returns whether to try again (after the machine was stopped and
         * continued), or {@code false} to report the error to the guest.
         */
        boolean failed(String drive, boolean write, String action, StorageException error) throws InterruptedException;
    }

    private final Drive base;
    private final String id;
    private final DebugRules rules;
    private final String werror;
    private final String rerror;
    private final Policy policy;
    /** The machine's thread, on which nothing may wait: set once the machine runs. */
    private volatile Thread machineThread;

    /**
     * @param rules the blkdebug rules, or {@code null} for none
     * @param werror {@code report}, {@code enospc} or {@code stop}
     * @param rerror {@code report} or {@code stop}
     */
    DebugDrive(Drive base, String id, DebugRules rules, String werror, String rerror, Policy policy) {
        this.base = base;
        this.id = id;
        this.rules = rules;
        this.werror = werror;
        this.rerror = rerror;
        this.policy = policy;
    }

    Optional<DebugRules> rules() {
        return Optional.ofNullable(rules);
    }

    /** The machine's thread: a request on it neither stops at a breakpoint nor waits for {@code cont}. */
    void machineThread(Thread thread) {
        this.machineThread = thread;
    }

    @FunctionalInterface
    private interface Io {
        void run() throws StorageException;
    }

    private void request(String[] events, boolean write, long offset, long length, ByteBuffer buffer, Io io)
            throws StorageException {
        int position = buffer == null ? 0 : buffer.position();
        boolean mayWait = Thread.currentThread() != machineThread;
        while (true) {
            try {
                for (String event : events) {
                    int errno = rules == null ? 0 : rules.reached(event, offset, length, mayWait);
                    if (errno != 0) {
                        throw new StorageException(StorageException.Kind.IO, "blkdebug error injected at " + event
                                + " (errno " + errno + ")", new InjectedError(errno))
                                .withOperation(write ? (length == 0 ? StorageException.Operation.FLUSH
                                        : StorageException.Operation.WRITE) : StorageException.Operation.READ);
                    }
                }
                io.run();
                return;
            } catch (StorageException e) {
                // waiting on the machine thread would stop the machine for good: the error is reported
                String action = mayWait ? action(write ? werror : rerror, e) : "report";
                boolean again;
                try {
                    again = policy.failed(id, write, action, e);
                } catch (InterruptedException interrupted) {
                    Thread.currentThread().interrupt();
                    throw e;
                }
                if (!again) {
                    throw e;
                }
                if (buffer != null) {
                    buffer.position(position);
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new StorageException(StorageException.Kind.IO, "interrupted at a blkdebug breakpoint", e);
            }
        }
    }

    /** What QEMU's policy does with this error: {@code report} or {@code stop}. */
    static String action(String policy, StorageException e) {
        return switch (policy) {
            case "stop" -> "stop";
            case "enospc" -> noSpace(e) ? "stop" : "report";
            default -> "report";
        };
    }

    /** Whether the host's disk was full (ENOSPC, 28), by an injected errno or the host's message. */
    static boolean noSpace(Throwable e) {
        for (Throwable t = e; t != null; t = t.getCause()) {
            if (t instanceof InjectedError i && i.errno == 28) {
                return true;
            }
            if (t.getMessage() != null && t.getMessage().contains("No space left on device")) {
                return true;
            }
        }
        return false;
    }

    /** The errno a blkdebug rule failed a request with. */
    static final class InjectedError extends Exception {
        private static final long serialVersionUID = 1L;
        final int errno;

        InjectedError(int errno) {
            super("errno " + errno, null, false, false);
            this.errno = errno;
        }
    }

    @Override
    public void read(long offset, ByteBuffer dst) throws StorageException {
        request(new String[] {"read_aio"}, false, offset, dst.remaining(), dst, () -> base.read(offset, dst));
    }

    @Override
    public void write(long offset, ByteBuffer src) throws StorageException {
        request(new String[] {"write_aio"}, true, offset, src.remaining(), src, () -> base.write(offset, src));
    }

    @Override
    public void flush() throws StorageException {
        request(new String[] {"flush_to_os", "flush_to_disk"}, true, 0, 0, null, base::flush);
    }

    @Override
    public String id() {
        return id;
    }

    @Override
    public DriveDTO info() {
        // a copy: the drive manager may hand out its own record
        DriveDTO from = base.info();
        DriveDTO dto = new DriveDTO();
        for (java.lang.reflect.Field f : DriveDTO.class.getFields()) {
            if (!java.lang.reflect.Modifier.isStatic(f.getModifiers())) {
                try {
                    f.set(dto, f.get(from));
                } catch (IllegalAccessException e) {
                    throw new IllegalStateException(e);
                }
            }
        }
        dto.id = id;
        return dto;
    }

    @Override
    public int logicalSectorSize() {
        return base.logicalSectorSize();
    }

    @Override
    public long capacity() {
        return base.capacity();
    }

    @Override
    public boolean isReadOnly() {
        return base.isReadOnly();
    }

    @Override
    public String formatName() {
        return base.formatName();
    }

    @Override
    public MediaType mediaType() {
        return base.mediaType();
    }

    @Override
    public Map<String, Object> details() {
        return base.details();
    }

    @Override
    public <T> Optional<T> capability(Class<T> type) {
        return base.capability(type);
    }

    /** The drive beneath belongs to the drive manager; closing this one lets held requests go. */
    @Override
    public void close() {
        if (rules != null) {
            rules.releaseAll();
        }
    }
}
