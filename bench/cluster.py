"""Cells per hour on a local Dask cluster with 1 and 2 workers, and the scheduler's cost per
cell.

    python bench/cluster.py                      # quickstart smoke, x86_64 + arm64 (4 cells)
    python bench/cluster.py --arch x86_64 --probes 50

Everything runs on this host: a `dask scheduler` and `kharness worker`s on 127.0.0.1 as
separate processes, each worker with its own cache seeded by hardlinks from this host's
(the quickstart kernels must be built: they are, after the test suite or `kharness build
examples/quickstart.yaml`). Each worker offers one core (`--cores 1`), so "2 workers" means
two cells at a time on this machine's 2 cores: the workers SHARE the host, the figure is
not a scale-out of hardware, it is the cost of going through the cluster compared with
the local pool (`kharness run -j N`, measured too).

Scheduler overhead per cell, two ways:
* probes: a cell task that runs nothing (harness.campaign.remote.probe: the real bundle
  out, a 32 KiB result back) submitted one at a time: submit-to-result wall time;
* in the runs: per cell, landed - started - task (the result's trip back and landing) plus
  the dispatch time of the first wave (submit to start when a slot was free).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from harness.campaign import localcluster, remote
from harness.campaign.run import Cell, RunOptions
from harness.cli.worker import seed_cache
from harness.config import load
from harness.results import journal as results
from harness.util import cache_root, run

ROOT = Path(__file__).resolve().parent.parent
QUICKSTART = ROOT / "examples" / "quickstart.yaml"


def kharness_run(out: Path, archs: list[str], extra: list[str]) -> float:
    t0 = time.monotonic()
    argv = [sys.executable, "-m", "harness.cli.main", "run", str(QUICKSTART), "-k", "smoke",
            "--checks", "none", "--out", str(out), *(a for x in archs for a in ("--arch", x)),
            *extra]
    proc = run(argv, cwd=ROOT, check=False, timeout=7200)
    if proc.returncode != 0:
        raise SystemExit(f"run failed ({proc.returncode}):\n{proc.stdout[-3000:]}\n"
                         f"{proc.stderr[-3000:]}")
    return time.monotonic() - t0


def cell_records(out: Path) -> list[dict[str, Any]]:
    return [r for r in results.read(out / "results.jsonl") if r.get("type") == "cell"]


def on_cluster(tmp: Path, caches: list[Path], archs: list[str], label: str
               ) -> dict[str, Any]:
    logs = tmp / f"logs-{label}"
    logs.mkdir()
    sched, address = localcluster.scheduler(logs)
    workers = [localcluster.worker(address, f"w{i}", c, logs, cores=1)
               for i, c in enumerate(caches, 1)]
    try:
        localcluster.wait_workers(address, len(workers))
        out = tmp / f"run-{label}"
        wall = kharness_run(out, archs, ["--cluster", address])
        cells = cell_records(out)
        first = min(c["cluster"]["queued"] for c in cells)
        return {"workers": len(workers), "cells": len(cells), "wall_s": round(wall, 1),
                "cells_per_hour": round(3600 * len(cells) / wall, 1),
                "dispatch_s_first_wave": round(first, 3),
                "landing_overhead_s_median": round(statistics.median(
                    c["cluster"]["overhead"] for c in cells), 3),
                "task_s": [round(c["cluster"]["task"], 1) for c in cells]}
    finally:
        for p in [*workers, sched]:
            p.stop()


def probes(tmp: Path, cache: Path, n: int) -> dict[str, Any]:
    from harness.campaign.cluster import import_distributed
    client_cls = import_distributed().Client
    logs = tmp / "logs-probe"
    logs.mkdir()
    sched, address = localcluster.scheduler(logs)
    w = localcluster.worker(address, "probe", cache, logs, cores=1)
    cfg = load(QUICKSTART)
    bundle = remote.make_bundle(cfg)
    opts = RunOptions(config=cfg.path, out=tmp / "unused")
    try:
        localcluster.wait_workers(address, 1)
        with client_cls(address, set_as_default=False) as client:
            shipped = client.scatter(bundle, hash=False)
            secs = []
            for k in range(n):
                job = remote.CellJob(uuid.uuid4().hex, Cell("x86_64", f"p{k}"), opts, "")
                t0 = time.monotonic()
                client.submit(remote.probe, job, shipped, pure=False,
                              resources={"cores": 1, "tcg-x86_64": 1}).result()
                secs.append(time.monotonic() - t0)
        return {"probes": n, "bundle_bytes": sum(len(d) for _, d in bundle.files),
                "overhead_s_median": round(statistics.median(secs), 4),
                "overhead_s_p90": round(sorted(secs)[int(0.9 * (n - 1))], 4),
                "overhead_s_first": round(secs[0], 4)}
    finally:
        w.stop()
        sched.stop()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--arch", action="append", default=[])
    ap.add_argument("--probes", type=int, default=30)
    ap.add_argument("--skip-local", action="store_true")
    args = ap.parse_args()
    archs = args.arch or ["x86_64", "arm64"]
    with tempfile.TemporaryDirectory(prefix="kh-bench-cluster-") as t:
        tmp = Path(t)
        caches = [tmp / f"cache-w{i}" for i in (1, 2)]
        with ThreadPoolExecutor(2) as pool:
            seeded = list(pool.map(lambda c: seed_cache(cache_root(), c), caches))
        out: dict[str, Any] = {"host_cpus": __import__("os").cpu_count(), "archs": archs,
                               "seeded_files": seeded}
        out["probe"] = probes(tmp, caches[0], args.probes)
        print(json.dumps(out["probe"]), flush=True)
        if not args.skip_local:
            wall = kharness_run(tmp / "run-local", archs, ["-j", "2"])
            n = len(cell_records(tmp / "run-local"))
            out["local_j2"] = {"cells": n, "wall_s": round(wall, 1),
                               "cells_per_hour": round(3600 * n / wall, 1)}
            print(json.dumps(out["local_j2"]), flush=True)
        for k in (1, 2):
            out[f"cluster_{k}w"] = on_cluster(tmp, caches[:k], archs, f"{k}w")
            print(json.dumps(out[f"cluster_{k}w"]), flush=True)
    print(json.dumps(out, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
