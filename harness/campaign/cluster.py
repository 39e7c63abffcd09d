"""`kharness run --cluster ADDR`: cells on a Dask distributed cluster instead of the local pool.

The client (this module) ships the config's folder to the scheduler once per cell task
(harness.campaign.remote.Bundle), submits one task per cell and one for the build checks,
and lands each result in the run directory as it arrives: the cell's journal records (paths
rewritten from the worker's scratch directory to the run directory), its files under
cells/<slug>/, then the cell record. The run's report, junit and verdict are the local
run's, made from the same journal.

Placement uses Dask resources. A worker (`kharness worker`) advertises `cores` (cells run
at once: one per core, as the local pool), `mem-mib` (70 % of its RAM) and per arch
`kvm-<arch>` when KVM works there and `tcg-<arch>` when its QEMU can emulate it. A cell needs
one core, its guest's memory and one slot of `kvm-<arch>` when any connected worker has it,
else of `tcg-<arch>`; a cell whose arch no worker can run is an infrastructure error before
anything is submitted. Cells of a kernel
prefer (allow_other_workers) the workers whose cache already holds its build.

Faults: a worker lost mid-cell makes the scheduler run the task elsewhere; each attempt
announces itself (remote.EVENT_TOPIC), so the client records the extra attempts as
`retry` records and `infra_retries` on the cell, never as a finding. After the scheduler's
`distributed.scheduler.allowed-failures` (default 3) lost workers the task fails with
KilledWorker: the cell is recorded as `infra`. The scheduler lost: the client stops with
an InfrastructureError (exit 2); the journal keeps every finished cell, and `kharness run
--resume DIR --cluster ADDR` runs the rest.

Security: plain tcp:// only to a loopback scheduler unless `insecure=True`; otherwise TLS
(tls:// with CA, certificate and key: Dask's Security, mutual TLS is the shared secret).
"""

from __future__ import annotations

import ipaddress
import logging
import threading
import time
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from harness import config
from harness.campaign import merge, remote
from harness.checks.model import CheckResult
from harness.checks.runner import CheckOptions
from harness.errors import HarnessBug, InfrastructureError, UserError
from harness.machine.qemu import mem_mib
from harness.results.fields import JsonMap
from harness.results.journal import Journal
from harness.results.records import CellStatus, RetryRecord
from harness.util import atomic_write, stable_hash

if TYPE_CHECKING:
    from harness.campaign.run import Cell, CellOutcome, RunOptions

log = logging.getLogger("harness")


@dataclass(frozen=True)
class ClusterOptions:
    address: str                         # tcp://127.0.0.1:8786, tls://host:8786
    tls_ca: str | None = None
    tls_cert: str | None = None
    tls_key: str | None = None
    insecure: bool = False               # allow plain tcp:// to a non-loopback scheduler
    connect_timeout: float = 30.0
    worker_timeout: float = 120.0        # wait this long for a first worker

    def security(self) -> Any:
        """Dask Security for TLS, or None (plain tcp:// to loopback)."""
        tls = (self.tls_ca, self.tls_cert, self.tls_key)
        if any(tls) and not all(tls):
            raise UserError("TLS needs --tls-ca, --tls-cert and --tls-key together", "",
                            "pass all three (PEM files)")
        if all(tls):
            Security: Any = import_distributed().security.Security
            return Security(tls_ca_file=self.tls_ca, tls_client_cert=self.tls_cert,
                            tls_client_key=self.tls_key, require_encryption=True)
        if not self.insecure and not is_loopback(self.address):
            raise UserError(f"{self.address} is not a loopback address and no TLS is configured",
                            "workers run kernels under test on behalf of whoever reaches the "
                            "scheduler", "use tls:// with --tls-ca/--tls-cert/--tls-key, or "
                            "--insecure-cluster on a network you trust")
        return None


def is_loopback(address: str) -> bool:
    host = address.split("://", 1)[-1].rsplit(":", 1)[0].strip("[]")
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def import_distributed() -> Any:
    try:
        import distributed
    except ImportError:
        raise UserError("--cluster needs the `distributed` package", "it is an optional extra",
                        "pip install 'kharness[cluster]'") from None
    return distributed


def connect(opts: ClusterOptions) -> Any:
    dd = import_distributed()
    try:
        client = dd.Client(opts.address, security=opts.security(),
                           timeout=opts.connect_timeout, set_as_default=False)
    except (OSError, TimeoutError) as e:
        raise InfrastructureError(f"cannot reach the Dask scheduler at {opts.address}", str(e),
                                  "start it (dask scheduler --host 127.0.0.1) or fix --cluster"
                                  ) from None
    try:
        client.wait_for_workers(1, timeout=opts.worker_timeout)
    except (OSError, TimeoutError):
        client.close(timeout=10)
        raise InfrastructureError(f"no worker joined {opts.address} in {opts.worker_timeout:.0f}s",
                                  "", "start workers: kharness worker ADDRESS") from None
    return client


def worker_resources(client: Any) -> dict[str, dict[str, float]]:
    info = client.scheduler_info(n_workers=-1)
    return {addr: dict(w.get("resources") or {}) for addr, w in info["workers"].items()}


def requirements(arch: str, workers: dict[str, dict[str, float]],
                 mem_mib: int = 0) -> dict[str, float]:
    """The resources a cell of `arch` asks for: KVM when some worker has it, else TCG; its
    guest's memory when every such worker advertises `mem-mib` (kharness worker does;
    a plain `dask worker` without it still gets cells)."""
    for accel in ("kvm", "tcg"):
        able = [r for r in workers.values()
                if r.get(f"{accel}-{arch}", 0) >= 1 and r.get("cores", 0) >= 1]
        if not able:
            continue
        need = {"cores": 1.0, f"{accel}-{arch}": 1.0}
        if mem_mib and all("mem-mib" in r for r in able):
            if not any(r["mem-mib"] >= mem_mib for r in able):
                raise InfrastructureError(
                    f"no worker has {mem_mib} MiB for a {arch} guest",
                    f"largest offer: {max(r['mem-mib'] for r in able):.0f} MiB",
                    "lower guest.mem in the config, or add a bigger worker")
            need["mem-mib"] = float(mem_mib)
        return need
    raise InfrastructureError(f"no worker of the cluster can run {arch} guests",
                              f"none advertises kvm-{arch} or tcg-{arch} with cores",
                              "start a worker with kharness worker (it advertises what its "
                              "QEMU can run), or narrow --arch")


def slot_id(bundle: remote.Bundle, cell: Cell) -> str:
    """The client's name for a cell's kernel, as workers remember having built it."""
    return stable_hash([bundle.digest, cell.name])[:24]


def preferred_workers(client: Any, slots: Sequence[str]) -> dict[str, list[str]]:
    """slot id -> the workers whose cache holds it."""
    held: dict[str, list[str]] = {}
    for addr, ids in client.run(remote.held_slots, list(slots)).items():
        for s in ids:
            held.setdefault(s, []).append(addr)
    return held


@dataclass
class Reported:
    """What the workers found out for the client: the source identity they resolved."""
    source_identity: JsonMap | None = None


@dataclass(frozen=True)
class Attempt:
    """A worker starting a cell (remote.announce's event)."""
    worker: str | None
    t: float | None                 # when, time.time() on the worker's host

    @classmethod
    def from_event(cls, msg: JsonMap) -> Attempt:
        worker, t = msg.get("worker"), msg.get("t")
        return cls(str(worker) if worker is not None else None,
                   float(t) if isinstance(t, (int, float)) else None)


def run_cells(cfg: config.Config, cells: Sequence[Cell], opts: RunOptions, journal: Journal,
              checks: CheckOptions | None, meta: Reported) -> Iterator[CellOutcome]:
    """Submit the cells (and the checks), land results as they finish, yield each outcome."""
    if opts.cluster is None:
        raise HarnessBug("run_cells without a cluster", "", "")
    if not cells and checks is None:
        return                        # a resumed run with nothing left: no scheduler needed
    client = connect(opts.cluster)
    try:
        yield from _run(client, cfg, cells, opts, journal, checks, meta)
    finally:
        client.close(timeout=10)


def _run(client: Any, cfg: config.Config, cells: Sequence[Cell], opts: RunOptions,
         journal: Journal, checks: CheckOptions | None,
         meta: Reported) -> Iterator[CellOutcome]:
    dd = import_distributed()
    run_id = uuid.uuid4().hex[:12]
    tries = Attempts(client, run_id)
    t0 = time.time()
    futures = _submit(client, cfg, cells, opts, checks, run_id)     # all at t0
    for fut in dd.as_completed(list(futures), loop=client.loop):
        if fut.cancelled():
            raise InfrastructureError(
                f"lost the Dask scheduler {opts.cluster and opts.cluster.address}",
                "the run stopped; finished cells are in the journal",
                f"restart the scheduler and workers, then kharness run --resume {opts.out} "
                "--cluster ADDRESS")
        owner = futures[fut]
        if owner is None:
            _land_checks(fut, journal)
        else:
            yield _land_cell(fut, owner, opts, journal, tries.of(owner), meta, t0)
    log.info("cluster: %d tasks in %.0fs", len(futures), time.time() - t0)


def _submit(client: Any, cfg: config.Config, cells: Sequence[Cell], opts: RunOptions,
            checks: CheckOptions | None, run_id: str) -> dict[Any, Cell | None]:
    """One task per cell (placed by resources, preferring its kernel's holders), one for the
    build checks; future -> its cell (None: the checks)."""
    bundle = remote.make_bundle(cfg)
    workers = worker_resources(client)
    log.info("cluster %s: %d workers, run %s", opts.cluster and opts.cluster.address,
             len(workers), run_id)
    held = preferred_workers(client, [slot_id(bundle, c) for c in cells])
    # once per run, a copy on every worker (a worker killed -9 does not take it along)
    shipped = client.scatter(bundle, hash=False, broadcast=True)
    guest_mib = mem_mib(cfg.guest.mem)
    futures: dict[Any, Cell | None] = {}
    if checks is not None:
        futures[client.submit(remote.run_checks, shipped, checks, pure=False,
                              key=f"kharness-checks-{run_id}", resources={"cores": 1})] = None
    for cell in cells:
        sid = slot_id(bundle, cell)
        job = remote.CellJob(run_id, cell, opts, sid)
        near = held.get(sid)
        fut = client.submit(remote.run_cell, job, shipped, pure=False,
                            key=f"kharness-{run_id}-{cell.slug}",
                            resources=requirements(cell.arch, workers, guest_mib),
                            workers=near, allow_other_workers=bool(near))
        futures[fut] = cell
    return futures


def _land_checks(fut: Any, journal: Journal) -> None:
    from harness.checks.model import rig_error
    try:
        results: tuple[CheckResult, ...] = fut.result()
    except Exception as e:          # noqa: BLE001 - a lost worker or a harness error there
        results = (rig_error(f"build checks on the cluster: {type(e).__name__}: {e}"),)
    for r in results:
        journal.append(r.record())


class Attempts:
    """The attempts at each cell of a run, as workers announce them (remote.announce):
    pushed to the client by subscription (the scheduler keeps only the last 1000 events of a
    topic), with the scheduler's log as a fallback for a cell not yet seen."""

    def __init__(self, client: Any, run_id: str) -> None:
        self.client, self.run_id = client, run_id
        self.lock = threading.Lock()
        self.seen: dict[str, list[Attempt]] = {}
        client.subscribe_topic(remote.EVENT_TOPIC, self._event)

    def _event(self, event: tuple[float, Any]) -> None:
        msg = event[1]
        if isinstance(msg, dict) and msg.get("run") == self.run_id:
            with self.lock:
                self.seen.setdefault(str(msg.get("cell")), []).append(Attempt.from_event(msg))

    def of(self, cell: Cell) -> list[Attempt]:
        with self.lock:
            got = list(self.seen.get(cell.name, []))
        if got:
            return got
        return [Attempt.from_event(msg) for _, msg in self.client.get_events(remote.EVENT_TOPIC)
                if isinstance(msg, dict) and msg.get("run") == self.run_id
                and msg.get("cell") == cell.name]


def timing(submitted: float, started: float | None, task: float, landed: float
           ) -> dict[str, float]:
    """Where a cell's time went, seen from the client (one host clock: the scheduler's
    event timestamps and the client's are both time.time()). `overhead` is what the cluster
    added to the task: submit-to-start beyond queueing for a free slot is not separable
    here, so queueing is reported apart and overhead = landed - started - task."""
    start = started if started is not None else submitted
    return {"queued": round(start - submitted, 3), "task": round(task, 3),
            "overhead": round(max(landed - start - task, 0.0), 3)}


def _land_cell(fut: Any, cell: Cell, opts: RunOptions, journal: Journal,
               tries: list[Attempt], meta: Reported,
               submitted: float) -> CellOutcome:
    """Journal one finished cell task: lost attempts, files, records; its outcome."""
    from harness.campaign.run import CellOutcome
    try:
        res: remote.CellResult = fut.result()
    except Exception as e:          # noqa: BLE001 - KilledWorker, or the task itself raised
        lost = type(e).__name__ == "KilledWorker"
        _land_retries(journal, cell, tries)
        why = (f"lost {len(tries)} workers mid-cell (distributed.scheduler.allowed-failures)"
               if lost else f"{type(e).__name__}: {e}")
        log.error("[%s] infra: %s", cell.name, why)
        return CellOutcome(cell, CellStatus.INFRA, message=why, worker="", retries=len(tries))
    landed = time.time()
    failed = tries[:-1]             # every attempt but the one that finished
    started = tries[-1].t if tries else None
    _land_retries(journal, cell, failed)
    land_files(res, opts.out / "cells" / cell.slug)
    for r in res.records:
        journal.append(merge.rebased(merge.rebased(r, res.workdir, str(opts.out)),
                                     res.bundle_dir, str(cfg_dir(opts))))
    if res.source_identity and meta.source_identity is None:
        meta.source_identity = res.source_identity
    log.info("[%s] %s on %s (pytest exit %s, %.0fs%s)", cell.name, res.status, res.worker,
             res.pytest_exit, res.seconds, f", {len(failed)} infra retries" if failed else "")
    return CellOutcome(cell, res.status, pytest_exit=res.pytest_exit, seconds=res.seconds,
                       build=res.build, message=res.message, worker=res.worker,
                       retries=len(failed),
                       timing=timing(submitted, started, res.task_seconds, landed))


def cfg_dir(opts: RunOptions) -> Path:
    return opts.config.resolve().parent


def _land_retries(journal: Journal, cell: Cell, lost: list[Attempt]) -> None:
    for k, t in enumerate(lost, 1):
        journal.append(RetryRecord(cell.name, cell.arch, cell.config, cell.variant, k, t.worker,
                                   "worker lost mid-cell"))
        log.warning("[%s] attempt %d lost its worker %s: re-run elsewhere (infra retry)",
                    cell.name, k, t.worker)


def land_files(res: remote.CellResult, celldir: Path) -> None:
    for rel, data in res.files:
        dest = (celldir / rel).resolve()
        if not dest.is_relative_to(celldir.resolve()):
            continue                      # a path that climbs out of the cell: not ours
        atomic_write(dest, data)
