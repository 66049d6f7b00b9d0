package org.spindle.device.ata;

import java.nio.ByteBuffer;
import java.util.LinkedHashMap;
import java.util.Map;

import org.spindle.storage.api.StorageException;
import org.spindle.storage.api.VirtualDisk;

/**
 * READ CD asking for more than user data: each Mode 1 sector is made whole ({@link CdSector}) from its
 * 2048 bytes on the disc, and bytes {@code [from, to)} of it go to the host.
 */
final class RawCdTransfer extends Transfer {
    private final VirtualDisk disc;
    private final long lba;
    private final long blocks;
    private final int from;
    private final int to;
    private final DiskTransfer.Failure failure;
    private final byte[] sector = new byte[CdSector.RAW_SIZE];
    private long cached = -1;

    RawCdTransfer(VirtualDisk disc, long lba, long blocks, int from, int to, boolean dma, DiskTransfer.Failure failure) {
        super(Direction.IN, dma, blocks * (to - from), to - from);
        this.disc = disc;
        this.lba = lba;
        this.blocks = blocks;
        this.from = from;
        this.to = to;
        this.failure = failure;
    }

    @Override
    public boolean usesStorage() {
        return true;
    }

    @Override
    protected void produce(ByteBuffer dst, long offset) throws TransferException {
        int per = to - from;
        while (dst.hasRemaining()) {
            long index = offset / per;
            int within = (int) (offset % per);
            load(lba + index);
            int n = Math.min(dst.remaining(), per - within);
            dst.put(sector, from + within, n);
            offset += n;
        }
    }

    private void load(long block) throws TransferException {
        if (cached == block) {
            return;
        }
        try {
            disc.read(block * AtapiCdrom.BLOCK, ByteBuffer.wrap(sector, 16, CdSector.USER_SIZE));
        } catch (StorageException e) {
            cached = -1;
            throw new TransferException(failure.map(e, false, block * AtapiCdrom.BLOCK, AtapiCdrom.BLOCK), e.getMessage(), e);
        }
        CdSector.encodeMode1(sector, block);
        cached = block;
    }

    @Override
    protected Map<String, Object> saveState() {
        Map<String, Object> s = new LinkedHashMap<>();
        s.put("kind", "rawcd");
        s.put("lba", lba);
        s.put("blocks", blocks);
        s.put("from", from);
        s.put("to", to);
        return s;
    }
}
