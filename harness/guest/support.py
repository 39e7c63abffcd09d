"""Helpers of the guest tests: what the kernel should do, and measuring what it did.

* Effective: the THP state a test runs under, read back from the guest after the knob set
  was applied (enabled orders, max_ptes_*), so expectations follow the guest, not the YAML.
* expect(): per PMD of a region, what one khugepaged pass does (counters.CollapseModel,
  chosen per kernel by the feature probe in conftest.py): the folio-order census after it
  and the per-order stat increments it causes.
* Meter: counter deltas over a test plus the per-scan series of every wait, recorded into
  kh_record ("counters", "per_scan", "census") and printed (pytest -s, junit system-out).
* settle(): wait for full scans (k + 1: the first may be partial) until the census is the
  expected one or a scan budget is spent; the caller asserts.
* selftest_tree(): the kernel tree of the build under test (tools/ subset) for the mm
  selftests.
"""

from __future__ import annotations

import contextlib
import functools
import os
import shutil
import tempfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from harness.errors import HarnessBug
from harness.guest import counters, knobs, workloads
from harness.guest import sysfs as thpsysfs
from harness.guest.counters import CollapseModel, CounterSnapshot
from harness.guest.pattern import Pattern
from harness.results.fields import JsonObject
from harness.util import cache_dir, run

Orders = dict[int, int]


# ------------------------------------------------------------------ knob state

@dataclass(frozen=True)
class Effective:
    """The THP configuration in force in the guest (anonymous memory, MADV_HUGEPAGE'd)."""
    layout: knobs.ThpLayout
    enabled: frozenset[int]            # orders khugepaged may collapse to (VM_HUGEPAGE)
    max_ptes_none: int
    max_ptes_swap: int
    max_ptes_shared: int

    @property
    def pmd_order(self) -> int:
        return self.layout.order(self.layout.pmd_size // 1024)

    @property
    def ptes(self) -> int:
        return self.layout.pmd_size // self.layout.page_size


def _on(policy: str | None, top: str | None) -> bool:
    if policy == "inherit":
        policy = top
    return policy in ("always", "madvise")


def effective(thp: thpsysfs.ThpKnobs, state: Mapping[str, str] | None = None) -> Effective:
    """From the guest's knob values (read now unless `state` is given)."""
    cur = thp.current() if state is None else state
    layout = thp.layout()
    enabled = frozenset(layout.order(kb) for kb in layout.anon_kb
                        if _on(cur.get(f"hugepages-{kb}kB/enabled"), cur.get("enabled")))
    return Effective(layout, enabled, *(int(cur[f"khugepaged/{k}"]) for k in knobs.PTES))


def knobset(name: str, **kw: object) -> knobs.KnobSet:
    """A test's own knob set on top of FAST (sizes given as "16K+64K", "PMD", ...)."""
    spec: dict[str, object] = {**FAST, **kw}
    sets = knobs.expand_matrix(spec, "guest_tests", name)
    if not (len(sets) == 1):
        raise HarnessBug(f"{name}: use scalars, not axes")
    return sets[0]


# khugepaged pacing for TCG guests: a pass over a few MB every ~0.1-0.5 s.
FAST: dict[str, object] = {"enabled": "madvise", "scan_sleep_millisecs": 100,
                           "alloc_sleep_millisecs": 1000, "pages_to_scan": 4096}


# ------------------------------------------------------------------ expectations

@dataclass(frozen=True)
class Layout:
    """Per-PMD pte maps of a region: present (non-zero page), swap entry, shared page,
    writable pte (after fork() a process's ptes are read-only until it writes)."""
    present: tuple[tuple[bool, ...], ...]
    swap: tuple[tuple[bool, ...], ...] = ()
    shared: tuple[tuple[bool, ...], ...] = ()
    writable: tuple[tuple[bool, ...], ...] = ()

    @property
    def pmds(self) -> int:
        return len(self.present)


def pte_map(pattern: str, pmds: int, env: Effective) -> tuple[tuple[bool, ...], ...]:
    """Which ptes of each PMD a thpwork pattern selects."""
    pat = Pattern.parse(pattern, env.layout.page_size, env.ptes)
    return tuple(tuple(pat.hit(b, i, env.ptes) for i in range(env.ptes)) for b in range(pmds))


def region_layout(env: Effective, pmds: int, populate: str, *, swapped: str | None = None,
                  shared: str | None = None, written: str | None = None) -> Layout:
    """Populate `populate`, then page out `swapped` / leave `shared` shared (patterns);
    `written`: the ptes still writable (default: every present one)."""
    pop = pte_map(populate, pmds, env)
    none = tuple(tuple(False for _ in row) for row in pop)
    sw = pte_map(swapped, pmds, env) if swapped else none
    sh = pte_map(shared, pmds, env) if shared else none
    present = tuple(tuple(p and not s for p, s in zip(a, b, strict=True))
                    for a, b in zip(pop, sw, strict=True))
    shared_rows = tuple(tuple(p and s for p, s in zip(a, b, strict=True))
                        for a, b in zip(present, sh, strict=True))
    wr = pte_map(written, pmds, env) if written is not None else present
    return Layout(present, sw, shared_rows, wr)


@dataclass(frozen=True)
class Expected:
    census: tuple[Orders, ...]                      # per PMD: order -> pages
    stats: dict[int, dict[str, int]]                # order -> stat -> increments per pass
    attempts: tuple[tuple[counters.Attempt, ...], ...] = field(default=())

    def total(self) -> Orders:
        out: Orders = {}
        for pmd in self.census:
            for order, pages in pmd.items():
                out[order] = out.get(order, 0) + pages
        return dict(sorted(out.items()))

    def collapsing_pmds(self) -> int:
        return sum(1 for a in self.attempts if any(s.result == "collapse" for s in a))


def expect(model: CollapseModel, env: Effective, lay: Layout,
           enabled: frozenset[int] | None = None) -> Expected:
    """One khugepaged pass over every PMD of the region, per the kernel's model."""
    per_pmd: list[Orders] = []
    stats: dict[int, dict[str, int]] = {}
    steps_all: list[tuple[counters.Attempt, ...]] = []
    for b in range(lay.pmds):
        kw: dict[str, Any] = {"max_ptes_swap": env.max_ptes_swap,
                              "max_ptes_shared": env.max_ptes_shared}
        if lay.swap:
            kw["swap"] = lay.swap[b]
        if lay.shared:
            kw["shared"] = lay.shared[b]
        if lay.writable:
            kw["writable"] = lay.writable[b]
        steps = model.attempts(lay.present[b], env.enabled if enabled is None else enabled,
                               env.max_ptes_none, **kw)
        plan = [(a.offset, a.order) for a in steps if a.result == "collapse"]
        per_pmd.append(counters.expected_orders(plan, lay.present[b]))
        steps_all.append(tuple(steps))
        for order, st in counters.expected_stats(steps).items():
            for name, n in st.items():
                stats.setdefault(order, {})[name] = stats.get(order, {}).get(name, 0) + n
    return Expected(tuple(per_pmd), stats, tuple(steps_all))


def combined(*wants: Expected) -> Expected:
    """Several processes' expectations as one for the (global) counters: stats summed."""
    stats: dict[int, dict[str, int]] = {}
    for want in wants:
        for order, st in want.stats.items():
            for name, n in st.items():
                stats.setdefault(order, {})[name] = stats.get(order, {}).get(name, 0) + n
    return Expected(wants[0].census, stats, tuple(a for w in wants for a in w.attempts))


def order_kb(env: Effective, order: int) -> int:
    return (env.layout.page_size << order) // 1024


def describe_orders(orders: Mapping[int, int], env: Effective) -> str:
    return ", ".join(f"{knobs.size_label(order_kb(env, o))}:{n}" for o, n in sorted(orders.items())
                     ) or "nothing present"


# ------------------------------------------------------------------ measuring

# "Stuck khugepaged: conclude once". A khugepaged that completed no full scan within a
# wait's deadline is a finding of the kernel under test (the test that saw it fails with
# the counter evidence); every later wait on the same kernel in this session ends at once
# as blocked by it (skipped, naming the finding and the test that found it) instead of
# waiting out the same deadline again. Tests that never wait on khugepaged still run.
STUCK: dict[str, str] = {}


def stuck_evidence(series: Sequence[CounterSnapshot], budget_s: float) -> str | None:
    """"khugepaged made 0 full scans in 90 s; 64K collapse_alloc +655927", or None when
    it made progress (some scans: slow, not stuck)."""
    if len(series) < 2 or series[-1].full_scans != series[0].full_scans:
        return None if len(series) >= 2 else f"khugepaged made 0 full scans in {budget_s:.0f} s"
    delta = counters.total(series)
    busy = ", ".join(f"{knobs.size_label(kb)} collapse_alloc +{v}"
                     for kb, v in delta.by_size("collapse_alloc").items())
    return f"khugepaged made 0 full scans in {budget_s:.0f} s" + (f"; {busy}" if busy else "")


class Meter:
    """Counter snapshot at the start; every wait's series; deltas recorded at the end."""

    def __init__(self, guest: Any, record: JsonObject, scale: float,
                 stuck_key: str = "") -> None:
        self.guest, self.record, self.scale = guest, record, scale
        self.stuck_key = stuck_key
        self.before = counters.snapshot(guest)
        self.segments: list[list[CounterSnapshot]] = []
        self.census: dict[str, int] = {}
        self.censuses: list[workloads.Census] = []

    def scans(self, n: int, pid: int | None = None, per_scan_s: float = 6.0
              ) -> list[CounterSnapshot]:
        """Wait for n more full scans (deadline n * per_scan_s, scaled for TCG)."""
        if self.stuck_key in STUCK:
            self.record["blocked_by"] = STUCK[self.stuck_key]
            pytest.skip(f"blocked: {STUCK[self.stuck_key]}")
        try:
            series = counters.wait_full_scans(self.guest, n, n * per_scan_s, self.scale, pid=pid)
        except counters.ScanTimeout as e:
            self.conclude_stuck(e.series, n * per_scan_s * self.scale)
            raise
        self.segments.append(series)
        return series

    def conclude_stuck(self, series: Sequence[CounterSnapshot], budget_s: float) -> None:
        evidence = stuck_evidence(series, budget_s)
        if evidence is None or not self.stuck_key:
            return
        self.segments.append(list(series))
        self.record["stuck_khugepaged"] = evidence
        found_by = os.environ.get("PYTEST_CURRENT_TEST", "").split(" ")[0]
        STUCK[self.stuck_key] = f"{evidence} (concluded by {found_by or 'an earlier test'})"

    def note_census(self, census: workloads.Census) -> None:
        """The region's latest census is the one recorded (order -> pages)."""
        self.census = {str(order): pages for order, pages in census.items()}
        self.censuses.append(census)

    def finish(self) -> counters.CounterDelta:
        delta = counters.diff(self.before, counters.snapshot(self.guest))
        self.record["counters"] = counters.journal_counters(delta)
        self.record["per_scan"] = [step for seg in self.segments
                                   for step in counters.journal_per_scan(seg)]
        if self.census:
            self.record["census"] = self.census
            self.record.update(census_fields(self.censuses))
        for i, seg in enumerate(self.segments, 1):
            print(f"--- per-scan counters, wait {i}:\n{counters.table(seg) or '(no scan)'}")
        print(f"--- test totals: {counters.journal_counters(delta)}")
        return delta


def census_fields(taken: Sequence[workloads.Census]) -> JsonObject:
    """The first census as "census_before" (when there were several) and the per-PMD detail of
    the first and last: the report's before/after folio picture."""
    first, last = taken[0], taken[-1]
    out: JsonObject = {}
    if len(taken) > 1:
        out["census_before"] = {str(o): n for o, n in first.items()}
    if last.pmds:
        out["census_pmds"] = {
            "ptes": last.pmd_size // max(1, last.page_size), "page_kb": last.page_size // 1024,
            "before": [{str(o): n for o, n in p.items()} for p in first.pmds] if len(taken) > 1
            else [], "after": [{str(o): n for o, n in p.items()} for p in last.pmds]}
    return out


def census_pmds(c: workloads.Census) -> tuple[Orders, ...]:
    return tuple(dict(sorted(p.items())) for p in c.pmds)


def settle(meter: Meter, take: Callable[[], workloads.Census], want: Sequence[Orders],
           pid: int, *, first: int = 3, more: int = 2, budget: int = 9) -> workloads.Census:
    """Wait `first` full scans (k + 1), then `more` at a time until the per-PMD census is
    `want` or `budget` scans have passed; the last census (the caller asserts)."""
    done = 0
    while True:
        n = first if done == 0 else more
        meter.scans(n, pid=pid)
        done += n
        census = take()
        if census_pmds(census) == tuple(want) or done >= budget:
            return census


def stat(delta: counters.CounterDelta, env: Effective, order: int, name: str) -> int:
    return delta.stat(order_kb(env, order), name)


# ------------------------------------------------------------------ kernel selftests

def selftest_tree(repo: Path, commit: str) -> Path:
    """tools/ subset of `commit` (git archive), cached by commit, for the mm selftests."""
    out = cache_dir("selftest-trees") / commit
    if (out / "tools" / "testing" / "selftests" / "mm" / "khugepaged.c").exists():
        return out
    top = run(["git", f"--git-dir={repo}", "ls-tree", "--name-only", commit,
               "tools/testing/selftests/"]).stdout.split()
    paths = ["tools/testing/selftests/mm", "tools/include", "tools/arch"]
    paths += [p for p in top if Path(p).name.startswith("kselftest")]
    tmp = Path(tempfile.mkdtemp(prefix="tree-", dir=out.parent))
    try:
        tar = tmp / "tree.tar"
        run(["git", f"--git-dir={repo}", "archive", "-o", tar, commit, "--", *paths],
            timeout=600)
        run(["tar", "-xf", tar, "-C", tmp])
        tar.unlink()
        shutil.rmtree(out, ignore_errors=True)
        tmp.rename(out)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return out


# ------------------------------------------------------------------ assertions

EXCEED = ("collapse_exceed_none_pte", "collapse_exceed_swap_pte", "collapse_exceed_shared_pte")
# /proc/vmstat events of the PMD order, for kernels without the per-size collapse stats
VMSTAT_PMD = {"collapse_alloc": "thp_collapse_alloc",
              "collapse_exceed_none_pte": "thp_scan_exceed_none_pte",
              "collapse_exceed_swap_pte": "thp_scan_exceed_swap_pte",
              "collapse_exceed_shared_pte": "thp_scan_exceed_share_pte"}


def observed(delta: counters.CounterDelta, env: Effective, order: int,
              name: str) -> int | None:
    """A stat's delta; None when this kernel does not count it (e.g. 6.12: no per-size
    collapse stats; the PMD order then falls back to /proc/vmstat when it has them)."""
    stats = delta.sizes.get(order_kb(env, order), {})
    if name in stats:
        return stats[name]
    if order == env.pmd_order and VMSTAT_PMD[name] in delta.vmstat:
        return delta.vmstat[VMSTAT_PMD[name]]
    return None


def stat_mismatches(delta: counters.CounterDelta, env: Effective, want: Expected,
                    processes: int = 1) -> list[str]:
    """Per-order counters against one pass of the model: a stat the model increments
    must have grown by at least that much per process (passes repeat, and khugepaged
    retries failed ranges); a stat it does not touch must not move at all."""
    bad = []
    for order in (env.layout.order(kb) for kb in env.layout.anon_kb):
        for name in ("collapse_alloc", *EXCEED):
            got = observed(delta, env, order, name)
            need = want.stats.get(order, {}).get(name, 0) * processes
            if got is not None and ((need and got < need) or (not need and got)):
                label = knobs.size_label(order_kb(env, order))
                bad.append(f"{label} {name}: +{got}, expected "
                           f"{'>= ' + str(need) if need else '0'}")
    return bad


def census_message(got: workloads.Census, want: Expected, env: Effective) -> str:
    lines = ["per-PMD folio orders (size:pages), expected vs got:"]
    for i, (w, g) in enumerate(zip(want.census, census_pmds(got), strict=False)):
        mark = "  " if w == g else "!!"
        lines.append(f"{mark} PMD {i}: {describe_orders(w, env)}  |  {describe_orders(g, env)}")
    return "\n".join(lines)


# ------------------------------------------------------------------ the per-test facade

# The 7.2 text of the warning collapse_max_ptes_none() prints (pr_warn_once) for
# max_ptes_none values other than 0 and HPAGE_PMD_NR - 1. Series versions that scaled
# max_ptes_none per order (before v13) do not have it.
WARN_255 = "mTHP collapse does not support max_ptes_none values other than 0 or"


@functools.lru_cache(maxsize=8)
def _vmlinux_has(path: str, needle: bytes) -> bool:
    with open(path, "rb") as f:
        return needle in f.read()


def collapse_model(kernel: Any, features: dict[str, bool], pmd_order: int) -> CollapseModel:
    """mthp from the guest's per-size collapse stats; scaled = an mTHP-collapse kernel
    without the 0-or-511 warning (max_ptes_none scaled per order: pre-v13 series);
    needs_writable (SCAN_PAGE_RO) on kernels without mTHP collapse (6.12 has the check,
    7.2 has not; an approximation: the check leaves no trace outside the source)."""
    mthp = features.get("mthp_collapse", False)
    scaled = mthp and not _vmlinux_has(str(kernel.vmlinux), WARN_255.encode())
    return CollapseModel(mthp=mthp, scaled=scaled, pmd_order=pmd_order, needs_writable=not mthp)


class Kh:
    """Per-test facade over the guest (see the module docstring)."""

    def __init__(self, guest: Any, vm: Any, kernel: Any, features: dict[str, bool],
                 record: JsonObject) -> None:
        self.guest, self.vm, self.kernel, self.features = guest, vm, kernel, features
        self.record = record
        self.thp = thpsysfs.ThpKnobs(guest, batch=True)
        self.snapshots: list[thpsysfs.Snapshot] = []
        self._env: Effective | None = None
        self.meter: Meter | None = None
        self.procs: list[workloads.RunningWorkload] = []

    def apply(self, ks: knobs.KnobSet, khugepaged: bool = True) -> Effective:
        """Apply a knob set for the rest of the test (restored at teardown).

        khugepaged=True: the test needs khugepaged to collapse under this set; skip when
        this kernel's khugepaged collapses none of the enabled sizes (e.g. 6.12 with
        only mTHP sizes: khugepaged only runs while PMD THP is enabled)."""
        reason = thpsysfs.unavailable(ks, self.thp.layout())
        if reason:                                # e.g. 64K with 64K base pages
            pytest.skip(reason)
        before = self.thp.apply(ks)               # written and read back (verified)
        self.snapshots.append(before)
        self.record.setdefault("knobs", knobs.describe(ks))
        written = thpsysfs.targets(ks, self.thp.layout())
        self.record.setdefault("knob_values", dict(written))       # for the reproducer
        state = dict(before.values) | written
        self._env = effective(self.thp, state)
        if khugepaged and not self.model().orders(self._env.enabled):
            pytest.skip(f"knob set {ks.name}: this kernel's khugepaged collapses none of the "
                        "enabled sizes (without mTHP collapse it only runs for PMD THP)")
        return self._env

    def env(self) -> Effective:
        """The effective THP state (as applied; read from the guest if nothing was)."""
        if self._env is None:
            self._env = effective(self.thp)
        return self._env

    def model(self) -> CollapseModel:
        return collapse_model(self.kernel, self.features, self.env().pmd_order)

    def start_meter(self) -> Meter:
        key = str(getattr(self.kernel, "image", "") or id(self.kernel))
        self.meter = Meter(self.guest, self.record, self.vm.scale, stuck_key=key)
        return self.meter

    def start(self, sub: str, options: list[str]) -> workloads.RunningWorkload:
        """Start a held thpwork workload (stopped at teardown)."""
        w = workloads.start(self.guest, sub, options, timeout=60 * self.vm.scale)
        earlier = self.record.get("workloads")
        self.record["workloads"] = [*(earlier if isinstance(earlier, list) else []),
                                    list(w.argv)]                     # for the reproducer
        self.procs.append(w)
        return w

    def census(self, w: workloads.RunningWorkload) -> workloads.Census:
        c = workloads.census(self.guest, w, detail=True)
        if self.meter is not None:
            self.meter.note_census(c)
        return c

    def dmesg_since_start(self, nodeid: str) -> str:
        """The kernel log since this test's start marker."""
        text: str = self.guest.dmesg()
        marker = f"kharness: test start {nodeid}"
        return text[text.rfind(marker):] if marker in text else text

    def close(self) -> None:
        """Stop workloads, record counters if the test did not, restore the knobs."""
        for w in self.procs:
            with contextlib.suppress(Exception):
                workloads.stop(self.guest, w)
        if self.meter is not None and "counters" not in self.record:
            with contextlib.suppress(Exception):
                self.meter.finish()
        for snap in reversed(self.snapshots):
            self.thp.restore(snap)


