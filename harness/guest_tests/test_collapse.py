"""khugepaged collapse of anonymous ranges (Documentation/admin-guide/mm/transhuge.rst,
"Khugepaged controls"; mm/khugepaged.c: collapse_scan_pmd, mthp_collapse).

Fully populated ranges of an enabled size collapse; ranges with empty ptes collapse only
when max_ptes_none allows it: for mTHP orders 0 means none may be empty and
HPAGE_PMD_NR - 1 collapses to the largest enabled order that has a present pte. The
expected census comes from the kernel's model (khsupport.expect); the direct checks
next to it state the documented rule without the model.
"""

from __future__ import annotations

import pytest

from harness.guest import knobs, workloads
from harness.guest.counters import CounterDelta
from harness.guest.support import (
    Effective,
    Expected,
    Kh,
    census_message,
    census_pmds,
    expect,
    knobset,
    region_layout,
    settle,
    stat_mismatches,
)

# PMD 0: every pte; PMD 1: eight full 64K chunks + 3 ptes (201-203) of a range that no
# mTHP order >= 2 fills at any page size (pte 200 is empty); PMD 2: one pte. Regions are
# in PMDs: 6M with 4K pages, 96M with 16K, 1.5G with 64K.
PATTERN = "full|chunks:64K:0-7+ptes:201-203|first:1"
PMDS = 3


def _run(kh: Kh, pattern: str,
         pmds: int) -> tuple[Effective, Expected, workloads.Census, CounterDelta]:
    env = kh.env()
    want = expect(kh.model(), env, region_layout(env, pmds, pattern))
    meter = kh.start_meter()
    w = kh.start("populate", workloads.region_options(f"{pmds}pmd", pattern))
    kh.census(w)                    # as populated: the "before" of the report's folio picture
    got = settle(meter, lambda: kh.census(w), want.census, w.pid)
    delta = meter.finish()
    return env, want, got, delta


def test_populated_ranges_collapse(kh: Kh, knobset: knobs.KnobSet) -> None:
    kh.apply(knobset)
    env, want, got, delta = _run(kh, PATTERN, PMDS)
    assert census_pmds(got) == want.census, census_message(got, want, env)
    top = max(kh.model().orders(env.enabled), default=None)
    if top is not None:            # documented rule, independent of the model
        assert census_pmds(got)[0] == {top: env.ptes}, "a fully populated PMD must end " \
            f"up in folios of the largest enabled order {top}"
        partial = got.pmds[1].get(0, 0)
        if env.max_ptes_none == 0:
            assert partial >= 3, "max_ptes_none=0: the 3-pte range must stay order 0"
        elif env.max_ptes_none == env.ptes - 1:
            assert partial == 0, (f"max_ptes_none={env.ptes - 1} (HPAGE_PMD_NR - 1): the "
                                  "3-pte range must collapse")
    assert not stat_mismatches(delta, env, want), stat_mismatches(delta, env, want)
    assert delta.pages_collapsed >= want.collapsing_pmds()


# ids keep their 4K spelling (journal history): "511" is HPAGE_PMD_NR - 1 at any page size
@pytest.mark.needs("mthp_collapse")
@pytest.mark.parametrize("max_ptes_none", [0, pytest.param("max", id="511")])
def test_collapse_to_largest_enabled_order(kh: Kh, max_ptes_none: int | str) -> None:
    """Orders 2, 4 and 6 (16K+64K+256K with 4K pages, 64K+256K+1M with 16K):
    HPAGE_PMD_NR - 1 collapses each range to the largest enabled order that holds a
    present pte; 0 only collapses fully populated aligned ranges."""
    kh.apply(knobset(f"multi-none{max_ptes_none}", sizes="order2+order4+order6",
                     max_ptes_none=max_ptes_none))
    pattern = "ptes:0,64-66,200|chunks:16:0-3,8+ptes:300-301,420"     # chunks of order 4
    env, want, got, delta = _run(kh, pattern, 2)
    assert census_pmds(got) == want.census, census_message(got, want, env)
    if max_ptes_none == "max":
        assert set(got) == {6}, "max: every populated order-6 range must be one folio"
    else:
        assert got.get(6) == 64 and got.get(4) == 16, "0: only full aligned ranges collapse"
    assert not stat_mismatches(delta, env, want), stat_mismatches(delta, env, want)
