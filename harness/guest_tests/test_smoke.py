"""Smoke: the guest boots, answers over SSH and exposes the THP sysfs tree."""

from __future__ import annotations

from typing import Any


def test_guest_answers(guest: Any, kh_target: Any) -> None:
    r = guest.run(["uname", "-m"], timeout=30)
    assert r.exit_code == 0
    assert r.stdout.strip() == {"x86_64": "x86_64", "arm64": "aarch64"}[kh_target.arch]


def test_thp_sysfs_present(guest: Any, kernel_features: dict[str, bool]) -> None:
    assert kernel_features["thp"], "kernel lacks THP/khugepaged sysfs"
    sizes = guest.run(["ls", "/sys/kernel/mm/transparent_hugepage/"], timeout=30).stdout
    assert "hugepages-2048kB" in sizes and "hugepages-64kB" in sizes
