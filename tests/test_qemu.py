"""Unit tests: QEMU argv, kernel command line, ports, accelerator policy, console, QMP.

No VM is booted here (see test_guest_vm.py for that); the console and QMP plumbing is
exercised over real sockets with a fake peer.
"""

from __future__ import annotations

import json
import platform
import re
import shlex
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from harness import arch
from harness.cli import boot as bootcli
from harness.errors import UserError
from harness.guest import ssh as guest
from harness.machine import accel, console, qemu, qmp, vm

X86 = arch.get("x86_64")
ARM = arch.get("arm64")


def spec(profile: arch.ArchProfile = X86, **kw: object) -> qemu.MachineSpec:
    base: dict[str, object] = {"profile": profile, "kernel": Path("/k/Image"), "accel": "tcg",
                                   "initrd": Path("/k/initrd"), "cmdline": "console=ttyS0",
                                   "ssh_port": 2222, "name": "t", "pidfile": Path("/w/qemu.pid")}
    base.update(kw)
    return qemu.MachineSpec(**base)  # type: ignore[arg-type]


def opt(argv: list[str], flag: str) -> list[str]:
    return [argv[i + 1] for i, a in enumerate(argv) if a == flag]


# ------------------------------------------------------------------------------ argv

def test_argv_x86_tcg() -> None:
    argv = qemu.qemu_argv(spec(), console_fd=7, qmp_fd=9)
    assert argv[0] == "qemu-system-x86_64"
    assert opt(argv, "-machine") == ["microvm,x-option-roms=off,acpi=off"]
    assert "-bios" not in argv                  # microvm brings its own firmware
    assert opt(argv, "-device") == ["virtio-net-device,netdev=net0", "virtio-rng-device"]
    assert opt(argv, "-accel") == ["tcg"]
    assert opt(argv, "-cpu") == [X86.qemu_cpu_tcg]
    assert opt(argv, "-kernel") == ["/k/Image"] and opt(argv, "-initrd") == ["/k/initrd"]
    assert opt(argv, "-append") == ["console=ttyS0"]
    assert "-no-reboot" in argv and "-nodefaults" in argv
    assert opt(argv, "-pidfile") == ["/w/qemu.pid"]
    assert "user,id=net0,hostfwd=tcp:127.0.0.1:2222-:22" in opt(argv, "-netdev")
    assert "socket,id=con,fd=7,server=on,wait=on,telnet=on" in opt(argv, "-chardev")
    assert "socket,id=qmp,fd=9,server=off" in opt(argv, "-chardev")
    assert opt(argv, "-serial") == ["chardev:con"]


def test_argv_arm64_kvm_uses_kvm_cpu() -> None:
    argv = qemu.qemu_argv(spec(ARM, accel="kvm"), 3, 4)
    assert argv[0] == "qemu-system-aarch64"
    assert opt(argv, "-machine") == [ARM.qemu_machine]
    assert opt(argv, "-cpu") == [ARM.qemu_cpu_kvm] and opt(argv, "-accel") == ["kvm"]
    assert opt(argv, "-device") == ["virtio-net-device,netdev=net0", "virtio-rng-device"]


def test_ssh_forward_binds_loopback_only() -> None:
    for argv in (qemu.qemu_argv(spec(), 1, 2), qemu.reproducer_argv(spec())):
        fwd = [a for a in opt(argv, "-netdev") if "hostfwd" in a]
        assert fwd and all("hostfwd=tcp:127.0.0.1:" in a for a in fwd)


def test_reproducer_is_copy_pasteable() -> None:
    argv = qemu.reproducer_argv(spec(cmdline="console=ttyS0 thp_anon=64K:always"))
    assert "fd=" not in " ".join(argv)
    assert opt(argv, "-serial") == ["mon:stdio"]
    assert shlex.split(shlex.join(argv)) == argv


def test_numa_topology() -> None:
    argv = qemu.qemu_argv(spec(mem="2G", cpus=4, numa_nodes=2), 1, 2)
    assert opt(argv, "-object") == ["memory-backend-ram,id=ram0,size=1024M",
                                    "memory-backend-ram,id=ram1,size=1024M"]
    assert opt(argv, "-numa") == ["node,nodeid=0,cpus=0-1,memdev=ram0",
                                  "node,nodeid=1,cpus=2-3,memdev=ram1"]
    # x86_64 NUMA needs SRAT: q35 (PCI virtio, qboot when installed), not microvm
    assert opt(argv, "-machine") == ["q35,i8042=off,smbus=off,sata=off"]
    assert "virtio-net-pci,netdev=net0,romfile=" in opt(argv, "-device")
    assert "virtio-rng-pci" in opt(argv, "-device")
    # one socket per node: CPUs of one socket on two nodes make x86_64 WARN at boot
    assert opt(argv, "-smp") == ["4,sockets=2,cores=2,threads=1"]
    assert qemu.smp(3, 2) == "3" and qemu.smp(2, 0) == "2" and qemu.smp(1, 2) == "1"
    arm = qemu.qemu_argv(spec(ARM, mem="2G", cpus=4, numa_nodes=2), 1, 2)
    assert opt(arm, "-machine") == [ARM.qemu_machine]
    assert "virtio-net-device,netdev=net0" in opt(arm, "-device")


def test_numa_memory_only_node_and_odd_sizes() -> None:
    args = qemu.numa_args("1000M", 1, 2)
    assert args[1].endswith("size=500M") and args[5].endswith("size=500M")
    assert "cpus=" in args[3] and "cpus=" not in args[7]
    assert qemu.numa_args("1G", 2, 0) == []


def test_mem_parsing() -> None:
    assert qemu.mem_mib("1G") == 1024 and qemu.mem_mib("512M") == 512
    with pytest.raises(Exception, match="bad memory size"):
        qemu.mem_mib("lots")


# ------------------------------------------------------------------- kernel cmdline

def test_cmdline_defaults_per_arch() -> None:
    x86, arm = qemu.kernel_cmdline(X86, ()), qemu.kernel_cmdline(ARM, ())
    assert "console=ttyS0" in x86.split() and "console=ttyAMA0" in arm.split()
    for line in (x86, arm):
        words = line.split()
        assert "panic=-1" in words and "printk.devkmsg=on" in words
        assert "softlockup_panic=0" in words and "hung_task_panic=0" in words
        assert any(w.startswith("sysctl.kernel.hung_task_timeout_secs=") for w in words)
        assert any(w.startswith("rcupdate.rcu_cpu_stall_timeout=") for w in words)


def test_cmdline_extra_passes_through_and_overrides() -> None:
    line = qemu.kernel_cmdline(X86, ["transparent_hugepage=always", "thp_anon=16K-64K:always",
                                     "panic=0", "rcupdate.rcu_cpu_stall_timeout=5"]).split()
    assert "transparent_hugepage=always" in line and "thp_anon=16K-64K:always" in line
    assert "panic=0" in line and "panic=-1" not in line
    assert [w for w in line if w.startswith("rcupdate.")] == ["rcupdate.rcu_cpu_stall_timeout=5"]


# ---------------------------------------------------------------------------- ports

def test_free_port_is_bindable_on_loopback() -> None:
    port = qemu.free_port()
    with socket.socket() as s:
        s.bind(("127.0.0.1", port))


def test_free_ports_do_not_repeat_quickly() -> None:
    ports = {qemu.free_port() for _ in range(20)}
    assert len(ports) >= 18


# ------------------------------------------------------------------- accel policy

@pytest.mark.parametrize("profile,host,works,expected", [
    (X86, "x86_64", True, "kvm"),
    (X86, "x86_64", False, "tcg"),
    (X86, "aarch64", True, "tcg"),
    (ARM, "aarch64", True, "kvm"),
    (ARM, "arm64", False, "tcg"),
    (ARM, "x86_64", True, "tcg"),
])
def test_choose_accel(profile: arch.ArchProfile, host: str, works: bool, expected: str) -> None:
    assert accel.choose_accel(profile, host, works) == expected


def test_timeout_scale() -> None:
    assert accel.timeout_scale("kvm") == 1.0
    assert accel.timeout_scale("tcg") >= 3.0


def test_accel_env_override(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KHARNESS_ACCEL", "tcg")
    assert accel.select(X86) == "tcg"
    monkeypatch.setenv("KHARNESS_ACCEL", "warp")
    with pytest.raises(UserError):
        accel.select(X86)


def test_foreign_arch_never_probes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("KHARNESS_ACCEL", raising=False)
    monkeypatch.setattr(platform, "machine", lambda: "x86_64")
    monkeypatch.setattr(accel, "kvm_verdict", lambda *a: pytest.fail("probed"))
    assert accel.select(ARM) == "tcg"


def test_kvm_verdict_cached_per_boot(monkeypatch: pytest.MonkeyPatch,
                                     isolated_cache: Path) -> None:
    calls: list[str] = []

    def fake_probe(profile: arch.ArchProfile, kernel: Path | None) -> accel.Verdict:
        calls.append(profile.name)
        return accel.Verdict(False, "KVM internal error")
    monkeypatch.setattr(accel, "probe", fake_probe)
    assert not accel.kvm_verdict(X86, None).works
    assert not accel.kvm_verdict(X86, Path("/k")).works
    assert calls == ["x86_64"]
    assert list((isolated_cache / "accel").glob("*-x86_64.json"))


def test_x86_probe_firmware_resets_into_debug_exit() -> None:
    fw = accel._x86_firmware()
    assert len(fw) == 65536 and fw[0xFFF0:0xFFF4] == bytes([0xB0, 0x31, 0xE6, 0xF4])


# ------------------------------------------------------------------ telnet, console

def test_telnet_strips_negotiation_across_chunks() -> None:
    codec = console.TelnetCodec()
    assert codec.decode(b"x" + bytes([255])) == b"x"
    assert codec.decode(bytes([251])) == b""
    assert codec.decode(bytes([1]) + b"ab") == b"ab"


def test_telnet_roundtrip_of_literal_ff() -> None:
    codec = console.TelnetCodec()
    assert codec.decode(console.TelnetCodec.escape(b"x\xffy")) == b"x\xffy"
    assert codec.decode(bytes([255, 250, 24, 1, 255, 240]) + b"z") == b"z"


def test_console_log_tees_lines_and_flags_panic(tmp_path: Path) -> None:
    log = console.ConsoleLog(tmp_path / "console.log", qemu.PANIC_RE)
    log.feed(b"[    1.0] hello\r\n[    1.1] par")
    assert (tmp_path / "console.log").read_bytes().endswith(b"par")   # flushed as it came
    mark = log.mark()
    log.feed(b"tial\n\xff\xfe bad utf8\nKernel panic - not syncing: sysrq triggered crash\n")
    assert log.since(mark).splitlines()[0] == "[    1.1] partial"
    assert "\\xff\\xfe bad utf8" in log.since(mark)
    assert log.alarm_line == 3
    assert log.wait_for(re.compile("sysrq"), 0.1) is not None
    assert log.wait_for(re.compile("never"), 0.1) is None
    log.close()


def test_console_marker_torn_by_a_kernel_record_is_still_seen(tmp_path: Path) -> None:
    # init's echo and a kernel printk raced on the serial line (seen in CI under load)
    log = console.ConsoleLog(tmp_path / "console.log", qemu.PANIC_RE)
    log.feed(b"[    1.72] Adding 65532k swap on /dev/zram0.\r\nkharness: sshd r")
    log.feed(b"[    1.743486] clocksource: tsc: mask: 0xffffffffffffffff\r\n")
    assert log.wait_for(vm.READY_RE, 0.1) is None        # the rest has not come yet
    log.feed(b"eady\r\n[    1.746068] clocksource: Switched to clocksource tsc\r\n")
    assert log.wait_for(vm.READY_RE, 0.1) == "kharness: sshd ready"
    assert log.wait_for(re.compile("clocksource: tsc"), 0.1) is not None
    assert log.wait_for(re.compile(r"sshd r\[|never"), 0.1) is not None   # (the raw line too)
    log.close()


def test_console_reader_thread_over_socket(tmp_path: Path) -> None:
    ours, theirs = socket.socketpair()
    log = console.ConsoleLog(tmp_path / "c.log", qemu.PANIC_RE)
    reader = console.ConsoleReader(ours, log)
    reader.start()
    theirs.sendall(bytes([255, 251, 1]) + b"kharness: sshd ready\n")
    assert log.wait_for(re.compile("sshd ready"), 5.0) == "kharness: sshd ready"
    theirs.close()
    reader.join(5)
    assert log.closed


# ----------------------------------------------------------------------------- QMP

def fake_qmp(sock: socket.socket) -> None:
    f = sock.makefile("rwb")
    f.write(b'{"QMP": {"version": {}, "capabilities": []}}\r\n')
    f.flush()
    for line in f:
        cmd = json.loads(line)["execute"]
        if cmd == "query-status":
            f.write(b'{"event": "STOP", "timestamp": {}}\r\n')
            f.write(b'{"return": {"status": "paused", "running": false}}\r\n')
        elif cmd == "bogus":
            f.write(b'{"error": {"class": "CommandNotFound", "desc": "no bogus"}}\r\n')
        else:
            f.write(b'{"return": {}}\r\n')
        f.flush()


def test_qmp_client_handshake_events_errors() -> None:
    ours, theirs = socket.socketpair()
    threading.Thread(target=fake_qmp, args=(theirs,), daemon=True).start()
    client = qmp.Qmp(ours)
    client.handshake(5)
    assert client.status() == "paused"
    assert client.events and client.events[0]["event"] == "STOP"
    with pytest.raises(qmp.QmpError, match="no bogus"):
        client.execute("bogus")
    client.close()


def test_qmp_timeout_is_infrastructure_error() -> None:
    ours, _theirs = socket.socketpair()
    with pytest.raises(qmp.QmpError, match="timed out"):
        qmp.Qmp(ours).handshake(0.2)


# --------------------------------------------------------------- reaping, guest bits

def test_kill_all_reaps_registered_process_group() -> None:
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"],
                            start_new_session=True)
    with qemu._LIVE_LOCK:
        qemu._LIVE[proc.pid] = proc
    t = time.monotonic()
    qemu.kill_all()
    assert proc.poll() is not None and time.monotonic() - t < 5
    assert proc.pid not in qemu._LIVE


@pytest.mark.parametrize("text,value", [
    ("always [madvise] never\n", "madvise"),
    ("[always] inherit madvise never\n", "always"),
    ("4096\n", "4096"),
])
def test_sysfs_value(text: str, value: str) -> None:
    assert guest.sysfs_value(text) == value


def test_ssh_key_roundtrip(tmp_path: Path) -> None:
    key = guest.SshKey.generate("t")
    assert key.public_line.startswith("ssh-ed25519 ") and key.public_line.endswith(" t\n")
    assert key.pkey().get_name() == "ssh-ed25519"
    path = key.write(tmp_path / "id")
    assert path.stat().st_mode & 0o777 == 0o600


def test_bootcli_splits_command_after_dashdash() -> None:
    import argparse
    p = argparse.ArgumentParser()
    bootcli.add_arguments(p)
    a = p.parse_args(["--kernel", "/k", "--arch", "arm64", "--", "sh", "-c", "echo --x"])
    assert a.kernel == Path("/k") and a.command == ["sh", "-c", "echo --x"]
    b = p.parse_args(["cfg.yaml", "--variant", "patched", "--arch", "x86_64"])
    assert b.config == "cfg.yaml" and b.variant == "patched" and b.command == []


def test_guess_arch(tmp_path: Path) -> None:
    arm = tmp_path / "Image"
    arm.write_bytes(b"\0" * 56 + b"ARM\x64" + b"\0" * 0x200)
    x86 = tmp_path / "bzImage"
    x86.write_bytes(b"\0" * 0x202 + b"HdrS" + b"\0" * 16)
    assert bootcli.guess_arch(arm) == "arm64" and bootcli.guess_arch(x86) == "x86_64"


def test_guess_arch_of_an_elf_vmlinux(tmp_path: Path) -> None:
    for machine, name in ((62, "x86_64"), (183, "arm64")):
        elf = tmp_path / f"vmlinux-{name}"
        elf.write_bytes(b"\x7fELF" + b"\0" * 14 + machine.to_bytes(2, "little") + b"\0" * 600)
        assert bootcli.guess_arch(elf) == name


def test_qemu_attaches_a_root_disk_copy_on_write(tmp_path: Path) -> None:
    spec = qemu.MachineSpec(arch.get("x86_64"), tmp_path / "k", "tcg", None, "1G", 2, 0,
                            "console=ttyS0", 2222, "d", disk=tmp_path / "root.ext4")
    argv = qemu.machine_args(spec)
    drive = argv[argv.index("-drive") + 1]
    assert drive == f"file={tmp_path / 'root.ext4'},if=none,id=root,format=raw,snapshot=on"
    assert "virtio-blk-device,drive=root" in argv and "-initrd" not in argv



@pytest.mark.parametrize("flags,disk", [([], False), (["--rootfs"], True),
                                        (["--disk", "/d.ext4"], True),
                                        (["--cloud-image", "local"], True)])
def test_boot_on_a_disk_builds_the_kernel_with_the_disk_fragment(
        flags: list[str], disk: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    import argparse

    from harness.kernel import build
    seen: dict[str, object] = {}

    class Built:
        image, arch = Path("/k/vmlinux"), "x86_64"

    def fake_build(config: str, arch: str, variant: str, **kw: object) -> Built:
        seen.update(kw)
        return Built()
    monkeypatch.setattr(build, "build_for_config", fake_build)
    p = argparse.ArgumentParser()
    bootcli.add_arguments(p)
    args = p.parse_args(["cfg.yaml", "--arch", "x86_64", *flags])
    assert bootcli.resolve_kernel(args) == (Path("/k/vmlinux"), "x86_64")
    assert seen["extra_fragments"] == (("disk",) if disk else ())
