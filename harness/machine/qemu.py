"""QEMU: argv from a frozen spec, console (harness.machine.console) and QMP
(harness.machine.qmp) wiring, and reliable reaping.

Wiring (no files to race on, no socket paths to collide):
* console: QEMU gets a listening abstract AF_UNIX socket we are already connected to,
  `-chardev socket,fd=N,server=on,wait=on,telnet=on`, bound to the first serial port. A
  reader thread tees it to console.log (flushed per chunk, i.e. at least per line); the
  harness can send a serial BREAK (telnet IAC BRK),
  which the 8250 and PL011 drivers turn into magic sysrq: the way to get blocked tasks
  and all-CPU backtraces out of a wedged guest on both arches.
* QMP: a socketpair, `-mon chardev=qmp,mode=control`.
* SSH: `-netdev user,hostfwd=tcp:127.0.0.1:PORT-:22`; PORT comes from binding port 0
  and releasing it; on the rare collision QEMU fails with "Could not set up host
  forwarding rule" and the caller retries with a new port (PortCollision).

Lifetime: every QEMU runs in its own session (process group) under `setpriv
--pdeathsig KILL`, so even `kill -9` of the harness takes QEMU down. Live QEMUs are kept
in a registry killed from atexit and from a SIGTERM/SIGHUP handler; `stop()` is
terminate, wait ~3 s, SIGKILL the group, reap. Note: pdeathsig fires when the *thread*
that started QEMU exits, so start VMs from a thread that outlives them.

Panic policy: `panic=-1` (reboot at once) plus `-no-reboot` (QEMU exits on reboot), so a
panic is detected the moment it happens, with the whole panic text on the console.
"""

from __future__ import annotations

import atexit
import contextlib
import logging
import os
import re
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType

from harness.arch import ArchProfile
from harness.errors import HarnessBug, InfrastructureError
from harness.machine.console import ConsoleLog, ConsoleReader, TelnetCodec
from harness.machine.qmp import Qmp
from harness.util import Deadline, cmdline, pdeathsig_prefix

log = logging.getLogger("harness")

FWD_ERROR = "Could not set up host forwarding rule"
PANIC_RE = re.compile(r"Kernel panic - not syncing|---\[ end Kernel panic")


# ---------------------------------------------------------------- kernel command line

def _default_cmdline(profile: ArchProfile) -> list[str]:
    # pty.legacy_count=0: 256 legacy BSD ptys cost ~0.9 s of boot under TCG (pty_init).
    base = [f"console={profile.console}", "panic=-1", "printk.devkmsg=on", "pty.legacy_count=0",
            "softlockup_panic=0", "hung_task_panic=0",
            "sysctl.kernel.hung_task_timeout_secs=60", "rcupdate.rcu_cpu_stall_timeout=60"]
    if profile.name == "x86_64":
        # 8250.nr_uarts=1: one serial port is all either machine has (4 probed: ~60 ms)
        base += ["no_timer_check", "tsc=reliable", "8250.nr_uarts=1"]
    return base


def _key(arg: str) -> str:
    return arg.split("=", 1)[0]


def kernel_cmdline(profile: ArchProfile, extra: Sequence[str] = ()) -> str:
    """Profile defaults, then `extra`; an extra `key=value` replaces a default with that key.

    THP options (`transparent_hugepage=`, `thp_anon=`, ...) pass through unchanged.
    """
    override = {_key(a) for a in extra}
    kept = [a for a in _default_cmdline(profile) if _key(a) not in override]
    return " ".join(kept + [a for a in extra if a])


# ------------------------------------------------------------------------ machine spec

@dataclass(frozen=True)
class MachineSpec:
    profile: ArchProfile
    kernel: Path
    accel: str                          # "kvm" | "tcg"
    initrd: Path | None = None
    mem: str = "1G"
    cpus: int = 2
    numa_nodes: int = 0                 # 0: no NUMA topology
    cmdline: str = ""
    ssh_port: int = 0
    name: str = "kharness"
    pidfile: Path | None = None
    extra_args: tuple[str, ...] = ()
    disk: Path | None = None            # root disk, attached copy-on-write
    disk_format: str = "raw"            # raw (kharness rootfs) | qcow2 (cloud images)
    seed: Path | None = None            # cloud-init NoCloud seed, a second read-only disk


def mem_mib(mem: str) -> int:
    m = re.fullmatch(r"(\d+)\s*([MmGg]?)", mem.strip())
    if not m:
        raise InfrastructureError(f"bad memory size {mem!r}", "use e.g. 512M or 2G")
    return int(m.group(1)) * (1024 if m.group(2).lower() == "g" else 1)


def smp(cpus: int, nodes: int) -> str:
    """`-smp` value: one socket per NUMA node when the CPUs split evenly. With all CPUs in
    one socket spread over nodes, x86_64 warns at boot ("llc-sibling CPU #0 is not on the
    same node", smpboot.c topology_sane): a splat the harness itself would have caused."""
    if nodes > 0 and cpus >= nodes and cpus % nodes == 0:
        return f"{cpus},sockets={nodes},cores={cpus // nodes},threads=1"
    return str(cpus)


def numa_args(mem: str, cpus: int, nodes: int) -> list[str]:
    """Even split of memory; CPUs in contiguous blocks (a node may get none)."""
    if nodes <= 0:
        return []
    total, args = mem_mib(mem), []
    per_cpu = max(1, cpus // nodes) if cpus >= nodes else 1
    for i in range(nodes):
        size = total // nodes + (total % nodes if i == nodes - 1 else 0)
        args += ["-object", f"memory-backend-ram,id=ram{i},size={size}M"]
        first, last = i * per_cpu, min(cpus, (i + 1) * per_cpu) - 1
        if i == nodes - 1:
            last = cpus - 1
        cpu_opt = f",cpus={first}-{last}" if first <= last else ""
        args += ["-numa", f"node,nodeid={i}{cpu_opt},memdev=ram{i}"]
    return args


# Machines, measured under TCG (bench/boot.py): x86_64 runs on microvm with ACPI off
# (the kernel builds neither ACPI nor PCI): qboot's MP table gives the CPUs and IRQ
# routing, and QEMU appends the virtio-mmio devices to the kernel command line
# (virtio_mmio.device=..., done only when the machine's ACPI is off). It has no HPET/PM
# timer, so under TCG the VM passes the host's TSC rate (harness.machine.tsc; PIT calibration
# alone fails on a busy host). NUMA guests need ACPI SRAT, which QEMU builds only for q35:
# they boot on the profile's numa_machine with virtio-pci devices (kconfigs/x86_64/
# numa.config adds ACPI + PCI). q35 runs without PS/2 (its probe costs ~0.3 s; sysrq goes
# over the serial port), SMBus and AHCI, on qboot (a -kernel boot needs no BIOS services);
# microvm brings its own qboot build.
MACHINE_OPTS = {"q35": ",i8042=off,smbus=off,sata=off", "microvm": ",x-option-roms=off,acpi=off"}
FIRMWARE = {"q35": "qboot.rom"}                             # by machine type
QEMU_DATA_DIRS = (Path("/usr/share/qemu"), Path("/usr/local/share/qemu"))


def machine_type(spec: MachineSpec) -> str:
    p = spec.profile
    return p.numa_machine if spec.numa_nodes > 0 and p.numa_machine else p.qemu_machine


def firmware_args(machine: str) -> list[str]:
    name = FIRMWARE.get(machine)
    found = next((d / name for d in QEMU_DATA_DIRS if name and (d / name).is_file()), None)
    return ["-bios", str(found)] if found else []


def machine_for(spec: MachineSpec) -> str:
    machine = machine_type(spec)
    return machine + MACHINE_OPTS.get(machine, "")


def virtio_device(spec: MachineSpec, kind: str, options: str) -> str:
    """`-device` value for a virtio `kind` (net, blk, rng): PCI on q35, MMIO elsewhere."""
    bus = "pci" if machine_type(spec) == "q35" else "device"
    opts = [options] if options else []
    opts += ["romfile="] if bus == "pci" and kind == "net" else []   # no iPXE ROM to load
    return ",".join([f"virtio-{kind}-{bus}", *opts])


def machine_args(spec: MachineSpec) -> list[str]:
    p = spec.profile
    cpu = p.qemu_cpu_kvm if spec.accel == "kvm" else p.qemu_cpu_tcg
    args = [p.qemu_binary, "-name", f"guest={spec.name}", "-machine", machine_for(spec),
            "-accel", spec.accel, "-cpu", cpu, "-smp", smp(spec.cpus, spec.numa_nodes),
            "-m", spec.mem]
    args += firmware_args(machine_type(spec)) + numa_args(spec.mem, spec.cpus, spec.numa_nodes)
    args += ["-nodefaults", "-no-user-config", "-display", "none", "-no-reboot",
             "-kernel", str(spec.kernel), "-append", spec.cmdline]
    if spec.initrd is not None:
        args += ["-initrd", str(spec.initrd)]
    if spec.disk is not None:            # snapshot=on: the image stays as built
        drive = f"file={spec.disk},if=none,id=root,format={spec.disk_format},snapshot=on"
        args += ["-drive", drive, "-device", virtio_device(spec, "blk", "drive=root")]
    if spec.seed is not None:
        args += ["-drive", f"file={spec.seed},if=none,id=seed,format=raw,readonly=on",
                 "-device", virtio_device(spec, "blk", "drive=seed")]
    args += ["-netdev", f"user,id=net0,hostfwd=tcp:127.0.0.1:{spec.ssh_port}-:22",
             "-device", virtio_device(spec, "net", "netdev=net0"),
             "-device", virtio_device(spec, "rng", "")]
    args += list(p.qemu_extra) + list(spec.extra_args)
    if spec.pidfile is not None:
        args += ["-pidfile", str(spec.pidfile)]
    return args


def qemu_argv(spec: MachineSpec, console_fd: int, qmp_fd: int) -> list[str]:
    """The argv the harness runs: console and QMP on inherited socket fds."""
    return machine_args(spec) + [
        "-chardev", f"socket,id=con,fd={console_fd},server=on,wait=on,telnet=on",
        "-serial", "chardev:con",
        "-chardev", f"socket,id=qmp,fd={qmp_fd},server=off",
        "-mon", "chardev=qmp,mode=control"]


def reproducer_argv(spec: MachineSpec) -> list[str]:
    """Copy-paste form for a human: console on the terminal (Ctrl-A X quits), QMP socket."""
    return machine_args(spec) + ["-serial", "mon:stdio",
                                 "-qmp", "unix:qmp.sock,server=on,wait=off"]


# ------------------------------------------------------------------------------ ports

def free_port() -> int:
    """A currently free TCP port on 127.0.0.1, chosen by the kernel (bind port 0)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class PortCollision(InfrastructureError):
    """Another process took the forwarded port between probe and QEMU's bind: retry."""


# -------------------------------------------------------------- process registry/reaping

_LIVE: dict[int, subprocess.Popen[bytes]] = {}
_LIVE_LOCK = threading.Lock()
_handlers_installed = False


def kill_all() -> None:
    """Kill every QEMU this process started and has not reaped (atexit/signal path)."""
    with _LIVE_LOCK:
        procs = list(_LIVE.values())
        _LIVE.clear()
    for proc in procs:
        _killpg(proc.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=3)


def _killpg(pid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, sig)


def _on_signal(signum: int, frame: FrameType | None) -> None:
    kill_all()
    previous = _PREVIOUS.get(signum)
    if callable(previous):
        previous(signum, frame)
        return
    signal.signal(signum, signal.SIG_DFL)
    os.kill(os.getpid(), signum)


_PREVIOUS: dict[int, object] = {}


def _install_cleanup() -> None:
    """atexit + SIGTERM/SIGHUP handlers (main thread only); SIGINT stays KeyboardInterrupt."""
    global _handlers_installed
    if _handlers_installed:
        return
    _handlers_installed = True
    atexit.register(kill_all)
    if threading.current_thread() is not threading.main_thread():
        return
    for sig in (signal.SIGTERM, signal.SIGHUP):
        previous = signal.getsignal(sig)
        if previous in (signal.SIG_IGN,):
            continue
        _PREVIOUS[sig] = previous
        signal.signal(sig, _on_signal)


def _console_sockets() -> tuple[socket.socket, socket.socket]:
    """(listening socket for QEMU, our connected end).

    QEMU only honours telnet IAC BREAK (-> serial break -> sysrq) as a telnet *server*, so
    it gets a listening AF_UNIX socket (autobound abstract name: no file, no collisions)
    that we connect to before it even starts; wait=on makes it accept us at start-up.
    """
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind("")
    listener.listen(1)
    ours = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    ours.connect(listener.getsockname())
    return listener, ours


# ---------------------------------------------------------------------------- process

@dataclass
class QemuProcess:
    """One running QEMU. Use start()/stop() or `with`; stop() is idempotent."""

    spec: MachineSpec
    workdir: Path
    argv: list[str] = field(default_factory=list)
    proc: subprocess.Popen[bytes] | None = None
    console: ConsoleLog | None = None
    qmp: Qmp | None = None
    _reader: ConsoleReader | None = None
    _con_sock: socket.socket | None = None

    @property
    def console_path(self) -> Path:
        return self.workdir / "console.log"

    @property
    def stderr_path(self) -> Path:
        return self.workdir / "qemu.stderr"

    @property
    def pid(self) -> int:
        if not (self.proc is not None):
            raise HarnessBug("invariant failed: self.proc is not None")
        return self.proc.pid

    def start(self, timeout: float = 30.0) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        con_qemu, con_host = _console_sockets()
        qmp_host, qmp_qemu = socket.socketpair()
        self.argv = qemu_argv(self.spec, con_qemu.fileno(), qmp_qemu.fileno())
        log.info("qemu %s: %s", self.spec.name, cmdline(self.argv))
        self.console = ConsoleLog(self.console_path, PANIC_RE)
        self._con_sock = con_host
        try:
            self._spawn((con_qemu.fileno(), qmp_qemu.fileno()))
        finally:
            con_qemu.close()
            qmp_qemu.close()
        self._reader = ConsoleReader(con_host, self.console)
        self._reader.start()
        self.qmp = Qmp(qmp_host)
        self._handshake(Deadline(timeout))

    def _spawn(self, fds: tuple[int, int]) -> None:
        _install_cleanup()
        with open(self.stderr_path, "wb") as err, _LIVE_LOCK:
            self.proc = subprocess.Popen(
                pdeathsig_prefix() + self.argv, stdin=subprocess.DEVNULL, stdout=err,
                stderr=err, pass_fds=fds, start_new_session=True)
            _LIVE[self.proc.pid] = self.proc

    def _handshake(self, deadline: Deadline) -> None:
        """QMP greeting + query-status: answered only once QEMU finished initialising."""
        if not (self.qmp is not None):
            raise HarnessBug("invariant failed: self.qmp is not None")
        try:
            self.qmp.handshake(deadline.remaining())
            self.qmp.execute("query-status", timeout=deadline.remaining())
        except InfrastructureError as e:
            self.wait_exit(min(2.0, deadline.remaining()))
            err = self.stderr_text()
            self.stop()
            if FWD_ERROR in err:
                raise PortCollision(f"port {self.spec.ssh_port} taken", err.strip()) from e
            raise InfrastructureError("QEMU did not start", _tail(err) or str(e),
                                      f"try by hand: {cmdline(reproducer_argv(self.spec))}") from e

    def poll(self) -> int | None:
        return None if self.proc is None else self.proc.poll()

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def wait_exit(self, timeout: float) -> int | None:
        if self.proc is None:
            return None
        try:
            return self.proc.wait(timeout=max(0.0, timeout))
        except subprocess.TimeoutExpired:
            return None

    def stderr_text(self) -> str:
        try:
            return self.stderr_path.read_text(errors="backslashreplace")
        except OSError:
            return ""

    def sysrq(self, key: str) -> None:
        """Magic sysrq through the serial port: BREAK, then the key (works on 8250 and PL011)."""
        if self._con_sock is None:
            return
        try:
            self._con_sock.sendall(TelnetCodec.BREAK)
            time.sleep(0.2)
            self._con_sock.sendall(key.encode())
        except OSError:
            pass

    def stop(self, grace: float = 3.0) -> int | None:
        """Terminate, wait `grace` s, SIGKILL the process group, reap. Idempotent."""
        rc = None
        if self.proc is not None:
            if self.proc.poll() is None:
                self.proc.terminate()
            rc = self.wait_exit(grace)
            _killpg(self.proc.pid, signal.SIGKILL)     # also any leftover in its group
            if rc is None:
                rc = self.wait_exit(5.0)
            with _LIVE_LOCK:
                _LIVE.pop(self.proc.pid, None)
        self._close_io()
        return rc

    def _close_io(self) -> None:
        if self.qmp is not None:
            self.qmp.close()
        if self._reader is not None:
            self._reader.join(2.0)
        if self._con_sock is not None:
            self._con_sock.close()
            self._con_sock = None
        if self.console is not None:
            self.console.close()
        if self.spec.pidfile is not None:
            self.spec.pidfile.unlink(missing_ok=True)


def _tail(text: str, lines: int = 5) -> str:
    return " | ".join(text.strip().splitlines()[-lines:])
