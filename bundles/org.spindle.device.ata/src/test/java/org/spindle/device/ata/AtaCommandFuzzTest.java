package org.spindle.device.ata;

import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;

import com.code_intelligence.jazzer.api.FuzzedDataProvider;
import com.code_intelligence.jazzer.junit.FuzzTest;

/**
 * Fuzzes the taskfile and CDB parsers and the engines behind them: the input is a run of commands (a
 * taskfile, or a PACKET with its CDB, or an operator changing the disc), each of whose data phase is
 * moved in pieces of fuzzed sizes by PIO or DMA, stopped early or aborted. Nothing may throw, a data
 * phase never moves more than it said, and every command ends with a result.
 *
 * <p>Without {@code JAZZER_FUZZ} this replays {@code AtaCommandFuzzTestInputs/commands}.
 */
class AtaCommandFuzzTest {

    @FuzzTest(maxDuration = "30s")
    void commands(FuzzedDataProvider in) throws Exception {
        ArrayDisk image = ArrayDisk.disk(4096);
        AtaDisk disk = new AtaDisk(image, AtaIdentity.disk("FUZZ"));
        ArrayDisk disc = ArrayDisk.cd(64);
        AtapiCdrom cd = new AtapiCdrom(AtaIdentity.cdrom("FUZZ"), "fuzz", DeviceThread.DIRECT);
        cd.insert(disc, "disc", false);
        for (int step = 0; step < 16 && in.remainingBytes() > 0; step++) {
            Transfer t;
            switch (in.consumeInt(0, 3)) {
                case 0 -> {
                    Taskfile tf = new Taskfile(in.consumeInt(), in.consumeInt(), in.consumeInt(), in.consumeLong(),
                            in.consumeInt());
                    t = disk.execute(tf);
                }
                case 1 -> {
                    Taskfile tf = new Taskfile(in.consumeInt(), in.consumeInt(), in.consumeInt(), in.consumeLong(),
                            in.consumeInt());
                    t = cd.executeAta(AtaParser.parse(tf, new Chs(1, 1, 1)), tf);
                }
                case 2 -> t = cd.execute(in.consumeBytes(in.consumeInt(0, 16)), in.consumeBoolean());
                default -> {
                    try {
                        switch (in.consumeInt(0, 3)) {
                            case 0 -> cd.openTray(in.consumeBoolean());
                            case 1 -> cd.closeTray();
                            case 2 -> cd.remove(in.consumeBoolean());
                            default -> cd.insert(ArrayDisk.cd(in.consumeInt(1, 80)), "other", in.consumeBoolean());
                        }
                    } catch (org.spindle.storage.api.StorageException expected) {
                        // a locked tray
                    }
                    continue;
                }
            }
            move(t, in);
        }
    }

    private static void move(Transfer t, FuzzedDataProvider in) {
        if (t.direction() == Transfer.Direction.NONE) {
            // it has its result, or (a flush, a verify) does its work on the medium in finish()
            require(t.result() != null || t.usesStorage(), "a command without data has a result or work to do");
            require(t.finish() != null, "a command without data finishes with a result");
            return;
        }
        long length = t.length();
        int rounds = 0;
        while (!t.ended() && rounds++ < 64) {
            int action = in.consumeInt(0, 9);
            if (action == 0) {
                t.abort(Ata.ABRT);
                break;
            }
            if (action == 1 && t.done() > 0) {
                break; // the host stops early (a short PRD table): only abort ends it
            }
            int pieces = in.consumeInt(1, 4);
            List<ByteBuffer> list = new ArrayList<>();
            for (int i = 0; i < pieces; i++) {
                list.add(ByteBuffer.allocate(in.consumeInt(1, 70_000)));
            }
            long before = t.done();
            if (t.direction() == Transfer.Direction.IN) {
                t.toHost(list);
            } else {
                t.fromHost(list);
            }
            require(t.done() >= before && t.done() <= length, "moved " + t.done() + " of " + length);
        }
        if (!t.ended()) {
            t.abort(Ata.ABRT);
        }
        require(t.finish() != null, "a result");
    }

    private static void require(boolean condition, String what) {
        if (!condition) {
            throw new AssertionError(what);
        }
    }
}
