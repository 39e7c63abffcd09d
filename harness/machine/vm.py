"""A booted kernel you can drive: QEMU + console + QMP + SSH guest, as a context manager.

    with VM(kernel, "arm64", workdir=tmp, name="t1", cmdline_extra=["thp_anon=..."]) as vm:
        vm.guest.run(["uname", "-a"], timeout=10)

Boot = fresh Ed25519 key -> image overlay with the public key -> QEMU (TCG or a KVM that
was proven to work) -> wait for "kharness: sshd ready" on the console -> SSH.
Exit = `reboot -f` over SSH (QEMU exits thanks to -no-reboot), else QMP quit, else
SIGTERM/SIGKILL; always reaped. workdir/vm.json holds the exact QEMU command line
(copy-paste and interactive forms), QEMU version, accelerator and timings.

The VM is the Guest's Sentinel: it turns a dead, panicked, wedged or slow guest into a
typed result with evidence (see harness.guest.ssh and `_Watch`).
"""

from __future__ import annotations

import base64
import contextlib
import logging
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, Self

from harness import arch as arch_mod
from harness.errors import HarnessBug, InfrastructureError, UserError
from harness.guest.ssh import FAILURES, Guest, GuestInfraError, Outcome, SplatAbort, SshKey
from harness.image import cloud as cloud_mod
from harness.machine import accel as accel_mod
from harness.machine import tsc
from harness.machine.qemu import (
    MachineSpec,
    PortCollision,
    QemuProcess,
    free_port,
    kernel_cmdline,
    reproducer_argv,
)
from harness.machine.qmp import Qmp
from harness.results.fields import JsonObject
from harness.util import Deadline, cmdline, write_json

log = logging.getLogger("harness")
READY_RE = re.compile(r"kharness: sshd (ready|failed)")
BOOT_SECONDS = 20.0             # multiplied by timeout_scale(accel)
CLOUD_BOOT_SECONDS = 90.0       # systemd + cloud-init: also multiplied
EVIDENCE_LINES = 3000


def tsc_args(profile: arch_mod.ArchProfile, accel: str, numa_nodes: int,
             user: Sequence[str]) -> list[str]:
    """`tsc_early_khz=` for x86_64 under TCG on a machine without HPET/PM timer (microvm):
    the host's TSC rate, which the guest's TSC runs at (harness.machine.tsc). Not when the user
    set it, or the host rate is unknown (the guest then calibrates against the PIT)."""
    user_set = any(a.startswith("tsc_early_khz=") for a in user)
    if profile.name != "x86_64" or accel != "tcg" or user_set:
        return []
    if numa_nodes > 0 and profile.numa_machine:        # q35: HPET and PM timer are there
        return []
    khz = tsc.host_tsc_khz()
    return [f"tsc_early_khz={khz}"] if khz else []


SplatDetector = Callable[[str], "str | None"]   # a console line -> the splat kind it starts


@dataclass(frozen=True)
class BootSpec:
    """What to boot and how; frozen, checked by check() when the VM starts."""
    kernel: Path
    arch: str
    workdir: Path
    name: str
    mem: str = "1G"
    cpus: int = 2
    numa_nodes: int = 0
    cmdline_extra: tuple[str, ...] = ()
    zram: str | None = None
    accel: str | None = None            # None: KVM when it works, else TCG
    initrd: Path | None = None
    boot_timeout: float | None = None
    fail_fast: frozenset[str] | None = None   # splat kinds that abandon a command (empty: any)
    rootfs: Path | None = None          # a Debian root disk instead of the initramfs
    cloud: cloud_mod.CloudBoot | None = None   # a cloud image (systemd + cloud-init)
    detect: SplatDetector | None = None   # the caller's splat detector (fail-fast needs one)

    def check(self, profile: arch_mod.ArchProfile) -> None:
        if not self.kernel.is_file():
            raise UserError(f"no kernel image at {self.kernel}", "", "build it or fix the path")
        if self.rootfs is not None and self.cloud is not None:
            raise UserError("a VM boots either a root disk or a cloud image, not both", "",
                            "drop one of them")
        if self.rootfs is not None:
            if not self.rootfs.is_file():
                raise UserError(f"no root disk at {self.rootfs}", "", "build one with "
                                "harness.image.rootfs.rootfs_disk(arch) or fix the path")
            cloud_mod.check_kernel(self.kernel, cloud_mod.DISK_NEEDS, "a root disk")
        if self.cloud is not None:
            if not Path(self.cloud.image).is_file():
                raise UserError(f"no cloud image at {self.cloud.image}", "",
                                "fetch it with harness.image.cloud.cloud_image(url, sha256)")
            cloud_mod.check_kernel(self.kernel)
        if self.fail_fast is not None and self.detect is None:
            raise HarnessBug("fail-fast without a splat detector")


class VM:
    def __init__(self, kernel: Path, arch: str, *, workdir: Path, name: str, mem: str = "1G",
                 cpus: int = 2, numa_nodes: int = 0, cmdline_extra: Sequence[str] = (),
                 zram: str | None = None, accel: str | None = None,
                 initrd: Path | None = None, boot_timeout: float | None = None,
                 fail_fast: frozenset[str] | None = None, rootfs: Path | None = None,
                 cloud: cloud_mod.CloudBoot | None = None,
                 detect: SplatDetector | None = None) -> None:
        """Only records the boot spec: checking it, probing KVM, making the key and starting
        QEMU all happen in start()."""
        self.spec = BootSpec(Path(kernel), arch, Path(workdir), name, mem, cpus, numa_nodes,
                             tuple(cmdline_extra), zram, accel, initrd, boot_timeout, fail_fast,
                             None if rootfs is None else Path(rootfs), cloud, detect)
        self.profile = arch_mod.get(arch)
        self.kernel, self.workdir, self.name = self.spec.kernel, self.spec.workdir, name
        self.mem, self.cpus, self.numa_nodes = mem, cpus, numa_nodes
        self.base_initrd, self.boot_timeout = initrd, boot_timeout
        self.rootfs, self.cloud, self.fail_fast = self.spec.rootfs, cloud, fail_fast
        self.accel = accel or ""            # chosen in start() unless given
        self.cmdline = ""                   # made in start() (TSC rate for x86_64 TCG)
        self._key: SshKey | None = None     # a fresh Ed25519 key per boot, made in start()
        self.qemu: QemuProcess | None = None
        self._guest: Guest | None = None
        self.boot_seconds = 0.0
        self.outcome = Outcome.OK
        self._meta: JsonObject = {}           # vm.json (harness.report.view.VmInfo reads it)

    def _prepare(self) -> None:
        """Check the spec, choose the accelerator, make the command line and the key."""
        self.spec.check(self.profile)
        if not self.accel:
            self.accel = accel_mod.select(self.profile, self.kernel)
        s = self.spec
        extra = tsc_args(self.profile, self.accel, s.numa_nodes, s.cmdline_extra)
        extra += list(s.cmdline_extra) + ([f"kharness.zram={s.zram}"] if s.zram else [])
        self.cmdline = kernel_cmdline(self.profile, extra)
        if self._key is None:
            self._key = SshKey.generate(f"kharness-{self.name}")

    @property
    def key(self) -> SshKey:
        if self._key is None:
            raise HarnessBug("the VM's SSH key is made in start()")
        return self._key

    # --- public surface
    @property
    def guest(self) -> Guest:
        if self._guest is None:
            raise InfrastructureError(f"VM {self.name} is not running")
        return self._guest

    @property
    def console_path(self) -> Path:
        return self.workdir / "console.log"

    @property
    def qmp(self) -> Qmp:
        if not (self.qemu is not None and self.qemu.qmp is not None):
            raise HarnessBug("QMP used before the VM started")
        return self.qemu.qmp

    @property
    def key_path(self) -> Path:
        return self.workdir / "id_ed25519"

    @property
    def scale(self) -> float:
        return accel_mod.timeout_scale(self.accel)

    def ssh_command(self) -> list[str]:
        port = self.qemu.spec.ssh_port if self.qemu else 0
        return ["ssh", "-i", str(self.key_path), "-p", str(port),
                "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
                "-o", "LogLevel=ERROR", "root@127.0.0.1"]

    def wait(self, timeout: float | None = None) -> int | None:
        """Wait for QEMU to exit (None: still running after `timeout`); a panic raises."""
        if self.qemu is None:
            return None
        rc = self.qemu.wait_exit(1e9 if timeout is None else timeout)
        if self._guest is not None and self.qemu.console is not None \
                and self.qemu.console.alarm_line is not None:
            self._guest.sentinel.check(0)
        return rc

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    # --- boot
    def start(self) -> None:
        try:
            self._start()
        except GuestInfraError:
            self.close()
            if self.accel != "kvm" or self.spec.accel is not None or \
                    accel_mod.kvm_verdict(self.profile, None).works:
                raise                       # not a KVM failure (_Watch marks those)
            log.warning("vm %s: KVM failed at boot, retrying under TCG", self.name)
            self.accel, self.qemu, self._meta = "tcg", None, {}    # _prepare keeps it
            self.start()
        except BaseException:
            self.close()
            raise

    def _start(self) -> None:
        t_prep = time.monotonic()
        self._prepare()
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.key.write(self.key_path)
        initrd = self._initrd() if self.rootfs is None and self.cloud is None else None
        if self.cloud is not None:
            cloud_mod.nocloud_seed(self.key.public_line, self.seed_path)
        t0 = time.monotonic()                       # boot_seconds: QEMU spawn -> SSH ready
        self._launch(initrd)
        self._meta["prepare_seconds"] = round(t0 - t_prep, 3)
        deadline = Deadline(self._boot_budget())
        self._wait_ready(deadline)
        self.boot_seconds = time.monotonic() - t0
        self._write_meta(phase="ready", boot_seconds=round(self.boot_seconds, 3))
        log.info("vm %s: %s ready in %.2fs (%s)", self.name, self.profile.name,
                 self.boot_seconds, self.accel)

    def _initrd(self) -> Path:
        from harness.image import initramfs as image  # lazy: image building pulls in Debian access
        base = self.base_initrd or image.initramfs(self.profile.name)
        files = {"etc/kharness/authorized_keys": self.key.public_line.encode()}
        return image.overlay_cpio(base, files, self.workdir / "initrd.cpio")

    @property
    def seed_path(self) -> Path:
        return self.workdir / "seed.iso"

    def _boot_cmdline(self) -> str:
        if self.cloud is not None:
            return kernel_cmdline(self.profile, [*self.cmdline.split(),
                                                 f"root={self.cloud.root}", "rw"])
        if self.rootfs is None:
            return self.cmdline
        key = base64.b64encode(self.key.public_line.encode()).decode()
        return kernel_cmdline(self.profile, [*self.cmdline.split(), "root=/dev/vda", "rw",
                                             "init=/kharness-init", f"kharness.sshkey={key}"])

    def _launch(self, initrd: Path | None) -> None:
        for attempt in range(5):
            spec = MachineSpec(self.profile, self.kernel, self.accel, initrd, self.mem,
                               self.cpus, self.numa_nodes, self._boot_cmdline(), free_port(),
                               self.name, self.workdir / "qemu.pid", **self._disks())
            self.qemu = QemuProcess(spec, self.workdir)
            self._write_meta(phase="starting")
            try:
                self.qemu.start(timeout=30.0)
                return
            except PortCollision:
                log.info("vm %s: port %d collided, retrying (%d)", self.name, spec.ssh_port,
                         attempt + 1)
        raise InfrastructureError("no free port for SSH forwarding after 5 attempts")

    def _disks(self) -> dict[str, Any]:
        if self.cloud is not None:
            image = Path(self.cloud.image)
            return {"disk": image, "disk_format": cloud_mod.disk_format(image),
                    "seed": self.seed_path}
        return {"disk": self.rootfs}

    def _wait_ready(self, deadline: Deadline) -> None:
        if not (self.qemu is not None and self.qemu.console is not None):
            raise HarnessBug("the console read before the VM started")
        watch = _Watch(self)
        self._guest = Guest(self.qemu.spec.ssh_port, self.key, watch, scale=self.scale)
        if self.cloud is not None:          # no kharness init: sshd is up when SSH answers
            self._guest.connect(deadline)
            watch.armed = True
            return
        console = self.qemu.console
        line = console.wait_for(READY_RE, deadline.remaining(),
                                stop=lambda: watch.dead())
        watch.check(0)
        if line is None:
            raise watch.failure(Outcome.LOCKUP, "boot did not reach `kharness: sshd ready` "
                                f"within {self._boot_budget():.0f}s", 0, None)
        if "failed" in line:
            raise GuestInfraError("sshd failed to start in the guest", line,
                                  console.tail(50), self.console_path)
        self._guest.connect(deadline)
        watch.armed = True

    def _boot_budget(self) -> float:
        base = CLOUD_BOOT_SECONDS if self.cloud is not None else BOOT_SECONDS
        return self.boot_timeout or base * self.scale

    # --- shutdown
    def close(self) -> None:
        """Shut down and reap; idempotent, never raises for a VM that is already gone."""
        qemu, guest = self.qemu, self._guest
        self._guest = None
        try:
            if qemu is not None and qemu.alive() and guest is not None \
                    and guest.reboot_nowait():
                qemu.wait_exit(2.0 * self.scale)
            if qemu is not None and qemu.alive() and qemu.qmp is not None:
                with contextlib.suppress(InfrastructureError):
                    qemu.qmp.quit()
                qemu.wait_exit(3.0)
        finally:
            if guest is not None:
                guest.close()
            rc = qemu.stop() if qemu is not None else None
            if qemu is not None:
                self._write_meta(phase="stopped", qemu_exit=rc, outcome=self.outcome.value)

    # --- metadata
    def _write_meta(self, **fields: object) -> None:
        q = self.qemu
        if q is not None and "name" not in self._meta:
            self._meta |= {
                "name": self.name, "arch": self.profile.name, "kernel": str(self.kernel),
                "accel": self.accel, "qemu_version": accel_mod.qemu_version(
                    self.profile.qemu_binary), "mem": self.mem, "cpus": self.cpus,
                "numa_nodes": self.numa_nodes, "cmdline": self.cmdline}
        if q is not None:
            self._meta.update(
                qemu_argv=cmdline(q.argv), reproducer=cmdline(reproducer_argv(q.spec)),
                ssh_port=q.spec.ssh_port, ssh=cmdline(self.ssh_command()),
                pid=q.proc.pid if q.proc else None, console=str(self.console_path))
        self._meta.update(fields)
        write_json(self.workdir / "vm.json", self._meta)


# ----------------------------------------------------------------- the Sentinel


class _Watch:
    """Classifies guest trouble from QEMU's state, QMP and the console; gathers evidence."""

    def __init__(self, vm: VM) -> None:
        if not (vm.qemu is not None and vm.qemu.console is not None):
            raise HarnessBug("a watch on a VM that has not started")
        self.vm, self.qemu, self.console = vm, vm.qemu, vm.qemu.console
        self._scanned = 0                  # console lines already looked at for fail-fast
        self.armed = False                 # fail-fast acts on commands, not during boot

    def mark(self) -> int:
        return self.console.mark()

    def dead(self) -> bool:
        return not self.qemu.alive() or self.console.alarm_line is not None

    def check(self, since: int) -> None:
        if not self.dead():
            self._fail_fast(since)
            return
        alarm = self.console.alarm_line
        why = (self.console.since(alarm).splitlines() or ["panic"])[0].strip() \
            if alarm is not None else f"QEMU exited (status {self.qemu.poll()})"
        raise self.failure(Outcome.CRASH, why, since, None)

    def _fail_fast(self, since: int) -> None:
        """With VM.fail_fast set: a watched splat printed since `since` ends the command now
        (after its trace has been printed) instead of when the workload's deadline expires."""
        kinds = self.vm.fail_fast
        if kinds is None or not self.armed:
            return
        detect = self.vm.spec.detect
        if detect is None:
            return
        start = max(since, self._scanned)
        new = self.console.lines(start)
        self._scanned = start + len(new)
        for line in new:
            kind = detect(line)
            if kind is not None and (not kinds or kind in kinds):
                raise self._abort(kind, line.strip(), since)

    def _abort(self, kind: str, line: str, since: int) -> Exception:
        self._settle()                                     # let the whole report print
        notes = [f"fail-fast: a {kind} splat appeared on the console: {line}",
                 "the command was abandoned and the guest stopped"]
        evidence = self._conclude(Outcome.ABORTED, notes, since, f"fail-fast on {kind}: {line}")
        return SplatAbort(Outcome.ABORTED, f"{kind} splat on {self.vm.profile.name} (fail-fast): "
                          f"{line}", evidence, self.vm.console_path)

    def _conclude(self, outcome: Outcome, notes: list[str], since: int, reason: str) -> str:
        """Record the outcome, stop QEMU, write evidence.txt; the evidence text."""
        evidence = self._evidence(outcome, notes, since)
        self.vm.outcome = outcome
        self.qemu.stop()
        (self.vm.workdir / "evidence.txt").write_text(evidence)
        log.warning("vm %s: %s: %s", self.vm.name, outcome.value, reason)
        return evidence

    def failure(self, suspected: Outcome, reason: str, since: int,
                guest: Guest | None) -> Exception:
        notes = [f"suspected: {suspected.value}: {reason}"]
        outcome = self._classify(suspected, notes, guest)
        if outcome in (Outcome.LOCKUP, Outcome.TIMEOUT):
            self._gather(outcome, guest, notes)
            outcome = self._classify(outcome, notes, None) if self.dead() else outcome
        evidence = self._conclude(outcome, notes, since, reason)
        what = f"guest {outcome.value} on {self.vm.profile.name}: {reason}"
        if outcome == Outcome.INFRA:
            return GuestInfraError(what, notes[-1], evidence, self.vm.console_path)
        return FAILURES[outcome](outcome, what, evidence, self.vm.console_path)

    def _classify(self, suspected: Outcome, notes: list[str], guest: Guest | None) -> Outcome:
        if self.console.alarm_line is not None:
            self.qemu.wait_exit(2.0 * self.vm.scale)      # let the panic text finish
            notes.append("kernel panic on the console")
            return Outcome.CRASH
        if not self.qemu.alive():
            return self._exited(notes)
        status = self._qmp_status()
        notes.append(f"QMP query-status: {status}")
        if status == "internal-error":
            accel_mod.mark_kvm_broken(self.vm.profile, "VM paused with internal-error")
            return Outcome.INFRA
        if status == "guest-panicked":
            return Outcome.CRASH
        if status != "running" or suspected != Outcome.TIMEOUT or guest is None:
            return Outcome.LOCKUP if suspected != Outcome.CRASH else suspected
        if guest.responsive(guest.probe_timeout()):
            notes.append("SSH still answers: the guest is alive")
            return Outcome.TIMEOUT
        notes.append(f"SSH does not answer a trivial command within {guest.probe_timeout():g}s")
        return Outcome.LOCKUP

    def _exited(self, notes: list[str]) -> Outcome:
        rc = self.qemu.wait_exit(1.0)
        err = self.qemu.stderr_text()
        notes.append(f"QEMU exited with status {rc}")
        if any(e in err for e in accel_mod.KVM_ERRORS):
            accel_mod.mark_kvm_broken(self.vm.profile, err.strip().splitlines()[0])
            notes.append(f"QEMU: {err.strip()[:300]}")
            return Outcome.INFRA
        if rc is None or rc != 0:
            notes.append(f"QEMU stderr: {err.strip()[-300:]}")
            return Outcome.INFRA
        notes.append("guest reset or powered off by itself (QEMU runs with -no-reboot)")
        return Outcome.CRASH

    def _qmp_status(self) -> str:
        try:
            status: str = self.vm.qmp.status()
            return status
        except InfrastructureError as e:
            return f"unknown ({e})"

    def _gather(self, outcome: Outcome, guest: Guest | None, notes: list[str]) -> None:
        """Blocked tasks (w), all-CPU backtraces (l), held locks (d)."""
        if outcome == Outcome.TIMEOUT and guest is not None:
            for key in "wld":
                guest.try_run(["sh", "-c", f"echo {key} > /proc/sysrq-trigger"], 5 * self.vm.scale)
            notes.append("sysrq w, l, d via /proc/sysrq-trigger over SSH")
        elif self._qmp_status() == "running":
            for key in "wld":
                self.qemu.sysrq(key)
                self._settle()
            notes.append("sysrq w, l, d via serial BREAK")
            if self.vm.profile.name == "x86_64":
                self._nmi(notes)
        else:
            notes.append("VM not running: no guest-side evidence possible")
            return
        self._settle()

    def _nmi(self, notes: list[str]) -> None:
        try:
            self.vm.qmp.inject_nmi()
            notes.append("QMP inject-nmi")
        except InfrastructureError as e:
            notes.append(f"inject-nmi failed: {e}")

    def _settle(self) -> None:
        """Wait until the console is quiet for a moment (bounded)."""
        quiet, limit = 0.3 * self.vm.scale, Deadline(3.0 * self.vm.scale)
        last = self.console.mark()
        while not limit.expired():
            time.sleep(quiet)
            now = self.console.mark()
            if now == last:
                return
            last = now

    def _evidence(self, outcome: Outcome, notes: list[str], since: int) -> str:
        lines = self.console.since(since).splitlines()
        if len(lines) < 20:                                # short: add what came before
            lines = self.console.since(max(0, since - 40)).splitlines()
        head = [f"outcome: {outcome.value}", *notes, f"console: {self.vm.console_path}",
                f"--- console from the start of the command ({len(lines)} lines) ---"]
        return "\n".join(head + lines[-EVIDENCE_LINES:]) + "\n"
