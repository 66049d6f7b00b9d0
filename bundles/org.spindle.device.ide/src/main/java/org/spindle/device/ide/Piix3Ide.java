package org.spindle.device.ide;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import org.spindle.device.ata.AtaDisk;
import org.spindle.device.ata.AtapiCdrom;
import org.spindle.machine.api.DeviceLifecycle;
import org.spindle.machine.api.DeviceStateDTO;
import org.spindle.machine.api.IoHandler;
import org.spindle.machine.api.IoSpace;
import org.spindle.machine.api.PciBar;
import org.spindle.machine.api.PciConfigSpace;
import org.spindle.machine.api.PciFunction;
import org.spindle.machine.api.PciSlot;

/**
 * The PIIX3 IDE function (8086:7010, class 01/01/80): two channels in compatibility mode at the legacy
 * ports (primary 1F0h-1F7h and 3F6h on ISA IRQ 14, secondary 170h-177h and 376h on IRQ 15), and the
 * bus-master IDE registers in BAR4. The ports answer while the command register's I/O Space Enable
 * is set, as on the PIIX3. The IDE timing registers (40h-44h) hold what firmware writes and change
 * nothing, as transfer timing means nothing here.
 */
public final class Piix3Ide implements PciFunction, DeviceLifecycle {
    public static final int VENDOR_ID = 0x8086;
    public static final int DEVICE_ID = 0x7010;
    public static final int PRIMARY_IRQ = 14;
    public static final int SECONDARY_IRQ = 15;
    static final int STATE_VERSION = 1;

    private final PciConfigSpace config;
    final IdeChannel primary;
    final IdeChannel secondary;
    private final List<IoSpace.Region> regions = new ArrayList<>();
    private PciSlot slot;

    /**
     * @param devices the four positions, primary master, primary slave, secondary master, secondary
     *        slave; each an {@link AtaDisk}, an {@link AtapiCdrom}, or {@code null} for none
     */
    public Piix3Ide(Object... devices) {
        if (devices.length != 4) {
            throw new IllegalArgumentException("an IDE controller has four device positions, not " + devices.length);
        }
        primary = new IdeChannel("primary", device(devices[0]), device(devices[1]));
        secondary = new IdeChannel("secondary", device(devices[2]), device(devices[3]));
        config = PciConfigSpace.builder(VENDOR_ID, DEVICE_ID).classCode(0x01, 0x01, 0x80)
                .bar(4, PciBar.io(16, busMaster()))
                .register(0x40, 2, 0, 0xFFFF) // IDETIM, primary
                .register(0x42, 2, 0, 0xFFFF) // IDETIM, secondary
                .register(0x44, 1, 0, 0xFF) // SIDETIM
                .build();
    }

    private static IdeDevice device(Object o) {
        return switch (o) {
            case null -> IdeDevice.absent();
            case AtaDisk d -> IdeDevice.disk(d);
            case AtapiCdrom c -> IdeDevice.cdrom(c);
            default -> throw new IllegalArgumentException("an IDE device is an AtaDisk or an AtapiCdrom, not " + o);
        };
    }

    @Override
    public PciConfigSpace config() {
        return config;
    }

    @Override
    public void plugged(PciSlot slot) {
        this.slot = slot;
        regions.add(slot.io().map(0x1F0, 8, taskFile(primary), "IDE primary"));
        regions.add(slot.io().map(0x3F6, 1, control(primary), "IDE primary control"));
        regions.add(slot.io().map(0x170, 8, taskFile(secondary), "IDE secondary"));
        regions.add(slot.io().map(0x376, 1, control(secondary), "IDE secondary control"));
        primary.attach(slot.memory(), slot.isaIrq(PRIMARY_IRQ));
        secondary.attach(slot.memory(), slot.isaIrq(SECONDARY_IRQ));
    }

    @Override
    public void unplugged() {
        regions.forEach(IoSpace.Region::close);
        regions.clear();
        primary.detach();
        secondary.detach();
        slot = null;
    }

    private IoHandler taskFile(IdeChannel channel) {
        return new IoHandler() {
            @Override
            public long read(long offset, int size) {
                long ones = -1L >>> (64 - 8 * size);
                if (!config.ioEnabled()) {
                    return ones;
                }
                if (offset == IdeChannel.DATA) {
                    return channel.read(IdeChannel.DATA, size);
                }
                // The other registers are a byte wide; the rest of a wider read floats high.
                return channel.read((int) offset, 1) | (ones & ~0xFFL);
            }

            @Override
            public void write(long offset, int size, long value) {
                if (config.ioEnabled()) {
                    channel.write((int) offset, offset == IdeChannel.DATA ? size : 1, value);
                }
            }
        };
    }

    private IoHandler control(IdeChannel channel) {
        return new IoHandler() {
            @Override
            public long read(long offset, int size) {
                return config.ioEnabled() ? channel.altStatus() : 0xFF;
            }

            @Override
            public void write(long offset, int size, long value) {
                if (config.ioEnabled()) {
                    channel.writeControl((int) value & 0xFF);
                }
            }
        };
    }

    private IoHandler busMaster() {
        return new IoHandler() {
            @Override
            public long read(long offset, int size) {
                IdeChannel c = offset < 8 ? primary : secondary;
                return c.readBm((int) offset & 7, size);
            }

            @Override
            public void write(long offset, int size, long value) {
                IdeChannel c = offset < 8 ? primary : secondary;
                c.writeBm((int) offset & 7, size, value);
            }
        };
    }

    @Override
    public void reset() {
        config.reset();
        primary.reset();
        secondary.reset();
        for (IdeChannel c : List.of(primary, secondary)) {
            for (IdeDevice d : c.devices) {
                if (d.disk != null) {
                    d.disk.reset();
                }
                if (d.cdrom != null) {
                    d.cdrom.reset();
                }
            }
        }
    }

    @Override
    public DeviceStateDTO save() {
        DeviceStateDTO dto = new DeviceStateDTO();
        dto.type = Piix3Ide.class.getName();
        dto.version = STATE_VERSION;
        dto.values = new LinkedHashMap<>();
        dto.values.put("primary", IdeState.save(primary));
        dto.values.put("secondary", IdeState.save(secondary));
        return dto;
    }

    @Override
    public void restore(DeviceStateDTO state) {
        if (!Piix3Ide.class.getName().equals(state.type) || state.version != STATE_VERSION) {
            throw new IllegalArgumentException("a " + Piix3Ide.class.getName() + " v" + STATE_VERSION
                    + " cannot restore " + state.type + " v" + state.version);
        }
        @SuppressWarnings("unchecked")
        Map<String, Object> p = (Map<String, Object>) state.values.get("primary");
        @SuppressWarnings("unchecked")
        Map<String, Object> s = (Map<String, Object>) state.values.get("secondary");
        IdeState.restore(primary, p);
        IdeState.restore(secondary, s);
    }
}
