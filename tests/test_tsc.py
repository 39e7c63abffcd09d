"""harness.machine.tsc (host TSC rate) and the tsc_early_khz= the VM passes to x86_64 TCG guests."""

from __future__ import annotations

import platform

import pytest

from harness import arch
from harness.machine import tsc
from harness.machine.vm import tsc_args

X86, ARM = arch.get("x86_64"), arch.get("arm64")


def test_khz_from_ticks_and_nanoseconds() -> None:
    assert tsc.khz_from(2_000_000, 1_000_000) == 2_000_000          # 2 GHz
    assert tsc.khz_from(99_831, 50_000) == 1_996_620


@pytest.mark.skipif(platform.machine() != "x86_64", reason="RDTSC: x86_64 hosts only")
def test_host_rate_is_measured_and_plausible() -> None:
    khz = tsc.host_tsc_khz()
    assert khz is not None and 100_000 <= khz <= 10_000_000
    assert tsc.host_tsc_khz() == khz                                  # cached


def test_tsc_args_only_for_x86_tcg_on_microvm(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tsc, "host_tsc_khz", lambda: 1_996_250)
    assert tsc_args(X86, "tcg", 0, ()) == ["tsc_early_khz=1996250"]
    assert tsc_args(X86, "kvm", 0, ()) == []                          # kvm-clock
    assert tsc_args(ARM, "tcg", 0, ()) == []
    assert tsc_args(X86, "tcg", 2, ()) == []                          # NUMA: q35 has an HPET
    assert tsc_args(X86, "tcg", 0, ("tsc_early_khz=1000000",)) == []  # the user's wins


def test_tsc_args_without_a_host_rate(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tsc, "host_tsc_khz", lambda: None)
    assert tsc_args(X86, "tcg", 0, ()) == []
