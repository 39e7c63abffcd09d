"""kharness on a real Dask cluster and in shards, on real kernels (quickstart smoke, x86_64).

A `dask scheduler` and two `kharness worker`s run as separate processes on 127.0.0.1, each
with its own cache seeded by hardlinks from this host's cache (harness.cli.worker.seed_cache:
sources, images and the quickstart kernels, built here first if missing; no cold build on a
worker), one core each so each cell lands on its own worker. Compared with a local run of
the same matrix: outcomes per (cell, test) are equal.

Default suite (~4 min at this host's usual load, 5.6 min at load average 20): the cluster
run with one worker killed -9 mid-cell (its QEMU and pytest die with it, the cell re-runs on
the other worker, recorded as an infra retry, nothing lost), a two-shard run merged, and a
TLS scheduler and worker round-tripping a probe cell without a kernel (~15 s). -m slow: a
clean cluster run, the scheduler killed mid-run (exit 2, then --resume on a new scheduler
finishes the run), and a cell that keeps losing workers (infra).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from harness.campaign import localcluster
from harness.cli.worker import seed_cache
from harness.results import journal as results
from harness.results import records
from harness.util import cache_root

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parent.parent
MATRIX = ("examples/quickstart.yaml", "--arch", "x86_64", "-k", "smoke", "--checks", "none")


def kharness(*args: str, timeout: float = 1800) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "harness.cli.main", *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=timeout, check=False)


def outcomes(run: Path) -> dict[tuple[str, str], str]:
    return {(t.cell, t.nodeid): t.outcome.value
            for t in records.tests(results.load(run / "results.jsonl"))}


def descendants(pid: int) -> set[int]:
    parent: dict[int, int] = {}
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                parent[int(d.name)] = int((d / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
    out, todo = set(), [pid]
    while todo:
        p = todo.pop()
        kids = [c for c, pp in parent.items() if pp == p]
        out.update(kids)
        todo += kids
    return out


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def comm(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:
        return ""


@pytest.fixture(scope="module")
def local_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The reference: the matrix on the local pool (also builds the kernels if missing)."""
    out = tmp_path_factory.mktemp("local") / "run"
    proc = kharness("run", *MATRIX, "--out", str(out))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return out


@pytest.fixture(scope="module")
def worker_caches(tmp_path_factory: pytest.TempPathFactory, local_run: Path) -> list[Path]:
    caches = [tmp_path_factory.mktemp(f"cache-w{i}") for i in (1, 2)]
    with ThreadPoolExecutor(2) as pool:
        list(pool.map(lambda c: seed_cache(cache_root(), c), caches))
    return caches


@pytest.fixture
def cluster(tmp_path: Path, worker_caches: list[Path]
            ) -> Iterator[tuple[str, list[localcluster.Proc]]]:
    sched, address = localcluster.scheduler(tmp_path)
    workers = [localcluster.worker(address, f"w{i}", c, tmp_path, cores=1)
               for i, c in enumerate(worker_caches, 1)]
    try:
        localcluster.wait_workers(address, 2)
        yield address, workers
    finally:
        for p in [*workers, sched]:
            p.stop()


def test_worker_killed_mid_cell_reruns_it_elsewhere(
        tmp_path: Path, local_run: Path, cluster: tuple[str, list[localcluster.Proc]]) -> None:
    address, workers = cluster
    out = tmp_path / "run"
    run = subprocess.Popen([sys.executable, "-m", "harness.cli.main", "run", *MATRIX,
                            "--out", str(out), "--cluster", address], cwd=ROOT,
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    victim, doomed = _wait_for_qemu(workers, run, deadline=time.monotonic() + 600)
    victim.kill9()
    time.sleep(3)
    survivors = [p for p in doomed if alive(p)]
    assert not survivors, f"outlived the killed worker: {[(p, comm(p)) for p in survivors]}"
    log, _ = run.communicate(timeout=1200)
    assert run.returncode == 0, log
    recs = list(results.read(out / "results.jsonl"))
    retries = [r for r in recs if r["type"] == "retry"]
    cells = {r["cell"]: r for r in recs if r["type"] == "cell"}
    assert len(retries) == 1, log
    lost = retries[0]
    assert cells[lost["cell"]]["infra_retries"] == 1
    assert cells[lost["cell"]]["worker"] != lost["worker"]
    assert all(c["status"] == "done" for c in cells.values())
    assert outcomes(out) == outcomes(local_run)          # nothing lost, nothing a finding
    assert "infra retry" in log
    assert (out / "cells" / "x86_64-baseline" / "junit.xml").exists()
    assert any((out / "cells" / "x86_64-patched").rglob("console.log"))


def _wait_for_qemu(workers: list[localcluster.Proc], run: subprocess.Popen[str],
                   deadline: float) -> tuple[localcluster.Proc, set[int]]:
    """The first worker running a QEMU, and every process under it."""
    while time.monotonic() < deadline:
        assert run.poll() is None, run.communicate()[0]
        for w in workers:
            below = descendants(w.pid)
            if any(comm(p).startswith("qemu-system") for p in below):
                return w, below
        time.sleep(0.5)
    raise AssertionError("no worker started a QEMU")


def test_two_shards_merged_equal_one_run(tmp_path: Path, local_run: Path) -> None:
    shards = [tmp_path / f"shard{i}" for i in (1, 2)]
    procs = [subprocess.Popen([sys.executable, "-m", "harness.cli.main", "run", *MATRIX,
                               "--shard", f"{i}/2", "-j", "1", "--out", str(d)], cwd=ROOT,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
             for i, d in enumerate(shards, 1)]
    logs = [p.communicate(timeout=1200)[0] for p in procs]
    assert [p.returncode for p in procs] == [0, 0], logs
    cells = [{r["cell"] for r in results.read(d / "results.jsonl") if r["type"] == "cell"}
             for d in shards]
    assert cells == [{"x86_64/baseline"}, {"x86_64/patched"}]
    merged = tmp_path / "merged"
    proc = kharness("merge", *map(str, shards), "--out", str(merged))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "x86_64 knobs=-: patched vs baseline: no regression" in proc.stdout
    assert outcomes(merged) == outcomes(local_run)
    for name in ("junit.xml", "report.html", "results.json", "kcidb.json"):
        assert (merged / name).stat().st_size > 0, name
    junit = (merged / "junit.xml").read_text()
    assert "x86_64-baseline" in junit and "x86_64-patched" in junit
    meta = json.loads((merged / "run.json").read_text())
    assert [m["shard"] for m in meta["merged_from"]] == ["1/2", "2/2"]


@pytest.mark.slow
def test_cluster_run_equals_local_run(tmp_path: Path, local_run: Path,
                                      cluster: tuple[str, list[localcluster.Proc]]) -> None:
    address, _ = cluster
    out = tmp_path / "run"
    proc = kharness("run", *MATRIX, "--out", str(out), "--cluster", address)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert outcomes(out) == outcomes(local_run)
    cells = list(records.cells(results.load(out / "results.jsonl")).values())
    assert len({c.worker for c in cells}) == 2               # one cell per worker
    assert all(c.infra_retries == 0 and c.cluster and c.cluster["overhead"] < 5 for c in cells)
    meta = json.loads((out / "run.json").read_text())
    assert meta["cluster"] == address and meta["source_identity"]


@pytest.mark.slow
def test_scheduler_lost_exits_2_and_resume_finishes(
        tmp_path: Path, local_run: Path, worker_caches: list[Path]) -> None:
    sched, address = localcluster.scheduler(tmp_path)
    w = localcluster.worker(address, "w1", worker_caches[0], tmp_path, cores=1)
    out = tmp_path / "run"
    try:
        localcluster.wait_workers(address, 1)
        run = subprocess.Popen([sys.executable, "-m", "harness.cli.main", "run", *MATRIX,
                                "--out", str(out), "--cluster", address], cwd=ROOT,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        deadline = time.monotonic() + 900
        while not any(r["type"] == "cell" for r in results.read(out / "results.jsonl")):
            assert time.monotonic() < deadline and run.poll() is None
            time.sleep(0.5)
        sched.kill9()
        log, _ = run.communicate(timeout=300)
        assert run.returncode == 2, log
        assert "lost the Dask scheduler" in log and "--resume" in log
    finally:
        w.stop()
        sched.stop()
    sched2, address2 = localcluster.scheduler(tmp_path)
    w2 = localcluster.worker(address2, "w1b", worker_caches[0], tmp_path, cores=1)
    try:
        localcluster.wait_workers(address2, 1)
        proc = kharness("run", *MATRIX, "--resume", str(out), "--cluster", address2)
        assert proc.returncode == 0, proc.stdout + proc.stderr
        assert "finished in an earlier attempt, skipped" in proc.stderr
    finally:
        w2.stop()
        sched2.stop()
    assert outcomes(out) == outcomes(local_run)
    assert os.path.exists(out / "report.html")


@pytest.mark.slow
def test_cell_that_keeps_losing_workers_is_infra(
        tmp_path: Path, worker_caches: list[Path]) -> None:
    """allowed-failures=0: the first lost worker is one too many for that cell."""
    sched, address = localcluster.scheduler(
        tmp_path, env={"DASK_DISTRIBUTED__SCHEDULER__ALLOWED_FAILURES": "0"})
    workers = [localcluster.worker(address, f"w{i}", c, tmp_path, cores=1)
               for i, c in enumerate(worker_caches, 1)]
    out = tmp_path / "run"
    try:
        localcluster.wait_workers(address, 2)
        run = subprocess.Popen([sys.executable, "-m", "harness.cli.main", "run", *MATRIX,
                                "--out", str(out), "--cluster", address], cwd=ROOT,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        victim, _ = _wait_for_qemu(workers, run, deadline=time.monotonic() + 600)
        victim.kill9()
        log, _ = run.communicate(timeout=1200)
    finally:
        for p in [*workers, sched]:
            p.stop()
    journal = results.load(out / "results.jsonl")
    cells = records.cells(journal)
    statuses = sorted(c.status.value for c in cells.values())
    assert statuses == ["done", "infra"], log
    lost = next(c for c in cells.values() if c.status is records.CellStatus.INFRA)
    assert "lost 1 workers mid-cell" in (lost.message or "")
    assert [r for r in journal if isinstance(r, records.RetryRecord)]


def _tls_files(d: Path) -> tuple[str, str, str]:
    """A throwaway self-signed CA/certificate/key (Dask's own Security.temporary)."""
    from harness.campaign.cluster import import_distributed
    sec = import_distributed().security.Security.temporary()
    files = {"ca.pem": sec.tls_ca_file, "cert.pem": sec.tls_scheduler_cert,
             "key.pem": sec.tls_scheduler_key}
    for name, pem in files.items():
        (d / name).write_text(pem)
    return str(d / "ca.pem"), str(d / "cert.pem"), str(d / "key.pem")


def test_tls_cluster_runs_cells_and_refuses_plain_clients(tmp_path: Path) -> None:
    """No kernel: a probe cell (the real bundle out, a result back) over mutual TLS; a
    client without the certificates gets nothing (~20 s)."""
    from harness.campaign import cluster, remote
    from harness.campaign.run import Cell, RunOptions
    from harness.config import load
    tls = _tls_files(tmp_path)
    sched, address = localcluster.scheduler(tmp_path, tls=tls)
    w = localcluster.worker(address, "tls-w", tmp_path / "cache", tmp_path, cores=1,
                            extra=("--tls-ca", tls[0], "--tls-cert", tls[1], "--tls-key", tls[2]))
    try:
        opts = cluster.ClusterOptions(address, *tls)
        client = cluster.connect(opts)          # waits for the worker
        try:
            cfg = load(ROOT / "examples" / "quickstart.yaml")
            shipped = client.scatter(remote.make_bundle(cfg), hash=False)
            job = remote.CellJob("tls", Cell("x86_64", "probe"),
                                 RunOptions(config=cfg.path, out=tmp_path), "")
            res = client.submit(remote.probe, job, shipped, pure=False,
                                resources={"cores": 1}).result(timeout=60)
            assert res.worker.startswith("tls://127.0.0.1:") and res.files
        finally:
            client.close()
        with pytest.raises((OSError, TimeoutError)):
            cluster.import_distributed().Client(address.replace("tls://", "tcp://"), timeout=5,
                                                set_as_default=False)
    finally:
        w.stop()
        sched.stop()
