"""VM() only records a frozen boot spec: no KVM probe, no key, no file checks until start()."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness import arch
from harness.errors import HarnessBug, UserError
from harness.guest import ssh
from harness.machine import accel, vm


def test_constructing_a_vm_has_no_side_effects(tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    def boom(*a: object, **k: object) -> None:
        raise AssertionError("side effect in VM()")
    monkeypatch.setattr(accel, "select", boom)
    monkeypatch.setattr(ssh.SshKey, "generate", boom)
    machine = vm.VM(tmp_path / "no-such-bzImage", "x86_64", workdir=tmp_path / "w", name="t",
                    rootfs=tmp_path / "no-disk")
    assert machine.spec.kernel == tmp_path / "no-such-bzImage" and machine.accel == ""
    assert not (tmp_path / "w").exists()
    with pytest.raises(HarnessBug, match="made in start"):
        _ = machine.key
    with pytest.raises(UserError, match="no kernel image"):
        machine.start()                                   # checked when it starts


def test_fail_fast_needs_a_detector(tmp_path: Path) -> None:
    kernel = tmp_path / "bzImage"
    kernel.write_bytes(b"x")
    spec = vm.BootSpec(kernel, "x86_64", tmp_path, "t", fail_fast=frozenset())
    with pytest.raises(HarnessBug, match="detector"):
        spec.check(arch.get("x86_64"))
