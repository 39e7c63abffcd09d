"""QMP, QEMU's JSON control protocol, over an already connected socket (harness.machine.qemu)."""

from __future__ import annotations

import contextlib
import json
import socket
import threading

from harness.errors import InfrastructureError
from harness.util import Deadline

QmpMessage = dict[str, object]          # a QMP JSON object: a reply, an event, a greeting


class QmpError(InfrastructureError):
    pass


class Qmp:
    """QMP over a connected socket. Thread-safe; asynchronous events are kept in .events."""

    def __init__(self, sock: socket.socket) -> None:
        self._sock, self._buf = sock, b""
        self._lock = threading.Lock()
        self.events: list[QmpMessage] = []

    def handshake(self, timeout: float) -> None:
        with self._lock:
            greeting = self._read(Deadline(timeout))
        if "QMP" not in greeting:
            raise QmpError("unexpected QMP greeting", str(greeting)[:200])
        self.execute("qmp_capabilities", timeout=timeout)

    def execute(self, command: str, args: QmpMessage | None = None,
                timeout: float = 5.0) -> object:
        """The command's "return" value (JSON: an object for most commands)."""
        msg = {"execute": command, **({"arguments": args} if args else {})}
        deadline = Deadline(timeout)
        with self._lock:
            try:
                self._sock.sendall(json.dumps(msg).encode() + b"\n")
            except OSError as e:
                raise QmpError(f"QMP {command} failed", str(e)) from e
            while True:
                reply = self._read(deadline)
                if "event" in reply:
                    self.events.append(reply)
                    continue
                if "error" in reply:
                    error = reply["error"]
                    desc = error.get("desc", "") if isinstance(error, dict) else error
                    raise QmpError(f"QMP {command} failed", str(desc))
                return reply.get("return")

    def _read(self, deadline: Deadline) -> QmpMessage:
        while b"\n" not in self._buf:
            if deadline.expired():
                raise QmpError("QMP timed out", "QEMU did not answer")
            self._sock.settimeout(max(0.01, deadline.remaining()))
            try:
                data = self._sock.recv(65536)
            except TimeoutError:
                continue
            except OSError as e:
                raise QmpError("QMP connection lost", str(e)) from e
            if not data:
                raise QmpError("QMP connection closed", "QEMU exited")
            self._buf += data
        line, self._buf = self._buf.split(b"\n", 1)
        try:
            reply = json.loads(line)
        except ValueError as e:
            raise QmpError("QMP sent something that is not JSON", repr(line[:200])) from e
        if not isinstance(reply, dict):
            raise QmpError("QMP sent JSON that is not an object", repr(line[:200]))
        return {str(k): v for k, v in reply.items()}

    def status(self) -> str:
        """running | paused | internal-error | guest-panicked | shutdown | ..."""
        ret = self.execute("query-status")
        if not isinstance(ret, dict) or "status" not in ret:
            raise QmpError("QMP query-status gave no status", str(ret)[:200])
        return str(ret["status"])

    def human(self, command: str) -> str:
        return str(self.execute("human-monitor-command", {"command-line": command}))

    def stop(self) -> None:
        self.execute("stop")

    def cont(self) -> None:
        self.execute("cont")

    def quit(self) -> None:
        self.execute("quit")

    def inject_nmi(self) -> None:
        """NMI to every vCPU (x86 only under QEMU 7.2; arm64 virt answers "not supported")."""
        self.execute("inject-nmi")

    def send_keys(self, *keys: str) -> None:
        """Press keys together, e.g. send_keys("alt", "sysrq", "l"): needs a guest keyboard
        (PS/2 or virtio-keyboard); kharness VMs have none, so sysrq goes over the serial port."""
        self.execute("send-key", {"keys": [{"type": "qcode", "data": k} for k in keys]})

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self._sock.close()
