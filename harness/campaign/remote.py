"""What a cluster worker runs for one cell (the Dask task), and what it sends back.

The client ships a *bundle*: the config's folder (YAML, series, local fragments; at most
BUNDLE_CAP bytes), unpacked once per worker under its cache (cache_dir("cluster",
"bundles")). The worker builds the cell's kernel in its own cache (one build at a time per
cache: a build already uses every core), runs the cell's nested pytest into a scratch run
directory exactly as the local pool does (harness.campaign.run.run_cell_tests), and
returns the journal records and the cell's files: junit, pytest log, console logs,
vm.json, splat evidence. Caps: FILE_CAP (4 MiB) per file (the tail is kept, the head is
replaced by one line saying so) and CELL_CAP (32 MiB) per cell, smallest files first
(files past it are listed in the cell's cluster-dropped.txt); guest images (SKIP) and SSH
keys are not sent. Journal records are not capped (a smoke cell's are ~1.5 kB).

Each attempt announces itself on the Dask event topic EVENT_TOPIC before it starts, so the
client counts the attempts a worker death cost (harness.campaign.cluster).
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING

from harness import config
from harness.checks.model import CheckResult
from harness.checks.runner import CheckOptions
from harness.errors import InfrastructureError, KharnessError, UserError
from harness.kernel import build
from harness.results import journal as results
from harness.results.fields import JsonMap
from harness.results.records import BuildInfo, CellStatus, Record
from harness.sources import tree as source
from harness.util import cache_dir, file_lock, sha256_bytes, stable_hash

if TYPE_CHECKING:               # run imports cluster, which imports this module
    from harness.campaign.run import Cell, RunOptions

log = logging.getLogger("harness")

EVENT_TOPIC = "kharness-cell"
BUNDLE_CAP = 16 << 20
FILE_CAP = 4 << 20
CELL_CAP = 32 << 20
SKIP = (".cpio", ".qcow2", ".ext4", ".img")


@dataclass(frozen=True)
class Bundle:
    files: tuple[tuple[str, bytes], ...]     # (path relative to the config's folder, data)
    config: str                              # the YAML, relative to that folder
    origin: str                              # the folder on the client

    @property
    def digest(self) -> str:
        return stable_hash([self.config, [(p, sha256_bytes(d)) for p, d in self.files]])


@dataclass(frozen=True)
class CellJob:
    run_id: str
    cell: Cell
    opts: RunOptions          # the client's
    slot_id: str              # the client's name for this cell's kernel (placement)


@dataclass(frozen=True)
class CellResult:
    status: CellStatus
    worker: str
    workdir: str              # the scratch run directory on the worker (paths to rebase)
    bundle_dir: str
    pytest_exit: int | None = None
    seconds: float = 0.0
    build: BuildInfo | None = None
    message: str = ""
    source_identity: JsonMap | None = None
    records: tuple[Record, ...] = ()
    files: tuple[tuple[str, bytes], ...] = field(default=(), repr=False)
    task_seconds: float = 0.0   # the whole task on the worker (build lookup, tests, collect)


def make_bundle(cfg: config.Config) -> Bundle:
    root = cfg.base_dir.resolve()
    _series_inside(cfg, root)
    files, total = [], 0
    for p in sorted(root.rglob("*")):
        rel = p.relative_to(root)
        if not p.is_file() or any(part.startswith(".") or part == "__pycache__"
                                  for part in rel.parts):
            continue
        data = p.read_bytes()
        total += len(data)
        if total > BUNDLE_CAP:
            raise UserError(f"{root} holds more than {BUNDLE_CAP >> 20} MiB",
                            "a cluster run ships the config's folder to the workers",
                            "put the config, its series and fragments in a folder of their own")
        files.append((str(rel), data))
    return Bundle(tuple(files), str(cfg.path.resolve().relative_to(root)), str(root))


def _series_inside(cfg: config.Config, root: Path) -> None:
    for version, loc in cfg.series.versions if cfg.series else ():
        if not loc.startswith("lore:") and not Path(loc).resolve().is_relative_to(root):
            raise UserError(f"series version {version} ({loc}) is outside {root}",
                            "a cluster run ships only the config's folder",
                            "move the series under the config's folder, or use lore:")


def unpack(bundle: Bundle) -> Path:
    """The bundle's config file on this worker (unpacked once per digest)."""
    dest = cache_dir("cluster", "bundles") / bundle.digest[:20]
    if not dest.exists():
        tmp = Path(tempfile.mkdtemp(dir=dest.parent, prefix=".unpack-"))
        for rel, data in bundle.files:
            (tmp / rel).parent.mkdir(parents=True, exist_ok=True)
            (tmp / rel).write_bytes(data)
        try:
            os.rename(tmp, dest)
        except OSError:          # another task unpacked it first
            shutil.rmtree(tmp, ignore_errors=True)
    return dest / bundle.config


def worker_address() -> str:
    try:
        from distributed import get_worker
        return str(get_worker().address)
    except (ImportError, ValueError):
        return "local"


def announce(job: CellJob) -> None:
    """One event per attempt (the client counts them); outside a worker, nothing."""
    try:
        from distributed import get_worker
        w = get_worker()
    except (ImportError, ValueError):
        return
    w.log_event(EVENT_TOPIC, {"run": job.run_id, "cell": job.cell.name, "worker": w.address,
                              "pid": os.getpid(), "t": time.time()})


def run_cell(job: CellJob, bundle: Bundle) -> CellResult:
    """The Dask task: build and test one cell here; everything needed comes back. The
    bundle is scattered once per run (a Dask future), not shipped inside every task."""
    t0 = time.monotonic()
    res = _run_cell(job, bundle)
    return replace(res, task_seconds=time.monotonic() - t0)


def _run_cell(job: CellJob, bundle: Bundle) -> CellResult:
    announce(job)
    from harness.campaign import run as runmod
    cfgpath = unpack(bundle)
    work = Path(tempfile.mkdtemp(prefix=f"{job.cell.slug}-", dir=cache_dir("cluster", "cells")))
    where = (worker_address(), str(work), str(cfgpath.parent))   # worker, workdir, bundle_dir
    try:
        cfg = config.load(cfgpath)
        src = source.resolve(cfg.source)
        ident = src.identity
        try:
            b = _build(cfg, job.cell, src)
        except build.BuildFailed as e:
            return CellResult(CellStatus.BUILD_FAILED, *where, message=e.one_line(),
                              source_identity=ident)
        remember_slot(job.slot_id)
        opts = replace(job.opts, config=cfgpath, out=work, resume=False, cluster=None)
        _, rc, secs = runmod.run_cell_tests(cfg, job.cell, opts)
        return CellResult(runmod.status_of(rc), *where, pytest_exit=rc,
                          seconds=secs, build=runmod.build_info(b), source_identity=ident,
                          records=tuple(results.load(work / "results.jsonl")),
                          files=collect(work / "cells" / job.cell.slug))
    except (InfrastructureError, UserError) as e:
        return CellResult(CellStatus.INFRA, *where, message=f"{where[0]}: {e.one_line()}")
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _build(cfg: config.Config, cell: Cell, src: source.Source) -> build.BuildResult:
    from harness.campaign.run import build_request
    with file_lock(cache_dir("cluster") / "build.lock"):
        return build.build(build_request(cfg, cell, src))


def run_checks(bundle: Bundle, req: CheckOptions) -> tuple[CheckResult, ...]:
    """The Dask task for a run's build checks: their results."""
    from harness.campaign import run as runmod
    cfg = config.load(unpack(bundle))
    out: list[CheckResult] = []
    try:
        with file_lock(cache_dir("cluster") / "build.lock"):
            runmod.run_check_request(cfg, req, out.append)
    except KharnessError as e:
        from harness.checks.model import rig_error
        out.append(rig_error(f"{worker_address()}: {e.one_line()}"))
    return tuple(out)


def slots_file() -> Path:
    return cache_dir("cluster") / "slots"


def remember_slot(slot_id: str) -> None:
    (slots_file() / slot_id).parent.mkdir(parents=True, exist_ok=True)
    (slots_file() / slot_id).touch()


def held_slots(slot_ids: list[str]) -> list[str]:
    """Which of these kernels this worker's cache holds (run on every worker by the client)."""
    return [s for s in slot_ids if (slots_file() / s).exists()]


def collect(celldir: Path) -> tuple[tuple[str, bytes], ...]:
    files: list[tuple[str, bytes]] = []
    dropped: list[str] = []
    total = 0
    for p in _sendable(celldir):
        rel = str(p.relative_to(celldir))
        data = capped(p.read_bytes())
        if total + len(data) > CELL_CAP:
            dropped.append(f"{rel} ({len(data)} bytes)")
            continue
        total += len(data)
        files.append((rel, data))
    if dropped:
        note = f"cell cap {CELL_CAP} bytes reached; not copied back:\n" + "\n".join(dropped)
        files.append(("cluster-dropped.txt", note.encode() + b"\n"))
    return tuple(files)


def _sendable(celldir: Path) -> list[Path]:
    """The cell's files worth sending, smallest first (under the cell cap, as many as fit)."""
    found = [p for p in celldir.rglob("*") if p.is_file() and not p.is_symlink()
             and not p.name.startswith("id_") and p.suffix not in SKIP] if celldir.is_dir() else []
    return sorted(found, key=lambda p: (p.stat().st_size, str(p)))


def capped(data: bytes) -> bytes:
    if len(data) <= FILE_CAP:
        return data
    head = f"[kharness: first {len(data) - FILE_CAP} bytes dropped (cap {FILE_CAP})]\n"
    return head.encode() + data[-FILE_CAP:]


def probe(job: CellJob, bundle: Bundle, payload: int = 32 << 10) -> CellResult:
    """A cell task that runs nothing: the bundle goes out, a result carrying `payload` bytes
    of files comes back (bench/cluster.py: what the scheduler itself costs per cell)."""
    t0 = time.monotonic()
    announce(job)
    unpack(bundle)
    return CellResult(CellStatus.DONE, worker_address(), "", "", pytest_exit=0,
                      files=(("console.log", b"x" * payload),),
                      task_seconds=time.monotonic() - t0)
