"""harness.guest.counters: parsing, diffs, per-scan series, waiting on full scans."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import pytest

from harness.errors import InfrastructureError
from harness.guest import counters
from harness.guest.counters import CounterSnapshot, ScanTimeout, WorkloadGone, wait_full_scans
from harness.guest.knobs import THP_ROOT
from tests.test_knobs import FakeGuest, Result, make_tree

DATA = Path(__file__).parent / "data" / "counters"


def _event(n: int, t: float, full: int, collapsed: int, alloc64: int, none64: int,
           event: str = "scan") -> str:
    """A line in the format of `thpwork watch` (7.2 per-size stats)."""
    stats64 = {"collapse_alloc": alloc64, "collapse_alloc_failed": 0,
               "collapse_exceed_none_pte": none64, "nr_anon": alloc64}
    return json.dumps({"event": event, "n": n, "t": t, "full_scans": full,
                       "pages_collapsed": collapsed,
                       "vmstat": {"thp_collapse_alloc": 0, "nr_anon_transparent_hugepages": 0},
                       "sizes": {"64kB": stats64, "2048kB": {"collapse_alloc": 0}}})


# 64 MB, 1 MB of each 2 MB touched, only 64K enabled, max_ptes_none=0: all 512 64K
# ranges of touched memory collapse in the first scan, nothing afterwards.
MTHP_SERIES = "\n".join([
    _event(0, 0.0, 100, 0, 0, 0),
    _event(1, 0.35, 101, 8192, 512, 512),
    _event(2, 0.70, 102, 8192, 512, 1024),
    _event(3, 1.02, 103, 8192, 512, 1536),
]) + "\n"


def test_parse_watch_and_per_scan_convergence() -> None:
    series = counters.parse_watch("noise\n" + MTHP_SERIES)
    assert [s.full_scans for s in series] == [100, 101, 102, 103]
    steps = counters.per_scan(series)
    assert [d.stat("64K", "collapse_alloc") for d in steps] == [512, 0, 0]
    assert [d.stat(64, "collapse_exceed_none_pte") for d in steps] == [512, 512, 512]
    assert steps[0].collapse_activity() and not steps[1].collapse_activity()
    assert counters.converged(series, quiet=2) and not counters.converged(series[:2])
    assert counters.total(series).by_size("collapse_alloc") == {64: 512}
    assert "64K.collapse_alloc=+512" in counters.table(series).splitlines()[0]


def test_recorded_host_watch_output() -> None:
    """Recorded with `thpwork watch --scans 2` on an x86_64 6.18 host (PMD collapse of a
    held `thpwork populate --pattern first:128`); the last event covers two scans."""
    series = counters.parse_watch((DATA / "watch-host-x86_64.jsonl").read_text())
    assert len(series) == 3 and series[-1].full_scans - series[0].full_scans >= 2
    first = counters.per_scan(series)[0]
    assert first.vmstat["thp_collapse_alloc"] == 4 and first.pages_collapsed == 4
    assert first.stat("2M", "nr_anon") == 4 and counters.converged(series)


def test_snapshot_and_diff_from_fake_sysfs(tmp_path: Path) -> None:
    g = make_tree(tmp_path)
    before = counters.snapshot(g)
    assert before.vmstat == {"thp_fault_alloc": 3, "thp_collapse_alloc": 1, "pswpout": 0,
                             "compact_stall": 0, "nr_anon_transparent_hugepages": 2}
    assert before.stat("64K", "collapse_alloc") == 0 and 8 in before.sizes
    root = g.host(THP_ROOT)
    (root / "hugepages-64kB/stats/collapse_alloc").write_text("7\n")
    (root / "hugepages-64kB/stats/nr_anon").write_text("5\n")
    (root / "khugepaged/full_scans").write_text("3\n")
    after = counters.snapshot(g)
    d = counters.diff(before, after)
    assert d.full_scans == 3 and d.stat("64K", "collapse_alloc") == 7
    assert d.nonzero() == {"full_scans": 3, "64K.collapse_alloc": 7, "64K.nr_anon": 5}
    assert counters.diff(after, before).stat(64, "nr_anon") == -5       # gauges can drop


def _watch_guest(tmp_path: Path, exit_code: int, text: str) -> FakeGuest:
    g = make_tree(tmp_path)

    def watch(argv: Sequence[str]) -> Result:
        return Result(exit_code, text)

    g.commands["thpwork"] = watch
    return g


def test_wait_full_scans_runs_one_guest_command(tmp_path: Path) -> None:
    g = _watch_guest(tmp_path, 0, MTHP_SERIES)
    series = wait_full_scans(g, 3, deadline_s=20, scale=10, pid=42)
    assert len(series) == 4 and all(isinstance(s, CounterSnapshot) for s in series)
    assert g.argvs == [["thpwork", "watch", "--scans", "3", "--timeout", "200.0",
                        "--interval-ms", "20", "--pid", "42"]]


def test_wait_full_scans_timeout_is_reported_with_series(tmp_path: Path) -> None:
    text = MTHP_SERIES.splitlines()[0] + "\n" + _event(1, 30.0, 101, 0, 0, 0, "timeout")
    g = _watch_guest(tmp_path, counters.EXIT_TIMEOUT, text)
    with pytest.raises(ScanTimeout, match="completed 1 of 3 full scans in 30s") as e:
        wait_full_scans(g, 3, deadline_s=30)
    assert len(e.value.series) == 2 and e.value.exit_code == 1


def test_wait_full_scans_workload_gone_and_missing_tool(tmp_path: Path) -> None:
    g = _watch_guest(tmp_path, counters.EXIT_GONE, _event(0, 0, 5, 0, 0, 0, "pid_exited"))
    with pytest.raises(WorkloadGone, match="pid 7 exited"):
        wait_full_scans(g, 2, 10, pid=7)
    g = _watch_guest(tmp_path / "b", 127, "")
    with pytest.raises(InfrastructureError, match="thpwork watch failed"):
        wait_full_scans(g, 2, 10)


# ------------------------------------------------- 7.2 expectations

HALF = [i < 256 for i in range(512)]           # 1 MB of each 2 MB touched


@pytest.mark.parametrize("enabled, mpn, census", [
    ({4}, 0, {4: 256}),                        # the observed 64K experiment
    ({4}, 511, {4: 256}),                      # scaled limit: 15 empty ptes allowed per 64K
    ({4}, 255, {4: 256}),                      # other values act as 0 for mTHP
    ({4, 9}, 511, {9: 512}),                   # PMD first: 256 >= 512 - 511
    ({4, 9}, 255, {4: 256}),                   # PMD needs 257; falls back to 64K
    ({9}, 256, {9: 512}),
    ({9}, 255, {0: 256}),                      # PMD only, not enough: nothing collapses
    ({2, 6}, 511, {6: 256}),
])
def test_mthp_collapse_plan_half_filled_pmd(enabled: set[int], mpn: int,
                                            census: dict[int, int]) -> None:
    plan = counters.mthp_collapse_plan(HALF, enabled, mpn)
    assert counters.expected_orders(plan, HALF) == census


def test_mthp_collapse_plan_details() -> None:
    sparse = [i % 2 == 0 for i in range(512)]  # every other pte
    assert counters.mthp_collapse_plan(sparse, {2}, 0) == []
    plan = counters.mthp_collapse_plan(sparse, {2}, 511)
    assert len(plan) == 128 and plan[1] == (4, 2)
    one_swap = [i == 5 for i in range(512)]
    full = [not s for s in one_swap]
    plan = counters.mthp_collapse_plan(full, {3, 4}, 0, swap=one_swap)
    assert (0, 4) not in plan and (0, 3) not in plan and (8, 3) in plan and (16, 4) in plan
    # PMD order counts swap ptes as occupied and swaps them in, up to max_ptes_swap
    assert counters.mthp_collapse_plan(full, {9}, 0, swap=one_swap) == [(0, 9)]
    assert counters.mthp_collapse_plan(full, {9}, 0, swap=one_swap, max_ptes_swap=0) == []
    assert counters.mthp_max_ptes_none(100, 4, 9) == 0
    assert counters.mthp_max_ptes_none(255, 4, 9, scaled=True) == 7      # pre-v13 series
    quarter = [i % 16 < 9 for i in range(512)]      # 9 of every 16 ptes
    assert len(counters.mthp_collapse_plan(quarter, {4}, 255, scaled=True)) == 32
    assert counters.mthp_collapse_plan(quarter, {4}, 255) == []
