"""`kharness run`: build every variant x arch x kernel config, run guest_tests per cell,
journal, verdict.

A cell is (arch, config, variant), named "arch/config/variant"; a YAML without `configs:`
has one anonymous config and its cells keep the name "arch/variant" (so earlier runs,
their history and --resume read the same). Verdicts compare variants within one
(arch, config). Builds run one at a time (each already uses every core). Test
cells run as separate pytest processes, `jobs` at a time: by default one per host core,
capped so the guests' memory fits in 70% of host RAM (TCG guests are mostly idle between
workload bursts, so one VM per core keeps both cores busy without thrashing).
Everything lands in the run directory as it happens; `--resume` skips finished cells.

Where cells run is an executor: the local pool below, or a Dask cluster (`--cluster ADDR`,
harness.campaign.cluster) whose workers build and test each cell and send its records and
files back. `--shard I/N` / `--cell NAME` run a slice of the matrix (harness.campaign.shard);
`kharness merge` joins slices (harness.campaign.merge).
"""

from __future__ import annotations

import logging
import os
import platform
import shutil
import subprocess
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

from harness import arch as archmod
from harness import config
from harness.campaign import matrix, pytestcmd
from harness.campaign import shard as shardmod
from harness.campaign.matrix import Cell
from harness.campaign.pytestcmd import PytestCall
from harness.checks import summary as checksummary
from harness.checks.model import CheckResult, rig_error
from harness.checks.runner import CheckOptions, run_checks
from harness.errors import InfrastructureError, UserError
from harness.kernel import build
from harness.results.journal import Journal
from harness.results.records import (
    BuildInfo,
    CellRecord,
    CellStatus,
    Durations,
    RunRecord,
    SeriesInfo,
    others,
)
from harness.results.runinfo import load_run
from harness.sources import tree as source
from harness.util import cmdline, stable_hash, write_json

if TYPE_CHECKING:
    from harness.campaign.cluster import ClusterOptions

log = logging.getLogger("harness")
__all__ = ["Cell", "RunOptions", "cells_for", "default_jobs", "run"]


@dataclass(frozen=True)
class RunOptions:
    config: Path
    out: Path
    archs: tuple[str, ...] = ()
    variants: tuple[str, ...] = ()
    kconfigs: tuple[str, ...] = ()       # names under `configs:`; () = all of them
    tests: tuple[str, ...] = ()          # () = the shipped guest suite
    pytest_args: tuple[str, ...] = ()
    jobs: int = 0
    resume: bool = False
    checks: tuple[str, ...] | None = None    # None: the config's `checks:`
    shard: shardmod.Shard | None = None      # this slice of the matrix only
    cells: tuple[str, ...] = ()              # --cell names: these cells only
    cluster: ClusterOptions | None = None    # None: the local pool


@dataclass(frozen=True)
class CellOutcome:
    """How one cell ended, wherever it ran; run() journals it as the cell record."""

    cell: Cell
    status: CellStatus
    pytest_exit: int | None = None
    seconds: float = 0.0
    build: BuildInfo | None = None
    message: str = ""
    worker: str | None = None            # cluster worker address; None: this host
    retries: int = 0                     # infra retries (worker lost mid-cell)
    timing: dict[str, float] | None = None   # cluster: queued, task, overhead seconds


def cells_for(cfg: config.Config, opts: RunOptions) -> list[Cell]:
    """The matrix: kernel configs x archs x variants (harness.campaign.matrix)."""
    return matrix.cells(cfg, opts.archs, opts.variants, opts.kconfigs)


def cell_record(cfg: config.Config, o: CellOutcome, opts: RunOptions) -> CellRecord:
    """The journal's cell record of an outcome; a cluster cell adds worker, infra_retries
    and its timing."""
    c = o.cell
    if o.status == CellStatus.BUILD_FAILED:
        return CellRecord(c.name, c.arch, c.variant, o.status, message=o.message,
                          config=c.config)
    return CellRecord(c.name, c.arch, c.variant, o.status, message=o.message or None,
                      pytest_exit=o.pytest_exit, seconds=o.seconds, build=o.build,
                      reproduce=pytestcmd.reproduce(pytest_call(
                          cfg, c, opts, opts.out / "cells" / c.slug)), config=c.config,
                      worker=o.worker, infra_retries=None if o.worker is None else o.retries,
                      cluster=None if o.worker is None else o.timing)


def selected_cells(cfg: config.Config, opts: RunOptions) -> list[Cell]:
    return shardmod.select(cells_for(cfg, opts), opts.shard, opts.cells)


def default_jobs(guest_mem_mib: int = 1024) -> int:
    cores = os.cpu_count() or 1
    try:
        total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") // (1 << 20)
    except (ValueError, OSError):
        total = 4096
    return max(1, min(cores, int(total * 0.7) // max(guest_mem_mib, 1)))


def pytest_call(cfg: config.Config, cell: Cell, opts: RunOptions, celldir: Path) -> PytestCall:
    return PytestCall(config=cfg.path, arch=cell.arch, variant=cell.variant, kconfig=cell.config,
                      journal=opts.out / "results.jsonl", workdir=celldir, tests=opts.tests,
                      junit=celldir / "junit.xml", extra=("-q", "-rA", *opts.pytest_args))


def run(opts: RunOptions) -> RunRecord:
    cfg = config.load(opts.config)
    cells = selected_cells(cfg, opts)
    _check_kconfigs(cfg, cells)
    opts.out.mkdir(parents=True, exist_ok=True)
    journal = Journal(opts.out / "results.jsonl")
    journal.drop_torn_tail()              # a resumed run appends after whole lines only
    done = {c.cell for c in journal.records() if isinstance(c, CellRecord)
            and c.status in (CellStatus.DONE, CellStatus.BUILD_FAILED)}
    if done and not opts.resume:
        raise UserError(f"{opts.out} already holds a run", "refusing to mix two runs",
                        "pass --resume to continue it, or choose another --out")
    meta = _metadata(cfg, cells, opts)
    if opts.cluster is None:      # a cluster's workers resolve it (and report it back)
        meta = replace(meta, source_identity=source.resolve(cfg.source).identity)
    if opts.resume:
        meta = _resumed(opts.out, meta)
    write_json(opts.out / "run.json", meta.to_json())
    t0 = time.monotonic()
    todo = [c for c in cells if c.name not in done]
    for c in cells:
        if c.name in done:
            log.info("[%s] finished in an earlier attempt, skipped", c.name)
    if opts.cluster is not None:
        from harness.campaign import cluster
        found = cluster.Reported()
        for rec in cluster.run_cells(cfg, todo, opts, journal, _check_request(cfg, cells, opts,
                                                                              journal), found):
            journal.append(cell_record(cfg, rec, opts))
        meta = replace(meta, source_identity=found.source_identity)
    else:
        _run_checks(cfg, cells, opts, journal)
        for rec in local_cells(cfg, todo, opts):
            journal.append(cell_record(cfg, rec, opts))
    meta = replace(meta, durations=Durations(time.monotonic() - t0),
                   finished=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()))
    write_json(opts.out / "run.json", meta.to_json())
    return meta


def _check_kconfigs(cfg: config.Config, cells: list[Cell]) -> None:
    """Every (config, arch)'s fragments exist and agree, before the first build starts."""
    from harness.kernel import kconfig
    for k, a in dict.fromkeys((c.config, c.arch) for c in cells):
        narrowed = cfg.for_kconfig(k)
        try:
            kconfig.merge(kconfig.collect(narrowed.fragments, narrowed.options,
                                          archmod.get(a), (cfg.base_dir,)))
        except UserError as e:
            where = f"config {k} ({a})" if k else a
            raise UserError(f"{where}: {e.what}", e.why, e.fix) from None


def _check_request(cfg: config.Config, cells: list[Cell], opts: RunOptions,
                   journal: Journal) -> CheckOptions | None:
    """The build checks this run still owes: those of the series versions under test
    (shard 1 of N only: a merge needs them once), None when there are none or a resumed
    run already has them."""
    checks = cfg.checks if opts.checks is None else opts.checks
    if not checks or cfg.series is None or (opts.shard is not None and not opts.shard.first):
        return None
    if others(journal.records(), "check"):
        log.info("build checks finished in an earlier attempt, skipped")
        return None
    names = cfg.series.version_names()
    versions = sorted({v.version for v in (cfg.variant(c.variant) for c in cells)
                       if v.version is not None}, key=names.index)
    if not versions:
        return None
    archs = tuple(dict.fromkeys(c.arch for c in cells))
    return CheckOptions(checks=checks, versions=tuple(versions), archs=archs)


def run_check_request(cfg: config.Config, req: CheckOptions,
                      land: Callable[[CheckResult], None]) -> None:
    """Run the checks, `land(result)` each as it finishes; a rig failure is one error result."""
    def one(r: CheckResult) -> None:
        land(r)
        log.info("%s", checksummary.progress_line(r))
    try:
        run_checks(cfg, req, one)
    except (InfrastructureError, build.BuildFailed) as e:
        log.error("build checks: %s", e.one_line())
        land(rig_error(e.one_line()))


def _run_checks(cfg: config.Config, cells: list[Cell], opts: RunOptions,
                journal: Journal) -> None:
    """The build checks of the series versions under test, before anything boots; their
    records land in the journal as they finish. A rig failure here is recorded as an error
    result and the run goes on to its runtime tests."""
    req = _check_request(cfg, cells, opts, journal)
    if req is not None:
        run_check_request(cfg, req, lambda r: journal.append(r.record()))


def _metadata(cfg: config.Config, cells: list[Cell], opts: RunOptions) -> RunRecord:
    qemu = {a: _version([archmod.get(a).qemu_binary, "--version"]) for a in {c.arch for c in cells}}
    kconfigs = {k: {"fragments": list(cfg.for_kconfig(k).fragments),
                    "options": list(cfg.for_kconfig(k).options)}
                for k in dict.fromkeys(c.config for c in cells) if k}
    return RunRecord(
        config=str(cfg.path), name=cfg.name, config_sha256=stable_hash(cfg.path.read_text()),
        cells=tuple(c.name for c in cells), kconfigs=kconfigs or None,
        source={"kind": cfg.source.kind, "location": cfg.source.location,
                "suite": cfg.source.suite, "ref": cfg.source.ref},
        series=None if cfg.series is None else SeriesInfo(
            cfg.series.name, tuple(v for v, _ in cfg.series.versions)),
        qemu=qemu, host=platform.node(), cpus=os.cpu_count(),
        started=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        command=cmdline(["kharness", "run", str(cfg.path), "--out", str(opts.out),
                         *(["--shard", str(opts.shard)] if opts.shard else []),
                         *(a for c in opts.cells for a in ("--cell", c))]),
        extra={"out": str(opts.out), "shard": None if opts.shard is None else str(opts.shard),
               "cluster": None if opts.cluster is None else opts.cluster.address})


def _resumed(out: Path, meta: RunRecord) -> RunRecord:
    """A resumed run keeps the cells (and kernel configs) of its earlier attempts beside the
    ones this attempt selects (`--resume DIR --kconfig ptc` adds ptc's cells)."""
    old = load_run(out)
    if old is None:
        return meta
    cells = tuple(dict.fromkeys([*old.cells, *meta.cells]))
    kconfigs = {**(old.kconfigs or {}), **(meta.kconfigs or {})}
    return replace(meta, cells=cells, kconfigs=kconfigs or None)


def _version(argv: list[str]) -> str:
    if shutil.which(argv[0]) is None:
        return "not installed"
    return subprocess.run(argv, capture_output=True, text=True, check=False).stdout.split("\n")[0]


def local_cells(cfg: config.Config, cells: list[Cell],
                opts: RunOptions) -> Iterator[CellOutcome]:
    """The local pool: every kernel built here one at a time, then `jobs` cells at a time."""
    built, failed = _build_cells(cfg, cells)
    yield from failed
    yield from _test_cells(cfg, [c for c in cells if c in built], built, opts)


def build_request(cfg: config.Config, cell: Cell,
                  src: source.Source | None) -> build.BuildRequest:
    """What builds a cell's kernel: here (the local pool) and on a cluster worker alike."""
    return build.request_for(cfg.for_kconfig(cell.config), cfg.variant(cell.variant),
                             cell.arch, src=src)


def build_info(b: build.BuildResult) -> BuildInfo:
    return BuildInfo(str(b.dir), b.cached, b.seconds)


def status_of(pytest_exit: int) -> CellStatus:
    """pytest ran to its end (0 passed, 1 failures) or it did not (2-5: the rig)."""
    return CellStatus.DONE if pytest_exit in (0, 1) else CellStatus.INFRA


def _build_cells(cfg: config.Config, cells: list[Cell]
                 ) -> tuple[dict[Cell, build.BuildResult], list[CellOutcome]]:
    src = source.resolve(cfg.source) if cells else None
    out: dict[Cell, build.BuildResult] = {}
    failed: list[CellOutcome] = []
    for cell in sorted(cells, key=lambda c: (c.arch, c.config, c.variant != "baseline")):
        try:
            out[cell] = b = build.build(build_request(cfg, cell, src))
            log.info("[%s] kernel %s (%s)", cell.name, b.dir,
                     "cached" if b.cached else f"built in {b.seconds:.0f}s")
        except build.BuildFailed as e:
            log.error("[%s] %s", cell.name, e.one_line())
            failed.append(CellOutcome(cell, CellStatus.BUILD_FAILED, message=e.one_line()))
    return out, failed


def _test_cells(cfg: config.Config, cells: list[Cell], built: dict[Cell, build.BuildResult],
                opts: RunOptions) -> Iterator[CellOutcome]:
    jobs = opts.jobs or default_jobs()
    log.info("testing %d cells, %d at a time", len(cells), jobs)
    with ThreadPoolExecutor(max_workers=jobs) as pool:
        for cell, rc, secs in pool.map(lambda c: run_cell_tests(cfg, c, opts), cells):
            yield CellOutcome(cell, status_of(rc), pytest_exit=rc, seconds=secs,
                              build=build_info(built[cell]))


def run_cell_tests(cfg: config.Config, cell: Cell, opts: RunOptions) -> tuple[Cell, int, float]:
    """One cell's nested pytest, into opts.out/cells/<slug>/ and opts.out/results.jsonl."""
    celldir = opts.out / "cells" / cell.slug
    celldir.mkdir(parents=True, exist_ok=True)
    call = pytest_call(cfg, cell, opts, celldir)
    log.info("[%s] $ %s", cell.name, cmdline(pytestcmd.argv(call)))
    t0 = time.monotonic()
    rc = pytestcmd.run(call, celldir / "pytest.log")
    secs = time.monotonic() - t0
    log.info("[%s] pytest exit %d in %.0fs", cell.name, rc, secs)
    return cell, rc, secs
