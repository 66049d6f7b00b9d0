package org.spindle.storage.core.crash;

import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;

import org.spindle.storage.api.CheckReport;
import org.spindle.storage.api.CreateOptions;
import org.spindle.storage.api.DiskFormat;
import org.spindle.storage.api.OpenOptions;
import org.spindle.storage.api.VirtualDisk;
import org.spindle.storage.api.WriteZeroes;

/**
 * Every crash point of an image's life, deterministically, over a {@link CutBackend}. The history:
 * create and flush, then rounds of random guest writes (and, if asked, zeroing), each ended by a
 * flush. Then, for every write the format issued:
 * <ul>
 * <li>a process kill just before it ({@link #afterEveryKill}) leaves an image that {@code check}
 * finds free of corruption (leaks are allowed) and that reads, sector by sector, either what the
 * last completed flush promised or what a later guest write made it;</li>
 * <li>a power cut just before it ({@link #afterEveryPowerCut}: any subset of the writes since the last
 * flush survived) leaves an image that reads the same way and that {@code check --repair} makes free of
 * corruption.</li>
 * </ul>
 * A failure throws {@link AssertionError} naming the crash point and the surviving writes.
 */
public final class CrashPoints {
    private final DiskFormat format;
    private final CutBackend backend = new CutBackend("crash-points");
    private final int capacity;
    private final int sector;
    private final List<byte[]> flushed = new ArrayList<>();
    private final List<Integer> flushedAtWrite = new ArrayList<>();
    /** The guest content after every guest write, and for each the round it belongs to. */
    private final List<byte[]> states = new ArrayList<>();
    private final List<Integer> stateRounds = new ArrayList<>();

    private CrashPoints(DiskFormat format, int capacity, int sector) {
        this.format = format;
        this.capacity = capacity;
        this.sector = sector;
    }

    /**
     * Records a history: {@code rounds} rounds of {@code writesPerRound} random writes of 1 to 16
     * sectors (a third of them zeroing through {@link WriteZeroes} when {@code zeroing} and the disk has it), each round ended by a flush.
     */
    public static CrashPoints record(DiskFormat format, CreateOptions options, int rounds, int writesPerRound,
            boolean zeroing, long seed) throws Exception {
        int capacity = Math.toIntExact(options.capacity());
        int sector = 512;
        CrashPoints points = new CrashPoints(format, capacity, sector);
        Random random = new Random(seed);
        byte[] model = new byte[capacity];
        try (VirtualDisk disk = format.create(points.backend, options)) {
            disk.flush();
            points.flushed.add(model.clone());
            points.flushedAtWrite.add(points.backend.writes());
            for (int round = 1; round <= rounds; round++) {
                for (int i = 0; i < writesPerRound; i++) {
                    int sectors = 1 + random.nextInt(16);
                    int at = random.nextInt(capacity / sector - sectors + 1) * sector;
                    int length = sectors * sector;
                    var zeroes = disk.capability(WriteZeroes.class);
                    if (zeroes.isPresent() && zeroing && random.nextInt(3) == 0) {
                        zeroes.get().writeZeroes(at, length);
                        Arrays.fill(model, at, at + length, (byte) 0);
                    } else {
                        byte[] data = new byte[length];
                        random.nextBytes(data);
                        disk.write(at, ByteBuffer.wrap(data));
                        System.arraycopy(data, 0, model, at, length);
                    }
                    points.states.add(model.clone());
                    points.stateRounds.add(round);
                }
                disk.flush();
                points.flushed.add(model.clone());
                points.flushedAtWrite.add(points.backend.writes());
            }
        }
        return points;
    }

    /** How many writes the format issued after creating the image (the crash points). */
    public int crashPoints() {
        return backend.writes() - flushedAtWrite.get(0);
    }

    /** A kill before each write: no corruption, and every sector reads as allowed. */
    public void afterEveryKill() throws Exception {
        afterEveryKill(false);
    }

    /**
     * A kill before each write, for formats whose metadata may lag on purpose (qcow2's lazy refcounts):
     * the image reads as allowed, and once opened writable (where such a format repairs itself) and
     * closed, {@code check} finds no corruption.
     */
    public void afterEveryKillOnceOpenedWritable() throws Exception {
        afterEveryKill(true);
    }

    private void afterEveryKill(boolean openWritable) throws Exception {
        for (int k = flushedAtWrite.get(0); k <= backend.writes(); k++) {
            byte[] image = backend.cutAfter(k);
            String when = "a kill before write " + k;
            if (openWritable) {
                assertReadsAsAllowed(image, k, when);
                CutBackend reopened = new CutBackend(when, image, false);
                format.open(reopened, OpenOptions.defaults()).close();
                image = reopened.content();
                when = "opening and closing after " + when;
            }
            CheckReport report = format.check(new CutBackend(when, image, true), false);
            if (report.corruptions() != 0) {
                throw new AssertionError("check found " + report.corruptions() + " corruptions after " + when + ": "
                        + report.problems());
            }
            assertReadsAsAllowed(image, k, when);
        }
    }

    /**
     * A power cut before each write, keeping every subset of the unflushed writes when there are at most
     * {@code exhaustiveUpTo} of them and {@code samples} random subsets otherwise.
     */
    public void afterEveryPowerCut(int exhaustiveUpTo, int samples, long seed) throws Exception {
        Random random = new Random(seed);
        for (int k = flushedAtWrite.get(0); k <= backend.writes(); k++) {
            int unflushed = backend.unflushedAt(k);
            boolean exhaustive = unflushed <= exhaustiveUpTo;
            int subsets = exhaustive ? 1 << unflushed : samples;
            for (int s = 0; s < subsets; s++) {
                long survivors = exhaustive ? s : random.nextLong();
                byte[] image = backend.cutAfter(k, survivors);
                String when = "a power cut before write " + k + " keeping the unflushed writes "
                        + Long.toBinaryString(survivors) + " (bit 0 the oldest)";
                assertReadsAsAllowed(image, k, when);
                CutBackend repaired = new CutBackend(when, image, false);
                format.check(repaired, true);
                CheckReport after = format.check(repaired, false);
                if (after.corruptions() != 0) {
                    throw new AssertionError("check --repair left " + after.corruptions() + " corruptions after " + when
                            + ": " + after.problems());
                }
                assertReadsAsAllowed(repaired.content(), k, "repair after " + when);
            }
        }
    }

    private void assertReadsAsAllowed(byte[] image, int k, String when) throws Exception {
        int round = 0;
        while (round + 1 < flushedAtWrite.size() && flushedAtWrite.get(round + 1) <= k) {
            round++;
        }
        List<byte[]> allowed = new ArrayList<>();
        allowed.add(flushed.get(round));
        for (int i = 0; i < states.size(); i++) {
            if (stateRounds.get(i) == round + 1) {
                allowed.add(states.get(i));
            }
        }
        byte[] got = new byte[capacity];
        try (VirtualDisk disk = format.open(new CutBackend(when, image, true), OpenOptions.defaults().withReadOnly(true))) {
            disk.read(0, ByteBuffer.wrap(got));
        }
        for (int s = 0; s < capacity / sector; s++) {
            int from = s * sector;
            boolean matches = allowed.stream().anyMatch(state -> Arrays.equals(got, from, from + sector, state, from, from + sector));
            if (!matches) {
                throw new AssertionError("after " + when + ", sector " + s
                        + " reads as neither the flushed content nor one a later guest write made");
            }
        }
    }
}
