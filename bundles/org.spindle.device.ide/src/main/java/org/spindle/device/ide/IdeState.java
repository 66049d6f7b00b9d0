package org.spindle.device.ide;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.IntStream;

/**
 * A channel's state as plain values: its registers, each device's registers, engine settings and the
 * data phase in progress (the PIO block in the buffer and where the transfer stood), so that a restored
 * machine finishes a transfer that was under way with the right data.
 */
final class IdeState {
    private IdeState() {
    }

    static Map<String, Object> save(IdeChannel c) {
        Map<String, Object> s = new LinkedHashMap<>();
        s.put("selected", c.selected());
        s.put("control", c.control());
        s.put("bmCommand", c.bmCommand());
        s.put("bmStatus", c.bmStatus());
        s.put("prdTable", c.prdTable());
        List<Object> devices = new ArrayList<>();
        for (IdeDevice d : c.devices) {
            devices.add(save(d));
        }
        s.put("devices", devices);
        return s;
    }

    private static Map<String, Object> save(IdeDevice d) {
        Map<String, Object> s = new LinkedHashMap<>();
        s.put("registers", IntStream.of(d.regs).boxed().toList());
        s.put("hob", IntStream.of(d.hob).boxed().toList());
        s.put("device", d.device);
        s.put("status", d.status);
        s.put("error", d.error);
        s.put("interrupt", d.interrupt);
        s.put("phase", d.phase.name());
        s.put("buffer", Arrays.copyOf(d.buffer, d.end));
        s.put("pos", d.pos);
        s.put("byteCountLimit", d.byteCountLimit);
        s.put("packetDma", d.packetDma);
        s.put("transfer", d.transfer == null ? Map.of() : d.transfer.save());
        if (d.disk != null) {
            s.put("engine", d.disk.save());
        } else if (d.cdrom != null) {
            s.put("engine", d.cdrom.save());
        }
        return s;
    }

    @SuppressWarnings("unchecked")
    static void restore(IdeChannel c, Map<String, Object> s) {
        try {
            List<Object> devices = (List<Object>) s.get("devices");
            for (int i = 0; i < 2; i++) {
                restore(c.devices[i], (Map<String, Object>) devices.get(i));
            }
            c.restoreRegisters(num(s, "selected"), num(s, "control"), num(s, "bmCommand"), num(s, "bmStatus"),
                    ((Number) s.get("prdTable")).longValue());
        } catch (ClassCastException | NullPointerException | IndexOutOfBoundsException e) {
            throw new IllegalArgumentException("the saved state of IDE channel " + c.name + " is incomplete", e);
        }
    }

    @SuppressWarnings("unchecked")
    private static void restore(IdeDevice d, Map<String, Object> s) {
        List<Number> r = (List<Number>) s.get("registers");
        List<Number> h = (List<Number>) s.get("hob");
        for (int i = 0; i < d.regs.length; i++) {
            d.regs[i] = r.get(i).intValue() & 0xFF;
            d.hob[i] = h.get(i).intValue() & 0xFF;
        }
        d.device = num(s, "device");
        d.status = num(s, "status");
        d.error = num(s, "error");
        d.interrupt = (Boolean) s.get("interrupt");
        Map<String, Object> engine = (Map<String, Object>) s.get("engine");
        if (d.disk != null && engine != null) {
            d.disk.restore(engine);
        } else if (d.cdrom != null && engine != null) {
            d.cdrom.restore(engine);
        }
        byte[] buffer = (byte[]) s.get("buffer");
        d.idle();
        d.prepareBuffer(buffer.length);
        System.arraycopy(buffer, 0, d.buffer, 0, buffer.length);
        d.pos = num(s, "pos");
        d.byteCountLimit = num(s, "byteCountLimit");
        d.packetDma = (Boolean) s.get("packetDma");
        d.phase = IdeDevice.Phase.valueOf((String) s.get("phase"));
        if (d.phase == IdeDevice.Phase.BUSY) {
            // storage work in flight is finished before a save, so no saved device is busy with it
            throw new IllegalArgumentException("a saved IDE device busy with storage work on an I/O thread");
        }
        Map<String, Object> transfer = (Map<String, Object>) s.get("transfer");
        if (!transfer.isEmpty() && d.present()) {
            d.transfer = d.disk != null ? d.disk.resume(transfer) : d.cdrom.resume(transfer);
        } else if (d.phase != IdeDevice.Phase.PACKET) {
            d.phase = IdeDevice.Phase.IDLE;
        }
        if (d.pos > d.end) {
            throw new IllegalArgumentException("a PIO position " + d.pos + " past the " + d.end + "-byte block");
        }
    }

    private static int num(Map<String, Object> s, String key) {
        return ((Number) s.get(key)).intValue();
    }
}
