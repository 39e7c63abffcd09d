"""PMD collapse honours max_ptes_swap, and khugepaged survives the bail-out.

A PMD range with more swap ptes than khugepaged/max_ptes_swap is not collapsed: the scan
gives up (collapse_scan_pmd's swap bail-out), counts thp_scan_exceed_swap_pte and the
per-size collapse_exceed_swap_pte (7.2), and khugepaged carries on scanning. This is the
error path where the v5 review of the mTHP series found a lock/RCU leak, and the target
of the bisect demonstration (examples/bisect-demo.yaml): a kernel that returns from it
holding the PTE lock prints "BUG: scheduling while atomic" and locks up, which the splat
guard turns into a failure.
"""

from __future__ import annotations

from typing import Any

import pytest

from harness.guest import counters, knobs, workloads

SWAPPED = 128          # > the default max_ptes_swap (64) in each PMD


def test_swap_bailout(guest: Any, vm: Any, thp: Any, kernel_features: dict[str, bool],
                      kh_record: dict[str, Any]) -> None:
    if not kernel_features["zram"]:
        pytest.skip("guest has no zram swap")
    layout = thp.layout()
    limit = layout.max_ptes_limit
    ks = knobs.expand_matrix({"name": "pmd-swap", "sizes": ["PMD"], "enabled": "madvise",
                              "max_ptes_none": limit, "max_ptes_swap": 64,
                              "scan_sleep_millisecs": 100, "alloc_sleep_millisecs": 100,
                              "pages_to_scan": 4096}, "test_swap_bailout")[0]
    thp.apply(ks)
    w = workloads.start_swapout(guest, "2pmd", "full", f"first:{SWAPPED}")
    with workloads.held(guest, w):
        series = counters.wait_full_scans(guest, 3, 30, scale=vm.scale, pid=w.pid)
        census = workloads.census(guest, w)
        workloads.verify(guest, w)          # raises if any page lost its contents
    delta = counters.total(series)
    print(counters.table(series))
    kh_record["counters"] = {f"{kb}kB": dict(stats) for kb, stats in delta.sizes.items()}
    kh_record["per_scan"] = [d.flat() for d in counters.per_scan(series)]
    kh_record["census"] = dict(census)
    assert delta.vmstat.get("thp_scan_exceed_swap_pte", 0) > 0, delta.nonzero()
    if kernel_features["mthp_collapse"]:
        assert delta.stat(layout.pmd_size // 1024, "collapse_exceed_swap_pte") > 0, \
            delta.nonzero()
    assert census.at_least(layout.order(layout.pmd_size // 1024)) == 0, \
        "a PMD with too many swap ptes was collapsed"
