"""Swap and shared ptes (transhuge.rst: max_ptes_swap, max_ptes_shared and the note
"For mTHP collapse, khugepaged does not support collapsing regions that contain shared
or swapped out pages").

The PTE-table scan applies max_ptes_swap / max_ptes_shared to the whole PMD whatever the
enabled orders (a PMD over the limit is skipped and counted in the PMD size's stats);
under the limits, the PMD order swaps pages in / copies shared pages, while an mTHP range
holding one swap or shared pte fails after its folio was allocated and counts in that
size's collapse_exceed_swap_pte / collapse_exceed_shared_pte. With max_ptes_none=0 such a
range (a swap pte is not "present") is not even tried, so nothing is counted.
"""

from __future__ import annotations

from collections.abc import Mapping

import pytest

from harness.guest import knobs, workloads
from harness.guest.support import (
    Effective,
    Kh,
    census_message,
    census_pmds,
    combined,
    expect,
    region_layout,
    settle,
    stat_mismatches,
)

# PMD 0: two swap ptes (chunks 0 and 6 of 64K with 4K pages); PMD 1: max_ptes_swap + 1
# (its default is HPAGE_PMD_NR / 8: 65 with 4K pages, 257 with 16K).


def swapped(env: Effective) -> str:
    return f"ptes:0,100|first:{env.max_ptes_swap + 1}"


def _precondition(ok: bool, what: str) -> None:
    if not ok:
        pytest.fail(f"workload precondition not met: {what}", pytrace=False)


@pytest.mark.needs("swap")
def test_swap_ptes(kh: Kh, knobset: knobs.KnobSet) -> None:
    env = kh.apply(knobset)
    over = env.max_ptes_swap + 1
    lay = region_layout(env, 2, "full", swapped=swapped(env))
    want = expect(kh.model(), env, lay)
    meter = kh.start_meter()
    w = kh.start("swapout", [*workloads.region_options("2pmd", "full"), "--pages", swapped(env)])
    ev = w.event("pageout") or {}
    _precondition(ev.get("swapped") == ev.get("requested") == 2 + over, f"MADV_PAGEOUT: {ev}")
    got = settle(meter, lambda: kh.census(w), want.census, w.pid)
    workloads.verify(kh.guest, w)
    delta = meter.finish()
    assert census_pmds(got) == want.census, census_message(got, want, env)
    assert got.raw["pmds"][1]["swapped"] == over, "the PMD over max_ptes_swap was swapped in"
    _no_mthp_over(got.pmds[0], env, "a swap pte")
    assert not stat_mismatches(delta, env, want), stat_mismatches(delta, env, want)


def test_shared_ptes(kh: Kh, knobset: knobs.KnobSet) -> None:
    """fork(); the child writes (COW) all but 64K chunk 0 of PMD 0 and all but the last
    312 ptes of PMD 1: those stay shared by parent and child (both scanned). The parent
    writes nothing after the fork: its ptes stay read-only (matters where the scan wants
    a writable pte, SCAN_PAGE_RO: 6.12)."""
    env = kh.apply(knobset)
    chunks = env.ptes * env.layout.page_size // (64 << 10)
    shared = f"chunks:64K:0|last:{env.ptes - 200}"
    child_writes = f"chunks:64K:1-{chunks - 1}|first:200"
    model = kh.model()
    want = expect(model, env, region_layout(env, 2, "full", shared=shared, written="none"))
    want_child = expect(model, env, region_layout(env, 2, "full", shared=shared,
                                                  written=child_writes))
    meter = kh.start_meter()
    w = kh.start("fork-share", [*workloads.region_options("2pmd", "full"),
                                "--child-writes", child_writes])
    child = int((w.event("fork") or {})["child"])
    got = settle(meter, lambda: kh.census(w), want.census, w.pid)
    child_census = settle(meter, lambda: workloads.census_of(
        kh.guest, child, w.region.addr, w.region.len, True), want_child.census, w.pid,
        first=1, budget=5)
    workloads.verify(kh.guest, w)
    delta = meter.finish()
    assert census_pmds(got) == want.census, "parent\n" + census_message(got, want, env)
    assert census_pmds(child_census) == want_child.census, "child\n" + census_message(
        child_census, want_child, env)
    _no_mthp_over(got.pmds[0], env, "a shared pte")
    both = combined(want, want_child)
    assert not stat_mismatches(delta, env, both), stat_mismatches(delta, env, both)


def _no_mthp_over(pmd0: Mapping[int, int], env: Effective, what: str) -> None:
    """Model-free: with only mTHP orders enabled, the ranges holding `what` in PMD 0
    (two 64K chunks' worth at most) stay small pages."""
    if env.pmd_order not in env.enabled and env.enabled:
        assert pmd0.get(0, 0) > 0, f"an mTHP range holding {what} was collapsed: {pmd0}"
