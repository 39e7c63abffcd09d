"""Smoke: the guest boots, answers over SSH and exposes the THP sysfs tree of its page
size (4K: PMD 2M, mTHP 16K..1M; arm64 16K: PMD 32M, 64K..16M; 64K: PMD 512M, 256K..256M)."""

from __future__ import annotations

from typing import Any

from harness.guest import knobs, workloads
from harness.guest import sysfs as thpsysfs
from harness.kernel import kconfig


def test_guest_answers(guest: Any, kh_target: Any) -> None:
    r = guest.run(["uname", "-m"], timeout=30)
    assert r.exit_code == 0
    assert r.stdout.strip() == {"x86_64": "x86_64", "arm64": "aarch64"}[kh_target.arch]


def test_thp_sysfs_present(guest: Any, kernel: Any, kernel_features: dict[str, bool]) -> None:
    assert kernel_features["thp"], "kernel lacks THP/khugepaged sysfs"
    config = kconfig.read_config(kernel.config)
    page = kconfig.base_page_size(config)
    layout = thpsysfs.ThpKnobs(guest).layout()
    assert workloads.info(guest)["page_size"] == page, "sysconf(_SC_PAGESIZE) in the guest"
    assert layout.page_size == page, f"the kernel is built for {page}-byte pages"
    ptes = page // 8                                 # 8-byte ptes fill one page
    assert layout.pmd_size == ptes * page and layout.max_ptes_limit == ptes - 1
    pmd_kb = layout.pmd_size // 1024
    want = [(page << order) // 1024 for order in range(2, layout.order(pmd_kb) + 1)]
    assert list(layout.anon_kb) == want, (
        f"anon sizes {[knobs.size_label(k) for k in layout.anon_kb]}: expected orders 2..PMD")
    limit = guest.read_file(f"{knobs.THP_ROOT}/khugepaged/max_ptes_none").strip()
    assert int(limit) <= layout.max_ptes_limit
