package org.spindle.testing.storage;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.ByteBuffer;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;

import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Combinators;
import org.spindle.storage.api.StorageException;
import org.spindle.storage.api.VirtualDisk;

/**
 * Model-based checking of a {@link VirtualDisk}: every operation is applied to the disk and to a plain
 * byte array, and every read must agree. Operations include ranges that cross or lie past the end, which
 * must fail with {@code OUT_OF_BOUNDS} and change nothing.
 */
public final class DiskModelCheck {
    private DiskModelCheck() {
    }

    /** Random operation sequences for a disk of {@code capacity} bytes with {@code sectorSize} sectors. */
    public static Arbitrary<List<DiskOp>> operations(long capacity, int sectorSize) {
        return operations(capacity, sectorSize, false);
    }

    /**
     * Random operation sequences that also discard and zero ranges (sometimes large ones, so that whole
     * allocation units are freed), when {@code withDiscard} is set.
     */
    public static Arbitrary<List<DiskOp>> operations(long capacity, int sectorSize, boolean withDiscard) {
        long sectors = capacity / sectorSize;
        // mostly in range, sometimes crossing or past the end
        Arbitrary<Long> offsets = Arbitraries.oneOf(
                Arbitraries.longs().between(0, capacity - 1),
                Arbitraries.longs().between(Math.max(0, capacity - 3 * sectorSize), capacity + sectorSize));
        Arbitrary<Integer> lengths = Arbitraries.oneOf(
                Arbitraries.integers().between(0, 2 * sectorSize),
                Arbitraries.integers().between(1, 64 * 1024));
        Arbitrary<Long> lbas = Arbitraries.oneOf(Arbitraries.longs().between(0, sectors - 1),
                Arbitraries.longs().between(Math.max(0, sectors - 4), sectors + 2));
        Arbitrary<Integer> counts = Arbitraries.integers().between(1, 16);
        Arbitrary<Long> seeds = Arbitraries.longs();
        Arbitrary<DiskOp> op = Arbitraries.frequencyOf(
                net.jqwik.api.Tuple.of(4, Combinators.combine(offsets, lengths).as(DiskOp.Read::new)),
                net.jqwik.api.Tuple.of(5, Combinators.combine(offsets, lengths, seeds).as(DiskOp.Write::new)),
                net.jqwik.api.Tuple.of(2, Combinators.combine(lbas, counts).as(DiskOp.ReadSectors::new)),
                net.jqwik.api.Tuple.of(2, Combinators.combine(lbas, counts, seeds).as(DiskOp.WriteSectors::new)),
                net.jqwik.api.Tuple.of(1, Arbitraries.just(new DiskOp.Flush())),
                net.jqwik.api.Tuple.of(1, Arbitraries.just(new DiskOp.Reopen())));
        if (withDiscard) {
            Arbitrary<Long> spans = Arbitraries.oneOf(Arbitraries.longs().between(0, 4 * sectorSize),
                    Arbitraries.longs().between(1, capacity));
            op = Arbitraries.frequencyOf(
                    net.jqwik.api.Tuple.of(12, op),
                    net.jqwik.api.Tuple.of(2, Combinators.combine(offsets, spans).as(DiskOp.Discard::new)),
                    net.jqwik.api.Tuple.of(1, Combinators.combine(offsets, spans).as(DiskOp.WriteZeroes::new)));
        }
        return op.list().ofMinSize(1).ofMaxSize(40);
    }

    /** Runs {@code ops} against a fresh disk from {@code fixture} and against the model. */
    public static void check(DiskFixture fixture, long capacity, int sectorSize, List<DiskOp> ops) throws Exception {
        check(fixture, new byte[Math.toIntExact(capacity)], sectorSize, ops);
    }

    /**
     * Runs {@code ops} against a fresh disk from {@code fixture} whose contents start as {@code initial}
     * (an overlay over a base holding those bytes, say) and against the model.
     */
    public static void check(DiskFixture fixture, byte[] initial, int sectorSize, List<DiskOp> ops) throws Exception {
        long capacity = initial.length;
        byte[] model = initial.clone();
        VirtualDisk disk = fixture.create(capacity, sectorSize);
        try {
            assertThat(disk.capacity()).isEqualTo(capacity);
            assertThat(disk.logicalSectorSize()).isEqualTo(sectorSize);
            for (DiskOp op : ops) {
                switch (op) {
                    case DiskOp.Read r -> read(disk, model, r.offset(), r.length(), false);
                    case DiskOp.ReadSectors r -> read(disk, model, r.lba() * sectorSize, r.count() * sectorSize, true);
                    case DiskOp.Write w -> write(disk, model, w.offset(), w.length(), w.seed(), false);
                    case DiskOp.WriteSectors w ->
                            write(disk, model, w.lba() * sectorSize, w.count() * sectorSize, w.seed(), true);
                    case DiskOp.Discard d -> discard(disk, model, d.offset(), d.length());
                    case DiskOp.WriteZeroes z -> writeZeroes(disk, model, z.offset(), z.length());
                    case DiskOp.Flush f -> disk.flush();
                    case DiskOp.Reopen r -> {
                        disk.close();
                        disk = fixture.reopen();
                        assertThat(disk.capacity()).as("capacity after reopen").isEqualTo(capacity);
                    }
                }
            }
            read(disk, model, 0, model.length, false);
        } finally {
            disk.close();
        }
    }

    private static void discard(VirtualDisk disk, byte[] model, long offset, long length) throws StorageException {
        java.util.Optional<org.spindle.storage.api.Discardable> discardable =
                disk.capability(org.spindle.storage.api.Discardable.class);
        if (discardable.isEmpty()) {
            return;
        }
        if (!inRange(offset, length, model.length)) {
            assertThatThrownBy(() -> discardable.get().discard(offset, length))
                    .isInstanceOfSatisfying(StorageException.class,
                            e -> assertThat(e.kind()).isEqualTo(StorageException.Kind.OUT_OF_BOUNDS));
            return;
        }
        discardable.get().discard(offset, length);
        ByteBuffer now = ByteBuffer.allocate((int) length);
        disk.read(offset, now);
        byte[] bytes = now.array();
        for (int i = 0; i < bytes.length; i++) {
            if (bytes[i] != 0 && bytes[i] != model[(int) offset + i]) {
                throw new AssertionError("after a discard of " + length + " bytes at " + offset + ", byte "
                        + (offset + i) + " reads " + bytes[i] + ": neither its old value " + model[(int) offset + i]
                        + " nor zero");
            }
        }
        // from now on the disk must keep reading what it reads now
        System.arraycopy(bytes, 0, model, (int) offset, bytes.length);
    }

    private static void writeZeroes(VirtualDisk disk, byte[] model, long offset, long length) throws StorageException {
        java.util.Optional<org.spindle.storage.api.WriteZeroes> zeroes =
                disk.capability(org.spindle.storage.api.WriteZeroes.class);
        if (zeroes.isEmpty()) {
            return;
        }
        if (!inRange(offset, length, model.length)) {
            assertThatThrownBy(() -> zeroes.get().writeZeroes(offset, length))
                    .isInstanceOfSatisfying(StorageException.class,
                            e -> assertThat(e.kind()).isEqualTo(StorageException.Kind.OUT_OF_BOUNDS));
            return;
        }
        zeroes.get().writeZeroes(offset, length);
        Arrays.fill(model, (int) offset, (int) (offset + length), (byte) 0);
    }

    private static boolean inRange(long offset, long length, long capacity) {
        return offset >= 0 && length >= 0 && offset <= capacity && length <= capacity - offset;
    }

    private static void read(VirtualDisk disk, byte[] model, long offset, int length, boolean sectors)
            throws StorageException {
        ByteBuffer dst = ByteBuffer.allocate(length);
        if (!inRange(offset, length, model.length)) {
            assertThatThrownBy(() -> doRead(disk, offset, dst, sectors))
                    .isInstanceOfSatisfying(StorageException.class,
                            e -> assertThat(e.kind()).isEqualTo(StorageException.Kind.OUT_OF_BOUNDS));
            assertThat(dst.position()).as("bytes transferred by a failed read").isZero();
            return;
        }
        doRead(disk, offset, dst, sectors);
        assertThat(dst.hasRemaining()).as("read filled the buffer").isFalse();
        byte[] expected = Arrays.copyOfRange(model, (int) offset, (int) offset + length);
        if (!Arrays.equals(dst.array(), expected)) {
            int at = Arrays.mismatch(dst.array(), expected);
            throw new AssertionError("read of " + length + " bytes at " + offset + " differs from the model at byte "
                    + (offset + at) + ": disk has " + dst.array()[at] + ", model has " + expected[at]);
        }
    }

    private static void doRead(VirtualDisk disk, long offset, ByteBuffer dst, boolean sectors) throws StorageException {
        if (sectors) {
            disk.readSectors(offset / disk.logicalSectorSize(), dst);
        } else {
            disk.read(offset, dst);
        }
    }

    private static void write(VirtualDisk disk, byte[] model, long offset, int length, long seed, boolean sectors)
            throws StorageException {
        byte[] data = new byte[length];
        new SplittableRandom(seed).nextBytes(data);
        ByteBuffer src = ByteBuffer.wrap(data);
        if (!inRange(offset, length, model.length)) {
            assertThatThrownBy(() -> {
                if (sectors) {
                    disk.writeSectors(offset / disk.logicalSectorSize(), src);
                } else {
                    disk.write(offset, src);
                }
            }).isInstanceOfSatisfying(StorageException.class,
                    e -> assertThat(e.kind()).isEqualTo(StorageException.Kind.OUT_OF_BOUNDS));
            return;
        }
        if (sectors) {
            disk.writeSectors(offset / disk.logicalSectorSize(), src);
        } else {
            disk.write(offset, src);
        }
        assertThat(src.hasRemaining()).as("write consumed the buffer").isFalse();
        System.arraycopy(data, 0, model, (int) offset, length);
    }
}
