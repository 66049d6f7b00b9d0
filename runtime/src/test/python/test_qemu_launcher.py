"""spindle-system-x86_64 driven as QEMU's libqtest drives qemu-system-x86_64.

Run: SPINDLE_QEMU_BINARY=/path/to/spindle-system-x86_64 python3 -m unittest -v test_qemu_launcher
(QemuLauncherIT runs it in `./spindle test`).
"""

import json
import os
import shutil
import signal
import struct
import subprocess
import tempfile
import time
import unittest

from qtest_client import Emulator, QtestError

BINARY = os.environ.get("SPINDLE_QEMU_BINARY") or os.path.join(
    os.path.dirname(os.path.abspath(__file__)), "..", "..", "..", "..", "spindle-system-x86_64")

RAM_BASE = 0x100000      # the test allocator's start (1 MiB), as libqos's
IMAGE_SIZE = 64 << 20


def make_image(directory, name="disk.img", size=IMAGE_SIZE):
    """A raw image whose first MiB is random and the rest a hole; returns (path, first MiB)."""
    path = os.path.join(directory, name)
    data = os.urandom(1 << 20)
    with open(path, "wb") as f:
        f.write(data)
        f.truncate(size)
    return path, data


def ata_string(words, first, count):
    """An IDENTIFY string: each word's high byte first, trailing spaces dropped."""
    out = bytearray()
    for w in words[first:first + count]:
        out += bytes([w >> 8, w & 0xFF])
    return out.decode("ascii").rstrip()


class Base(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="spindle-qt-")
        self.emulators = []

    def tearDown(self):
        for e in self.emulators:
            if e.process.poll() is None:
                e.quit()
        shutil.rmtree(self.dir, ignore_errors=True)

    def start(self, args="", env=None, log=None):
        e = Emulator(BINARY, args, env=env, log=log)
        self.emulators.append(e)
        return e

    def stop(self, e):
        status = e.quit()
        self.emulators.remove(e)
        return status

    def assign_bar(self, e, devfn, offset, address, command):
        """As libqos: size the BAR (all ones), place it, enable decoding and bus mastering."""
        e.config_writel(devfn, offset, 0xFFFFFFFF)
        size_mask = e.config_readl(devfn, offset)
        self.assertNotEqual(size_mask, 0)
        e.config_writel(devfn, offset, address)
        e.config_writew(devfn, 0x04, command)
        self.assertEqual(e.config_readw(devfn, 0x04) & command, command)


class LaunchTest(Base):
    def test_handshake_greeting_and_capabilities(self):
        e = self.start("-M pc")
        version = e.greeting["QMP"]["version"]["qemu"]
        self.assertEqual(set(version), {"major", "minor", "micro"})
        self.assertEqual((version["major"], version["minor"]), (10, 0))
        self.assertEqual(e.greeting["QMP"]["capabilities"], [])   # no out-of-band execution offered
        # negotiating twice is refused, as QEMU refuses it
        again = e.qmp("qmp_capabilities")
        self.assertEqual(again["error"]["class"], "CommandNotFound")
        self.assertEqual(self.stop(e), 0)

    def test_sigterm_and_sigint_end_with_status_zero(self):
        e = self.start("-M q35")
        self.assertEqual(self.stop(e), 0)
        e = self.start("-M pc")
        e.process.send_signal(signal.SIGINT)
        self.assertEqual(e.process.wait(30), 0)

    def test_qmp_quit_ends_with_status_zero_after_its_reply(self):
        e = self.start("-M pc")
        messages = e.qmp_messages("quit")
        self.assertEqual(messages[-1], {"return": {}})
        self.assertEqual(e.event_wait("SHUTDOWN")["data"], {"guest": False, "reason": "host-qmp-quit"})
        self.assertEqual(e.process.wait(30), 0)

    def run_refused(self, args):
        """Runs the launcher with the arguments libqtest adds; returns (status, stderr)."""
        command = ("exec %s -qtest unix:%s/none.sock -qtest-log /dev/null -chardev socket,path=%s/none.qmp,"
                   "id=char0 -mon chardev=char0,mode=control -display none %s -accel qtest"
                   % (BINARY, self.dir, self.dir, args))
        p = subprocess.run(["/bin/sh", "-c", command], capture_output=True, timeout=60)
        return p.returncode, p.stderr.decode()

    def test_bad_command_lines_exit_with_status_one_and_say_why(self):
        missing = os.path.join(self.dir, "missing.img")
        cases = [
            ("-enable-kvm", "-enable-kvm: not an option Spindle supports"),
            ("-machine microvm", "-machine microvm"),
            ("-device nvme,drive=d0,serial=x", "-device nvme: not supported"),
            ("-device virtio-blk-pci,drive=d0", "no virtio-blk controller yet"),
            ("-drive file=%s,format=vdi" % missing, "format=vdi"),
            ("-device e1000", "-device e1000: not a device Spindle has"),
            ("-drive if=none,id=d0,file=%s -device ide-hd,drive=d0" % missing, "could not open"),
            ("-chardev file,id=x,path=/tmp/x", "socket chardevs only"),
            ("-drive file=%s,werror=ignore" % missing, "werror=ignore: not supported"),
        ]
        for args, message in cases:
            with self.subTest(args=args):
                status, err = self.run_refused(args)
                self.assertEqual(status, 1, err)
                self.assertIn(message, err)
                self.assertTrue(err.startswith("spindle-system-x86_64: "), err)

    def test_a_listening_monitor_never_deletes_a_file_that_is_not_a_socket(self):
        precious = os.path.join(self.dir, "precious.txt")
        with open(precious, "w") as f:
            f.write("keep me")
        p = subprocess.run([BINARY, "-M", "pc", "-chardev", "socket,id=m,path=%s,server=on,wait=off" % precious,
                            "-mon", "chardev=m,mode=control"], capture_output=True, timeout=60)
        self.assertEqual(p.returncode, 1, p.stderr)
        self.assertIn("is not a socket", p.stderr.decode())
        with open(precious) as f:
            self.assertEqual(f.read(), "keep me")

    def test_qtest_log_records_both_directions(self):
        log = os.path.join(self.dir, "qtest.log")
        e = self.start("-M pc", log=log)
        e.inb(0x511)
        self.assertEqual(self.stop(e), 0)
        with open(log) as f:
            lines = f.read().splitlines()
        self.assertRegex(lines[0], r"^\[R \+\d+\.\d{6}\] endianness$")
        self.assertRegex(lines[1], r"^\[S \+\d+\.\d{6}\] OK little$")
        self.assertTrue(any(l.endswith("] inb 0x511") for l in lines), lines)


class QtestCommandsTest(Base):
    """Every qtest command libqtest sends, answered as QEMU answers it."""

    def test_port_io_reads_fw_cfg_and_pci_configuration(self):
        e = self.start("-M pc -m 384")
        e.outw(0x510, 0x0000)
        self.assertEqual(bytes(e.inb(0x511) for _ in range(4)), b"QEMU")
        e.outw(0x510, 0x0003)
        ram = sum(e.inb(0x511) << (8 * i) for i in range(8))
        self.assertEqual(ram, 384 << 20)
        # the reply to inb/inw/inl is 0x-prefixed hexadecimal
        self.assertRegex(e.command("inb 0x511"), r"^OK 0x[0-9a-f]{4}$")
        # PIIX3 IDE at 00:01.1; libqos puts the register's low bits in 0xcf8 and reads 0xcfc
        self.assertEqual(e.config_readl(0x09, 0), 0x70108086)
        e.outl(0xCF8, 0x80000902)
        self.assertEqual(e.inw(0xCFC), 0x7010)
        # nothing at 00:05.0: vendor 0xffff
        self.assertEqual(e.config_readw(5 << 3, 0), 0xFFFF)

    def test_memory_commands(self):
        e = self.start("-M pc")
        a = RAM_BASE
        e.writeb(a, 0x12)
        e.writew(a + 2, 0x3456)
        e.writel(a + 4, 0x789ABCDE)
        e.writeq(a + 8, 0x0123456789ABCDEF)
        self.assertEqual(e.readb(a), 0x12)
        self.assertEqual(e.readw(a + 2), 0x3456)
        self.assertEqual(e.readl(a + 4), 0x789ABCDE)
        self.assertEqual(e.readq(a + 8), 0x0123456789ABCDEF)
        self.assertEqual(e.command("readb 0x%x" % a), "OK 0x0000000000000012")
        self.assertEqual(e.memread(a + 8, 8), struct.pack("<Q", 0x0123456789ABCDEF))
        e.memwrite(a + 0x100, b"\x01\x02\x03")
        self.assertEqual(e.memread(a + 0x100, 3), b"\x01\x02\x03")
        # a short data argument: the rest is zero-filled
        e.ok("write 0x%x 0x4 0xaabb" % (a + 0x200))
        self.assertEqual(e.memread(a + 0x200, 4), b"\xaa\xbb\x00\x00")
        self.assertEqual(e.command("write 0x%x 0x4 0x" % a), "ERR invalid argument size")
        blob = os.urandom(4096)
        e.b64write(a + 0x1000, blob)
        self.assertEqual(e.b64read(a + 0x1000, 4096), blob)
        self.assertEqual(e.memread(a + 0x1000, 16), blob[:16])
        e.memset(a + 0x1000, 16, 0x5A)
        self.assertEqual(e.memread(a + 0x1000, 17), b"\x5a" * 16 + blob[16:17])
        e.memset(a, 0, 0x11)
        self.assertEqual(e.readb(a), 0x12)

    def test_clock_and_errors(self):
        e = self.start("-M pc")
        self.assertEqual(e.command("clock_set 400"), "OK 400")
        # libqos's nsleep sets 400 again and again: still OK 400
        self.assertEqual(e.command("clock_set 400"), "OK 400")
        self.assertEqual(e.command("clock_step 100"), "OK 500")
        self.assertEqual(e.command("frobnicate 1"), "FAIL Unknown command 'frobnicate'")
        self.assertTrue(e.command("irq_intercept_out /machine/ioapic").startswith("FAIL"))
        self.assertEqual(e.command("irq_intercept_in ioapic"), "OK")
        self.assertEqual(e.command("irq_intercept_in ioapic"), "OK")
        self.assertTrue(e.command("irq_intercept_in /machine/i8259").startswith("FAIL"))

    def test_ide_interrupt_is_written_before_the_reply_that_causes_it(self):
        path, data = make_image(self.dir)
        e = self.start("-M pc -drive file=%s,format=raw,cache=writeback" % path)
        e.ok("irq_intercept_in ioapic")
        # as libqos's qpci_device_enable: the PIIX3 decodes its ports once I/O space is on
        e.config_writew(0x09, 0x04, 0x05)
        e.outb(0x1F6, 0xE0)
        e.qtest_lines.clear()
        e.outb(0x1F7, 0xEC)             # IDENTIFY DEVICE: PIO data in, then an interrupt
        self.assertEqual(e.qtest_lines, ["IRQ raise 14", "OK"])
        self.assertTrue(e.get_irq(14))
        e.qtest_lines.clear()
        status = e.inb(0x1F7)           # reading the status register lowers INTRQ
        self.assertEqual(e.qtest_lines[0], "IRQ lower 14")
        self.assertEqual(status & 0x08, 0x08)
        self.assertFalse(e.get_irq(14))


class QmpTest(Base):
    def test_machines_and_types_follow_the_schema_of_the_qemu_version_asked_for(self):
        e = self.start("-machine none")
        machines = e.qmp("query-machines")["return"]
        pc = next(m for m in machines if m.get("alias") == "pc")
        self.assertTrue(pc["acpi"])
        for m in machines:
            self.assertTrue({"name", "cpu-max", "hotpluggable-cpus", "numa-mem-supported", "deprecated",
                             "acpi"} <= set(m), m)
        types = e.qmp("qom-list-types", {"implements": "device", "abstract": False})["return"]
        names = {t["name"] for t in types}
        self.assertTrue({"ide-hd", "ide-cd", "ich9-ahci", "piix3-ide"} <= names, names)
        self.assertFalse({"nvme", "virtio-blk-pci", "device"} & names)
        self.assertFalse(any(t.get("abstract") for t in types))
        abstract = e.qmp("qom-list-types", {"implements": "device", "abstract": True})["return"]
        self.assertIn({"name": "device", "abstract": True, "parent": "object"}, abstract)
        self.stop(e)
        env = dict(os.environ, SPINDLE_QEMU_COMPAT="7.2")
        old = self.start("-machine none", env=env)
        self.assertEqual(old.greeting["QMP"]["version"]["qemu"]["major"], 7)
        for m in old.qmp("query-machines")["return"]:
            self.assertNotIn("acpi", m)
        self.assertIn("singlestep", old.qmp("query-status")["return"])

    def test_run_state_reset_and_events(self):
        e = self.start("-M pc")
        self.assertEqual(e.qmp("query-status")["return"], {"running": True, "status": "running"})
        messages = e.qmp_messages("stop")
        self.assertEqual([m.get("event") for m in messages], ["STOP", None])
        self.assertEqual(e.qmp("query-status")["return"]["status"], "paused")
        messages = e.qmp_messages("cont")
        self.assertEqual([m.get("event") for m in messages], ["RESUME", None])
        e.outw(0x510, 0x0003)
        e.inb(0x511)
        reset = e.qmp_messages("system_reset")
        self.assertEqual(reset[0]["event"], "RESET")
        self.assertEqual(reset[0]["data"], {"guest": False, "reason": "host-qmp-system-reset"})
        self.assertEqual(set(reset[0]["timestamp"]), {"seconds", "microseconds"})
        self.assertEqual(reset[1], {"return": {}})

    def test_errors_are_replies_and_the_connection_stays_up(self):
        e = self.start("-M pc")
        self.assertEqual(e.qmp("no-such-command")["error"],
                         {"class": "CommandNotFound", "desc": "The command no-such-command has not been found"})
        e.qmp_send(None, raw=b'{"execute": "query-status", \n')
        e.qmp_send(None, raw=b'{"execute": }\n')
        reply = e.qmp_receive()
        self.assertEqual(reply["error"]["class"], "GenericError")
        self.assertIn("JSON parse error", reply["error"]["desc"])
        self.assertEqual(e.qmp("query-status")["return"]["running"], True)
        self.assertEqual(e.qmp("blockdev-close-tray", {})["error"]["desc"], "Need exactly one of 'device' and 'id'")
        self.assertEqual(e.qmp("query-status", {"verbose": True})["error"]["desc"],
                         "Parameter 'verbose' is unexpected")
        self.assertIn("no virtio-blk controller yet",
                      e.qmp("device_add", {"driver": "virtio-blk-pci", "id": "drv1", "addr": "06.0",
                                           "drive": "drive1"})["error"]["desc"])
        reply = e.qmp("x-blockdev-set-iothread", {"node-name": "n", "iothread": None, "force": True})
        self.assertEqual(reply, {"return": {}})

    def test_tray_events_come_before_the_reply_and_a_medium_goes_in_through_an_open_tray(self):
        iso, data = make_image(self.dir, "cd.iso", 4 << 20)
        e = self.start("-M q35 -device ide-cd,id=cd0")
        opened = e.qmp_messages("blockdev-open-tray", {"id": "cd0"})
        self.assertEqual(len(opened), 2, opened)
        self.assertEqual(opened[0]["event"], "DEVICE_TRAY_MOVED")
        self.assertEqual(opened[0]["data"], {"device": "", "id": "cd0", "tray-open": True})
        self.assertEqual(opened[1], {"return": {}})
        self.assertEqual(e.qmp("blockdev-remove-medium", {"id": "cd0"}), {"return": {}})
        added = e.qmp("blockdev-add", {"node-name": "drive1", "driver": "raw",
                                       "file": {"driver": "file", "filename": iso}})
        self.assertEqual(added, {"return": {}})
        self.assertEqual(e.qmp("blockdev-insert-medium", {"id": "cd0", "node-name": "drive1"}), {"return": {}})
        again = e.qmp("blockdev-insert-medium", {"id": "cd0", "node-name": "drive1"})
        self.assertIn("There already is a medium", again["error"]["desc"])
        closed = e.qmp_messages("blockdev-close-tray", {"id": "cd0"})
        self.assertEqual([m.get("event") for m in closed], ["DEVICE_TRAY_MOVED", None])
        self.assertFalse(closed[0]["data"]["tray-open"])
        # with the tray closed, remove-medium is refused as QEMU refuses it
        self.assertEqual(e.qmp("blockdev-remove-medium", {"id": "cd0"})["error"]["desc"],
                         "Tray of device 'cd0' is not open")
        self.assertEqual(e.qmp("blockdev-open-tray", {"id": "nope"})["error"]["class"], "DeviceNotFound")
        missing = e.qmp("blockdev-add", {"node-name": "drive2", "driver": "raw",
                                         "file": {"driver": "file", "filename": iso + ".missing"}})
        self.assertIn("Could not open", missing["error"]["desc"])
        # the node in the tray is in use; a node the monitor did not add is not its to delete
        self.assertEqual(e.qmp("blockdev-del", {"node-name": "drive1"})["error"]["desc"], "Node drive1 is in use")
        self.assertIn("Failed to find node", e.qmp("blockdev-del", {"node-name": "drive2"})["error"]["desc"])
        e.qmp_messages("blockdev-open-tray", {"id": "cd0"})
        self.assertEqual(e.qmp("blockdev-remove-medium", {"id": "cd0"}), {"return": {}})
        self.assertEqual(e.qmp("blockdev-del", {"node-name": "drive1"}), {"return": {}})

    def test_block_resize_grows_the_image(self):
        path, _ = make_image(self.dir)
        e = self.start("-M pc -drive if=none,id=drive0,file=%s,format=raw" % path)
        self.assertEqual(e.qmp("block_resize", {"device": "drive0", "size": 128 << 20}), {"return": {}})
        self.assertEqual(os.path.getsize(path), 128 << 20)
        self.assertEqual(e.qmp("block_resize", {"device": "nope", "size": 1 << 20})["error"]["class"],
                         "DeviceNotFound")
        self.assertEqual(e.qmp("blockdev-del", {"node-name": "drive0"})["error"]["desc"],
                         "Node drive0 is not owned by the monitor")


class HotplugTest(Base):
    def test_device_add_and_device_del_through_acpi_hot_plug(self):
        e = self.start("-M pc -device ahci,id=sata1,addr=05.0")
        self.assertEqual(e.config_readl(5 << 3, 0), 0x29228086)
        self.assertEqual(e.config_readw(6 << 3, 0), 0xFFFF)
        self.assertEqual(e.qmp("device_add", {"driver": "ich9-ahci", "id": "ahci1", "addr": "06.0"}), {"return": {}})
        self.assertEqual(e.config_readl(6 << 3, 0), 0x29228086)
        self.assertEqual(e.inb(0xAFE0) & 0x02, 0x02)          # GPE0 status: a PCI hot-plug event
        self.assertIn("Duplicate device ID",
                      e.qmp("device_add", {"driver": "ahci", "id": "ahci1", "addr": "07.0"})["error"]["desc"])
        self.assertIn("not available",
                      e.qmp("device_add", {"driver": "ahci", "id": "ahci2", "addr": "05.0"})["error"]["desc"])
        self.assertEqual(e.qmp("device_del", {"id": "ahci1"}), {"return": {}})
        self.assertIn("in the process of unplug", e.qmp("device_del", {"id": "ahci1"})["error"]["desc"])
        self.assertIn("does not support hotplugging", e.qmp("device_del", {"id": "ide"})["error"]["desc"])
        # the guest's ACPI code ejects the slot: then, and only then, DEVICE_DELETED
        self.assertFalse(any(ev["event"] == "DEVICE_DELETED" for ev in e.events))
        e.outl(0xAE08, 1 << 6)
        deleted = e.event_wait("DEVICE_DELETED")
        self.assertEqual(deleted["data"], {"device": "ahci1", "path": "/machine/peripheral/ahci1"})
        self.assertEqual(e.config_readw(6 << 3, 0), 0xFFFF)
        self.assertEqual(e.qmp("device_del", {"id": "ahci1"})["error"]["class"], "DeviceNotFound")
        # a controller of the command line goes the same way, and an id can be used again
        self.assertEqual(e.qmp("device_del", {"id": "sata1"}), {"return": {}})
        e.outl(0xAE08, 1 << 5)
        self.assertEqual(e.event_wait("DEVICE_DELETED")["data"]["device"], "sata1")
        self.assertEqual(e.qmp("device_add", {"driver": "ahci", "id": "sata1"}), {"return": {}})
        self.assertEqual(e.config_readl(2 << 3, 0), 0x29228086)   # the first free slot

    def test_q35_has_no_hot_plug_slots(self):
        e = self.start("-M q35")
        self.assertEqual(e.qmp("device_add", {"driver": "ahci", "id": "a"})["error"]["desc"],
                         "Bus 'pcie.0' does not support hotplugging")


class SmokeTest(Base):
    """Enumerate, IDENTIFY and one DMA read through each controller, as a guest driver would."""

    def test_piix3_ide_identify_and_dma_read(self):
        path, data = make_image(self.dir)
        e = self.start("-M pc -drive file=%s,format=raw -global ide-hd.serial=testdisk -global ide-hd.ver=version"
                       % path)
        devfn = 0x09
        self.assertEqual(e.config_readl(devfn, 0), 0x70108086)
        self.assertEqual(e.config_readl(devfn, 0x20), 0x1)   # BAR4 (I/O) starts unassigned
        # without I/O space enabled the PIIX3 does not decode its legacy ports
        self.assertEqual(e.inb(0x1F7), 0xFF)
        bm = 0xC000
        self.assign_bar(e, devfn, 0x20, bm, 0x05)
        # IDENTIFY by PIO
        e.outb(0x1F6, 0xE0)
        e.outb(0x1F7, 0xEC)
        self.assertEqual(e.inb(0x1F7) & 0x89, 0x08)
        words = [e.inw(0x1F0) for _ in range(256)]
        self.assertEqual(ata_string(words, 10, 10), "testdisk")
        self.assertEqual(ata_string(words, 23, 4), "version")
        self.assertEqual(words[60] | words[61] << 16, IMAGE_SIZE // 512)
        # READ DMA of sector 3 through bus-master IDE (BAR4)
        prd, buf = RAM_BASE, RAM_BASE + 0x10000
        e.writel(prd, buf)
        e.writel(prd + 4, 0x80000000 | 512)
        e.outl(bm + 4, prd)
        e.outb(bm + 2, 0x06)
        e.outb(0x1F2, 1)
        e.outb(0x1F3, 3)
        e.outb(0x1F4, 0)
        e.outb(0x1F5, 0)
        e.outb(0x1F6, 0xE0)
        e.outb(0x1F7, 0xC8)
        e.outb(bm, 0x09)
        deadline = time.monotonic() + 10
        while not e.inb(bm + 2) & 0x04:
            self.assertLess(time.monotonic(), deadline, "no DMA interrupt")
        e.outb(bm, 0x08)
        self.assertEqual(e.inb(0x1F7) & 0x89, 0)
        self.assertEqual(e.memread(buf, 512), data[3 * 512:4 * 512])

    def test_ich9_ahci_identify_and_dma_read(self):
        path, data = make_image(self.dir)
        e = self.start("-M q35 -drive if=none,id=drive0,file=%s,format=raw "
                       "-device ide-hd,drive=drive0,serial=testdisk,ver=version" % path)
        devfn = (0x1F << 3) | 2
        self.assertEqual(e.config_readl(devfn, 0), 0x29228086)
        self.assertEqual(e.config_readl(devfn, 0x24), 0)     # ABAR (BAR5) starts at 0
        ahci = Ahci(self, e)
        self.assertTrue(ahci.rd(0x00) & (1 << 31))            # CAP.S64A
        identify = ahci.issue(0xEC, 0, 0, 512)
        words = list(struct.unpack("<256H", identify))
        self.assertEqual(ata_string(words, 10, 10), "testdisk")
        self.assertEqual(ata_string(words, 23, 4), "version")
        self.assertEqual(ahci.issue(0x25, 5, 1, 512), data[5 * 512:6 * 512])   # READ DMA EXT


class Ahci:
    """Port 0 of the q35's ICH9 AHCI driven as a guest driver (and libqos) drives it."""

    def __init__(self, test, e, abar=0xE0000000):
        self.test, self.e, self.abar = test, e, abar
        devfn = (0x1F << 3) | 2
        test.assign_bar(e, devfn, 0x24, abar, 0x06)
        self.wr(0x04, self.rd(0x04) | (1 << 31))               # GHC.AE
        test.assertTrue(self.rd(0x0C) & 1)                     # port 0 implemented
        p = self.p = 0x100
        if self.rd(0x00) & (1 << 27):                          # CAP.SSS: spin the device up (PxCMD.SUD)
            self.wr(p + 0x18, self.rd(p + 0x18) | (1 << 1))
        test.assertEqual(self.rd(p + 0x28) & 0xF, 3)           # PxSSTS.DET: device present, link up
        self.clb, fb, self.ctba, self.buf = RAM_BASE, RAM_BASE + 0x1000, RAM_BASE + 0x2000, RAM_BASE + 0x10000
        e.memset(RAM_BASE, 0x20000, 0)
        self.wr(p + 0x00, self.clb)
        self.wr(p + 0x04, 0)
        self.wr(p + 0x08, fb)
        self.wr(p + 0x0C, 0)
        self.wr(p + 0x30, 0xFFFFFFFF)
        self.wr(p + 0x10, 0xFFFFFFFF)
        self.wr(p + 0x18, self.rd(p + 0x18) | (1 << 4))        # FRE
        self.wr(p + 0x18, self.rd(p + 0x18) | 1)               # ST
        test.assertEqual(self.rd(p + 0x24), 0x00000101)        # PxSIG: an ATA disk

    def rd(self, off):
        # libqos reads MMIO registers with the byte-stream command: one 4-byte access
        return struct.unpack("<I", self.e.memread(self.abar + off, 4))[0]

    def wr(self, off, v):
        self.e.memwrite(self.abar + off, struct.pack("<I", v))

    def start(self, command, lba, count, length, data=None):
        """Issues a command in slot 0 (a write when data is given) and returns at once."""
        e, clb, ctba = self.e, self.clb, self.ctba
        e.writel(clb, 5 | (1 << 16) | ((1 << 6) if data is not None else 0))   # CFL 5, one PRD, W
        e.writel(clb + 4, 0)
        e.writel(clb + 8, ctba)
        e.writel(clb + 12, 0)
        fis = bytearray(64)
        fis[0], fis[1], fis[2] = 0x27, 0x80, command
        fis[4:7] = lba.to_bytes(3, "little")
        fis[7] = 0x40
        fis[12] = count
        e.memwrite(ctba, bytes(fis))
        if data is not None:
            e.memwrite(self.buf, data)
        e.writel(ctba + 0x80, self.buf)
        e.writel(ctba + 0x84, 0)
        e.writel(ctba + 0x8C, length - 1)
        self.wr(self.p + 0x38, 1)                              # PxCI slot 0

    def busy(self):
        return self.rd(self.p + 0x38) & 1

    def wait(self, length):
        deadline = time.monotonic() + 10
        while self.busy():
            self.test.assertLess(time.monotonic(), deadline, "the command did not complete")
        self.test.assertEqual(self.rd(self.p + 0x20) & 0x01, 0, "PxTFD.ERR")
        return self.e.memread(self.buf, length) if length else b""

    def issue(self, command, lba, count, length, data=None):
        self.start(command, lba, count, length, data)
        return self.wait(length if data is None else 0)


class Ide:
    """The pc's primary IDE channel driven as ide-test drives it: BAR4 at 0xc000, device 0."""
    BSY, DRDY, DF, DRQ, ERR = 0x80, 0x40, 0x20, 0x08, 0x01

    def __init__(self, test, e, bm=0xC000):
        self.test, self.e, self.bm = test, e, bm
        e.ok("irq_intercept_in ioapic")
        test.assign_bar(e, 0x09, 0x20, bm, 0x05)

    def dma(self, command, lba, data=None):
        """One sector by DMA (a write when data is given), as ide-test's send_dma_request: returns the bus master status."""
        e, bm = self.e, self.bm
        prd, buf = RAM_BASE, RAM_BASE + 0x10000
        if data is not None:
            e.memwrite(buf, data)
        e.writel(prd, buf)
        e.writel(prd + 4, 0x80000000 | 512)
        e.outb(bm, 0)                                          # stop, clear a pending interrupt
        e.outb(bm + 2, 0x04)
        e.outl(bm + 4, prd)
        e.outb(0x1F6, 0xE0)
        e.outb(0x1F2, 1)
        e.outb(0x1F3, lba & 0xFF)
        e.outb(0x1F4, 0)
        e.outb(0x1F5, 0)
        e.outb(0x1F7, command)
        e.outb(bm, 0x01 | (0x08 if data is None else 0))
        deadline = time.monotonic() + 10
        while True:
            status = e.inb(bm + 2)
            if (status & 0x05) != 0x01:                        # no longer active, or interrupting
                break
            self.test.assertLess(time.monotonic(), deadline, "the DMA did not end")
        self.test.assertEqual(e.get_irq(14), bool(status & 0x04))
        st = e.inb(0x1F7)
        self.test.assertEqual(st & (self.DRDY | self.BSY | self.DRQ), self.DRDY)
        self.test.assertFalse(e.get_irq(14))                   # reading status lowered it
        if status & 0x01:
            e.outb(bm, 0)
        return status

    def make_dirty(self):
        """A DMA write of sector 1, so that a flush has something to do (ide-test's make_dirty)."""
        self.test.assertEqual(self.dma(0xCA, 1, os.urandom(512)), 0x04)
        self.test.assertEqual(self.e.inb(0x1F7) & (self.DF | self.ERR), 0)

    def flush_in_flight(self):
        """FLUSH CACHE on device 0; the status read at once shows it in flight."""
        self.e.outb(0x1F6, 0)
        self.e.outb(0x1F7, 0xE7)
        st = self.e.inb(0x1F7)
        self.test.assertEqual(st & (self.BSY | self.DRDY), self.BSY | self.DRDY)
        self.test.assertEqual(st & (self.DF | self.ERR | self.DRQ), 0)

    def flush_done(self):
        """The flush ends: device 0 still selected, then status DRDY without BSY, DF, ERR or DRQ."""
        self.test.assertEqual(self.e.inb(0x1F6) & 0x10, 0)
        deadline = time.monotonic() + 10
        while True:
            st = self.e.inb(0x1F7)
            if not st & self.BSY:
                break
            self.test.assertLess(time.monotonic(), deadline, "the flush did not end")
        self.test.assertEqual(st & (self.DRDY | self.BSY | self.DF | self.ERR | self.DRQ), self.DRDY)


class ErrorInjectionTest(Base):
    """blkdebug rules and breakpoints, and werror/rerror=stop, as ahci-test's and ide-test's retry cases use them."""

    @staticmethod
    def libqos_rules(directory, event):
        """The rules file libqos's prepare_blkdebug_script() writes: {event} fails once, with EIO."""
        rules = os.path.join(directory, "rules.cfg")
        with open(rules, "w") as f:
            f.write('[inject-error]\nevent = "%s"\nerrno = "5"\nstate = "1"\nimmediately = "off"\n'
                    'once = "on"\n\n[set-state]\nevent = "%s"\nnew_state = "2"\n' % (event, event))
        return rules

    def test_a_write_error_under_werror_stop_stops_the_machine_and_cont_retries_it(self):
        path, data = make_image(self.dir)
        rules = os.path.join(self.dir, "rules.cfg")
        with open(rules, "w") as f:
            # as libqos's prepare_blkdebug_script() writes it
            f.write('[inject-error]\nevent = "write_aio"\nerrno = "5"\nstate = "1"\nimmediately = "off"\n'
                    'once = "on"\n\n[set-state]\nevent = "write_aio"\nnew_state = "2"\n')
        e = self.start("-M q35 -drive if=none,id=drive0,file=blkdebug:%s:%s,format=raw,werror=stop,rerror=stop "
                       "-device ide-hd,drive=drive0" % (rules, path))
        ahci = Ahci(self, e)
        sector = os.urandom(512)
        ahci.start(0x35, 7, 1, 512, sector)                    # WRITE DMA EXT
        error = e.event_wait("BLOCK_IO_ERROR")
        self.assertEqual(error["data"]["device"], "drive0")
        self.assertEqual(error["data"]["operation"], "write")
        self.assertEqual(error["data"]["action"], "stop")
        e.event_wait("STOP")
        self.assertEqual(e.qmp("query-status")["return"], {"running": False, "status": "io-error"})
        self.assertTrue(ahci.busy())                           # the command waits, the guest sees no error
        self.assertEqual([m.get("event") for m in e.qmp_messages("cont")], ["RESUME", None])
        ahci.wait(0)
        with open(path, "rb") as f:
            f.seek(7 * 512)
            self.assertEqual(f.read(512), sector)
        # without stop, an error reaches the guest
        self.assertEqual(ahci.issue(0x25, 7, 1, 512), sector)

    def test_a_read_held_at_a_breakpoint_completes_on_resume(self):
        path, data = make_image(self.dir)
        e = self.start("-M q35 -drive if=none,id=drive0,file=blkdebug::%s,format=raw -device ide-hd,drive=drive0"
                       % path)
        ahci = Ahci(self, e)
        hmp = lambda line: e.qmp("human-monitor-command", {"command-line": line})
        self.assertEqual(hmp('qemu-io drive0 "break read_aio rd"'), {"return": ""})
        ahci.start(0x25, 9, 1, 512)
        self.assertEqual(hmp('qemu-io drive0 "wait_break rd"'), {"return": ""})
        for _ in range(20):
            self.assertTrue(ahci.busy())                       # held: still in flight
        self.assertEqual(hmp('qemu-io drive0 "resume rd"'), {"return": ""})
        self.assertEqual(ahci.wait(512), data[9 * 512:10 * 512])
        self.assertIn("No such file", hmp('qemu-io drive0 "resume rd"')["return"])
        self.assertEqual(hmp("info block")["return"], "unknown command: 'info'\r\n")
        self.assertEqual(hmp('qemu-io nope "resume rd"')["return"], "Device 'nope' not found\r\n")

    def test_ide_flush_held_at_a_breakpoint_is_busy_until_resumed(self):
        # ide-test's flush case
        path, _ = make_image(self.dir)
        e = self.start("-M pc -drive file=blkdebug::%s,if=ide,cache=writeback,format=raw" % path)
        ide = Ide(self, e)
        ide.make_dirty()
        hmp = lambda line: e.qmp("human-monitor-command", {"command-line": line})
        self.assertEqual(hmp('qemu-io ide0-hd0 "break flush_to_os A"'), {"return": ""})
        ide.flush_in_flight()
        self.assertEqual(hmp('qemu-io ide0-hd0 "wait_break A"'), {"return": ""})
        for _ in range(20):
            self.assertTrue(e.inb(0x3F6) & Ide.BSY)             # held: still busy
        self.assertEqual(hmp('qemu-io ide0-hd0 "resume A"'), {"return": ""})
        ide.flush_done()

    def test_ide_flush_error_under_werror_stop_stops_the_machine_and_cont_retries_it(self):
        # ide-test's flush/retry_pci case
        path, _ = make_image(self.dir)
        rules = self.libqos_rules(self.dir, "flush_to_disk")
        e = self.start("-M pc -drive file=blkdebug:%s:%s,if=ide,cache=writeback,format=raw,rerror=stop,werror=stop"
                       % (rules, path))
        ide = Ide(self, e)
        ide.make_dirty()
        ide.flush_in_flight()
        error = e.event_wait("BLOCK_IO_ERROR")
        self.assertEqual((error["data"]["device"], error["data"]["operation"], error["data"]["action"]),
                         ("ide0-hd0", "write", "stop"))
        e.event_wait("STOP")
        self.assertEqual(e.qmp("query-status")["return"], {"running": False, "status": "io-error"})
        self.assertTrue(e.inb(0x3F6) & Ide.BSY)                 # the guest sees the flush still in flight
        self.assertEqual([m.get("event") for m in e.qmp_messages("cont")], ["RESUME", None])
        ide.flush_done()
        # the rule fired once: the next flush succeeds without stopping
        e.outb(0x1F6, 0)
        e.outb(0x1F7, 0xE7)
        ide.flush_done()
        self.assertEqual(e.qmp("query-status")["return"], {"running": True, "status": "running"})

    def test_stop_and_blkdebug_are_refused_on_cdroms_and_bad_rules_are_named(self):
        path, _ = make_image(self.dir)
        rules = os.path.join(self.dir, "bad.cfg")
        with open(rules, "w") as f:
            f.write("[inject-error]\nevent = \"nonsense\"\n")
        for args, message in [
                ("-M pc -drive file=%s,media=cdrom,werror=stop" % path, "are for disks"),
                ("-M q35 -drive if=none,id=d0,file=blkdebug:%s:%s -device ide-hd,drive=d0" % (rules, path),
                 "event = nonsense"),
        ]:
            command = ("exec %s -qtest unix:%s/n.sock -chardev socket,path=%s/n.qmp,id=char0 "
                       "-mon chardev=char0,mode=control %s -accel qtest" % (BINARY, self.dir, self.dir, args))
            p = subprocess.run(["/bin/sh", "-c", command], capture_output=True, timeout=60)
            self.assertEqual(p.returncode, 1, p.stderr)
            self.assertIn(message, p.stderr.decode())


if __name__ == "__main__":
    unittest.main()
