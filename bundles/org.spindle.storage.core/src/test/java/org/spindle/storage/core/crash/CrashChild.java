package org.spindle.storage.core.crash;

import java.io.PrintStream;
import java.net.URI;
import java.nio.ByteBuffer;

import org.spindle.storage.api.Discardable;
import org.spindle.storage.api.OpenOptions;
import org.spindle.storage.api.VirtualDisk;
import org.spindle.storage.core.DiskOpener;
import org.spindle.storage.core.ServiceLoaderRegistry;

/**
 * The process that gets killed: opens the image (a chain, for an overlay), prints {@code READY}, then
 * runs {@link CrashOps} forever, printing {@code F n} each time a flush returns (operations 0 … n-1
 * are then durable). It never exits by itself.
 */
public final class CrashChild {
    private CrashChild() {
    }

    public static void main(String[] args) throws Exception {
        URI image = URI.create(args[0]);
        long seed = Long.parseLong(args[1]);
        PrintStream out = new PrintStream(System.out, true);
        DiskOpener opener = new DiskOpener(ServiceLoaderRegistry.load(CrashChild.class.getClassLoader()));
        VirtualDisk disk = opener.open(image, DiskOpener.AUTO, OpenOptions.defaults()).disk();
        out.println("READY");
        for (int i = 0; ; i++) {
            switch (CrashOps.op(seed, i, disk.capacity())) {
                case CrashOps.Write w -> disk.write(w.offset(), ByteBuffer.wrap(w.data()));
                case CrashOps.Discard d -> {
                    // a format without discard: the operation is a no-op (run the harness with discardFrees off)
                    java.util.Optional<Discardable> discard = disk.capability(Discardable.class);
                    if (discard.isPresent()) {
                        discard.get().discard(d.offset(), d.length());
                    }
                }
                case CrashOps.Flush f -> {
                    disk.flush();
                    out.println("F " + (i + 1));
                }
            }
        }
    }
}
