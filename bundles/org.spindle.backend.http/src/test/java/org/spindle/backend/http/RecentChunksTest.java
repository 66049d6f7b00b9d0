package org.spindle.backend.http;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

class RecentChunksTest {
    private static byte[] chunk(long index) {
        return new byte[] {(byte) index};
    }

    @Test
    void chunksReadAheadStayUntilReadHoweverManyOthersCome() {
        HttpBackend.RecentChunks held = new HttpBackend.RecentChunks(3, 8);
        for (long i = 10; i < 18; i++) {
            held.putAhead(i, chunk(i));
        }
        // a large read's own chunks arriving after the read-ahead it started
        for (long i = 0; i < 10; i++) {
            held.put(i, chunk(i));
        }
        for (long i = 10; i < 18; i++) {
            assertThat(held.get(i)).as("chunk %d", i).containsExactly((byte) i);
        }
        // read, they are recent chunks like any other: three are held
        assertThat(held.contains(14)).isFalse();
        assertThat(held.get(17)).containsExactly((byte) 17);
        assertThat(held.get(15)).containsExactly((byte) 15);
    }

    @Test
    void unreadChunksAreBoundedOldestDroppedFirst() {
        HttpBackend.RecentChunks held = new HttpBackend.RecentChunks(2, 4);
        for (long i = 0; i < 6; i++) {
            held.putAhead(i, chunk(i));
        }
        assertThat(held.contains(0)).isFalse();
        assertThat(held.contains(1)).isFalse();
        for (long i = 2; i < 6; i++) {
            assertThat(held.contains(i)).isTrue();
        }
    }

    @Test
    void aChunkReadAlreadyIsNotUnreadAgainWhenItsResponseEnds() {
        HttpBackend.RecentChunks held = new HttpBackend.RecentChunks(2, 4);
        byte[] early = chunk(7);
        held.putAhead(7, early);
        assertThat(held.get(7)).isSameAs(early);
        byte[] kept = chunk(7);
        held.putAhead(7, kept);
        // it is recent now, so two other chunks push it out
        held.put(1, chunk(1));
        held.put(2, chunk(2));
        assertThat(held.contains(7)).isFalse();
    }

    @Test
    void removeTakesOnlyTheSameData() {
        HttpBackend.RecentChunks held = new HttpBackend.RecentChunks(2, 2);
        byte[] data = chunk(3);
        held.putAhead(3, data);
        held.remove(3, chunk(3));
        assertThat(held.contains(3)).isTrue();
        held.remove(3, data);
        assertThat(held.contains(3)).isFalse();
    }
}
