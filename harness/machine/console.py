"""The serial console: telnet framing, a log teed to a file as it arrives, a reader thread.

QEMU's `-chardev socket,...,telnet=on` carries the first serial port (harness.machine.qemu
wires it).
`ConsoleLog` keeps every line for matching (`wait_for`, `since(mark)`) and flags the first
line matching an alarm pattern (a panic); `TelnetCodec.BREAK` is the serial BREAK that the
8250 and PL011 drivers turn into magic sysrq.
"""

from __future__ import annotations

import re
import socket
import threading
from collections.abc import Callable
from pathlib import Path

from harness.util import Deadline


class TelnetCodec:
    """Minimal telnet framing for QEMU's `telnet=on` chardev: strip commands, send BREAK."""

    BREAK = bytes([255, 243])
    _COMMAND = re.compile(rb"\xff(?:(\xff)|[\xfb-\xfe][\s\S]|\xfa[\s\S]*?\xff\xf0|[^\xfa-\xfe])")

    def __init__(self) -> None:
        self._pending = b""

    @staticmethod
    def escape(data: bytes) -> bytes:
        return data.replace(b"\xff", b"\xff\xff")

    def decode(self, data: bytes) -> bytes:
        buf, out, pos = self._pending + data, bytearray(), 0
        for m in self._COMMAND.finditer(buf):
            out += buf[pos:m.start()] + (m.group(1) or b"")
            pos = m.end()
        rest = buf[pos:]
        iac = rest.find(b"\xff")                   # a command split across reads: keep it
        iac = -1 if len(rest) > 4096 else iac
        self._pending = rest[iac:] if iac >= 0 else b""
        return bytes(out + (rest[:iac] if iac >= 0 else rest))


TORN = re.compile(r"(?P<user>[^\[\s][^\[]*?)(?:<\d>)?\[\s*\d+\.\d+\]")
"""User-space text with a kernel record glued after it: the text's line was torn in two."""


class ConsoleLog:
    """Serial console: appended to a file as it arrives, and kept as lines for matching.

    Positions are line indices (`mark()`), so "the console since this command started" is
    `since(mark)`. Lines are decoded with errors="backslashreplace".
    """

    def __init__(self, path: Path, alarm: re.Pattern[str]) -> None:
        self.path = path
        self._file = open(path, "wb")  # noqa: SIM115 - lives as long as the VM
        self._lines: list[str] = []
        self._partial = b""
        self._cond = threading.Condition()
        self._alarm = alarm
        self.alarm_line: int | None = None      # index of the first line matching `alarm`
        self.closed = False

    def feed(self, data: bytes) -> None:
        with self._cond:
            if not self._file.closed:
                self._file.write(data)
                self._file.flush()
            chunks = (self._partial + data).split(b"\n")
            self._partial = chunks.pop()
            for raw in chunks:
                self._add_line(raw.rstrip(b"\r").decode(errors="backslashreplace"))
            self._cond.notify_all()

    def _add_line(self, line: str) -> None:
        if self.alarm_line is None and self._alarm.search(line):
            self.alarm_line = len(self._lines)
        self._lines.append(line)

    def close(self) -> None:
        with self._cond:
            if self._partial:
                self._add_line(self._partial.decode(errors="backslashreplace"))
                self._partial = b""
            self.closed = True
            self._file.close()
            self._cond.notify_all()

    def mark(self) -> int:
        with self._cond:
            return len(self._lines)

    def since(self, mark: int) -> str:
        with self._cond:
            tail = [self._partial.decode(errors="backslashreplace")] if self._partial else []
            return "\n".join(self._lines[mark:] + tail)

    def lines(self, start: int) -> list[str]:
        """Complete lines from index `start` on (no partial line)."""
        with self._cond:
            return self._lines[start:]

    def tail(self, n: int) -> str:
        return self.since(max(0, self.mark() - n))

    def wait_for(self, pattern: re.Pattern[str], timeout: float, start: int = 0,
                 stop: Callable[[], bool] = lambda: False) -> str | None:
        """First line from `start` matching `pattern`; None on timeout/closed/stop().

        A user-space line that a kernel record tore in two ("kharness: sshd r[  1.74]
        clocksource: ...", then "eady" on the next line: the kernel printed while init was
        writing) is matched as its two halves joined."""
        deadline = Deadline(timeout)
        with self._cond:
            pos = start
            while True:
                for i in range(pos, len(self._lines)):
                    line = self._lines[i]
                    if pattern.search(line):
                        return line
                    torn = TORN.match(line)
                    if torn and i + 1 < len(self._lines) \
                            and pattern.search(joined := torn["user"] + self._lines[i + 1]):
                        return joined
                pos = max(start, len(self._lines) - 1)   # (a torn last line: its rest may come)
                if self.closed or stop() or deadline.expired():
                    return None
                self._cond.wait(min(0.2, deadline.remaining()))


class ConsoleReader(threading.Thread):
    def __init__(self, sock: socket.socket, console: ConsoleLog) -> None:
        super().__init__(name="kharness-console", daemon=True)
        self._sock, self._console, self._codec = sock, console, TelnetCodec()

    def run(self) -> None:
        while True:
            try:
                data = self._sock.recv(65536)
            except OSError:
                break
            if not data:
                break
            self._console.feed(self._codec.decode(data))
        self._console.close()
