"""THP counters: snapshots, diffs, and waiting on khugepaged progress (never sleeps).

A CounterSnapshot holds khugepaged ``full_scans`` / ``pages_collapsed``, the /proc/vmstat
lines starting with thp_, compact_, pswp and nr_anon_transparent_hugepages (the vmstat
thp_collapse_* / thp_scan_exceed_* counters stay PMD-only), and every file of every
``hugepages-<kB>kB/stats/`` directory (collapse_alloc counts allocations for a collapse
attempt, not completed collapses; nr_anon* are gauges).

``snapshot()`` is one ``grep -rHs`` over sysfs + vmstat. ``wait_full_scans()`` runs
``thpwork watch`` in the guest: it polls full_scans every 20 ms and prints all counters
each time it advances, so one SSH command returns the whole per-scan series. The first
scan after the workload is in place may be partial (khugepaged's cursor was mid-list):
wait for k + 1 scans to be sure of k complete passes over the workload.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from harness.errors import InfrastructureError, KernelFailure
from harness.guest.knobs import THP_ROOT, GuestLike, parse_size_kb, size_label
from harness.results.fields import JsonObject

VMSTAT_PREFIXES = ("thp_", "compact_", "pswp", "nr_anon_transparent_hugepages")
GAUGES = frozenset({"nr_anon", "nr_anon_partially_mapped", "nr_anon_transparent_hugepages"})
COLLAPSE_STATS = ("collapse_alloc", "collapse_alloc_failed", "collapse_exceed_none_pte",
                  "collapse_exceed_swap_pte", "collapse_exceed_shared_pte")
THPWORK = "thpwork"
EXIT_TIMEOUT, EXIT_GONE = 4, 5
SizeKey = int | str


def _size_kb(size: SizeKey) -> int:
    if isinstance(size, int):
        return size
    kb = parse_size_kb(size, "counter size")
    if kb is None:
        raise ValueError("PMD is not a counter key: use the size, e.g. 2M")
    return kb


def _frozen(d: Mapping[str, int]) -> Mapping[str, int]:
    return MappingProxyType(dict(d))


@dataclass(frozen=True)
class _Counters:
    full_scans: int = 0
    pages_collapsed: int = 0
    vmstat: Mapping[str, int] = field(default_factory=dict)
    sizes: Mapping[int, Mapping[str, int]] = field(default_factory=dict)   # kB -> stats
    t: float = 0.0                            # guest seconds since the watch began

    def stat(self, size: SizeKey, name: str) -> int:
        """One per-size stat, e.g. stat("64K", "collapse_alloc"); 0 if absent."""
        return self.sizes.get(_size_kb(size), {}).get(name, 0)

    def by_size(self, name: str) -> dict[int, int]:
        """{size kB: value} of one stat, non-zero entries only."""
        return {kb: s[name] for kb, s in sorted(self.sizes.items()) if s.get(name)}

    def flat(self) -> dict[str, int]:
        """Every counter under one name: full_scans, vmstat.thp_x, 64K.collapse_alloc."""
        out = {"full_scans": self.full_scans, "pages_collapsed": self.pages_collapsed}
        out.update({f"vmstat.{k}": v for k, v in self.vmstat.items()})
        for kb, stats in sorted(self.sizes.items()):
            out.update({f"{size_label(kb)}.{k}": v for k, v in stats.items()})
        return out


@dataclass(frozen=True)
class CounterSnapshot(_Counters):
    event: str = "snapshot"                   # scan | timeout | pid_exited | snapshot


@dataclass(frozen=True)
class CounterDelta(_Counters):
    """after - before, field by field (gauges may go down)."""

    def nonzero(self) -> dict[str, int]:
        return {k: v for k, v in self.flat().items() if v}

    def collapse_activity(self) -> bool:
        """Did anything try to collapse in this interval?"""
        return bool(self.pages_collapsed or self.vmstat.get("thp_collapse_alloc") or any(
            s.get(k) for s in self.sizes.values() for k in ("collapse_alloc",
                                                             "collapse_alloc_failed")))


class ScanTimeout(KernelFailure):
    """khugepaged did not complete the scans in time; .series holds what it did."""

    def __init__(self, what: str, why: str, series: Sequence[CounterSnapshot]) -> None:
        super().__init__(what, why, "check khugepaged is enabled and not stuck "
                         "(a hung khugepaged is itself a finding); raise the deadline scale")
        self.series = list(series)


class WorkloadGone(KernelFailure):
    """The process khugepaged was meant to scan exited during the wait."""

    def __init__(self, what: str, series: Sequence[CounterSnapshot]) -> None:
        super().__init__(what, "killed (OOM? a signal?) or crashed", "see dmesg")
        self.series = list(series)


# ------------------------------------------------------------- parsing

def _wanted(name: str) -> bool:
    return name.startswith(VMSTAT_PREFIXES)


def parse_grep(text: str) -> CounterSnapshot:
    """Parse ``grep -rHs "" THP_ROOT /proc/vmstat`` output."""
    vm: dict[str, int] = {}
    sizes: dict[int, dict[str, int]] = {}
    kh: dict[str, int] = {}
    for line in text.splitlines():
        path, _, value = line.partition(":")
        if path == "/proc/vmstat":
            name, _, num = value.partition(" ")
            if _wanted(name) and num.strip().isdigit():
                vm[name] = int(num)
            continue
        rel = path[len(THP_ROOT) + 1:] if path.startswith(THP_ROOT + "/") else ""
        parts = rel.split("/")
        if not value.strip().isdigit():
            continue
        if len(parts) == 3 and parts[1] == "stats" and parts[0].startswith("hugepages-"):
            kb = int(parts[0][len("hugepages-"):-2])
            sizes.setdefault(kb, {})[parts[2]] = int(value)
        elif parts[0] == "khugepaged" and len(parts) == 2:
            kh[parts[1]] = int(value)
    return CounterSnapshot(kh.get("full_scans", 0), kh.get("pages_collapsed", 0), _frozen(vm),
                           MappingProxyType({k: _frozen(v) for k, v in sizes.items()}))


def from_watch_event(obj: Mapping[str, Any]) -> CounterSnapshot:
    """One ``thpwork watch`` JSON line -> CounterSnapshot."""
    sizes = {int(str(k).removesuffix("kB")): _frozen({n: int(v) for n, v in s.items()})
             for k, s in obj.get("sizes", {}).items()}
    return CounterSnapshot(int(obj["full_scans"]), int(obj["pages_collapsed"]),
                           _frozen({k: int(v) for k, v in obj.get("vmstat", {}).items()}),
                           MappingProxyType(sizes), float(obj.get("t", 0.0)),
                           str(obj.get("event", "scan")))


def parse_watch(text: str) -> list[CounterSnapshot]:
    """All counter events of ``thpwork watch`` output, in order (other lines ignored)."""
    series = []
    for line in text.splitlines():
        line = line.strip()
        if not line.startswith("{"):
            continue
        obj = json.loads(line)
        if obj.get("event") in ("scan", "timeout", "pid_exited"):
            series.append(from_watch_event(obj))
    return series


# ---------------------------------------------------------- arithmetic

def _sub(a: Mapping[str, int], b: Mapping[str, int]) -> Mapping[str, int]:
    return _frozen({k: a.get(k, 0) - b.get(k, 0) for k in sorted(set(a) | set(b))})


def diff(before: _Counters, after: _Counters) -> CounterDelta:
    kbs = sorted(set(before.sizes) | set(after.sizes))
    sizes = {kb: _sub(after.sizes.get(kb, {}), before.sizes.get(kb, {})) for kb in kbs}
    return CounterDelta(after.full_scans - before.full_scans,
                        after.pages_collapsed - before.pages_collapsed,
                        _sub(after.vmstat, before.vmstat), MappingProxyType(sizes),
                        after.t - before.t)


def per_scan(series: Sequence[CounterSnapshot]) -> list[CounterDelta]:
    """Deltas between consecutive snapshots: what each full scan (or scans) did."""
    return [diff(a, b) for a, b in itertools.pairwise(series)]


def total(series: Sequence[CounterSnapshot]) -> CounterDelta:
    if not series:
        return CounterDelta()
    return diff(series[0], series[-1])


def converged(series: Sequence[CounterSnapshot], quiet: int = 1) -> bool:
    """True when the last `quiet` scans attempted no collapse (nothing left to do)."""
    steps = per_scan(series)
    return len(steps) >= quiet and not any(d.collapse_activity() for d in steps[-quiet:])


def size_key(kb: int) -> str:
    """The journal's per-size key: the stats directory's label, e.g. 64 -> "64kB"."""
    return f"{kb}kB"


def journal_counters(delta: _Counters) -> dict[str, dict[str, int]]:
    """Non-zero counters of a delta grouped for the journal: {"64kB": {"collapse_alloc":
    n, ...}, "khugepaged": {"full_scans", "pages_collapsed"}, "vmstat": {...}}."""
    out: dict[str, dict[str, int]] = {}
    kh = {"full_scans": delta.full_scans, "pages_collapsed": delta.pages_collapsed}
    for key, stats in [("khugepaged", kh), ("vmstat", dict(delta.vmstat))] + [
            (size_key(kb), dict(s)) for kb, s in sorted(delta.sizes.items())]:
        nonzero = {k: v for k, v in stats.items() if v}
        if nonzero:
            out[key] = nonzero
    return out


def journal_per_scan(series: Sequence[CounterSnapshot]) -> list[JsonObject]:
    """One JSON object per step of a series (a full scan, or several when they were quick):
    {"full_scans": +k, "t": guest seconds, "pages_collapsed": n, "64kB": {...}, ...}."""
    out: list[JsonObject] = []
    for d in per_scan(series):
        groups = journal_counters(d)
        kh = groups.pop("khugepaged", {})
        out.append({"full_scans": d.full_scans, "t": round(d.t, 3),
                    "pages_collapsed": kh.get("pages_collapsed", 0), **groups})
    return out


def table(series: Sequence[CounterSnapshot]) -> str:
    """Per-scan non-zero deltas, one line per scan (for logs and reports)."""
    lines = []
    for i, d in enumerate(per_scan(series), 1):
        items = " ".join(f"{k}=+{v}" if v > 0 else f"{k}={v}" for k, v in d.nonzero().items()
                         if k != "full_scans")
        lines.append(f"scan {i:>3} (+{d.full_scans}, {d.t:6.2f}s): {items or '-'}")
    return "\n".join(lines)


# --------------------------------------------------------------- guest

def snapshot(guest: GuestLike, timeout: float = 60.0) -> CounterSnapshot:
    """All counters now, in one guest command."""
    res = guest.run(["grep", "-rHs", "", THP_ROOT, "/proc/vmstat"], timeout=timeout)
    if res.exit_code not in (0, 1) or "/proc/vmstat:" not in res.stdout:
        raise InfrastructureError("cannot read THP counters in the guest",
                                  (res.stderr or "").strip()[-300:])
    return parse_grep(res.stdout)


def watch_argv(n: int, budget: float, pid: int | None, interval_ms: int,
               binary: str = THPWORK) -> list[str]:
    argv = [binary, "watch", "--scans", str(n), "--timeout", f"{budget:.1f}",
            "--interval-ms", str(interval_ms)]
    return argv + (["--pid", str(pid)] if pid else [])


def wait_full_scans(guest: GuestLike, n: int, deadline_s: float, scale: float = 1.0, *,
                    pid: int | None = None, interval_ms: int = 20,
                    binary: str = THPWORK) -> list[CounterSnapshot]:
    """Wait until khugepaged completes n more full scans; the per-scan series.

    series[0] is the state when the wait began, then one snapshot each time full_scans
    advanced (a snapshot may cover several scans: see CounterDelta.full_scans). The
    deadline is deadline_s * scale (scale: the accelerator's slowness, e.g. ~10 for TCG).
    With pid, stop early (WorkloadGone) if that process exits.
    """
    budget = deadline_s * scale
    res = guest.run(watch_argv(n, budget, pid, interval_ms, binary), timeout=budget + 60)
    series = parse_watch(res.stdout)
    if res.exit_code == 0 and series:
        return series
    done = series[-1].full_scans - series[0].full_scans if series else 0
    if res.exit_code == EXIT_TIMEOUT:
        raise ScanTimeout(f"khugepaged completed {done} of {n} full scans in {budget:.0f}s",
                          f"scale {scale:g}; per scan:\n{table(series)}", series)
    if res.exit_code == EXIT_GONE:
        raise WorkloadGone(f"workload pid {pid} exited after {done} of {n} full scans", series)
    raise InfrastructureError(f"{binary} watch failed (exit {res.exit_code})",
                              (res.stderr or res.stdout).strip()[-300:],
                              "is thpwork in the guest image?")


# -------------------------------------------- expectations (merged 7.2 semantics)

def _max_order_from_offset(offset: int, pmd_order: int) -> int:
    return pmd_order if offset == 0 else min((offset & -offset).bit_length() - 1, pmd_order)


def mthp_max_ptes_none(max_ptes_none: int, order: int, pmd_order: int,
                       scaled: bool = False) -> int:
    """collapse_max_ptes_none() for khugepaged in 7.2: PMD honours any value; mTHP
    orders take 0, or (1 << order) - 1 when the knob is HPAGE_PMD_NR - 1; any other
    value warns once and counts as 0. scaled=True: earlier series versions (before
    v13) used max_ptes_none >> (PMD order - order)."""
    if order == pmd_order:
        return max_ptes_none
    if scaled:
        return max_ptes_none >> (pmd_order - order)
    return (1 << order) - 1 if max_ptes_none == (1 << pmd_order) - 1 else 0


@dataclass(frozen=True)
class Attempt:
    """One step of a khugepaged pass over one PMD.

    result: "collapse"; "exceed_swap" / "exceed_shared" (an mTHP range holding a swap
    or shared pte, found after the folio was allocated: collapse_huge_page allocates
    first); or, at the PMD order with allocated=False, the PTE-table scan's own limits
    ("exceed_none" / "exceed_swap" / "exceed_shared", counted in the PMD size's stats
    even when only mTHP sizes are enabled).
    """
    offset: int
    order: int
    result: str
    allocated: bool = True


def _scan_gate(present: Sequence[bool], swap: Sequence[bool], shared: Sequence[bool],
               limits: tuple[int, int, int], pmd_order: int) -> list[Attempt] | None:
    """collapse_scan_pmd(): [the first limit crossed, in pte order]; [] when the pass
    ends without collapsing (nothing referenced); None to go on to mthp_collapse()."""
    max_none, max_swap, max_shared = limits
    none = swapped = nshared = 0
    for i in range(len(present)):
        if swap[i]:
            swapped += 1
            if swapped > max_swap:
                return [Attempt(0, pmd_order, "exceed_swap", allocated=False)]
        elif not present[i]:
            none += 1
            if none > max_none:
                return [Attempt(0, pmd_order, "exceed_none", allocated=False)]
        elif shared[i]:
            nshared += 1
            if nshared > max_shared:
                return [Attempt(0, pmd_order, "exceed_shared", allocated=False)]
    referenced = sum(1 for p, s in zip(present, swap, strict=False) if p and not s)
    if not referenced or (swapped and referenced < len(present) // 2):
        return []                             # SCAN_LACK_REFERENCED_PAGE
    return None


def _try_range(present: Sequence[bool], swap: Sequence[bool], shared: Sequence[bool],
               offset: int, order: int, pmd_order: int, limit: int) -> Attempt | None:
    """mthp_collapse() at one (offset, order): None if below the occupancy threshold."""
    rng = slice(offset, offset + (1 << order))
    occupied = sum(1 for p, s in zip(present[rng], swap[rng], strict=False) if p and not s)
    if order == pmd_order:
        occupied += sum(swap)                 # swap ptes count as occupied for the PMD
    if occupied < (1 << order) - limit:
        return None
    if order != pmd_order and any(swap[rng]):
        return Attempt(offset, order, "exceed_swap")
    if order != pmd_order and any(p and s for p, s in zip(present[rng], shared[rng], strict=False)):
        return Attempt(offset, order, "exceed_shared")
    return Attempt(offset, order, "collapse")


def mthp_collapse_attempts(present: Sequence[bool], enabled: Collection[int],
                           max_ptes_none: int, pmd_order: int = 9, *,
                           swap: Sequence[bool] = (), shared: Sequence[bool] = (),
                           max_ptes_swap: int = 64, max_ptes_shared: int = 256,
                           scaled: bool = False,
                           writable: Sequence[bool] | None = None) -> list[Attempt]:
    """Every step one khugepaged pass makes over one PMD of order-0 pages, as
    collapse_scan_pmd() + mthp_collapse() in 7.2 do, assuming allocations succeed and
    every present pte is young. present[i]: pte i maps a non-zero page (swap ptes are
    not present; shared ptes are); swap/shared mark swap entries and pages also mapped
    by another process. A PTE table with nothing present is assumed absent (no steps).
    writable: for kernels whose scan needs one writable pte (SCAN_PAGE_RO, e.g. 6.12; 7.2
    dropped the check): which ptes are writable (after fork(), none of the parent's).
    """
    n = 1 << pmd_order
    swap, shared = list(swap) or [False] * n, list(shared) or [False] * n
    only_pmd = set(enabled) == {pmd_order}
    limits = (max_ptes_none if only_pmd else n - 1, max_ptes_swap, max_ptes_shared)
    if not any(present) and not any(swap):
        return []
    gate = _scan_gate(present, swap, shared, limits, pmd_order)
    if gate is not None:
        return gate
    if writable is not None and not any(p and w for p, w in zip(present, writable, strict=False)):
        return []                             # SCAN_PAGE_RO (not counted)
    out: list[Attempt] = []
    offset, order = 0, pmd_order
    while offset < n:
        step = None
        if order in enabled:
            limit = mthp_max_ptes_none(max_ptes_none, order, pmd_order, scaled)
            step = _try_range(present, swap, shared, offset, order, pmd_order, limit)
            out += [step] if step else []
        if step is not None and step.result == "collapse":
            offset += 1 << order
            order = _max_order_from_offset(offset, pmd_order)
        elif order > 2 and any(o < order for o in enabled):
            order -= 1
        else:
            offset += 1 << order
            order = _max_order_from_offset(offset, pmd_order)
    return out


def mthp_collapse_plan(present: Sequence[bool], enabled: Collection[int], max_ptes_none: int,
                       pmd_order: int = 9, *, swap: Sequence[bool] = (),
                       shared: Sequence[bool] = (), max_ptes_swap: int = 64,
                       max_ptes_shared: int = 256,
                       scaled: bool = False) -> list[tuple[int, int]]:
    """(pte offset, order) of the collapses one khugepaged pass makes in one PMD (see
    mthp_collapse_attempts). Example (1 MB of each 2 MB touched, only 64K enabled,
    max_ptes_none=0): 16 collapses of order 4 per PMD."""
    steps = mthp_collapse_attempts(present, enabled, max_ptes_none, pmd_order, swap=swap,
                                   shared=shared, max_ptes_swap=max_ptes_swap,
                                   max_ptes_shared=max_ptes_shared, scaled=scaled)
    return [(a.offset, a.order) for a in steps if a.result == "collapse"]


def expected_stats(attempts: Sequence[Attempt]) -> dict[int, dict[str, int]]:
    """Per-order stat increments of one pass: {order: {"collapse_alloc": n,
    "collapse_exceed_swap_pte": m, ...}} (the names of hugepages-*/stats/)."""
    out: dict[int, dict[str, int]] = {}
    for a in attempts:
        stats = out.setdefault(a.order, {})
        names = (["collapse_alloc"] if a.allocated else []) + (
            [f"collapse_{a.result}_pte"] if a.result.startswith("exceed_") else [])
        for name in names:
            stats[name] = stats.get(name, 0) + 1
    return out


@dataclass(frozen=True)
class CollapseModel:
    """Which collapse semantics the kernel under test has (chosen by a feature probe).

    mthp: khugepaged collapses anonymous memory to mTHP orders (7.2 and the series);
    without it (e.g. 6.12) only the PMD order collapses, and only when it is enabled.
    scaled: max_ptes_none scaled per order (series versions before v13).
    needs_writable: the scan wants one writable pte in the PMD (SCAN_PAGE_RO; 6.12 has
    it, 7.2 does not); callers then pass writable= maps.
    """
    mthp: bool = True
    scaled: bool = False
    pmd_order: int = 9
    needs_writable: bool = False

    def orders(self, enabled: Collection[int]) -> frozenset[int]:
        return frozenset(enabled) if self.mthp else frozenset(enabled) & {self.pmd_order}

    def attempts(self, present: Sequence[bool], enabled: Collection[int],
                 max_ptes_none: int, **kw: Any) -> list[Attempt]:
        orders = self.orders(enabled)
        if not orders:
            return []
        if not self.needs_writable:
            kw.pop("writable", None)
        return mthp_collapse_attempts(present, orders, max_ptes_none, self.pmd_order,
                                      scaled=self.scaled, **kw)

    def plan(self, present: Sequence[bool], enabled: Collection[int], max_ptes_none: int,
             **kw: Any) -> list[tuple[int, int]]:
        return [(a.offset, a.order) for a in self.attempts(present, enabled, max_ptes_none, **kw)
                if a.result == "collapse"]


def expected_orders(plan: Sequence[tuple[int, int]], present: Sequence[bool]) -> dict[int, int]:
    """Census of one PMD after the plan (order -> base pages): collapsed ranges become
    folios of their order (empty ptes included); other present pages stay order 0."""
    out: dict[int, int] = {}
    covered = [False] * len(present)
    for offset, order in plan:
        out[order] = out.get(order, 0) + (1 << order)
        covered[offset:offset + (1 << order)] = [True] * (1 << order)
    rest = sum(1 for p, c in zip(present, covered, strict=False) if p and not c)
    if rest:
        out[0] = rest
    return dict(sorted(out.items()))
