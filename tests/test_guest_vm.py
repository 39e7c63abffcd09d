"""Integration: real QEMU, real kernels, real SSH. Both arches.

Kernels: $KHARNESS_TEST_KERNEL_X86_64 / $KHARNESS_TEST_KERNEL_ARM64 when set (a missing
file there skips that arch, naming it), else the baseline of examples/quickstart.yaml, built
through the cache (tests/test_build_real.py builds it first, so this is a cache hit).
The guest image is harness.image.initramfs.initramfs(arch) unless $KHARNESS_TEST_INITRD_<ARCH>.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness import arch as arch_mod
from harness.config import DISK_FRAGMENT
from harness.guest.ssh import GuestCrashed, GuestLockup, GuestTimeout, Outcome, SplatAbort
from harness.machine import qemu
from harness.machine.vm import VM
from harness.splats.parse import start_kind

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parent.parent
ARCHS = ("x86_64", "arm64")
QUICKSTART = ROOT / "examples" / "quickstart.yaml"
UNAME_M = {"x86_64": "x86_64", "arm64": "aarch64"}
THP_64K = "/sys/kernel/mm/transparent_hugepage/hugepages-64kB/enabled"


def kernel_path(arch: str, disk: bool = False) -> Path:
    """The quickstart baseline kernel; with disk, plus the disk fragment (ext4, systemd)."""
    var = f"KHARNESS_TEST_KERNEL_{arch.upper()}{'_DISK' if disk else ''}"
    if var in os.environ:
        path = Path(os.environ[var])
        if not path.is_file():
            pytest.skip(f"no {arch} kernel at {path} (${var})")
        return path
    from harness.kernel import build
    return build.build_for_config(QUICKSTART, arch, "baseline",
                                  extra_fragments=(DISK_FRAGMENT,) if disk else ()).image


def first_available_arch() -> str:
    return ARCHS[0]


def initrd_path(arch: str) -> Path | None:
    env = os.environ.get(f"KHARNESS_TEST_INITRD_{arch.upper()}")
    return Path(env) if env else None


@pytest.fixture(params=["x86_64", "arm64"])
def arch(request: pytest.FixtureRequest) -> str:
    kernel_path(request.param)
    return str(request.param)


@pytest.fixture
def vm(arch: str, tmp_path: Path) -> Iterator[VM]:
    with VM(kernel_path(arch), arch, workdir=tmp_path / "vm", name=f"t-{arch}", mem="512M",
            zram="64M", initrd=initrd_path(arch)) as machine:
        yield machine
    assert_reaped(machine)


def qemu_running(pid: int) -> bool:
    """Alive and not a zombie (an unreaped zombie no longer runs anything)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def assert_reaped(machine: VM) -> None:
    assert machine.qemu is not None
    assert machine.qemu.poll() is not None, "QEMU still running after the VM closed"
    assert not qemu_running(machine.qemu.pid)


# ----------------------------------------------------------------- drive a guest

def test_boot_run_and_files(vm: VM, arch: str, tmp_path: Path) -> None:
    result = vm.guest.run(["uname", "-m"], timeout=30 * vm.scale)
    assert result.exit_code == 0 and result.stdout.strip() == UNAME_M[arch]
    assert result.duration > 0
    r = vm.guest.run(["sh", "-c", "echo out; echo err >&2; exit 7"], timeout=30)
    assert (r.exit_code, r.stdout, r.stderr) == (7, "out\n", "err\n")
    quoted = vm.guest.run(["printf", "%s|", "a b", "$HOME", "it's"], timeout=30)
    assert quoted.stdout == "a b|$HOME|it's|"
    vm.guest.put(b"\x00\x01binary\xff" * 1000, "/tmp/blob")
    got = vm.guest.get("/tmp/blob", tmp_path / "blob")
    assert got.read_bytes() == b"\x00\x01binary\xff" * 1000
    assert "MemTotal" in vm.guest.read_file("/proc/meminfo")
    assert "/dev/zram0" in vm.guest.read_file("/proc/swaps")
    assert vm.boot_seconds > 0 and vm.console_path.is_file()
    meta = (vm.workdir / "vm.json").read_text()
    assert '"accel"' in meta and "qemu-system" in meta and '"phase": "ready"' in meta


def test_thp_sysfs_write_and_readback(vm: VM) -> None:
    for choice in ("always", "never", "inherit", "madvise"):
        vm.guest.write_sysfs(THP_64K, choice)
        assert f"[{choice}]" in vm.guest.read_file(THP_64K)
    with pytest.raises(Exception, match="cannot write"):
        vm.guest.write_sysfs(THP_64K, "sometimes")


def test_kmsg_markers_reach_dmesg_and_console(vm: VM) -> None:
    vm.guest.mark_test_start("tests/x.py::test_a[64K]")
    vm.guest.kmsg("hello from the host")
    vm.guest.mark_test_end("tests/x.py::test_a[64K]")
    dmesg = vm.guest.dmesg()
    assert "kharness: test start tests/x.py::test_a[64K]" in dmesg
    assert "hello from the host" in dmesg
    assert "kharness: test end tests/x.py::test_a[64K]" in dmesg


# ------------------------------------------------------------- findings, evidence

def test_crash_is_reported_with_panic_text(vm: VM) -> None:
    with pytest.raises(GuestCrashed) as info:
        vm.guest.run(["sh", "-c", "echo c > /proc/sysrq-trigger"], timeout=30 * vm.scale)
    err = info.value
    assert err.outcome == Outcome.CRASH and err.console_path == vm.console_path
    assert "Kernel panic - not syncing: sysrq triggered crash" in err.evidence
    assert (vm.workdir / "evidence.txt").read_text() == err.evidence
    assert not vm.qemu.alive()  # type: ignore[union-attr]


def test_stopped_guest_is_a_lockup_within_its_timeout(vm: VM) -> None:
    vm.qmp.stop()
    start = time.monotonic()
    with pytest.raises(GuestLockup) as info:
        vm.guest.run(["true"], timeout=3)
    assert time.monotonic() - start < 3 + 5
    assert info.value.outcome == Outcome.LOCKUP
    assert "outlived its 3s timeout" in info.value.evidence
    assert "QMP query-status: paused" in info.value.evidence


def test_unreachable_guest_gets_serial_sysrq_evidence(vm: VM) -> None:
    """SSH wedged (sshd stopped), kernel alive: BREAK+sysrq over the serial console."""
    with pytest.raises(GuestLockup) as info:
        vm.guest.run(["sh", "-c", "kill -STOP $(cat /run/dropbear.pid) $PPID"], timeout=3)
    ev = info.value.evidence
    assert "sysrq: Show Blocked State" in ev
    assert "sysrq: Show backtrace of all active CPUs" in ev
    assert "sysrq: Show Locks Held" in ev


def test_slow_command_on_live_guest_is_a_timeout(vm: VM) -> None:
    with pytest.raises(GuestTimeout) as info:
        vm.guest.run(["sleep", "600"], timeout=3)
    assert info.value.outcome == Outcome.TIMEOUT
    assert "SSH still answers" in info.value.evidence
    assert "sysrq: Show Blocked State" in info.value.evidence


def test_fail_fast_abandons_the_command_at_a_watched_splat(arch: str, tmp_path: Path) -> None:
    """fail_fast={"rcu"}: a WARNING (not watched) lets the command finish; an RCU splat on the
    console ends a 600 s command within seconds, with the report as evidence. The splat text
    is written to /dev/kmsg by the test so it reaches the real serial console."""
    warn = "WARNING: CPU: 1 PID: 77 at mm/khugepaged.c:1 kh_fake+0x0/0x10"
    rcu = "WARNING: suspicious RCU usage"
    with VM(kernel_path(arch), arch, workdir=tmp_path / "vm", name=f"ff-{arch}", mem="512M",
            initrd=initrd_path(arch), fail_fast=frozenset({"rcu"}),
            detect=start_kind) as machine:
        ok = machine.guest.run(["sh", "-c", f"echo '{warn}' > /dev/kmsg; sleep 2"],
                               timeout=30 * machine.scale)
        assert ok.exit_code == 0
        start = time.monotonic()
        with pytest.raises(SplatAbort) as info:
            machine.guest.run(["sh", "-c", f"echo '{rcu}' > /dev/kmsg; sleep 600"],
                              timeout=600)
        assert time.monotonic() - start < 5 + 4 * machine.scale
        assert info.value.outcome == Outcome.ABORTED and machine.outcome == Outcome.ABORTED
        assert "fail-fast: a rcu splat appeared on the console" in info.value.evidence
        assert rcu in info.value.evidence
        assert not machine.qemu.alive()  # type: ignore[union-attr]
    assert_reaped(machine)


@pytest.mark.parametrize("disk_arch", [
    "x86_64",
    # the arm64 disk kernel is a cold build of its own (~8 min of CPU in CI): slow target
    pytest.param("arm64", marks=pytest.mark.slow)])
def test_rootfs_disk_boots_with_a_fuller_userland(disk_arch: str, tmp_path: Path) -> None:
    """images/rootfs.yaml: a Debian ext4 root disk (mmdebstrap), booted copy-on-write with the
    kernel under test; python3 and stress-ng run in the guest, the image stays unchanged."""
    from harness.image import rootfs
    arch = disk_arch
    if os.geteuid() != 0 or not shutil.which("mmdebstrap"):
        pytest.skip("building the root disk needs root and mmdebstrap")
    disk = rootfs.rootfs_disk(arch)
    before = disk.stat().st_mtime_ns
    with VM(kernel_path(arch, disk=True), arch, workdir=tmp_path / "vm", name=f"disk-{arch}",
            mem="1G", rootfs=disk) as machine:
        out = machine.guest.run(["python3", "-c", "import os; print(os.uname().machine)"],
                                timeout=60 * machine.scale)
        assert out.stdout.strip() == UNAME_M[arch], out
        assert machine.guest.run(["stress-ng", "--version"], timeout=30 * machine.scale).ok
        assert "/dev/root" in machine.guest.read_file("/proc/mounts")
        machine.guest.run(["sh", "-c", "echo scratch > /root/written"], check=True)
    assert disk.stat().st_mtime_ns == before            # snapshot=on: writes stay in QEMU
    assert_reaped(machine)


def test_cloud_image_boots_with_cloud_init(tmp_path: Path) -> None:
    """A cloud image (systemd + cloud-init) through the public-image path: verified by sha256
    (a local file here: no internet), booted copy-on-write with the kernel under test and a
    NoCloud seed that lets root in with the run's ephemeral key. The image is the local
    stand-in (images/cloud-local.yaml), built like Debian's genericcloud: host arch only."""
    from harness import util
    from harness.image import cloud
    arch = arch_mod.host_profile()
    if arch is None or os.geteuid() != 0 or not shutil.which("mmdebstrap") \
            or not (shutil.which("genisoimage") or shutil.which("xorriso")):
        pytest.skip("the local cloud image needs the host arch, root, mmdebstrap, genisoimage")
    local = cloud.local_image(arch.name)
    image = cloud.cloud_image(str(local), util.sha256_file(local))
    assert image == local.resolve()                    # a local file is not copied
    before = image.stat().st_mtime_ns
    with VM(kernel_path(arch.name, disk=True), arch.name, workdir=tmp_path / "vm", name="cloud",
            mem="1G", cloud=cloud.CloudBoot(image)) as machine:
        g = machine.guest
        assert g.read_file("/proc/1/comm").strip() == "systemd"
        assert "root=/dev/vda1" in g.read_file("/proc/cmdline")
        status = g.run(["cloud-init", "status", "--wait"], timeout=120 * machine.scale)
        assert "status: done" in status.stdout, status
        # the key came from the seed: cloud-init wrote it for root
        assert machine.key.public_line.split()[1] in g.read_file("/root/.ssh/authorized_keys")
        assert g.run(["uname", "-m"]).stdout.strip() == UNAME_M[arch.name]
        g.write_sysfs(THP_64K, "always")
        assert "[always]" in g.read_file(THP_64K)
        mounts = g.read_file("/proc/mounts")
        # root mounted by the kernel (no initramfs): /proc/mounts calls it /dev/root
        assert any(line.split()[:3] in (["/dev/root", "/", "ext4"], ["/dev/vda1", "/", "ext4"])
                   for line in mounts.splitlines()), mounts
    assert image.stat().st_mtime_ns == before            # snapshot=on: writes stay in QEMU
    assert_reaped(machine)


def test_panic_during_boot_is_a_crash(arch: str, tmp_path: Path) -> None:
    machine = VM(kernel_path(arch), arch, workdir=tmp_path / "vm", name="bootpanic",
                 mem="512M", cmdline_extra=["rdinit=/nonexistent"], initrd=initrd_path(arch))
    start = time.monotonic()
    with pytest.raises(GuestCrashed) as info:
        machine.start()
    assert "Kernel panic - not syncing" in info.value.evidence
    assert time.monotonic() - start < 60 * machine.scale
    assert_reaped(machine)


# ------------------------------------------------------------ ports, collisions

def quick_qemu(arch: str, tmp_path: Path, name: str, port: int) -> qemu.QemuProcess:
    profile = arch_mod.get(arch)
    spec = qemu.MachineSpec(profile, kernel_path(arch), "tcg", None, "256M", 1, 0,
                            qemu.kernel_cmdline(profile), port, name)
    return qemu.QemuProcess(spec, tmp_path / name)


def test_parallel_qemus_get_distinct_ports_and_are_reaped(tmp_path: Path) -> None:
    arch = first_available_arch()
    procs = [quick_qemu(arch, tmp_path, f"p{i}", qemu.free_port()) for i in range(4)]
    try:
        for p in procs:
            p.start()
        ports = {p.spec.ssh_port for p in procs}
        assert len(ports) == 4 and all(p.alive() for p in procs)
    finally:
        for p in procs:
            p.stop()
    assert not any(qemu_running(p.pid) for p in procs if p.proc is not None)


def test_taken_port_is_reported_as_collision(tmp_path: Path) -> None:
    import socket
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen(1)
        proc = quick_qemu(first_available_arch(), tmp_path, "c", squatter.getsockname()[1])
        with pytest.raises(qemu.PortCollision):
            proc.start()
        assert proc.poll() is not None


# -------------------------------------------------- no QEMU outlives the harness

CHILD = textwrap.dedent("""
    import signal, sys, time
    from pathlib import Path
    from harness.machine.vm import VM
    # Ctrl-C as in a terminal: a shell starts background jobs with SIGINT ignored (SigIgn
    # 0x6 under `( cmd & )`), which children inherit; Python then never raises
    # KeyboardInterrupt and the ctrl-c case would test nothing but the ignore.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    kernel, arch, workdir = Path(sys.argv[1]), sys.argv[2], Path(sys.argv[3])
    initrd = Path(sys.argv[4]) if len(sys.argv) > 4 else None
    with VM(kernel, arch, workdir=workdir, name="child", mem="512M", initrd=initrd) as vm:
        print("QEMU", vm.qemu.pid, flush=True)
        while True:
            time.sleep(1)
""")


def start_child(arch: str, tmp_path: Path) -> tuple[subprocess.Popen[str], int]:
    script = tmp_path / "child.py"
    script.write_text(CHILD)
    argv = [sys.executable, str(script), str(kernel_path(arch)), arch, str(tmp_path / "vm")]
    initrd = initrd_path(arch)
    argv += [str(initrd)] if initrd else []
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    child = subprocess.Popen(argv, stdout=subprocess.PIPE, text=True, env=env)
    assert child.stdout is not None
    line = child.stdout.readline()
    assert line.startswith("QEMU "), f"child did not boot a VM: {line!r}"
    pid = int(line.split()[1])
    assert qemu_running(pid)
    return child, pid


def wait_gone(pid: int, timeout: float) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if not qemu_running(pid):
            return True
        time.sleep(0.1)
    return False


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM, signal.SIGKILL],
                         ids=["ctrl-c", "sigterm", "kill-9"])
def test_no_qemu_survives_the_harness(sig: int, tmp_path: Path) -> None:
    arch = first_available_arch()
    child, pid = start_child(arch, tmp_path)
    try:
        child.send_signal(sig)
        child.wait(timeout=30)
        assert wait_gone(pid, 10), f"QEMU {pid} survived {signal.Signals(sig).name}"
    finally:
        if child.poll() is None:
            child.kill()
        if qemu_running(pid):
            os.kill(pid, signal.SIGKILL)


@pytest.mark.slow
def test_x86_numa_guest_on_q35_boots_clean(tmp_path: Path) -> None:
    """x86_64 NUMA: the numa fragment (NUMA + ACPI + PCI + virtio-pci) on q35 with SRAT; two
    nodes with one socket each, and no splat at boot (one socket split over two nodes made
    x86 WARN in topology_sane before the -smp sockets fix). Slow: its own cold build."""
    from harness.kernel import build
    from harness.splats import parse as splats
    kernel = build.build_for_config(QUICKSTART, "x86_64", "baseline",
                                    extra_fragments=("numa",)).image
    with VM(kernel, "x86_64", workdir=tmp_path / "vm", name="numa", mem="1G", cpus=2,
            numa_nodes=2) as machine:
        g = machine.guest
        assert g.run(["cat", "/sys/devices/system/node/online"]).stdout.strip() == "0-1"
        assert [g.read_file(f"/sys/devices/system/node/node{n}/cpulist").strip()
                for n in (0, 1)] == ["0", "1"]
        assert qemu.machine_type(machine.qemu.spec) == "q35"  # type: ignore[union-attr]
    assert splats.parse_file(machine.console_path) == []
    assert_reaped(machine)
