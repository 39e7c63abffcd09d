"""MADV_COLLAPSE stays PMD-only (transhuge.rst: "madvise_collapse only supports
collapsing to PMD-sized THPs and does not attempt mTHP collapses"; it ignores the sysfs
policies and max_ptes_*). With only order 4 enabled (64K with 4K pages) and a region that
is not even MADV_HUGEPAGE'd (so khugepaged leaves it alone), every PMD becomes one PMD
folio and no mTHP folio is allocated.
"""

from __future__ import annotations

from harness.guest import workloads
from harness.guest.support import Kh, census_pmds, knobset, observed

PATTERN = "first:64|full"


def test_madv_collapse_is_pmd_only(kh: Kh) -> None:
    env = kh.apply(knobset("madv-64K", sizes="order4", max_ptes_none=0), khugepaged=False)
    meter = kh.start_meter()
    w = kh.start("collapse", workloads.region_options("2pmd", PATTERN, advise="none"))
    ev = w.event("collapse") or {}
    got = kh.census(w)
    delta = meter.finish()
    assert ev.get("ok") == 2, f"MADV_COLLAPSE failed: {ev}"
    assert census_pmds(got) == ({env.pmd_order: env.ptes},) * 2, census_pmds(got)
    allocs = {order: observed(delta, env, order, "collapse_alloc") for order in
              (env.layout.order(kb) for kb in env.layout.anon_kb)}
    assert allocs.pop(env.pmd_order) in (2, None) and not any(allocs.values()), allocs
