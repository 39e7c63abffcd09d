"""Accelerator choice: KVM only where it really runs a guest, TCG otherwise.

The decision is a pure function, `choose_accel(profile, host_machine, kvm_works)`. Whether
KVM works is *measured*, never assumed from /dev/kvm: on nested or restricted hosts
/dev/kvm opens fine and then the guest dies with "KVM internal error". The probe runs real
guest code under KVM with a short timeout:

1. a 64 KiB x86 firmware whose reset vector writes to isa-debug-exit (1 instruction path);
2. when a kernel is given, that kernel booted without a root file system to its
   "no init" panic (long mode, paging, SMP bring-up, timers: everything a real boot does).

The verdict is cached per host boot (boot_id) and QEMU version in cache_dir("accel").
A VM that later hits a KVM internal error calls `mark_kvm_broken()`, so the rest of the
run (and other processes on this boot) use TCG. Falling back prints ONE warning line.
Override with KHARNESS_ACCEL=kvm|tcg.
"""

from __future__ import annotations

import json
import logging
import os
import platform
import re
import subprocess
import tempfile
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Literal

from harness.arch import ArchProfile
from harness.errors import UserError
from harness.util import cache_dir, cmdline, write_json

log = logging.getLogger("harness")

Accel = Literal["kvm", "tcg"]
KVM_ERRORS = ("KVM internal error", "kvm run failed", "failed to initialize kvm",
              "Could not access KVM kernel module", "KVM_CREATE_VM", "kvm_init_vcpu",
              "failed to set MSR", "kvm_buf_set_msrs", "target/i386/kvm/")
KVM_KERNEL_PROBE_OK = re.compile(r"Kernel panic - not syncing|Run /init|No working init|"
                                 r"Unable to mount root")
_SCALE = {"kvm": 1.0, "tcg": 5.0}
_warned = False


def choose_accel(profile: ArchProfile, host_machine: str, kvm_works: bool) -> Accel:
    """Pure policy: KVM only for a guest of the host's own arch, and only if it works."""
    native = host_machine.lower() in profile.host_machines
    return "kvm" if native and kvm_works else "tcg"


def timeout_scale(accel: str) -> float:
    """Multiply guest-side timeouts by this (TCG is several times slower than KVM)."""
    return _SCALE.get(accel, _SCALE["tcg"])


def select(profile: ArchProfile, kernel: Path | None = None) -> Accel:
    """The accelerator to use for this profile on this host (cached probe, env override)."""
    forced = os.environ.get("KHARNESS_ACCEL", "").strip().lower()
    if forced in ("kvm", "tcg"):
        return "kvm" if forced == "kvm" else "tcg"
    if forced not in ("", "auto"):
        raise UserError(f"KHARNESS_ACCEL={forced!r}", "expected kvm, tcg or auto")
    machine = platform.machine()
    if choose_accel(profile, machine, kvm_works=True) == "tcg":
        return "tcg"                # foreign arch: no probe, no warning
    verdict = kvm_verdict(profile, kernel)
    if not verdict.works:
        _warn_once(verdict.reason)
    return choose_accel(profile, machine, verdict.works)


@dataclass(frozen=True)
class Verdict:
    works: bool
    reason: str


def kvm_verdict(profile: ArchProfile, kernel: Path | None) -> Verdict:
    """Cached per (host boot, QEMU version, arch); probes when there is no cached verdict."""
    path = _cache_path(profile)
    cached = _load(path)
    if cached is not None and (not cached.works or kernel is None or _kernel_probed(path)):
        return cached
    verdict = probe(profile, kernel)
    write_json(path, {"works": verdict.works, "reason": verdict.reason,
                      "kernel_probed": kernel is not None and verdict.works})
    return verdict


def mark_kvm_broken(profile: ArchProfile, reason: str) -> None:
    """Record at runtime that KVM failed (e.g. a VM hit "KVM internal error")."""
    write_json(_cache_path(profile), {"works": False, "reason": reason, "kernel_probed": True})
    _warn_once(reason)


def probe(profile: ArchProfile, kernel: Path | None) -> Verdict:
    if not _dev_kvm_usable():
        return Verdict(False, "/dev/kvm is missing or not read/writable")
    if profile.name == "x86_64":
        verdict = _probe_firmware_x86(profile)
        if not verdict.works:
            return verdict
    return _probe_kernel(profile, kernel) if kernel is not None else Verdict(True, "firmware ran")


def _dev_kvm_usable() -> bool:
    try:
        fd = os.open("/dev/kvm", os.O_RDWR | os.O_CLOEXEC)
    except OSError:
        return False
    os.close(fd)
    return True


def _x86_firmware() -> bytes:
    """Reset vector: mov al,0x31; out 0xf4,al; hlt -> isa-debug-exit status (0x31<<1)|1."""
    img = bytearray(b"\xf4" * 65536)
    code = bytes([0xB0, 0x31, 0xE6, 0xF4, 0xF4, 0xEB, 0xFD])
    img[0xFFF0:0xFFF0 + len(code)] = code
    return bytes(img)


def _probe_firmware_x86(profile: ArchProfile) -> Verdict:
    with tempfile.TemporaryDirectory(prefix="kh-kvm-") as tmp:
        fw = Path(tmp) / "fw.bin"
        fw.write_bytes(_x86_firmware())
        argv = [profile.qemu_binary, "-accel", "kvm", "-machine", "pc", "-bios", str(fw),
                "-nodefaults", "-no-user-config", "-display", "none", "-cpu", profile.qemu_cpu_kvm,
                "-device", "isa-debug-exit,iobase=0xf4,iosize=0x04"]
        rc, out = _run_probe(argv, timeout=10)
    if rc == 0x63:
        return Verdict(True, "firmware ran under KVM")
    return Verdict(False, f"KVM probe firmware failed (exit {rc}): {_first_error(out)}")


def _probe_kernel(profile: ArchProfile, kernel: Path) -> Verdict:
    argv = [profile.qemu_binary, "-accel", "kvm", "-machine", profile.qemu_machine,
            "-cpu", profile.qemu_cpu_kvm, "-m", "256M", "-smp", "2", "-nodefaults",
            "-no-user-config", "-display", "none", "-no-reboot", "-serial", "stdio",
            "-kernel", str(kernel), "-append", f"console={profile.console} panic=-1"]
    rc, out = _run_probe(argv, timeout=20)
    if any(e in out for e in KVM_ERRORS):
        return Verdict(False, f"KVM failed booting {kernel.name}: {_first_error(out)}")
    if KVM_KERNEL_PROBE_OK.search(out):
        return Verdict(True, f"{kernel.name} booted to init under KVM")
    return Verdict(False, f"{kernel.name} did not reach init under KVM in 20s (exit {rc}): "
                          f"{_first_error(out)}")


def _run_probe(argv: list[str], timeout: float) -> tuple[int, str]:
    log.debug("$ %s", cmdline(argv))
    try:
        proc = subprocess.run(argv, check=False, capture_output=True, timeout=timeout, text=True,
                              errors="backslashreplace", start_new_session=True)
    except subprocess.TimeoutExpired as e:
        out = e.stdout if isinstance(e.stdout, str) else (e.stdout or b"").decode(errors="replace")
        return -1, out + " (timed out)"
    except FileNotFoundError:
        return -1, f"{argv[0]} not installed"
    return proc.returncode, proc.stdout + proc.stderr


def _first_error(out: str) -> str:
    lines = [ln.strip() for ln in out.splitlines() if ln.strip()]
    hits = [ln for ln in lines if any(e.lower() in ln.lower() for e in KVM_ERRORS + ("error",))]
    return (hits or lines[-1:] or ["no output"])[0][:200]


def _warn_once(reason: str) -> None:
    global _warned
    if not _warned:
        _warned = True
        log.warning("KVM unusable here, using TCG (slower; timeouts scaled x%.0f): %s",
                    timeout_scale("tcg"), reason)


def _cache_path(profile: ArchProfile) -> Path:
    return cache_dir("accel") / f"{_boot_id()}-{_qemu_version_tag(profile)}-{profile.name}.json"


def _boot_id() -> str:
    try:
        return Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    except OSError:
        return "unknown-boot"


def _qemu_version_tag(profile: ArchProfile) -> str:
    return re.sub(r"[^A-Za-z0-9.]+", "_", qemu_version(profile.qemu_binary))[:60]


@lru_cache(maxsize=8)
def qemu_version(binary: str) -> str:
    """First line of `qemu-system-* --version`, e.g. "QEMU emulator version 7.2.22 (...)"."""
    try:
        out = subprocess.run([binary, "--version"], check=False, capture_output=True, text=True,
                             timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return "unknown"
    return (out.stdout.splitlines() or ["unknown"])[0].strip()


def _load(path: Path) -> Verdict | None:
    try:
        data = json.loads(path.read_text())
        return Verdict(bool(data["works"]), str(data["reason"]))
    except (OSError, ValueError, KeyError):
        return None


def _kernel_probed(path: Path) -> bool:
    try:
        return bool(json.loads(path.read_text()).get("kernel_probed"))
    except (OSError, ValueError):
        return False
