package org.spindle.qemu.internal;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.entry;

import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;

import org.junit.jupiter.api.Test;
import org.spindle.qemu.QemuCommandLine;

class AssemblyTest {
    private static Assembly assemble(String args) throws Exception {
        return Assembly.of(QemuCommandLine.parse(Arrays.asList(args.split(" "))), "qemu", Path.of("/work/dir"));
    }

    @Test
    void ideTestCommandLineBecomesDrivesAPiix3AndAPc() throws Exception {
        Assembly a = assemble("-drive file=disk.img,cache=none,format=raw -drive if=ide,media=cdrom,index=2 "
                + "-global ide-hd.serial=testdisk -global ide-hd.ver=version -m 384");
        assertThat(a.drives()).singleElement().satisfies(d -> {
            assertThat(d.pid()).isEqualTo("org.spindle.drive");
            assertThat(d.name()).isEqualTo("ide0-hd0");
            assertThat(d.props()).contains(entry("id", "ide0-hd0"), entry("backend", "file:///work/dir/disk.img"),
                    entry("format", "raw"), entry("readOnly", false), entry("cache", "writeback"));
        });
        assertThat(a.controllers()).singleElement().satisfies(c -> {
            assertThat(c.pid()).isEqualTo("org.spindle.device.ide");
            assertThat(c.address()).isEqualTo("00:01.1");
            assertThat(c.props()).contains(entry("name", "ide"), entry("spindle.machine", "qemu"),
                    entry("primary.master", "disk:ide0-hd0"), entry("primary.master.serial", "testdisk"),
                    entry("primary.master.firmware", "version"), entry("primary.slave", ""),
                    entry("secondary.master", "cdrom"));
            // the CD-ROM has no serial from -global ide-hd
            assertThat(c.props()).doesNotContainKey("secondary.master.serial");
        });
        assertThat(a.slots()).containsExactly(new Assembly.CdromSlot("ide.1.0", "ide1-cd0", ""));
        assertThat(a.machine().props()).contains(entry("type", "pc"), entry("ram", String.valueOf(384L << 20)));
    }

    @Test
    void ahciControllersGetQ35PortsAndFreeSlotsWithTheLinkUpAtOnce() throws Exception {
        Assembly a = assemble("-M q35 -drive if=none,id=drive0,file=/img/a.qcow2,format=qcow2,cache=unsafe "
                + "-device ide-hd,drive=drive0,serial=s1 -device ahci,id=ahci1 -device ahci,id=ahci2,addr=02.0 "
                + "-device ide-cd,bus=ahci1.1,id=cd0 -drive if=none,id=spare,file=/img/b.iso,media=cdrom");
        assertThat(a.controllers()).extracting(Assembly.Conf::name, Assembly.Conf::address).containsExactly(
                org.assertj.core.groups.Tuple.tuple("ide", "00:1f.2"), org.assertj.core.groups.Tuple.tuple("ahci1", "00:03.0"),
                org.assertj.core.groups.Tuple.tuple("ahci2", "00:02.0"));
        assertThat(a.controllers().get(0).props()).contains(entry("ports", 6), entry("link.delay", 0L),
                entry("port.0", "disk:drive0"), entry("port.0.serial", "s1"));
        assertThat(a.controllers().get(1).props()).contains(entry("port.1", "cdrom"));
        assertThat(a.slots()).containsExactly(new Assembly.CdromSlot("ahci1.1", "", "cd0"));
        // a drive no device uses is opened all the same: QMP may put it in a tray
        assertThat(a.drives()).extracting(Assembly.Conf::name).containsExactly("drive0", "spare");
        assertThat(a.drives().get(0).props()).contains(entry("cache", "unsafe"), entry("format", "qcow2"));
        assertThat(a.drives().get(1).props()).contains(entry("readOnly", true));
        assertThat(a.machine().props()).contains(entry("type", "q35"), entry("ram", String.valueOf(128L << 20)));
    }

    @Test
    void blkdebugAndStopDrivesAreLayeredAndTheirControllersRunIoThreads() throws Exception {
        Assembly a = assemble("-M q35 -drive if=none,id=drive0,file=blkdebug:/tmp/rules.cfg:/img/a.img,werror=stop "
                + "-device ide-hd,drive=drive0 -drive if=none,id=drive1,file=/img/b.img,rerror=stop "
                + "-device ide-hd,drive=drive1 -drive if=none,id=drive2,file=/img/c.img -device ide-hd,drive=drive2");
        assertThat(a.layered()).containsExactly(new Assembly.Layered("drive0", "drive0.base", "/tmp/rules.cfg", "stop",
                "report"), new Assembly.Layered("drive1", "drive1.base", null, "enospc", "stop"));
        assertThat(a.drives()).extracting(Assembly.Conf::name).containsExactly("drive0.base", "drive1.base", "drive2");
        assertThat(a.drives().get(0).props()).contains(entry("id", "drive0.base"), entry("backend", "file:///img/a.img"));
        // the ports follow the drive ids the front end registers, on I/O threads
        assertThat(a.controllers().get(0).props()).contains(entry("port.0", "disk:drive0"), entry("io", "workers"));
        // ide-test's flush cases: a PIIX3 IDE place, its controller on I/O threads too
        Assembly ide = assemble("-drive file=blkdebug::/img/a.img,if=ide,cache=writeback,format=raw,werror=stop");
        assertThat(ide.layered()).containsExactly(new Assembly.Layered("ide0-hd0", "ide0-hd0.base", "", "stop", "report"));
        assertThat(ide.controllers().get(0).props()).contains(entry("primary.master", "disk:ide0-hd0"),
                entry("io", "workers"));
        assertThat(assemble("-drive file=/img/a.img,if=ide").controllers().get(0).props()).doesNotContainKey("io");
        org.assertj.core.api.Assertions.assertThatThrownBy(() -> assemble("-drive if=ide,media=cdrom,file=blkdebug::a.iso"))
                .hasMessageContaining("are for disks");
        org.assertj.core.api.Assertions.assertThatThrownBy(() -> assemble("-drive file=a.img,rerror=ignore"))
                .hasMessageContaining("rerror=ignore: not supported");
    }

    @Test
    void qemuCacheModesMapToSpindles() {
        assertThat(List.of("writeback", "none", "writethrough", "directsync", "unsafe").stream().map(Assembly::cache))
                .containsExactly("writeback", "writeback", "writethrough", "writethrough", "unsafe");
    }
}
