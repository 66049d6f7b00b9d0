package org.spindle.qemu;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

import org.junit.jupiter.api.Test;
import org.spindle.qemu.QemuCommandLine.Attachment;
import org.spindle.qemu.QemuCommandLine.Controller;
import org.spindle.qemu.QemuCommandLine.Drive;

/** The QEMU command lines libqtest programs pass, and the ones Spindle must refuse. */
class QemuCommandLineTest {
    /** What libqtest puts before a test's own arguments, and -accel qtest after them. */
    private static QemuCommandLine launch(String testArgs) throws QemuCommandLineException {
        List<String> args = new ArrayList<>(List.of("-qtest", "unix:/tmp/qtest-42.sock", "-qtest-log", "/dev/null",
                "-chardev", "socket,path=/tmp/qtest-42.qmp,id=char0", "-mon", "chardev=char0,mode=control",
                "-display", "none", "-audio", "none"));
        if (!testArgs.isBlank()) {
            args.addAll(Arrays.asList(testArgs.trim().split(" +")));
        }
        args.addAll(List.of("-accel", "qtest"));
        return QemuCommandLine.parse(args);
    }

    private static String refusal(String testArgs) {
        try {
            launch(testArgs);
        } catch (QemuCommandLineException e) {
            return e.getMessage();
        }
        throw new AssertionError("accepted: " + testArgs);
    }

    @Test
    void libqtestsOwnArgumentsGiveTheSocketsAndAPcWith128MiB() throws Exception {
        QemuCommandLine c = launch("");
        assertThat(c.machine()).isEqualTo("pc");
        assertThat(c.ramBytes()).isEqualTo(128L << 20);
        assertThat(c.qtest()).isEqualTo("unix:/tmp/qtest-42.sock");
        assertThat(c.qtestLog()).isEqualTo("/dev/null");
        assertThat(c.monitor()).isEqualTo(new QemuCommandLine.Monitor("char0", "unix:/tmp/qtest-42.qmp", false, false));
        assertThat(c.controllers()).singleElement().satisfies(k -> {
            assertThat(k.kind()).isEqualTo("piix3-ide");
            assertThat(k.address()).isEqualTo("00:01.1");
            assertThat(k.attached()).isEmpty();
        });
    }

    @Test
    void ideTestDrivesFillThePiix3PlacesInIndexOrder() throws Exception {
        QemuCommandLine c = launch("-drive file=/tmp/a.img,cache=writeback,format=raw "
                + "-drive if=ide,media=cdrom,file=/tmp/cd.iso,index=2 -drive file=/tmp/b,,c.img,format=qcow2,werror=stop,"
                + "rerror=stop -global ide-hd.serial=testdisk -global ide-hd.ver=version -m 384");
        assertThat(c.ramBytes()).isEqualTo(384L << 20);
        Controller ide = c.controllers().get(0);
        assertThat(ide.attached()).extracting(Attachment::place).containsExactly(0, 1, 2);
        Attachment disk = ide.attached().get(0);
        assertThat(disk.cdrom()).isFalse();
        assertThat(disk.serial()).isEqualTo("testdisk");
        assertThat(disk.version()).isEqualTo("version");
        Attachment cd = ide.attached().get(2);
        assertThat(cd.cdrom()).isTrue();
        assertThat(cd.serial()).isNull();
        Drive cdDrive = c.drive(cd.drive());
        assertThat(cdDrive.readOnly()).isTrue();
        assertThat(cdDrive.file()).isEqualTo("/tmp/cd.iso");
        // the doubled comma is a comma of the file name
        Drive second = c.drive(ide.attached().get(1).drive());
        assertThat(second.file()).isEqualTo("/tmp/b,c.img");
        assertThat(second.format()).isEqualTo("qcow2");
        assertThat(second.werror()).isEqualTo("stop");
        assertThat(second.rerror()).isEqualTo("stop");
        assertThat(c.drive(disk.drive()).werror()).isEqualTo("enospc");
    }

    @Test
    void ahciTestPutsDevicesOnTheQ35sPortsAndOnAnAddedController() throws Exception {
        QemuCommandLine c = launch("-M q35 -drive if=none,id=drive0,file=/tmp/d.img,format=raw "
                + "-device ide-hd,drive=drive0,serial=testdisk,ver=version "
                + "-drive if=none,id=drive1,file=/tmp/e.img -device ahci,id=ahci1,addr=04.0 "
                + "-device ide-hd,drive=drive1,bus=ahci1.3 -device ide-cd,bus=ide.5,id=cd0");
        assertThat(c.machine()).isEqualTo("q35");
        assertThat(c.controllers()).extracting(Controller::kind, Controller::id, Controller::address)
                .containsExactly(org.assertj.core.groups.Tuple.tuple("ahci", "ide", "00:1f.2"),
                        org.assertj.core.groups.Tuple.tuple("ahci", "ahci1", "00:04.0"));
        assertThat(c.controllers().get(0).attached()).containsExactly(
                new Attachment(0, false, "drive0", null, "testdisk", "version", null),
                new Attachment(5, true, null, "cd0", null, null, null));
        assertThat(c.controllers().get(1).attached()).containsExactly(
                new Attachment(3, false, "drive1", null, null, null, null));
    }

    @Test
    void blockdevNodesBecomeDrivesAndIdeDrivesOnQ35TakeOnePortEach() throws Exception {
        QemuCommandLine c = launch("-machine pc-q35-7.2 -blockdev driver=file,node-name=f0,filename=/tmp/x.img "
                + "-blockdev driver=qcow2,node-name=disk0,file=f0 -device ide-hd,drive=disk0 "
                + "-drive file=/tmp/y.img,index=4");
        assertThat(c.drives()).containsOnlyKeys("disk0", "ide4-hd0");
        assertThat(c.drive("disk0")).isEqualTo(new Drive("disk0", "/tmp/x.img", "qcow2", false, "writeback", "enospc",
                "report"));
        // the q35 has one unit per bus: index 4 is bus 4, port 4, named as QEMU names it
        assertThat(c.controllers().get(0).attached()).extracting(Attachment::place, Attachment::drive)
                .containsExactly(org.assertj.core.groups.Tuple.tuple(0, "disk0"),
                        org.assertj.core.groups.Tuple.tuple(4, "ide4-hd0"));
    }

    @Test
    void blkdebugImagesKeepTheirRulesFile() throws Exception {
        QemuCommandLine c = launch("-drive file=blkdebug:/tmp/r.cfg:/tmp/x.img,if=ide,format=raw -drive "
                + "if=none,id=d1,file=blkdebug::/tmp/y.img,werror=stop");
        assertThat(c.drive("ide0-hd0")).isEqualTo(new Drive("ide0-hd0", "/tmp/x.img", "raw", false, "writeback", "enospc",
                "report", "/tmp/r.cfg"));
        assertThat(c.drive("d1").debug()).isEmpty();
        assertThat(c.drive("d1").file()).isEqualTo("/tmp/y.img");
        assertThat(refusal("-drive file=blkdebug:/tmp/r.cfg,if=none,id=x")).contains("write blkdebug:RULES-FILE:IMAGE");
    }

    @Test
    void machineNoneAndSizesAreRead() throws Exception {
        assertThat(launch("-machine none").controllers()).isEmpty();
        assertThat(launch("-m 1G").ramBytes()).isEqualTo(1L << 30);
        assertThat(launch("-m size=256M").ramBytes()).isEqualTo(256L << 20);
        assertThat(launch("-machine pc,accel=qtest -nodefaults -L /usr/share/seabios").firmwareDir())
                .isEqualTo("/usr/share/seabios");
        assertThat(QemuCommandLine.parse(List.of("--machine", "q35")).machine()).isEqualTo("q35");
    }

    @Test
    void whatSpindleDoesNotTakeIsRefusedByName() {
        assertThat(refusal("-enable-kvm")).contains("-enable-kvm: not an option Spindle supports", "-drive");
        assertThat(refusal("-M q35 -device ahci,addr=1f.2")).contains("PCI slot 00:1f is not free");
        assertThat(refusal("-device ahci,addr=04.0 -device ahci,addr=04.0")).contains("PCI slot 00:04 is not free");
        assertThat(refusal("-device ide-cd,bus=ide.99999999999")).contains("no such bus");
        assertThat(refusal("-device ide-cd,id=a(b")).contains("id=a(b: an id is a letter");
        assertThat(refusal("-device nvme,drive=d,serial=x")).contains("-device nvme: not supported",
                "no NVMe controller yet");
        assertThat(refusal("-device virtio-blk-pci,drive=d")).contains("no virtio-blk controller yet");
        assertThat(refusal("-device e1000")).contains("-device e1000: not a device Spindle has");
        assertThat(refusal("-drive file=/x,if=virtio")).contains("if=virtio is not supported", "ide, none");
        assertThat(refusal("-drive file=/x,format=vdi")).contains("format=vdi");
        assertThat(refusal("-drive file=/x,aio=native")).contains("-drive: aio is not supported by Spindle");
        assertThat(refusal("-drive if=ide")).contains("a disk needs file=");
        assertThat(refusal("-drive file=/x,if=none")).contains("if=none needs id=");
        assertThat(refusal("-drive file=/x,id=a,if=none -drive file=/y,id=a,if=none")).contains("'a' is given twice");
        assertThat(refusal("-device ide-hd,drive=nothing")).contains("no -drive or -blockdev has that id");
        assertThat(refusal("-drive file=/x,id=a,if=none -device ide-hd,drive=a -device ide-hd,drive=a"))
                .contains("attached twice");
        assertThat(refusal("-drive file=/x,id=a,if=none -device ide-hd,drive=a,bus=ide.7")).contains("no such place");
        assertThat(refusal("-drive file=/x,id=a,if=none -device ide-hd,drive=a,bus=sata.0")).contains("no such bus");
        assertThat(refusal("-drive file=/a -drive file=/b -drive file=/c -drive file=/d -drive file=/e"))
                .contains("no free IDE place");
        assertThat(refusal("-machine isapc")).contains("Spindle has pc", "q35");
        assertThat(refusal("-m lots")).contains("-m lots: not a size");
        assertThat(refusal("-m 1536K")).contains("whole MiB");
        assertThat(refusal("-display gtk")).contains("-display gtk: Spindle takes only -display none");
        assertThat(refusal("-accel tcg")).isNotEmpty();
        assertThat(refusal("-global ide-hd.physical_block_size=4096")).contains("serial, ver and model");
        assertThat(refusal("/tmp/disk.img")).contains("options only");
        assertThat(refusal("-qtest nowhere")).contains("-qtest nowhere", "unix:PATH or tcp:HOST:PORT");
        assertThatThrownBy(() -> QemuCommandLine.parse(List.of("-machine"))).hasMessage("-machine needs an argument");
        assertThat(refusal("-blockdev {\"driver\":\"file\"}")).contains("key=value form");
        assertThat(refusal("-device ahci,id=x -device ahci,id=x")).contains("id is taken");
        assertThat(refusal("-device ahci,addr=zz")).contains("SLOT.FUNCTION");
        assertThat(refusal("-machine none -drive file=/x")).contains("-machine none has no IDE controller");
    }

    @Test
    void theMonitorMustBeAControlMonitorOnASocketChardev() throws Exception {
        assertThatThrownBy(() -> QemuCommandLine.parse(List.of("-chardev", "socket,path=/tmp/m,id=c", "-mon",
                "chardev=c"))).hasMessageContaining("mode=readline").hasMessageContaining("QMP only");
        assertThatThrownBy(() -> QemuCommandLine.parse(List.of("-mon", "chardev=c,mode=control")))
                .hasMessageContaining("no -chardev has that id");
        assertThatThrownBy(() -> QemuCommandLine.parse(List.of("-chardev", "stdio,id=c"))).hasMessageContaining(
                "socket chardevs only");
        assertThatThrownBy(() -> QemuCommandLine.parse(List.of("-chardev", "socket,path=/tmp/m,id=c")))
                .hasMessageContaining("only as the monitor's");
        QemuCommandLine tcp = QemuCommandLine.parse(List.of("-chardev", "socket,host=127.0.0.1,port=4444,id=m,"
                + "server=on,wait=off", "-mon", "chardev=m,mode=control,pretty=on"));
        assertThat(tcp.monitor()).isEqualTo(new QemuCommandLine.Monitor("m", "tcp:127.0.0.1:4444", true, true));
    }
}
