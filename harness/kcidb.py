"""kcidb.json: a run in KernelCI's KCIDB v4 I/O shape (checkouts, builds, tests).

One checkout per variant (the source, plus the series for patched variants), one build per
cell, one test per test record. IDs are "kharness:<hash>"; statuses map to PASS, FAIL,
ERROR, SKIP. Submission (kcidb-submit) is left to the caller: this only writes the file.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from harness.util import atomic_write, stable_hash

ORIGIN = "kharness"
STATUS = {"passed": "PASS", "failed": "FAIL", "crash": "FAIL", "lockup": "FAIL",
          "timeout": "FAIL", "error": "ERROR", "infra": "ERROR", "skipped": "SKIP"}
KCIDB_ARCH = {"x86_64": "x86_64", "arm64": "arm64"}


def _id(*parts: Any) -> str:
    return f"{ORIGIN}:{stable_hash(list(parts))[:24]}"


def _checkout(run: dict[str, Any], variant: str) -> dict[str, Any]:
    src = run.get("source") or {}
    series = run.get("series") or {}
    patched = variant != "baseline" and bool(series)
    return {"id": _id(run.get("started"), run.get("name"), "checkout", variant), "origin": ORIGIN,
            "tree_name": str(src.get("location") or src.get("kind") or "unknown"),
            "git_commit_hash": src.get("ref") or None, "start_time": run.get("started"),
            "patchset_hash": stable_hash(series) if patched else "", "valid": True,
            "misc": {"variant": variant, "series": series.get("name") if patched else None,
                     "source": src}}


def _build(run: dict[str, Any], cell: dict[str, Any]) -> dict[str, Any]:
    b = cell.get("build") or {}
    return {"id": _id(run.get("started"), run.get("name"), "build", cell.get("cell")),
            "checkout_id": _id(run.get("started"), run.get("name"), "checkout",
                               cell.get("variant")),
            "origin": ORIGIN, "architecture": KCIDB_ARCH.get(str(cell.get("arch")),
                                                             str(cell.get("arch"))),
            "config_name": str(run.get("name") or ""), "start_time": run.get("started"),
            "duration": b.get("seconds"), "valid": cell.get("status") != "build-failed",
            "misc": {"dir": b.get("dir"), "cached": b.get("cached")}}


def _test(run: dict[str, Any], r: dict[str, Any]) -> dict[str, Any]:
    path = "kharness." + str(r.get("nodeid")).replace(".", "_").replace("::", ".")
    return {"id": _id(run.get("started"), run.get("name"), "test", r.get("cell"), r.get("nodeid")),
            "build_id": _id(run.get("started"), run.get("name"), "build", r.get("cell")),
            "origin": ORIGIN, "path": path, "status": STATUS.get(str(r.get("outcome")), "ERROR"),
            "duration": r.get("duration"),
            "environment": {"comment": f"QEMU {r.get('arch')}",
                            "misc": {"knobset": r.get("knobset")}},
            "misc": {"outcome": r.get("outcome"),
                     "splats": [s.get("title") for s in r.get("splats") or []]}}


def document(run: dict[str, Any], records: list[dict[str, Any]]) -> dict[str, Any]:
    cells = [r for r in records if r.get("type") == "cell"]
    tests = [r for r in records if r.get("type") == "test"]
    variants = sorted({str(r.get("variant")) for r in cells + tests})
    return {"version": {"major": 4, "minor": 3},
            "checkouts": [_checkout(run, v) for v in variants],
            "builds": [_build(run, c) for c in cells],
            "tests": [_test(run, t) for t in tests]}


def write(path: Path, run: dict[str, Any], records: list[dict[str, Any]]) -> Path:
    atomic_write(path, json.dumps(document(run, records), indent=1, sort_keys=True) + "\n")
    return path
