"""Small shared helpers: cache location, atomic files, locks, logged subprocesses."""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import http.client
import json
import logging
import os
import shlex
import subprocess
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from harness.errors import InfrastructureError, UserError

log = logging.getLogger("harness")


def cache_root() -> Path:
    """~/.cache/kharness, or $KHARNESS_CACHE, or $XDG_CACHE_HOME/kharness."""
    env = os.environ.get("KHARNESS_CACHE")
    if env:
        return Path(env).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg) if xdg else Path.home() / ".cache"
    return base / "kharness"


def cache_dir(*parts: str) -> Path:
    path = cache_root().joinpath(*parts)
    path.mkdir(parents=True, exist_ok=True)
    return path


def mark_used(path: Path) -> Path:
    """Refresh a cached entry's mtime on a cache hit, so `kharness cache prune` (which keeps
    the newest images and drops builds by age) sees last use, not creation."""
    with contextlib.suppress(OSError):
        os.utime(path)
    return path


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def stable_hash(obj: Any) -> str:
    """Hash of a JSON-able object, independent of dict ordering."""
    return sha256_bytes(json.dumps(obj, sort_keys=True, separators=(",", ":")).encode())


def atomic_write(path: Path, data: str | bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    mode = "wb" if isinstance(data, bytes) else "w"
    with open(tmp, mode) as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def write_json(path: Path, obj: Any) -> None:
    atomic_write(path, json.dumps(obj, indent=2, sort_keys=True, default=str) + "\n")


@contextlib.contextmanager
def file_lock(path: Path) -> Iterator[None]:
    """Exclusive advisory lock; blocks until free. Released on exit or process death."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


_PDEATHSIG_PY = ("import ctypes, os, sys; ctypes.CDLL(None).prctl(1, 9); "   # PR_SET_PDEATHSIG
                 "os.execvp(sys.argv[1], sys.argv[1:])")


def pdeathsig_prefix() -> list[str]:
    """argv prefix that execs a command with PR_SET_PDEATHSIG=SIGKILL: it dies with the thread
    that started it, even when that process is killed with -9 and runs no cleanup.
    setpriv (util-linux), else a Python shim."""
    import shutil
    import sys
    setpriv = shutil.which("setpriv")
    if setpriv:
        return [setpriv, "--pdeathsig", "KILL", "--"]
    return [sys.executable, "-c", _PDEATHSIG_PY]


def cmdline(argv: Sequence[str | os.PathLike[str]]) -> str:
    """Copy-paste form of an argv."""
    return shlex.join(str(a) for a in argv)


def run(argv: Sequence[str | os.PathLike[str]], *, cwd: Path | None = None,
        env: dict[str, str] | None = None, timeout: float | None = None,
        check: bool = True, capture: bool = True,
        input_bytes: bytes | None = None) -> subprocess.CompletedProcess[str]:
    """Run argv (never a shell), logging it in copy-paste form."""
    args = [str(a) for a in argv]
    log.debug("$ %s%s", cmdline(args), f"   (in {cwd})" if cwd else "")
    full_env = None if env is None else {**os.environ, **env}
    try:
        proc = subprocess.run(args, cwd=cwd, env=full_env, timeout=timeout, text=True,
                              errors="backslashreplace", capture_output=capture,
                              input=None if input_bytes is None else input_bytes.decode(),
                              check=False)
    except FileNotFoundError as e:
        raise InfrastructureError(f"cannot run {args[0]}", "not installed",
                                  "run: kharness doctor --install") from e
    except subprocess.TimeoutExpired as e:
        raise InfrastructureError(f"command timed out after {timeout:.0f}s", cmdline(args)) from e
    if check and proc.returncode != 0:
        tail = (proc.stderr or proc.stdout or "").strip().splitlines()[-5:]
        raise InfrastructureError(f"command failed (exit {proc.returncode}): {cmdline(args)}",
                                  " | ".join(tail))
    return proc


class Deadline:
    """A monotonic deadline passed down through phases (build -> boot -> connect -> command)."""

    def __init__(self, seconds: float) -> None:
        self.end = time.monotonic() + seconds

    def remaining(self) -> float:
        return max(0.0, self.end - time.monotonic())

    def expired(self) -> bool:
        return time.monotonic() >= self.end

    def sub(self, seconds: float) -> Deadline:
        return Deadline(min(seconds, self.remaining()))


def open_url(url: str, timeout: float,
             schemes: tuple[str, ...] = ("http", "https")) -> http.client.HTTPResponse:
    """urllib's urlopen for the URL schemes the caller allows (never ftp: or a custom
    handler; file: only where a local path is a feature, e.g. cloud images)."""
    scheme = urllib.parse.urlsplit(url).scheme
    if scheme not in schemes:
        raise UserError(f"cannot fetch {url}", f"scheme {scheme or '(none)'}: is not allowed here",
                        f"use a {' or '.join(s + ':' for s in schemes)} URL")
    resp: http.client.HTTPResponse = urllib.request.urlopen(url, timeout=timeout)  # noqa: S310
    return resp
