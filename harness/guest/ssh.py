"""Guest control over SSH (paramiko): commands, files, sysfs knobs, /dev/kmsg markers.

A command that outlives its timeout, an SSH connection that dies, or a panic on the
console is not a harness error: it is a result. The Guest notices it and asks its
Sentinel (the VM, which owns QEMU, the console and QMP) to classify it, collect evidence
and kill the VM; the Sentinel returns a typed exception that the Guest raises:

    GuestCrashed(KernelFailure)   outcome "crash"    panic / oops-to-panic / guest reset
    GuestLockup(KernelFailure)    outcome "lockup"   guest stopped answering (SSH dead)
    GuestTimeout(KernelFailure)   outcome "timeout"  guest alive, command did not finish
    GuestInfraError(InfrastructureError) "infra"     the rig broke (KVM error, QEMU died)

each with `.outcome`, `.evidence` (text) and `.console_path`. The caller starts a fresh VM.
"""

from __future__ import annotations

import io
import logging
import re
import select
import shlex
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Protocol

import paramiko
import tenacity
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from harness.errors import InfrastructureError, KernelFailure, KharnessError, UserError
from harness.util import Deadline, atomic_write

log = logging.getLogger("harness")
DEFAULT_TIMEOUT = 30.0          # seconds, multiplied by the accelerator's timeout scale
SSH_ERRORS = (paramiko.SSHException, OSError, EOFError)


class _QuietWhileConnecting(logging.Filter):
    """paramiko logs every refused early connection attempt as an ERROR with a traceback,
    one record per line, from its transport thread; those attempts are expected while a
    guest boots (the outcome is ours to report): drop paramiko.transport records while any
    connect() is retrying."""

    def __init__(self) -> None:
        super().__init__()
        self._lock, self._connecting = threading.Lock(), 0

    def __enter__(self) -> None:
        with self._lock:
            self._connecting += 1

    def __exit__(self, *_: object) -> None:
        with self._lock:
            self._connecting -= 1

    def filter(self, record: logging.LogRecord) -> bool:
        return self._connecting == 0


_QUIET = _QuietWhileConnecting()
logging.getLogger("paramiko.transport").addFilter(_QUIET)


class Outcome(StrEnum):
    OK = "ok"
    CRASH = "crash"
    LOCKUP = "lockup"
    TIMEOUT = "timeout"
    ABORTED = "aborted"         # fail-fast: stopped at the first splat of a watched kind
    INFRA = "infra"


@dataclass(frozen=True)
class CommandResult:
    exit_code: int
    stdout: str
    stderr: str
    duration: float

    @property
    def ok(self) -> bool:
        return self.exit_code == 0


class _Evidence:
    outcome: Outcome
    evidence: str
    console_path: Path | None

    def _attach(self, outcome: Outcome, evidence: str, console_path: Path | None) -> None:
        self.outcome, self.evidence, self.console_path = outcome, evidence, console_path


class GuestFailure(KernelFailure, _Evidence):
    """A finding about the kernel under test; `.evidence` holds the console excerpt."""

    def __init__(self, outcome: Outcome, what: str, evidence: str,
                 console_path: Path | None) -> None:
        super().__init__(what, f"see {console_path}" if console_path else "")
        self._attach(outcome, evidence, console_path)


class GuestCrashed(GuestFailure):
    pass


class GuestLockup(GuestFailure):
    pass


class GuestTimeout(GuestFailure):
    pass


class SplatAbort(GuestFailure):
    """Fail-fast: a watched splat kind appeared on the console during a command; the
    command was abandoned and the guest stopped (the test fails with that splat)."""


class GuestInfraError(InfrastructureError, _Evidence):
    def __init__(self, what: str, why: str, evidence: str = "",
                 console_path: Path | None = None) -> None:
        super().__init__(what, why)
        self._attach(Outcome.INFRA, evidence, console_path)


FAILURES: dict[Outcome, type[GuestFailure]] = {
    Outcome.CRASH: GuestCrashed, Outcome.LOCKUP: GuestLockup, Outcome.TIMEOUT: GuestTimeout}


class CommandFailed(KharnessError):
    """run(..., check=True) and the command exited non-zero."""

    exit_code = 1
    label = "command failed"

    def __init__(self, argv: Sequence[str], result: CommandResult) -> None:
        tail = (result.stderr or result.stdout).strip().splitlines()[-3:]
        super().__init__(f"{shlex.join(argv)} exited {result.exit_code}", " | ".join(tail))
        self.result = result


class SysfsWriteError(UserError):
    pass


class Sentinel(Protocol):
    """What the Guest needs from the VM around it (implemented by harness.machine.vm)."""

    def mark(self) -> int:
        """Console position now; evidence is the console from here on."""
        ...

    def check(self, since: int) -> None:
        """Raise (GuestCrashed/GuestInfraError) at once if the VM died or panicked."""
        ...

    def failure(self, suspected: Outcome, reason: str, since: int,
                guest: Guest | None) -> Exception:
        """Classify, collect evidence, kill the VM; return the exception to raise."""
        ...


# ------------------------------------------------------------------------ SSH keys

@dataclass(frozen=True)
class SshKey:
    private_openssh: str
    public_line: str

    @classmethod
    def generate(cls, comment: str = "kharness") -> SshKey:
        key = Ed25519PrivateKey.generate()
        private = key.private_bytes(serialization.Encoding.PEM,
                                    serialization.PrivateFormat.OpenSSH,
                                    serialization.NoEncryption()).decode()
        public = key.public_key().public_bytes(serialization.Encoding.OpenSSH,
                                               serialization.PublicFormat.OpenSSH).decode()
        return cls(private, f"{public} {comment}\n")

    def pkey(self) -> paramiko.PKey:
        return paramiko.Ed25519Key.from_private_key(io.StringIO(self.private_openssh))

    def write(self, path: Path) -> Path:
        atomic_write(path, self.private_openssh)
        path.chmod(0o600)
        return path


class _AcceptEphemeral(paramiko.MissingHostKeyPolicy):
    """Throw-away VM on 127.0.0.1: accept its fresh host key, remember nothing."""

    def missing_host_key(self, client: paramiko.SSHClient, hostname: str,
                         key: paramiko.PKey) -> None:
        return None


class _Timeout(Exception):
    pass


# --------------------------------------------------------------------------- Guest

class Guest:
    def __init__(self, port: int, key: SshKey, sentinel: Sentinel, *, scale: float = 1.0,
                 host: str = "127.0.0.1", user: str = "root") -> None:
        self.host, self.port, self.user, self.key = host, port, user, key
        self.sentinel, self.scale = sentinel, scale
        self._client: paramiko.SSHClient | None = None
        self._closed = False

    # --- connection
    def connect(self, deadline: Deadline) -> None:
        """Connect with bounded, backed-off retries; a dead/panicked VM stops it at once."""
        since = self.sentinel.mark()
        retrying = tenacity.Retrying(
            stop=tenacity.stop_after_delay(max(0.1, deadline.remaining())),
            wait=tenacity.wait_exponential(multiplier=0.05, max=1.0),
            retry=tenacity.retry_if_exception(_retryable),
            before_sleep=lambda _: self.sentinel.check(since), reraise=True)
        try:
            with _QUIET:
                retrying(self._connect_once, deadline)
        except paramiko.AuthenticationException as e:
            raise InfrastructureError("SSH key rejected by the guest", str(e),
                                      "check the image installs /etc/kharness/authorized_keys",
                                      ) from e
        except SSH_ERRORS as e:
            raise self.sentinel.failure(Outcome.LOCKUP, f"SSH not reachable: {e}", since,
                                        None) from e

    def _connect_once(self, deadline: Deadline) -> None:
        client = paramiko.SSHClient()
        client.set_missing_host_key_policy(_AcceptEphemeral())
        t = max(0.5, min(deadline.remaining(), 10.0 * self.scale))
        try:
            client.connect(self.host, self.port, self.user, pkey=self.key.pkey(),
                           look_for_keys=False, allow_agent=False, timeout=t,
                           banner_timeout=t, auth_timeout=t)
        except BaseException:
            client.close()
            raise
        self.close()
        self._client, self._closed = client, False

    def close(self) -> None:
        self._closed = True
        if self._client is not None:
            self._client.close()
            self._client = None

    def _transport(self) -> paramiko.Transport:
        transport = self._client.get_transport() if self._client else None
        if transport is None or not transport.is_active():
            raise paramiko.SSHException("SSH connection is not open")
        return transport

    # --- commands
    def run(self, argv: Sequence[str], timeout: float | None = None, check: bool = False,
            stdin: bytes | None = None) -> CommandResult:
        """Run argv in the guest (quoted with shlex.join for the remote shell)."""
        raw = self._run_bytes(argv, self._timeout(timeout), stdin)
        result = CommandResult(raw[0], raw[1].decode(errors="backslashreplace"),
                               raw[2].decode(errors="backslashreplace"), raw[3])
        if check and not result.ok:
            raise CommandFailed(argv, result)
        return result

    def _timeout(self, timeout: float | None) -> float:
        return DEFAULT_TIMEOUT * self.scale if timeout is None else timeout

    def _run_bytes(self, argv: Sequence[str], timeout: float,
                   stdin: bytes | None) -> tuple[int, bytes, bytes, float]:
        if self._closed:
            raise InfrastructureError("guest connection already closed", shlex.join(argv))
        since = self.sentinel.mark()
        command = shlex.join(argv)
        log.debug("guest %s:%d$ %s", self.host, self.port, command)
        try:
            result = self._exec(command, timeout, stdin, since)
            self.sentinel.check(since)                  # died right after answering?
            return result
        except _Timeout:
            suspected, reason = Outcome.TIMEOUT, f"`{command}` outlived its {timeout:g}s timeout"
        except SSH_ERRORS as e:
            suspected = Outcome.LOCKUP
            reason = f"SSH failed during `{command}`: {type(e).__name__}: {e}"
        raise self.sentinel.failure(suspected, reason, since, self)

    def _exec(self, command: str, timeout: float, stdin: bytes | None,
              since: int | None) -> tuple[int, bytes, bytes, float]:
        start, deadline = time.monotonic(), Deadline(timeout)
        try:
            chan = self._transport().open_session(timeout=max(0.1, deadline.remaining()))
        except paramiko.SSHException as e:
            if deadline.expired():
                raise _Timeout() from e
            raise
        try:
            try:
                exec_bounded(chan, command, deadline.remaining())
            except paramiko.SSHException as e:
                if deadline.expired():
                    raise _Timeout() from e
                raise
            if stdin is not None:
                chan.sendall(stdin)
            chan.shutdown_write()
            out, err = self._collect(chan, deadline, since)
            return chan.recv_exit_status(), out, err, time.monotonic() - start
        finally:
            chan.close()

    def _collect(self, chan: paramiko.Channel, deadline: Deadline,
                 since: int | None) -> tuple[bytes, bytes]:
        out, err, last_check = bytearray(), bytearray(), time.monotonic()
        while True:
            while chan.recv_ready():
                out += chan.recv(65536)
            while chan.recv_stderr_ready():
                err += chan.recv_stderr(65536)
            exited = chan.status_event.is_set()         # exit_status_ready() is also True
            if exited and not chan.recv_ready() and not chan.recv_stderr_ready():
                return bytes(out), bytes(err)
            if chan.closed and not exited:              # ... when the connection died
                raise EOFError("SSH channel closed without an exit status")
            if deadline.expired():
                raise _Timeout()
            if since is not None and time.monotonic() - last_check > 0.5:
                self.sentinel.check(since)
                last_check = time.monotonic()
            select.select([chan], [], [], 0.05)

    def try_run(self, argv: Sequence[str], timeout: float) -> CommandResult | None:
        """Like run() but never classifies: None on any failure (used for evidence)."""
        try:
            code, out, err, took = self._exec(shlex.join(argv), timeout, None, None)
        except (_Timeout, *SSH_ERRORS):
            return None
        return CommandResult(code, out.decode(errors="backslashreplace"),
                             err.decode(errors="backslashreplace"), took)

    def probe_timeout(self) -> float:
        return max(5.0, 2.0 * self.scale)

    def responsive(self, timeout: float) -> bool:
        """Does the guest still run a trivial command over SSH within `timeout`?"""
        result = self.try_run(["true"], timeout)
        return result is not None and result.ok

    # --- files
    def put(self, src: Path | bytes, remote: str, mode: int | None = None) -> None:
        data = src if isinstance(src, bytes) else Path(src).read_bytes()
        script = 'cat > "$1"' + (f' && chmod {mode:o} "$1"' if mode is not None else "")
        self.run(["sh", "-c", script, "sh", remote], check=True, stdin=data)

    def get(self, remote: str, local: Path) -> Path:
        code, out, err, _ = self._run_bytes(["cat", remote], self._timeout(None), None)
        if code != 0:
            raise CommandFailed(["cat", remote], CommandResult(code, "", err.decode(), 0))
        atomic_write(local, out)
        return local

    def read_file(self, path: str) -> str:
        return self.run(["cat", path], check=True).stdout

    def write_sysfs(self, path: str, value: str) -> None:
        """Write, then read back; for "[always] madvise never" files compare the choice."""
        result = self.run(["sh", "-c", 'printf "%s\\n" "$2" > "$1"', "sh", path, value])
        if not result.ok:
            raise SysfsWriteError(f"cannot write {value!r} to {path}",
                                  result.stderr.strip() or f"exit {result.exit_code}")
        back = self.read_file(path)
        if sysfs_value(back) != value.strip():
            raise SysfsWriteError(f"{path} reads back {back.strip()!r} after writing {value!r}",
                                  "the kernel ignored or normalised the value")

    # --- kernel log
    def kmsg(self, text: str) -> None:
        line = " ".join(text.splitlines())
        self.run(["sh", "-c", 'echo "$1" > /dev/kmsg', "sh", line], check=True)

    def mark_test_start(self, nodeid: str) -> None:
        self.kmsg(f"kharness: test start {nodeid}")

    def mark_test_end(self, nodeid: str) -> None:
        self.kmsg(f"kharness: test end {nodeid}")

    def dmesg(self) -> str:
        return self.run(["dmesg"], check=True).stdout

    def reboot_nowait(self) -> bool:
        """`reboot -f` without waiting (with -no-reboot QEMU exits): the clean shutdown.
        False when the guest did not take the command within 2 s."""
        try:
            chan = self._transport().open_session(timeout=2.0)
            exec_bounded(chan, "reboot -f", 2.0)
        except SSH_ERRORS:
            return False
        return True


def exec_bounded(chan: paramiko.Channel, command: str, seconds: float) -> None:
    """chan.exec_command with a deadline. paramiko waits for the guest's answer to the exec
    request without a timeout, so a guest that wedges at that moment would hang the
    harness for good. A timer closes the channel
    when `seconds` pass; exec_command then raises SSHException("Channel closed.")."""
    timer = threading.Timer(max(0.1, seconds), chan.close)
    timer.daemon = True
    timer.start()
    try:
        chan.exec_command(command)
    finally:
        timer.cancel()


def sysfs_value(text: str) -> str:
    """'always [madvise] never' -> 'madvise'; other files: stripped content."""
    m = re.search(r"\[([^\]]+)\]", text)
    return m.group(1) if m else text.strip()


def _retryable(exc: BaseException) -> bool:
    return isinstance(exc, SSH_ERRORS) and not isinstance(exc, paramiko.AuthenticationException)
