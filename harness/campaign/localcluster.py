"""A Dask scheduler and kharness workers as separate processes on 127.0.0.1: what the
cluster tests and bench/cluster.py run, and a template for a lab's start script.

Each process runs under PR_SET_PDEATHSIG (it dies with the thread that started it) in its
own session, logs to a file, and is stopped by `stop()` (SIGTERM, ~5 s, SIGKILL, reap) or
killed hard by `kill9()` (what the fault tests do to a worker mid-cell).
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.errors import HarnessBug, InfrastructureError
from harness.util import pdeathsig_prefix


@dataclass
class Proc:
    name: str
    argv: list[str]
    log: Path
    env: dict[str, str] = field(default_factory=dict)
    proc: subprocess.Popen[bytes] | None = None

    def start(self) -> Proc:
        with open(self.log, "ab") as out:
            self.proc = subprocess.Popen(pdeathsig_prefix() + self.argv, stdout=out,
                                         stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                         env={**os.environ, **self.env},
                                         start_new_session=True)
        return self

    def _started(self) -> subprocess.Popen[bytes]:
        if self.proc is None:
            raise HarnessBug(f"{self.name} was never started")
        return self.proc

    @property
    def pid(self) -> int:
        return self._started().pid

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def kill9(self) -> None:
        if self.alive():
            os.kill(self.pid, signal.SIGKILL)
            self._started().wait()

    def stop(self) -> None:
        if not self.alive():
            return
        self._started().terminate()
        try:
            self._started().wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.kill9()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def scheduler(logdir: Path, port: int = 0, env: dict[str, str] | None = None,
              tls: tuple[str, str, str] | None = None) -> tuple[Proc, str]:
    """`dask scheduler` on 127.0.0.1 (no dashboard), with TLS (ca, cert, key files) when
    given; its address once it accepts."""
    port = port or free_port()
    secure = [] if tls is None else ["--protocol", "tls", "--tls-ca-file", tls[0],
                                     "--tls-cert", tls[1], "--tls-key", tls[2]]
    p = Proc("scheduler", [sys.executable, "-m", "distributed.cli.dask_scheduler", "--host",
                           "127.0.0.1", "--port", str(port), "--no-dashboard", *secure],
             logdir / "scheduler.log", env or {}).start()
    wait_listening("127.0.0.1", port, p, 60)
    return p, f"{'tcp' if tls is None else 'tls'}://127.0.0.1:{port}"


def worker(address: str, name: str, cache: Path, logdir: Path, *, cores: int = 0,
           nanny: bool = False, extra: tuple[str, ...] = ()) -> Proc:
    argv = [sys.executable, "-m", "harness.cli.main", "worker", address, "--name", name,
            "--cache", str(cache), *(["--cores", str(cores)] if cores else []),
            *([] if nanny else ["--no-nanny"]), *extra]
    return Proc(name, argv, logdir / f"{name}.log").start()


def wait_listening(host: str, port: int, p: Proc, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not p.alive():
            raise InfrastructureError(f"{p.name} exited", p.log.read_text()[-2000:])
        with socket.socket() as s:
            if s.connect_ex((host, port)) == 0:
                return
        time.sleep(0.2)
    raise InfrastructureError(f"{p.name} does not listen on {host}:{port}", f"see {p.log}")


def wait_workers(address: str, n: int, timeout: float = 120, security: Any = None) -> None:
    from harness.campaign.cluster import import_distributed
    with import_distributed().Client(address, timeout=30, set_as_default=False,
                                     security=security) as c:
        c.wait_for_workers(n, timeout=timeout)
