package org.spindle.device.ide;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import org.spindle.device.ata.SlotThread;
import org.spindle.device.ata.Ata;
import org.spindle.device.ata.ArrayDisk;
import org.spindle.device.ata.AtaDisk;
import org.spindle.device.ata.AtaIdentity;
import org.spindle.machine.api.PciConfigSpace;

/**
 * The programming interface and native mode (PCI IDE Controller Specification 1.0): which modes the
 * guest sees, switching a channel, the BARs a native channel answers at, INTA# instead of the ISA
 * IRQ, and the legacy ports let go.
 */
class IdeNativeModeTest {
    private static final int ISA_BRIDGE = 1 << 3;
    private static final int PIRQA = 11;
    private final ArrayDisk image = ArrayDisk.disk(4096);
    private IdeFixture f;

    private void start(Piix3Ide.Mode mode) throws Exception {
        f = new IdeFixture(new Piix3Ide(mode, new SlotThread(), new AtaDisk(image, AtaIdentity.disk("HD1")), null,
                new AtaDisk(ArrayDisk.disk(2048), AtaIdentity.disk("HD2")), null));
        // Firmware routes PIRQA (INTA# of device 1 on QEMU's pc board) to IRQ 11.
        f.pci.configWrite(ISA_BRIDGE, 0x60, 1, PIRQA);
    }

    @AfterEach
    void tearDown() throws Exception {
        if (f != null) {
            f.close();
        }
    }

    private int progIf() {
        return f.pci.configRead(IdeFixture.DEVFN, PciConfigSpace.CLASS_PROG, 1);
    }

    private IdeDriver nativePrimary() {
        int command = (int) f.pci.assignBar(IdeFixture.DEVFN, 0);
        int control = (int) f.pci.assignBar(IdeFixture.DEVFN, 1);
        return new IdeDriver(f.qt, command, control + 2, f.bmBase, PIRQA);
    }

    @Test
    void compatibilityModeIsFixedAndHasNoChannelBars() throws Exception {
        start(Piix3Ide.Mode.COMPATIBILITY);
        assertThat(progIf()).isEqualTo(0x80);
        f.pci.configWrite(IdeFixture.DEVFN, PciConfigSpace.CLASS_PROG, 1, 0x8F);
        assertThat(progIf()).as("the PIIX3's programming interface is read-only").isEqualTo(0x80);
        for (int bar = 0; bar < 4; bar++) {
            f.pci.configWrite(IdeFixture.DEVFN, PciConfigSpace.BAR0 + 4 * bar, 4, -1);
            assertThat(f.pci.configRead(IdeFixture.DEVFN, PciConfigSpace.BAR0 + 4 * bar, 4)).isZero();
        }
        assertThat(f.pci.configRead(IdeFixture.DEVFN, PciConfigSpace.INTERRUPT_PIN, 1)).isZero();
    }

    @Test
    void aSwitchableChannelMovesFromTheLegacyPortsToItsBarsAndToIntA() throws Exception {
        start(Piix3Ide.Mode.SWITCHABLE);
        assertThat(progIf()).isEqualTo(0x8A);
        assertThat(f.pci.configRead(IdeFixture.DEVFN, PciConfigSpace.INTERRUPT_PIN, 1)).isEqualTo(1);
        assertThat(f.pci.sizeBar(IdeFixture.DEVFN, 0).size()).isEqualTo(8);
        assertThat(f.pci.sizeBar(IdeFixture.DEVFN, 1).size()).isEqualTo(4);
        assertThat(f.pci.sizeBar(IdeFixture.DEVFN, 2).size()).isEqualTo(8);
        assertThat(f.pci.sizeBar(IdeFixture.DEVFN, 3).size()).isEqualTo(4);
        IdeDriver bars = nativePrimary();
        IdeDriver legacy = new IdeDriver(f, true);

        // Compatibility mode: the legacy ports answer, the BARs float.
        assertThat(legacy.status()).isEqualTo(Ata.DRDY | Ata.DSC);
        assertThat(bars.status()).isEqualTo(0xFF);

        f.pci.configWrite(IdeFixture.DEVFN, PciConfigSpace.CLASS_PROG, 1, 0x03);
        assertThat(progIf()).as("only the mode bits are writable").isEqualTo(0x8B);
        assertThat(f.ide.nativeMode(0)).isTrue();
        assertThat(f.ide.nativeMode(1)).isFalse();
        assertThat(f.qt.inb(IdeFixture.PRIMARY + 7)).as("the legacy ports are let go").isEqualTo(0xFF);
        assertThat(bars.status()).isEqualTo(Ata.DRDY | Ata.DSC);

        bars.command28(0, Ata.READ_SECTORS, 0, 2, 10);
        assertThat(f.qt.getIrq(14)).as("no ISA IRQ 14 in native mode").isFalse();
        assertThat(interruptStatus()).isTrue();
        assertThat(bars.pioIn(2, 512)).isEqualTo(image.slice(10 * 512, 2 * 512));
        assertThat(interruptStatus()).as("reading status cleared INTA#").isFalse();
        assertThat(bars.irq()).isFalse();

        // The secondary stays in compatibility mode beside it, on IRQ 15.
        IdeDriver secondary = new IdeDriver(f, false);
        secondary.command28(0, Ata.IDENTIFY_DEVICE, 0, 0, 0);
        assertThat(f.qt.getIrq(15)).isTrue();
        assertThat(interruptStatus()).isFalse();
        assertThat(secondary.pioIn(1, 512)).hasSize(512);
    }

    @Test
    void theControlBlockHoldsDeviceControlAtByteTwo() throws Exception {
        start(Piix3Ide.Mode.NATIVE);
        assertThat(progIf()).isEqualTo(0x8F);
        IdeDriver bars = nativePrimary();
        int controlBlock = bars.control - 2;
        assertThat(f.qt.inb(controlBlock)).isEqualTo(0xFF);
        assertThat(f.qt.inb(controlBlock + 2)).isEqualTo(Ata.DRDY | Ata.DSC);
        // nIEN through the control block masks INTA#.
        f.qt.outb(controlBlock + 2, 0x02);
        bars.command28(0, Ata.READ_SECTORS, 0, 1, 0);
        assertThat(interruptStatus()).isFalse();
        f.qt.outb(controlBlock + 2, 0x00);
        assertThat(interruptStatus()).isTrue();
        assertThat(bars.pioIn(1, 512)).isEqualTo(image.slice(0, 512));
    }

    @Test
    void switchingBackWithAnInterruptPendingMovesItToTheIsaIrq() throws Exception {
        start(Piix3Ide.Mode.NATIVE);
        IdeDriver bars = nativePrimary();
        bars.command28(0, Ata.IDENTIFY_DEVICE, 0, 0, 0);
        assertThat(interruptStatus()).isTrue();
        assertThat(f.qt.getIrq(14)).isFalse();
        f.pci.configWrite(IdeFixture.DEVFN, PciConfigSpace.CLASS_PROG, 1, 0x8E);
        assertThat(interruptStatus()).as("the primary left INTA#").isFalse();
        assertThat(f.qt.getIrq(14)).isTrue();
        IdeDriver legacy = new IdeDriver(f, true);
        assertThat(legacy.pioIn(1, 512)).hasSize(512);
    }

    @Test
    void resetReturnsASwitchedChannelToCompatibilityMode() throws Exception {
        start(Piix3Ide.Mode.SWITCHABLE);
        f.pci.configWrite(IdeFixture.DEVFN, PciConfigSpace.CLASS_PROG, 1, 0x8F);
        assertThat(f.qt.inb(IdeFixture.PRIMARY + 7)).isEqualTo(0xFF);
        f.machine.reset();
        f.pci.enable(IdeFixture.DEVFN);
        assertThat(progIf()).isEqualTo(0x8A);
        assertThat(f.qt.inb(IdeFixture.PRIMARY + 7)).isEqualTo(Ata.DRDY | Ata.DSC);
    }

    @Test
    void saveAndRestoreKeepTheModes() throws Exception {
        start(Piix3Ide.Mode.SWITCHABLE);
        IdeDriver bars = nativePrimary();
        f.pci.configWrite(IdeFixture.DEVFN, PciConfigSpace.CLASS_PROG, 1, 0x8B);
        bars.command28(0, Ata.READ_SECTORS, 0, 1, 5);
        var saved = f.machine.save();
        f.machine.reset();
        assertThat(f.ide.nativeMode(0)).as("after reset: compatibility again").isFalse();
        f.machine.restore(saved);
        assertThat(f.ide.nativeMode(0)).isTrue();
        assertThat(f.qt.inb(IdeFixture.PRIMARY + 7)).as("restored native: legacy let go").isEqualTo(0xFF);
        assertThat(interruptStatus()).isTrue();
        assertThat(bars.pioIn(1, 512)).isEqualTo(image.slice(5 * 512, 512));
    }

    @Test
    void aNativeBarMayTakeTheLegacyPortsAndGivesThemBackWhenMoved() throws Exception {
        start(Piix3Ide.Mode.SWITCHABLE);
        f.pci.configWrite(IdeFixture.DEVFN, PciConfigSpace.BAR0, 4, IdeFixture.PRIMARY | 1);
        f.pci.configWrite(IdeFixture.DEVFN, PciConfigSpace.BAR0 + 4, 4, 0x3F4 | 1);
        IdeDriver legacy = new IdeDriver(f, true);
        assertThat(legacy.status()).as("compatibility: the legacy ports answer").isEqualTo(Ata.DRDY | Ata.DSC);

        f.pci.configWrite(IdeFixture.DEVFN, PciConfigSpace.CLASS_PROG, 1, 0x01);
        assertThat(f.ide.nativeMode(0)).isTrue();
        IdeDriver atLegacyAddresses = new IdeDriver(f.qt, IdeFixture.PRIMARY, 0x3F6, f.bmBase, PIRQA);
        atLegacyAddresses.command28(0, Ata.READ_SECTORS, 0, 1, 4);
        assertThat(interruptStatus()).as("the BARs at 1F0h/3F4h answer, on INTA#").isTrue();
        assertThat(atLegacyAddresses.pioIn(1, 512)).isEqualTo(image.slice(4 * 512, 512));

        // Back to compatibility with the BARs still there: both want the ports; the BAR keeps them.
        f.pci.configWrite(IdeFixture.DEVFN, PciConfigSpace.CLASS_PROG, 1, 0x00);
        assertThat(f.qt.inb(IdeFixture.PRIMARY + 7)).as("neither answers").isEqualTo(0xFF);
        assertThat(f.machine.problems()).anyMatch(p -> p.contains("IDE primary legacy ports not decoded"));
        f.pci.assignBar(IdeFixture.DEVFN, 0);
        f.pci.assignBar(IdeFixture.DEVFN, 1);
        assertThat(legacy.status()).as("the BARs moved: the legacy ports are back").isEqualTo(Ata.DRDY | Ata.DSC);
        legacy.command28(0, Ata.READ_SECTORS, 0, 1, 6);
        assertThat(legacy.pioIn(1, 512)).isEqualTo(image.slice(6 * 512, 512));
    }

    @Test
    void restoringANativeChannelRaisesNoIsaInterruptOnTheWay() throws Exception {
        start(Piix3Ide.Mode.SWITCHABLE);
        IdeDriver bars = nativePrimary();
        f.pci.configWrite(IdeFixture.DEVFN, PciConfigSpace.CLASS_PROG, 1, 0x01);
        bars.command28(0, Ata.READ_SECTORS, 0, 1, 5);
        assertThat(interruptStatus()).isTrue();
        var saved = f.machine.save();
        // Now compatibility, the read finished there and IRQ 14 quiet; then the native state back, with
        // its interrupt pending: that belongs on INTA#, and IRQ 14 must not see it even for a moment.
        f.pci.configWrite(IdeFixture.DEVFN, PciConfigSpace.CLASS_PROG, 1, 0x00);
        IdeDriver legacy = new IdeDriver(f, true);
        legacy.pioIn(1, 512);
        assertThat(f.qt.getIrq(14)).isFalse();
        java.util.List<String> changes = new java.util.concurrent.CopyOnWriteArrayList<>();
        try (AutoCloseable watch = f.machine.watchInterrupts("ioapic", (input, level) -> changes.add(input + "=" + level))) {
            f.machine.call(() -> {
                f.machine.restore(saved);
                return null;
            });
        }
        assertThat(changes).as("IRQ 14 never rises").doesNotContain("14=true");
        assertThat(f.qt.getIrq(14)).isFalse();
        assertThat(interruptStatus()).isTrue();
        assertThat(bars.pioIn(1, 512)).isEqualTo(image.slice(5 * 512, 512));
    }

    @Test
    void aStateSavedInAnotherModeIsRefused() throws Exception {
        start(Piix3Ide.Mode.SWITCHABLE);
        f.pci.configWrite(IdeFixture.DEVFN, PciConfigSpace.CLASS_PROG, 1, 0x01);
        var saved = f.machine.save();
        f.close();
        f = null;
        start(Piix3Ide.Mode.COMPATIBILITY);
        assertThatThrownBy(() -> f.machine.restore(saved)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("a compatibility IDE controller (programming interface 80h) cannot restore one"
                        + " saved with 8Bh");
    }

    private boolean interruptStatus() {
        boolean status = (f.pci.configRead(IdeFixture.DEVFN, PciConfigSpace.STATUS, 2) & PciConfigSpace.STATUS_INTERRUPT) != 0;
        assertThat(f.qt.getIrq(PIRQA)).as("IRQ 11 follows INTA#").isEqualTo(status);
        return status;
    }
}
