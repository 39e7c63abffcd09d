"""Convergence: once everything eligible is collapsed, khugepaged is done with it.

After the census matches the model, the workload reads all its memory (a live process
keeps its pages young, and verify checks that collapse preserved every byte), then
further full scans must neither collapse nor allocate anything: per-scan counter series,
recorded as kh_record["per_scan"] for convergence charts.

A kernel that allocates a folio for a range it has already collapsed (mthp_collapse()
calls collapse_huge_page(), which allocates before __collapse_huge_page_isolate()
notices SCAN_PTE_MAPPED_HUGEPAGE) fails here: every scan then takes the mmap write
lock, flushes the PMD and frees a folio per collapsed range, forever.
"""

from __future__ import annotations

import pytest

from harness.guest import counters, knobs, workloads
from harness.guest.support import (
    Kh,
    census_message,
    census_pmds,
    describe_orders,
    expect,
    region_layout,
    settle,
)

PATTERN = "full|half"
QUIET_SCANS = 3


NON_CONVERGENCE = (
    "kernel finding on 7.2's merged mTHP collapse (TCG): ranges already backed by 64K folios "
    "get a new 64K folio allocated and dropped on every full scan (collapse_alloc +48 per "
    "scan for 2 PMDs, pages_collapsed stays 0). Intermittent (2026-12-02, TCG: x86_64 showed "
    "it in 10 of 10 cases, arm64 in 1 of 10; arm64 showed it every time in an earlier session), "
    "so not strict: an XPASS is reported, not failed")


class NonConvergence(AssertionError):
    """khugepaged kept working on converged memory: the one failure NON_CONVERGENCE is
    about. Anything else (a wrong census, corrupted data, a khugepaged that makes no
    progress at all: ScanTimeout) still fails the test."""


def known_non_convergence() -> pytest.MarkDecorator:
    return pytest.mark.xfail(reason=NON_CONVERGENCE, raises=NonConvergence, strict=False)


def test_no_work_after_convergence(kh: Kh, knobset: knobs.KnobSet,
                                   request: pytest.FixtureRequest) -> None:
    if kh.features.get("mthp_collapse") and any(size != "PMD" for size, _ in knobset.sizes):
        request.applymarker(known_non_convergence())
    env = kh.apply(knobset)
    want = expect(kh.model(), env, region_layout(env, 2, PATTERN))
    meter = kh.start_meter()
    w = kh.start("populate", workloads.region_options("2pmd", PATTERN))
    got = settle(meter, lambda: kh.census(w), want.census, w.pid)
    assert census_pmds(got) == want.census, census_message(got, want, env)
    workloads.verify(kh.guest, w)                     # reads every page: data intact
    series = meter.scans(QUIET_SCANS + 1, pid=w.pid)   # the first may be partial
    after = kh.census(w)
    delta = meter.finish()
    assert census_pmds(after) == census_pmds(got), "collapsed memory changed after " \
        f"convergence: {describe_orders(after, env)}"
    quiet = counters.per_scan(series)[1:]             # complete scans only
    busy = [f"scan {i}: {d.nonzero()}" for i, d in enumerate(quiet, 1) if d.collapse_activity()]
    hint = ("" if not busy or any(d.pages_collapsed for d in quiet) else
            "\nfolios allocated but nothing collapsed: ranges already backed by folios of "
            "the target order are re-allocated for and dropped on every scan")
    if busy:
        raise NonConvergence(f"khugepaged kept working on converged memory ({len(busy)} of "
                             f"{len(quiet)} scans):\n" + "\n".join(busy) + hint +
                             f"\nwhole test: {counters.journal_counters(delta)}")
