package org.spindle.machine.api;

import java.util.ArrayList;
import java.util.List;

/**
 * An immutable scatter-gather list: the guest memory a transfer reads or writes, in order. Built by a
 * controller's parser from guest structures (PRDT, PRP list, SGL, virtio descriptor chain).
 */
public final class SgList {
    private final List<SgEntry> entries;
    private final long totalLength;

    private SgList(List<SgEntry> entries) {
        this.entries = List.copyOf(entries);
        long total = 0;
        for (SgEntry e : this.entries) {
            total = Math.addExact(total, e.length());
        }
        this.totalLength = total;
    }

    public static SgList of(SgEntry... entries) {
        return new SgList(List.of(entries));
    }

    public static SgList of(List<SgEntry> entries) {
        return new SgList(entries);
    }

    /** One entry: {@code length} bytes at {@code address}. */
    public static SgList single(long address, long length) {
        return of(new SgEntry(address, length));
    }

    public List<SgEntry> entries() {
        return entries;
    }

    /** The number of bytes the list describes. */
    public long totalLength() {
        return totalLength;
    }

    /** The first {@code bytes} of the list (an entry cut where the limit falls). */
    public SgList limit(long bytes) {
        if (bytes >= totalLength) {
            return this;
        }
        List<SgEntry> out = new ArrayList<>();
        long left = bytes;
        for (SgEntry e : entries) {
            if (left <= 0) {
                break;
            }
            out.add(e.length() <= left ? e : new SgEntry(e.address(), left));
            left -= e.length();
        }
        return new SgList(out);
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof SgList other && other.entries.equals(entries);
    }

    @Override
    public int hashCode() {
        return entries.hashCode();
    }

    @Override
    public String toString() {
        return "SgList" + entries;
    }
}
