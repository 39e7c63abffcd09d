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
"""

from __future__ import annotations

import json
import logging
import os
import platform
import shutil
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path

from harness import arch as archmod
from harness import config
from harness.campaign import matrix, pytestcmd
from harness.campaign.matrix import Cell
from harness.campaign.pytestcmd import PytestCall
from harness.checks import summary as checksummary
from harness.checks.model import CheckResult, rig_error
from harness.checks.runner import CheckOptions, run_checks
from harness.errors import InfrastructureError, UserError
from harness.kernel import build
from harness.results.journal import Journal
from harness.results.records import BuildInfo, CellRecord, CellStatus, RunRecord
from harness.sources import tree as source
from harness.util import cmdline, stable_hash, write_json

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


def cells_for(cfg: config.Config, opts: RunOptions) -> list[Cell]:
    """The matrix: kernel configs x archs x variants (harness.campaign.matrix)."""
    return matrix.cells(cfg, opts.archs, opts.variants, opts.kconfigs)


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
    cells = cells_for(cfg, opts)
    _check_kconfigs(cfg, cells)
    opts.out.mkdir(parents=True, exist_ok=True)
    journal = Journal(opts.out / "results.jsonl")
    journal.drop_torn_tail()              # a resumed run appends after whole lines only
    done = {r["cell"] for r in journal.records("cell")
            if r.get("status") in ("done", "build-failed")}
    if done and not opts.resume:
        raise UserError(f"{opts.out} already holds a run", "refusing to mix two runs",
                        "pass --resume to continue it, or choose another --out")
    meta = replace(_metadata(cfg, cells, opts),
                   source_identity=source.resolve(cfg.source).identity)
    if opts.resume:
        meta = _resumed(opts.out, meta)
    write_json(opts.out / "run.json", meta.to_json())
    t0 = time.monotonic()
    _run_checks(cfg, cells, opts, journal)
    todo = [c for c in cells if c.name not in done]
    for c in cells:
        if c.name in done:
            log.info("[%s] finished in an earlier attempt, skipped", c.name)
    built = _build_cells(cfg, todo, journal)
    _test_cells(cfg, [c for c in todo if c in built], built, opts, journal)
    meta = replace(meta, durations={"total": time.monotonic() - t0},
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


def _run_checks(cfg: config.Config, cells: list[Cell], opts: RunOptions,
                journal: Journal) -> None:
    """The build checks of the series versions under test, before anything boots; their
    records land in the journal as they finish. A rig failure here is recorded as an error
    result and the run goes on to its runtime tests."""
    checks = cfg.checks if opts.checks is None else opts.checks
    if not checks or cfg.series is None:
        return
    if journal.records("check"):
        log.info("build checks finished in an earlier attempt, skipped")
        return
    names = cfg.series.version_names()
    versions = sorted({v.version for v in (cfg.variant(c.variant) for c in cells)
                       if v.version is not None}, key=names.index)
    if not versions:
        return
    archs = tuple(dict.fromkeys(c.arch for c in cells))
    opts_c = CheckOptions(checks=checks, versions=tuple(versions), archs=archs)
    try:
        run_checks(cfg, opts_c, lambda r: _land_check(journal, r))
    except (InfrastructureError, build.BuildFailed) as e:
        log.error("build checks: %s", e.one_line())
        journal.append(rig_error(e.one_line()).record())


def _land_check(journal: Journal, r: CheckResult) -> None:
    journal.append(r.record())
    log.info("%s", checksummary.progress_line(r))


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
        series=None if cfg.series is None else {
            "name": cfg.series.name, "versions": [v for v, _ in cfg.series.versions]},
        qemu=qemu, host=platform.node(), cpus=os.cpu_count(),
        started=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        command=cmdline(["kharness", "run", str(cfg.path), "--out", str(opts.out)]))


def _resumed(out: Path, meta: RunRecord) -> RunRecord:
    """A resumed run keeps the cells (and kernel configs) of its earlier attempts beside the
    ones this attempt selects (`--resume DIR --kconfig ptc` adds ptc's cells)."""
    try:
        old = json.loads((out / "run.json").read_text())
    except (OSError, ValueError):
        return meta
    cells = tuple(dict.fromkeys([*(old.get("cells") or []), *meta.cells]))
    kconfigs = {**(old.get("kconfigs") or {}), **(meta.kconfigs or {})}
    return replace(meta, cells=cells, kconfigs=kconfigs or None)


def _version(argv: list[str]) -> str:
    if shutil.which(argv[0]) is None:
        return "not installed"
    return subprocess.run(argv, capture_output=True, text=True, check=False).stdout.split("\n")[0]


def _build_cells(cfg: config.Config, cells: list[Cell],
                 journal: Journal) -> dict[Cell, build.BuildResult]:
    src = source.resolve(cfg.source) if cells else None
    out: dict[Cell, build.BuildResult] = {}
    for cell in sorted(cells, key=lambda c: (c.arch, c.config, c.variant != "baseline")):
        try:
            req = build.request_for(cfg.for_kconfig(cell.config), cfg.variant(cell.variant),
                                    cell.arch, src=src)
            out[cell] = b = build.build(req)
            log.info("[%s] kernel %s (%s)", cell.name, b.dir,
                     "cached" if b.cached else f"built in {b.seconds:.0f}s")
        except build.BuildFailed as e:
            log.error("[%s] %s", cell.name, e.one_line())
            journal.append(CellRecord(cell.name, cell.arch, cell.variant,
                                      CellStatus.BUILD_FAILED, message=e.one_line(),
                                      config=cell.config).to_json())
    return out


def _test_cells(cfg: config.Config, cells: list[Cell], built: dict[Cell, build.BuildResult],
                opts: RunOptions, journal: Journal) -> None:
    jobs = opts.jobs or default_jobs()
    log.info("testing %d cells, %d at a time", len(cells), jobs)
    with ThreadPoolExecutor(max_workers=jobs) as pool:
        for cell, rc, secs in pool.map(lambda c: _test_cell(cfg, c, opts), cells):
            b = built[cell]
            journal.append(CellRecord(
                cell.name, cell.arch, cell.variant,
                CellStatus.DONE if rc in (0, 1) else CellStatus.INFRA, pytest_exit=rc,
                seconds=secs, build=BuildInfo(str(b.dir), b.cached, b.seconds),
                reproduce=pytestcmd.reproduce(pytest_call(
                    cfg, cell, opts, opts.out / "cells" / cell.slug)),
                config=cell.config).to_json())


def _test_cell(cfg: config.Config, cell: Cell, opts: RunOptions) -> tuple[Cell, int, float]:
    celldir = opts.out / "cells" / cell.slug
    celldir.mkdir(parents=True, exist_ok=True)
    call = pytest_call(cfg, cell, opts, celldir)
    log.info("[%s] $ %s", cell.name, cmdline(pytestcmd.argv(call)))
    t0 = time.monotonic()
    rc = pytestcmd.run(call, celldir / "pytest.log")
    secs = time.monotonic() - t0
    log.info("[%s] pytest exit %d in %.0fs", cell.name, rc, secs)
    return cell, rc, secs
