package org.spindle.storage.core.crash;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import org.spindle.storage.api.AllocationMap;
import org.spindle.storage.api.CheckReport;
import org.spindle.storage.api.Extent;
import org.spindle.storage.api.OpenOptions;
import org.spindle.storage.api.VirtualDisk;
import org.spindle.storage.core.DiskOpener;
import org.spindle.storage.core.ServiceLoaderRegistry;

/**
 * Kills a writing child JVM ({@link CrashChild}) with SIGKILL at random moments, again and again on
 * the same image, and checks after each kill: the image opens; the format's check finds no
 * corruption; every write acknowledged by a completed flush reads back exactly; bytes that no
 * unflushed operation touched are unchanged; bytes an unflushed operation touched read either as
 * before or as something that operation could have left.
 *
 * <p>Shared with format bundles through this module's test jar. Kill points per image:
 * {@code -Dspindle.crash.points=N} (default 100, the CI budget).
 */
public final class CrashHarness {
    /** The format's consistency check of the image at rest (it may repair first what the format repairs on open). */
    public interface Checker {
        CheckReport check(Path image) throws Exception;
    }

    public static final int POINTS = Integer.getInteger("spindle.crash.points", 100);

    /** The image's contents after each kill so far: a failure says when a wrong byte was last right. */
    private final List<byte[]> history = new ArrayList<>();
    private final DiskOpener opener = new DiskOpener(ServiceLoaderRegistry.load(CrashHarness.class.getClassLoader()));
    private final Checker checker;

    public CrashHarness(Checker checker) {
        this.checker = checker;
    }

    /**
     * @param discardFrees whether a discard frees the blocks it covers wholly (plain sparse) or does
     *        nothing (an overlay over a base that may hold data)
     */
    public void run(Path image, byte[] initial, int blockSize, boolean discardFrees, long seedBase) throws Exception {
        byte[] model = initial.clone();
        SplittableRandom random = new SplittableRandom(seedBase);
        int killsDuringWork = 0;
        for (int point = 0; point < POINTS; point++) {
            long seed = random.nextLong();
            int durable = killChild(image, seed, random.nextInt(5, 60));
            if (durable >= 0) {
                killsDuringWork++;
            }
            byte[] before = model.clone();
            // replay: what was flushed is exact; the operations after it up to the next flush may or may not have landed
            int n = Math.max(durable, 0);
            for (int i = 0; i < n; i++) {
                apply(CrashOps.op(seed, i, model.length), model, blockSize, discardFrees);
            }
            List<CrashOps> pending = new ArrayList<>();
            for (int i = n; ; i++) {
                CrashOps op = CrashOps.op(seed, i, model.length);
                if (op instanceof CrashOps.Flush) {
                    break;
                }
                pending.add(op);
            }
            history.add(before);
            byte[] actual = verify(image, model, pending, blockSize, discardFrees, point, before);
            model = actual;
        }
        assertThat(killsDuringWork).as("kills that hit a running workload").isGreaterThan(POINTS / 2);
    }

    /** Starts the child, lets it work for a moment, kills it; returns the last durable count, or -1 if it never got going. */
    private int killChild(Path image, long seed, int millis) throws Exception {
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        Process child = new ProcessBuilder(java, "-XX:TieredStopAtLevel=1", "-Xshare:auto",
                "-cp", System.getProperty("java.class.path"), CrashChild.class.getName(),
                image.toUri().toString(), Long.toString(seed))
                .redirectErrorStream(true).start();
        BufferedReader lines = new BufferedReader(new InputStreamReader(child.getInputStream(), StandardCharsets.UTF_8));
        CompletableFuture<Boolean> ready = new CompletableFuture<>();
        List<String> output = new ArrayList<>();
        Thread reader = Thread.ofPlatform().daemon().start(() -> {
            try {
                for (String line; (line = lines.readLine()) != null; ) {
                    synchronized (output) {
                        output.add(line);
                    }
                    if (line.equals("READY")) {
                        ready.complete(true);
                    }
                }
            } catch (java.io.IOException e) {
                // the pipe closes when the child dies
            }
            ready.complete(false);
        });
        boolean started = ready.get(30, TimeUnit.SECONDS);
        if (started) {
            Thread.sleep(millis);
        }
        // SIGKILL through the process handle: Process.destroyForcibly would also close our end of the
        // pipe, losing the child's last lines (a flush it reported just before dying)
        child.toHandle().destroyForcibly();
        child.waitFor(30, TimeUnit.SECONDS);
        reader.join(10_000);
        int durable = started ? 0 : -1;
        synchronized (output) {
            for (String line : output) {
                if (line.startsWith("F ")) {
                    durable = Integer.parseInt(line.substring(2));
                } else if (!line.equals("READY")) {
                    throw new AssertionError("the child failed: " + String.join("\n", output));
                }
            }
        }
        return durable;
    }

    private static void apply(CrashOps op, byte[] model, int blockSize, boolean discardFrees) {
        switch (op) {
            case CrashOps.Write w -> System.arraycopy(w.data(), 0, model, (int) w.offset(), w.length());
            case CrashOps.Discard d -> {
                if (discardFrees) {
                    long end = d.offset() + d.length();
                    long first = (d.offset() + blockSize - 1) / blockSize * blockSize;
                    long last = end == model.length ? end : end / blockSize * blockSize;
                    for (long at = first; at < last; at++) {
                        model[(int) at] = 0;
                    }
                }
            }
            case CrashOps.Flush f -> { }
        }
    }

    /** Reopens and checks the image; returns what it reads now. */
    private byte[] verify(Path image, byte[] durable, List<CrashOps> pending, int blockSize, boolean discardFrees,
            int point, byte[] before) throws Exception {
        CheckReport report = checker.check(image);
        assertThat(report.corruptions()).as("corruptions after kill %d: %s", point, report.problems()).isZero();
        byte[] actual = new byte[durable.length];
        try (VirtualDisk disk = opener.open(image.toUri(), DiskOpener.AUTO, OpenOptions.defaults().withReadOnly(true))
                .disk()) {
            disk.read(0, ByteBuffer.wrap(actual));
            // the allocation map must agree with the data: nothing it calls absent may read non-zero (plain sparse)
            if (discardFrees) {
                AllocationMap map = disk.capability(AllocationMap.class).orElseThrow();
                for (long at = 0; at < disk.capacity(); ) {
                    Extent e = map.extent(at, disk.capacity() - at);
                    if (!e.present()) {
                        for (long b = e.offset(); b < e.end(); b++) {
                            assertThat(actual[(int) b]).isZero();
                        }
                    }
                    at = e.end();
                }
            }
        }
        // what each unflushed operation could have left, byte by byte (data generated once)
        List<byte[]> pendingData = pending.stream().map(op -> op instanceof CrashOps.Write w ? w.data() : null).toList();
        for (int at = 0; at < actual.length; at++) {
            if (actual[at] == durable[at]) {
                continue;
            }
            if (!allowed(actual[at], at, pending, pendingData, blockSize, discardFrees, durable.length)) {
                StringBuilder past = new StringBuilder();
                for (int k = history.size() - 1; k >= 0 && k >= history.size() - 40; k--) {
                    past.append(history.get(k)[at]).append(' ');
                }
                String where;
                try (VirtualDisk disk = opener.open(image.toUri(), DiskOpener.AUTO,
                        OpenOptions.defaults().withReadOnly(true)).disk()) {
                    where = disk.capability(AllocationMap.class).orElseThrow().extent(at, 1) + " " + disk.details();
                }
                int b0 = at / blockSize * blockSize;
                byte[] got = Arrays.copyOfRange(actual, b0, b0 + blockSize);
                StringBuilder twins = new StringBuilder();
                for (int k = 0; k < history.size(); k++) {
                    byte[] h = history.get(k);
                    for (int blk = 0; blk + blockSize <= h.length; blk += blockSize) {
                        if (Arrays.equals(got, Arrays.copyOfRange(h, blk, blk + blockSize))) {
                            twins.append("[run ").append(k).append(" block ").append(blk / blockSize).append("] ");
                        }
                    }
                }
                int firstBad = -1;
                int bad = 0;
                for (int i = b0; i < b0 + blockSize; i++) {
                    if (actual[i] != durable[i]) {
                        bad++;
                        firstBad = firstBad < 0 ? i : firstBad;
                    }
                }
                where += "; block " + at / blockSize + " has " + bad + " wrong bytes from " + firstBad
                        + "; its content equals " + twins + "; run's pending: " + pending;
                throw new AssertionError("after kill " + point + ", byte " + at + " reads " + actual[at]
                        + ": the flushed value is " + durable[at] + " (before this run: " + before[at]
                        + ") and no unflushed operation could have left " + actual[at] + "; newest first, it was: "
                        + past + "; " + where + "; pending " + pending.size() + " ops");
            }
        }
        return actual;
    }

    /** Whether some unflushed operation could have left {@code value} at byte {@code at}. */
    private static boolean allowed(byte value, int at, List<CrashOps> pending, List<byte[]> pendingData, int blockSize,
            boolean discardFrees, long capacity) {
        for (int i = 0; i < pending.size(); i++) {
            switch (pending.get(i)) {
                case CrashOps.Write w -> {
                    if (at >= w.offset() && at < w.offset() + w.length()
                            && pendingData.get(i)[(int) (at - w.offset())] == value) {
                        return true;
                    }
                }
                case CrashOps.Discard d -> {
                    long end = d.offset() + d.length();
                    long first = (d.offset() + blockSize - 1) / blockSize * blockSize;
                    long last = end == capacity ? end : end / blockSize * blockSize;
                    if (discardFrees && value == 0 && at >= first && at < last) {
                        return true;
                    }
                }
                case CrashOps.Flush f -> { }
            }
        }
        return false;
    }
}
