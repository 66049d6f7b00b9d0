package org.spindle.format.qcow2;

import static org.assertj.core.api.Assertions.assertThat;

import java.net.URI;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

import net.jqwik.api.Arbitrary;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import net.jqwik.api.constraints.IntRange;
import org.spindle.backend.memory.MemoryBackendProvider;
import org.spindle.storage.api.AccessMode;
import org.spindle.storage.api.CheckReport;
import org.spindle.storage.api.CreateOptions;
import org.spindle.storage.api.OpenOptions;
import org.spindle.storage.api.StorageException;
import org.spindle.storage.api.VirtualDisk;
import org.spindle.testing.storage.DiskFixture;
import org.spindle.testing.storage.DiskModelCheck;
import org.spindle.testing.storage.DiskOp;

/**
 * qcow2 images against a byte-array model: random reads, writes, discards, zeroing, flushes and
 * reopens over every cluster size from 512 bytes to 64 KiB, every refcount width, both versions, lazy
 * refcounts and extended L2 entries. Every image at rest must pass {@link Qcow2Check} with no corruption
 * and no leak.
 */
class Qcow2DiskPropertiesTest {
    private static final long CAPACITY = 384 * 1024 + 4096;
    private final Qcow2Format qcow2 = new Qcow2Format();

    @Provide
    Arbitrary<List<DiskOp>> ops() {
        return DiskModelCheck.operations(CAPACITY, 512, true);
    }

    @Property(tries = 300)
    void standardEntriesBehaveLikeTheModel(@ForAll("ops") List<DiskOp> ops,
            @ForAll @IntRange(min = 9, max = 16) int clusterBits, @ForAll @IntRange(min = 0, max = 6) int refcountOrder,
            @ForAll boolean v2, @ForAll boolean lazy) throws Exception {
        Map<String, String> p = new HashMap<>();
        p.put(Qcow2Format.CLUSTER_SIZE, Integer.toString(1 << clusterBits));
        if (v2) {
            p.put(Qcow2Format.COMPAT, "0.10");
        } else {
            p.put(Qcow2Format.REFCOUNT_BITS, Integer.toString(1 << refcountOrder));
            p.put(Qcow2Format.LAZY_REFCOUNTS, lazy ? "on" : "off");
        }
        try (Fixture fixture = new Fixture(p)) {
            DiskModelCheck.check(fixture, CAPACITY, 512, ops);
            fixture.assertClean();
        }
    }

    @Property(tries = 200)
    void extendedEntriesBehaveLikeTheModel(@ForAll("ops") List<DiskOp> ops,
            @ForAll @IntRange(min = 14, max = 16) int clusterBits, @ForAll @IntRange(min = 0, max = 6) int refcountOrder)
            throws Exception {
        Map<String, String> p = Map.of(Qcow2Format.CLUSTER_SIZE, Integer.toString(1 << clusterBits),
                Qcow2Format.EXTENDED_L2, "on", Qcow2Format.REFCOUNT_BITS, Integer.toString(1 << refcountOrder));
        try (Fixture fixture = new Fixture(p)) {
            DiskModelCheck.check(fixture, CAPACITY, 512, ops);
            fixture.assertClean();
        }
    }

    @Property(tries = 100)
    void aTinyL2CacheChangesNothing(@ForAll("ops") List<DiskOp> ops, @ForAll @IntRange(min = 9, max = 12) int clusterBits)
            throws Exception {
        // with 512-byte to 4 KiB clusters this disk has 2 to 24 L2 tables; the cache holds 2
        Map<String, String> p = Map.of(Qcow2Format.CLUSTER_SIZE, Integer.toString(1 << clusterBits));
        try (Fixture fixture = new Fixture(p, Map.of(Qcow2Format.L2_CACHE_SIZE, Integer.toString(2 << clusterBits)))) {
            DiskModelCheck.check(fixture, CAPACITY, 512, ops);
            fixture.assertClean();
        }
    }

    private final class Fixture implements DiskFixture {
        private final MemoryBackendProvider provider = new MemoryBackendProvider();
        private final String name = "q" + System.nanoTime();
        private final Map<String, String> parameters;
        private final Map<String, String> openParameters;

        Fixture(Map<String, String> parameters) {
            this(parameters, Map.of());
        }

        Fixture(Map<String, String> parameters, Map<String, String> openParameters) {
            this.parameters = parameters;
            this.openParameters = openParameters;
        }

        @Override
        public VirtualDisk create(long capacity, int sectorSize) throws StorageException {
            VirtualDisk created = qcow2.create(provider.open(URI.create("memory:" + name + "?size=0"), AccessMode.CREATE_NEW),
                    CreateOptions.ofCapacity(capacity).withParameters(parameters));
            if (openParameters.isEmpty()) {
                return created;
            }
            created.close();
            return reopen();
        }

        @Override
        public VirtualDisk reopen() throws StorageException {
            assertClean();
            return qcow2.open(provider.open(URI.create("memory:" + name), AccessMode.READ_WRITE),
                    OpenOptions.defaults().withParameters(openParameters));
        }

        void assertClean() {
            try (var backend = provider.open(URI.create("memory:" + name), AccessMode.READ_ONLY)) {
                CheckReport report = qcow2.check(backend, false);
                assertThat(report.problems()).as("check problems").isEmpty();
                assertThat(report.clean()).isTrue();
            } catch (StorageException e) {
                throw new AssertionError(e);
            }
        }

        @Override
        public void close() {
        }
    }
}
