"""Racers: rmap walkers and page-table users meeting khugepaged's collapses (issue 17).

An mTHP collapse unhooks the whole page table (pmdp_collapse_flush) while only some of its
ptes are collapsed; the anon_vma lock keeps rmap walkers of the neighbouring folios out
until the table is back. `thpracer` (guest_tests/workloads/thpracer/) keeps khugepaged
collapsing order-4 blocks (64K with 4K pages) of a region (re-splitting what it
collapsed) while it migrates the neighbours of those blocks, in the same PMDs, between
the guest's two NUMA nodes (move_pages, mbind MPOL_MF_MOVE, migrate_pages) and compacts
memory; it verifies the contents of every populated page throughout. A kernel that lets
a walker meet the unhooked table leaves migration entries behind: the splat guard fails
the test with the WARNING / BUG; a changed page fails it as a finding.

Not vacuous: each test checks that pages really migrated (vmstat pgmigrate_success grew),
that khugepaged collapsed in the same interval (pages_collapsed grew) and that the racer
saw its own blocks collapsed (collapsed_seen, from pagemap + kpageflags); the KSM racer
that KSM pages migrated (ksm_moved). A race that did not happen is skipped as
"inconclusive: vacuous race: ..." (the verdict shows the reason and never counts it as a
regression); a splat or a changed page fails the test all the same.

thpracer --fork / --mremap / --memcg add COW children, PMDs moved by mremap() and reclaim
in a memory cgroup of its own (thpracer/fork.c, mremap.c, memcg.c). `thpfile`
(guest_tests/workloads/thpfile/) races file/shmem collapse (khugepaged and MADV_COLLAPSE
on a memfd or a tmpfs) with hole punching, truncation and migration, and checks that a
punched page reads zero through every mapping (a pte hidden from the punch would not).

KHARNESS_KSM_WARMUP (default 240) bounds the KSM racer's wait for ksmd's first merge.
Duration: KHARNESS_RACER_SECONDS (default 30; scripts/test.sh, the CI, sets 10), also for
the other knob sets marked `slow`; test_migration_racer_long runs
KHARNESS_RACER_SLOW_SECONDS (default 300). `slow` tests run only under `-m slow`. The seed is
KHARNESS_RACER_SEED or fresh per test; it is printed with a reproducer and journalled.
Guests need two NUMA nodes: kernel fragment `racers` (NUMA + NUMA_EMU) and `guest:
numa_nodes: 2` in the config (examples/racers-demo.yaml); otherwise the tests skip saying so.
"""

from __future__ import annotations

import json
import os
import random
import shlex
from typing import Any

import pytest

from harness.guest import knobs
from harness.guest.support import Kh, knobset
from harness.results.verdict import INCONCLUSIVE

SECONDS = float(os.environ.get("KHARNESS_RACER_SECONDS", "30"))
SLOW_SECONDS = float(os.environ.get("KHARNESS_RACER_SLOW_SECONDS", "300"))
# Regions are given in PMDs of 4K pages (2M): thpracer 16, thpfile FILE_PMDS. With bigger
# pages the same bytes, at least MIN_PMDS: the uffd racer's write-protected block keeps its
# whole PMD from collapsing (SCAN_PTE_UFFD_WP) and KSM merges neighbours of different PMDs,
# so one PMD (16K pages: 32M) proved nothing (seen: collapsed_seen 0, ksm_pages_shared 0).
# 16K: 4 PMDs = 128M; 64K: 4 x 512M, over a quarter of an 8G guest: skipped (region_pmds).
RACER_PMDS = 16
MIN_PMDS = 4
# khugepaged at its fastest that TCG allows: a pass over the region every ~10 ms of sleep.
RACER_FAST = {"scan_sleep_millisecs": 10, "alloc_sleep_millisecs": 100, "pages_to_scan": 4096}
# ids keep their 4K spelling (journal history); sizes follow the page size: orders 2 and 4
# (thpracer's blocks are 16 pages), none511 is HPAGE_PMD_NR - 1.
KNOBSETS = {
    "16K+64K+PMD-none0": knobset("racers-none0", sizes="order2+order4+PMD", max_ptes_none=0,
                                 **RACER_FAST),
    "16K+64K+PMD-none511": knobset("racers-none511", sizes="order2+order4+PMD",
                                   max_ptes_none="max", **RACER_FAST),
}
# File/shmem collapse (PMD only in 7.2) of a shmem file under the per-size shmem knobs:
# faults take small folios (PMD only) or 64K ones too, khugepaged collapses with holes
# (none511) or only full ranges (none0).
SHMEM_KNOBSETS = {
    "shmem-PMD-none511": knobset("shmem-none511", sizes="PMD", shmem_enabled="advise",
                                 shmem_sizes="PMD:inherit", max_ptes_none="max",
                                 **RACER_FAST),
    "shmem-64K+PMD-none0": knobset("shmem-none0", sizes="PMD", shmem_enabled="advise",
                                   shmem_sizes="64K:advise+PMD:inherit", max_ptes_none=0,
                                   **RACER_FAST),
}
FILE_PMDS = 8
# ksmd merges a page on its second full scan of the region: with 64K pages (2G of region)
# on a loaded TCG host that took more than the 30 s window (seen: pages_shared 0 after
# 33 s). thpracer starts the window once ksmd has merged, waiting at most this long
# (KHARNESS_KSM_WARMUP; 0: no warm-up).
KSM_WARMUP = float(os.environ.get("KHARNESS_KSM_WARMUP", "240"))
VMSTAT_KEYS = ("pgmigrate_success", "pgmigrate_fail", "compact_migrate_scanned",
               "numa_pages_migrated", "numa_hint_faults", "thp_migration_success",
               "thp_split_page", "pswpout", "pswpin", "thp_file_alloc", "thp_file_mapped",
               "thp_collapse_alloc", "thp_collapse_alloc_failed")


def nightly(sets: dict[str, knobs.KnobSet], default: str) -> list[Any]:
    """Parameters over knob sets: `default` in the default suite, the others `slow`."""
    return [pytest.param(ks, id=name, marks=() if name == default else pytest.mark.slow)
            for name, ks in sets.items()]


@pytest.fixture(autouse=True)
def _slow_only_when_selected(request: pytest.FixtureRequest) -> None:
    """A `slow` racer runs only when `-m slow` asks for it: `kharness run` passes no -m,
    so its default suite stays short (CI deselects them with -m "not slow")."""
    if request.node.get_closest_marker("slow") is None:
        return
    expr = str(request.config.getoption("markexpr") or "")
    if "slow" not in expr or "not slow" in expr:
        pytest.skip("nightly length or knob set: select with -m slow")


def seed() -> int:
    env = os.environ.get("KHARNESS_RACER_SEED")
    return int(env) if env else random.SystemRandom().randrange(1, 1 << 31)


def vmstat(guest: Any) -> dict[str, int]:
    out = guest.run(["cat", "/proc/vmstat"], check=True).stdout
    pairs = (line.split() for line in out.splitlines())
    return {p[0]: int(p[1]) for p in pairs if len(p) == 2 and p[1].isdigit()}


def region_pmds(kh: Kh, pmds_4k: int) -> int:
    """PMDs for a region of pmds_4k 2M PMDs at this page size (see RACER_PMDS)."""
    layout = kh.thp.layout()
    pmds = max(MIN_PMDS, pmds_4k * (2 << 20) // layout.pmd_size)
    need, total = pmds * layout.pmd_size, guest_mem(kh.guest)
    if need > total // 4:
        pytest.skip(f"racers map {pmds} PMDs = {need >> 20}M with {layout.page_size >> 10}K"
                    f" pages: more than a quarter of the guest's {total >> 20}M")
    return pmds


def guest_mem(guest: Any) -> int:
    """MemTotal in bytes."""
    line = next(x for x in guest.read_file("/proc/meminfo").splitlines()
                if x.startswith("MemTotal:"))
    return int(line.split()[1]) << 10


def numa_balancing(guest: Any, value: str) -> str | None:
    """Set kernel.numa_balancing (hinting faults migrate too); the old value, or None
    when the kernel has no NUMA balancing."""
    path = "/proc/sys/kernel/numa_balancing"
    res = guest.run(["sh", "-c", f"cat {path} && echo {value} > {path}"])
    return res.stdout.strip() if res.exit_code == 0 else None


def racer_report(stdout: str, event: str = "racer") -> dict[str, Any]:
    for line in reversed(stdout.splitlines()):
        if line.startswith("{") and f'"event":"{event}"' in line:
            return dict(json.loads(line))
    return {}


def reproducer(request: pytest.FixtureRequest, kh: Kh, ks: knobs.KnobSet, argv: list[str]) -> str:
    """`kharness boot` of the same kernel and guest, the knob set, the racer's argv."""
    cfg = request.config.getoption("kharness_config") or request.config.getini("kharness_config")
    target = request.getfixturevalue("kh_target")
    boot = ["kharness", "boot", str(cfg or "CONFIG"), "--arch", target.arch, "--variant",
            target.variant, "--mem", str(kh.vm.mem)]
    boot += [a for arg in str(kh.vm.cmdline).split() if arg.startswith("numa=")
             for a in ("--append", arg)]
    return f"{shlex.join(boot)} -- {shlex.join(argv)}   # knobs: {knobs.describe(ks)}"


def run_racer(kh: Kh, request: pytest.FixtureRequest, ks: knobs.KnobSet, seconds: float,
              extra: tuple[str, ...] = (), warmup: float = 0) -> dict[str, Any]:
    """Apply the knobs, run thpracer, return its report + the vmstat / THP deltas.
    `warmup`: seconds the racer may spend before its race window (--ksm-warmup)."""
    pmds = region_pmds(kh, RACER_PMDS)
    argv = ["thpracer", "--seconds", f"{seconds:g}", "--pmds", str(pmds),
            "--seed", str(seed()), *extra]
    return run_workload(kh, request, ks, argv, "racer", seconds + warmup)


def run_workload(kh: Kh, request: pytest.FixtureRequest, ks: knobs.KnobSet, argv: list[str],
                 event: str, seconds: float) -> dict[str, Any]:
    """Apply the knobs, run a racer workload (argv), return its report + the deltas."""
    kh.apply(ks)
    kh.record["racer_argv"] = argv
    print(f"reproduce: {reproducer(request, kh, ks, argv)}")
    balancing = numa_balancing(kh.guest, "1")
    before, meter = vmstat(kh.guest), kh.start_meter()
    # A racer's finding often leaves the racer itself waiting forever on the folio of a
    # stale migration entry: the first splat ends the command at once (fail-fast, any
    # kind; the splat guard then fails the test with it and the guest is replaced).
    saved, kh.vm.fail_fast = kh.vm.fail_fast, frozenset()
    try:
        res = kh.guest.run(argv, timeout=seconds + 120 * kh.vm.scale)
    finally:
        kh.vm.fail_fast = saved
        if balancing is not None and kh.vm.outcome.value == "ok":
            numa_balancing(kh.guest, balancing)
    delta, after = meter.finish(), vmstat(kh.guest)
    report = racer_report(res.stdout, event)
    moved = {k: after.get(k, 0) - before.get(k, 0) for k in VMSTAT_KEYS}
    kh.record["racer"] = report | {"vmstat": moved}
    print(f"{event}: {report}\nvmstat delta: {moved}\n{res.stderr[-1500:]}")
    if res.exit_code == 3:
        pytest.skip(res.stderr.strip().splitlines()[-1])
    assert res.exit_code != 1, f"{argv[0]} found changed pages:\n{res.stderr[-3000:]}"
    assert res.exit_code == 0 and report, \
        f"{argv[0]} failed ({res.exit_code}): {res.stderr[-2000:]}"
    return {"report": report, "vmstat": moved, "pages_collapsed": delta.pages_collapsed,
            "collapse_alloc": delta.by_size("collapse_alloc"),
            "shmem_alloc": delta.by_size("shmem_alloc")}


def raced_or_inconclusive(happened: bool, why: str) -> None:
    """A side of the race that did not act makes the test inconclusive, not failed: on a
    loaded TCG host one side can starve the other for a whole window, and a race that did
    not happen says nothing of the kernel either way. The skip message starts with
    "inconclusive", so the verdict lists the change with its reason and never counts it
    as a regression (a splat or a changed page in the same run still fails the test)."""
    if not happened:
        pytest.skip(f"{INCONCLUSIVE}: vacuous race: {why}")


def assert_raced(r: dict[str, Any]) -> None:
    """Both sides worked in the same interval: migration and khugepaged's collapses."""
    rep, mig = r["report"], r["vmstat"]
    assert rep["verified"] > 0 and rep["corrupt"] == 0, f"pages not verified: {rep}"
    raced_or_inconclusive(mig["pgmigrate_success"] > 0, f"no page migrated: {mig}")
    raced_or_inconclusive(r["pages_collapsed"] > 0 or bool(r["collapse_alloc"]),
                          f"khugepaged collapsed nothing while the racer ran: {r}")
    raced_or_inconclusive(rep["collapsed_seen"] > 0,
                          f"no block of the racer's region was collapsed: {rep}")


@pytest.mark.needs("thp", "numa", "compaction")
@pytest.mark.parametrize("ks", KNOBSETS.values(), ids=KNOBSETS)
def test_migration_racer(kh: Kh, ks: knobs.KnobSet, request: pytest.FixtureRequest) -> None:
    """move_pages / mbind / migrate_pages of the collapsing ranges' neighbours + compaction."""
    assert_raced(run_racer(kh, request, ks, SECONDS))


@pytest.mark.needs("thp", "numa", "compaction", "page_idle")
def test_reclaim_and_walkers_racer(kh: Kh, request: pytest.FixtureRequest) -> None:
    """The migration racer plus the other walkers: page_idle rmap walks, MADV_COLD /
    MADV_PAGEOUT of the neighbours (reclaim's try_to_unmap), pagemap and smaps readers and
    GUP (process_vm_readv)."""
    r = run_racer(kh, request, KNOBSETS["16K+64K+PMD-none0"], SECONDS,
                  ("--idle", "--pageout", "--walkers"))
    assert_raced(r)
    rep = r["report"]
    assert rep["idle_rounds"] > 0, f"no page_idle round: {rep}"
    assert rep["paged_out"] > 0 and rep["walks"] > 0 and rep["gup_bytes"] > 0, \
        f"a walker did not run: {rep}"


@pytest.mark.slow
@pytest.mark.needs("thp", "numa", "compaction")
@pytest.mark.parametrize("ks", KNOBSETS.values(), ids=KNOBSETS)
def test_migration_racer_long(kh: Kh, ks: knobs.KnobSet, request: pytest.FixtureRequest) -> None:
    """The nightly length of test_migration_racer."""
    assert_raced(run_racer(kh, request, ks, SLOW_SECONDS))


@pytest.mark.needs("thp", "numa", "compaction", "userfaultfd")
def test_uffd_wp_racer(kh: Kh, request: pytest.FixtureRequest) -> None:
    """The migration racer plus userfaultfd write-protect of one block at a time: every
    write to a protected page must raise its WP event, collapse or migration between."""
    r = run_racer(kh, request, KNOBSETS["16K+64K+PMD-none0"], SECONDS, ("--uffd",))
    assert_raced(r)
    rep = r["report"]
    assert rep["wp_served"] > 0, f"no uffd WP fault served: {rep}"
    assert rep["wp_missed"] == 0, f"writes to write-protected pages raised no event: {rep}"


@pytest.mark.needs("thp", "numa", "compaction", "ksm")
def test_ksm_racer(kh: Kh, request: pytest.FixtureRequest) -> None:
    """The migration racer with KSM pages as the neighbours (ksmd at its fastest): their
    migration walks the rmap through rmap_walk_ksm."""
    r = run_racer(kh, request, KNOBSETS["16K+64K+PMD-none0"], SECONDS,
                  ("--ksm", "--ksm-warmup", f"{KSM_WARMUP:g}"), KSM_WARMUP)
    assert_raced(r)
    rep = r["report"]
    print(f"ksm: warm-up {rep['ksm_warmup_s']} s, {rep['ksm_full_scans']} full scans in the"
          f" run, pages_shared max {rep['ksm_shared_max']}, KSM pages migrated"
          f" {rep['ksm_moved']} of {rep['ksm_sampled']} sampled")
    raced_or_inconclusive(
        rep["ksm_moved"] > 0,
        f"no KSM page was seen to migrate: ksmd merged {rep['ksm_shared_max']} pages"
        f" (pages_shared at most; {rep['ksm_warmup_s']} s of warm-up,"
        f" {rep['ksm_full_scans']} full scans in the run); {rep['ksm_sampled']} KSM pages"
        f" sampled")


def assert_forked(rep: dict[str, Any]) -> None:
    assert rep["forks"] > 0 and rep["cow_writes"] > 0, f"no fork / COW: {rep}"
    assert rep["child_verified"] > 0 and rep["child_corrupt"] == 0, f"children: {rep}"
    assert rep["child_paged_out"] > 0, f"no MADV_PAGEOUT from a child: {rep}"


def assert_moved(rep: dict[str, Any]) -> None:
    assert rep["mremaps"] > 0, f"no mremap: {rep}"
    assert rep["mremap_collapsed_seen"] > 0, f"no moved PMD was collapsed: {rep}"


def assert_memcg_reclaimed(r: dict[str, Any]) -> None:
    rep = r["report"]
    # pages reclaimed in the racer's memcg (memory.reclaim or the memory.max limit): a
    # memory.reclaim write that fell short of 1M still reclaimed (EAGAIN), so not required
    assert rep["memcg_reclaims"] > 0 and rep["memcg_pgsteal"] > 0, f"no memcg reclaim: {rep}"
    assert r["vmstat"]["pswpout"] > 0, f"nothing swapped out: {r['vmstat']}"


@pytest.mark.needs("thp", "numa", "compaction", "swap")
def test_fork_mremap_memcg_racer(kh: Kh, request: pytest.FixtureRequest) -> None:
    """The migration racer plus --fork, --mremap and --memcg at once (one guest run in the
    default suite; each alone, under both knob sets, in the slow tests below): forked
    children COW and page out a PMD's neighbours, PMDs of their own move by mremap(), the
    whole process reclaims in its own memory cgroup; each must show it ran."""
    r = run_racer(kh, request, KNOBSETS["16K+64K+PMD-none511"], SECONDS,
                  ("--fork", "--mremap", "--memcg"))
    assert_raced(r)
    assert_forked(r["report"])
    assert_moved(r["report"])
    assert_memcg_reclaimed(r)


@pytest.mark.slow
@pytest.mark.needs("thp", "numa", "compaction")
@pytest.mark.parametrize("ks", KNOBSETS.values(), ids=KNOBSETS)
def test_fork_cow_racer(kh: Kh, ks: knobs.KnobSet, request: pytest.FixtureRequest) -> None:
    """A child forked every 10 ms (copy_page_range under the collapse) verifies a PMD,
    COW-writes its neighbours, MADV_PAGEOUTs its copies (reclaim from a forked sharer)
    and verifies them after swap-in; the parent COWs the collapse ranges meanwhile."""
    r = run_racer(kh, request, ks, SECONDS, ("--fork",))
    assert_raced(r)
    assert_forked(r["report"])


@pytest.mark.slow
@pytest.mark.needs("thp", "numa", "compaction")
@pytest.mark.parametrize("ks", KNOBSETS.values(), ids=KNOBSETS)
def test_mremap_racer(kh: Kh, ks: knobs.KnobSet, request: pytest.FixtureRequest) -> None:
    """PMDs of their own moved whole by mremap() every 2 ms (move_page_tables: the page
    table or the huge PMD moves) while khugepaged collapses them; verified before every
    move."""
    r = run_racer(kh, request, ks, SECONDS, ("--mremap",))
    assert_raced(r)
    assert_moved(r["report"])


@pytest.mark.slow
@pytest.mark.needs("thp", "numa", "compaction", "swap")
@pytest.mark.parametrize("ks", KNOBSETS.values(), ids=KNOBSETS)
def test_memcg_reclaim_racer(kh: Kh, ks: knobs.KnobSet, request: pytest.FixtureRequest) -> None:
    """The racer in a memory cgroup of its own: memory.max 12 MB above the populated size
    (a max_ptes_none 511 collapse fills holes) and memory.reclaim every 50 ms pushing the
    region to swap while khugepaged collapses."""
    r = run_racer(kh, request, ks, SECONDS, ("--memcg",))
    assert_raced(r)
    assert_memcg_reclaimed(r)


def run_thpfile(kh: Kh, request: pytest.FixtureRequest, ks: knobs.KnobSet, seconds: float,
                extra: tuple[str, ...] = ()) -> dict[str, Any]:
    argv = ["thpfile", "--seconds", f"{seconds:g}", "--pmds", str(region_pmds(kh, FILE_PMDS)),
            "--seed", str(seed()), *extra]
    return run_workload(kh, request, ks, argv, "thpfile", seconds)


def assert_file_raced(r: dict[str, Any]) -> None:
    """Collapses of the file's PMDs (khugepaged and MADV_COLLAPSE) while holes were
    punched and the file truncated, every page verified."""
    rep = r["report"]
    assert rep["verified"] > 0 and rep["corrupt"] == 0, f"pages not verified: {rep}"
    raced_or_inconclusive(r["pages_collapsed"] > 0,
                          f"khugepaged collapsed nothing while the racer ran: {r}")
    assert rep["collapse_ok"] > 0, f"no MADV_COLLAPSE of the file succeeded: {rep}"
    assert rep["collapsed_seen"] > 0, f"no PMD of the file was seen collapsed: {rep}"
    assert rep["punches"] > 0 and rep["truncations"] > 0, f"no punch / truncation: {rep}"


@pytest.mark.needs("thp", "shmem_thp")
@pytest.mark.parametrize("ks", nightly(SHMEM_KNOBSETS, "shmem-PMD-none511"))
def test_shmem_collapse_racer(kh: Kh, ks: knobs.KnobSet, request: pytest.FixtureRequest) -> None:
    """memfd (the internal shmem mount, per-size shmem knobs): khugepaged and MADV_COLLAPSE
    collapse its PMDs while holes are punched, the file truncated and its pages migrated."""
    r = run_thpfile(kh, request, ks, SECONDS)
    assert_file_raced(r)
    if "64K" in ks.name or any(lbl == "64K" for lbl, _ in ks.shmem_sizes):
        assert r["shmem_alloc"].get(64, 0) > 0, f"no 64K shmem folio allocated: {r}"


@pytest.mark.slow
@pytest.mark.needs("thp", "shmem_thp")
def test_tmpfs_collapse_racer(kh: Kh, request: pytest.FixtureRequest) -> None:
    """The same on a tmpfs mounted huge=within_size (its own huge policy, every size)."""
    assert_file_raced(run_thpfile(kh, request, SHMEM_KNOBSETS["shmem-PMD-none511"], SECONDS,
                                  ("--tmpfs",)))
