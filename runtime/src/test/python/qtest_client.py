"""A small qtest + QMP client that starts an emulator the way QEMU's libqtest does.

The test program is the server: it listens on two Unix sockets, starts the emulator with
``-qtest unix:SOCK -qtest-log LOG -chardev socket,path=QMP,id=char0 -mon chardev=char0,mode=control
-display none -audio none ARGS -accel qtest`` through ``/bin/sh -c exec``, accepts the qtest
connection and then the QMP one, sends ``endianness``, reads the QMP greeting and negotiates
capabilities. Teardown is SIGTERM, and the exit status must be a clean 0.

Written for Spindle's own tests; standard library only.
"""

import base64
import json
import os
import select
import signal
import socket
import subprocess
import tempfile
import time

ACCEPT_TIMEOUT = 50.0


class QtestError(Exception):
    pass


class Emulator:
    """One emulator process with its qtest and QMP connections."""

    def __init__(self, binary, args="", env=None, log=None, accept_timeout=ACCEPT_TIMEOUT):
        self.binary = binary
        self.dir = tempfile.mkdtemp(prefix="qt-", dir=os.environ.get("TMPDIR", "/tmp"))
        self.qtest_path = os.path.join(self.dir, "q.sock")
        self.qmp_path = os.path.join(self.dir, "q.qmp")
        self.irq_levels = {}
        self.events = []
        self.qtest_buf = b""
        self.qmp_buf = b""
        self.qtest_lines = []
        listeners = []
        for path in (self.qtest_path, self.qmp_path):
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.bind(path)
            s.listen(1)
            listeners.append(s)
        command = ("exec %s -qtest unix:%s -qtest-log %s -chardev socket,path=%s,id=char0 "
                   "-mon chardev=char0,mode=control -display none %s%s -accel qtest"
                   % (binary, self.qtest_path, log or "/dev/null", self.qmp_path,
                      "" if os.environ.get("QTEST_NO_AUDIO") else "-audio none ", args))
        self.started = time.monotonic()
        self.process = subprocess.Popen(["/bin/sh", "-c", command], env=env,
                                        stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        try:
            self.qtest = self._accept(listeners[0], accept_timeout)
            self.qmp_sock = self._accept(listeners[1], accept_timeout)
        finally:
            for s in listeners:
                s.close()
        self.connected = time.monotonic()
        reply = self.command("endianness")
        if reply != "OK little":
            raise QtestError("endianness: " + reply)
        self.handshake = time.monotonic()
        greeting = self._qmp_read()
        if "QMP" not in greeting:
            raise QtestError("no QMP greeting: %r" % greeting)
        self.greeting = greeting
        reply = self.qmp("qmp_capabilities")
        if "return" not in reply:
            raise QtestError("qmp_capabilities: %r" % reply)

    def _accept(self, listener, timeout):
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise QtestError("the emulator did not connect within %.0f s" % timeout)
            ready, _, _ = select.select([listener], [], [], min(remaining, 0.05))
            if ready:
                conn, _ = listener.accept()
                return conn
            if self.process.poll() is not None:
                out, err = self.process.communicate()
                raise QtestError("the emulator exited with status %d before connecting: %s"
                                 % (self.process.returncode, err.decode(errors="replace").strip()))

    @staticmethod
    def _receive(sock, what, deadline, timeout):
        """What arrives on sock next (b"" if nothing did yet); a closed connection or a timeout fails."""
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise QtestError("no %s within %.0f s" % (what, timeout))
        ready, _, _ = select.select([sock], [], [], remaining)
        if not ready:
            return b""
        chunk = sock.recv(1 << 20)
        if not chunk:
            raise QtestError("the %s connection closed" % what.split()[0])
        return chunk

    # ---- qtest ----

    def _qtest_line(self, timeout=60.0):
        deadline = time.monotonic() + timeout
        while b"\n" not in self.qtest_buf:
            self.qtest_buf += self._receive(self.qtest, "qtest reply", deadline, timeout)
        line, self.qtest_buf = self.qtest_buf.split(b"\n", 1)
        return line.decode("ascii")

    def command(self, text):
        """Sends one qtest request and returns its reply; IRQ lines on the way are noted, in order."""
        self.qtest.sendall(text.encode("ascii") + b"\n")
        while True:
            line = self._qtest_line()
            if line.startswith("IRQ "):
                words = line.split(" ")
                self.irq_levels[int(words[2])] = words[1] == "raise"
                self.qtest_lines.append(line)
                continue
            self.qtest_lines.append(line)
            return line

    def ok(self, text):
        reply = self.command(text)
        if not reply.startswith("OK"):
            raise QtestError("%s: %s" % (text, reply))
        return reply[3:] if len(reply) > 2 else ""

    def outb(self, port, v): self.ok("outb 0x%x 0x%x" % (port, v))
    def outw(self, port, v): self.ok("outw 0x%x 0x%x" % (port, v))
    def outl(self, port, v): self.ok("outl 0x%x 0x%x" % (port, v))
    def inb(self, port): return int(self.ok("inb 0x%x" % port), 0)
    def inw(self, port): return int(self.ok("inw 0x%x" % port), 0)
    def inl(self, port): return int(self.ok("inl 0x%x" % port), 0)
    def writeb(self, a, v): self.ok("writeb 0x%x 0x%x" % (a, v))
    def writew(self, a, v): self.ok("writew 0x%x 0x%x" % (a, v))
    def writel(self, a, v): self.ok("writel 0x%x 0x%x" % (a, v))
    def writeq(self, a, v): self.ok("writeq 0x%x 0x%x" % (a, v))
    def readb(self, a): return int(self.ok("readb 0x%x" % a), 0)
    def readw(self, a): return int(self.ok("readw 0x%x" % a), 0)
    def readl(self, a): return int(self.ok("readl 0x%x" % a), 0)
    def readq(self, a): return int(self.ok("readq 0x%x" % a), 0)

    def memread(self, a, size):
        return bytes.fromhex(self.ok("read 0x%x 0x%x" % (a, size))[2:])

    def memwrite(self, a, data):
        self.ok("write 0x%x 0x%x 0x%s" % (a, len(data), data.hex()))

    def b64read(self, a, size):
        return base64.b64decode(self.ok("b64read 0x%x 0x%x" % (a, size)))

    def b64write(self, a, data):
        self.ok("b64write 0x%x 0x%x %s" % (a, len(data), base64.b64encode(data).decode()))

    def memset(self, a, size, v):
        self.ok("memset 0x%x 0x%x 0x%x" % (a, size, v))

    def get_irq(self, n):
        """As libqtest's qtest_get_irq: a dummy request first, so notifications before it are read."""
        self.inb(0)
        return self.irq_levels.get(n, False)

    # ---- PCI configuration, as libqos does it (the full offset in 0xcf8) ----

    def pci_addr(self, devfn, offset):
        return 0x80000000 | (devfn << 8) | offset

    def config_readl(self, devfn, offset):
        self.outl(0xCF8, self.pci_addr(devfn, offset))
        return self.inl(0xCFC)

    def config_readw(self, devfn, offset):
        self.outl(0xCF8, self.pci_addr(devfn, offset))
        return self.inw(0xCFC)

    def config_readb(self, devfn, offset):
        self.outl(0xCF8, self.pci_addr(devfn, offset))
        return self.inb(0xCFC)

    def config_writel(self, devfn, offset, v):
        self.outl(0xCF8, self.pci_addr(devfn, offset))
        self.outl(0xCFC, v)

    def config_writew(self, devfn, offset, v):
        self.outl(0xCF8, self.pci_addr(devfn, offset))
        self.outw(0xCFC, v)

    # ---- QMP ----

    def _qmp_read(self, timeout=60.0):
        deadline = time.monotonic() + timeout
        decoder = json.JSONDecoder()
        while True:
            text = self.qmp_buf.decode("utf-8", errors="replace").lstrip()
            if text:
                try:
                    obj, end = decoder.raw_decode(text)
                    self.qmp_buf = text[end:].encode("utf-8")
                    return obj
                except ValueError:
                    pass
            self.qmp_buf += self._receive(self.qmp_sock, "QMP message", deadline, timeout)

    def qmp_send(self, execute, arguments=None, raw=None):
        if raw is not None:
            self.qmp_sock.sendall(raw)
            return
        msg = {"execute": execute}
        if arguments is not None:
            msg["arguments"] = arguments
        # as libqtest: compact JSON, no newline needed
        self.qmp_sock.sendall(json.dumps(msg, separators=(",", ":")).encode())

    def qmp_receive(self):
        """The next reply; events before it are kept in self.events, in order."""
        while True:
            obj = self._qmp_read()
            if "event" in obj:
                self.events.append(obj)
                continue
            return obj

    def qmp(self, execute, arguments=None):
        self.qmp_send(execute, arguments)
        return self.qmp_receive()

    def qmp_messages(self, execute, arguments=None):
        """Every message up to and including the reply, events included, in the order they came."""
        self.qmp_send(execute, arguments)
        seen = []
        while True:
            obj = self._qmp_read()
            seen.append(obj)
            if "event" not in obj:
                return seen

    def event_wait(self, name, timeout=30.0):
        for i, e in enumerate(self.events):
            if e["event"] == name:
                return self.events.pop(i)
        while True:
            obj = self._qmp_read(timeout)
            if "event" in obj and obj["event"] == name:
                return obj
            if "event" in obj:
                self.events.append(obj)

    # ---- teardown ----

    def quit(self, timeout=30.0):
        """As libqtest's qtest_quit: SIGTERM, wait; returns the exit status (negative: a signal)."""
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        for s in (self.qtest, self.qmp_sock):
            s.close()
        self.stderr = self.process.stderr.read().decode(errors="replace")
        self.process.stdout.close()
        self.process.stderr.close()
        for path in (self.qtest_path, self.qmp_path):
            if os.path.exists(path):
                os.unlink(path)
        os.rmdir(self.dir)
        return self.process.returncode
