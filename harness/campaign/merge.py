"""`kharness merge DIR... --out RUN`: slices of one matrix (shards, `--cell` runs, CI jobs)
joined into one run directory, which `kharness run`'s finish then judges as if one run had
made it (verdict, report.html, junit.xml, results.json, kcidb.json).

Rules: every slice ran the same config (config_sha256 in run.json); a cell finished in two
slices is an error (the same cell run twice is not a merge); build-check records are kept
once per (check, arch, version, patch) since every slice that tests a version may run them;
paths inside records that point into a slice are rewritten to point into RUN, and each
slice's cells/<slug>/ folder is copied (hardlinked when on one filesystem) into RUN/cells/.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.errors import UserError
from harness.results import journal as results
from harness.util import atomic_write, write_json

FINISHED = ("done", "build-failed", "infra")


@dataclass(frozen=True)
class Slice:
    path: Path
    meta: dict[str, Any]
    records: tuple[dict[str, Any], ...]

    @property
    def homes(self) -> tuple[str, ...]:
        """Where the slice's records may point: where it was written (run.json "out", e.g.
        on a CI runner) and where it is now (e.g. a downloaded artifact)."""
        written = str(self.meta.get("out") or self.path)
        return tuple(dict.fromkeys((written, str(self.path))))

    @property
    def finished_cells(self) -> tuple[str, ...]:
        return tuple(str(r["cell"]) for r in self.records
                     if r.get("type") == "cell" and r.get("status") in FINISHED)


def load(path: Path) -> Slice:
    path = path.resolve()
    try:
        meta = json.loads((path / "run.json").read_text())
    except (OSError, ValueError) as e:
        raise UserError(f"{path} is not a run directory", f"run.json: {e}",
                        "pass directories written by kharness run") from None
    return Slice(path, meta, tuple(results.read(path / "results.jsonl")))


def check_compatible(slices: Sequence[Slice]) -> None:
    if not slices:
        raise UserError("nothing to merge", "", "pass one or more run directories")
    shas = {s.meta.get("config_sha256") for s in slices}
    if len(shas) > 1:
        raise UserError("the run directories ran different configs",
                        ", ".join(f"{s.path}: {str(s.meta.get('config_sha256'))[:12]}"
                                  for s in slices), "merge slices of one config only")
    owner: dict[str, Path] = {}
    for s in slices:
        for cell in s.finished_cells:
            if cell in owner:
                raise UserError(f"cell {cell} finished in both {owner[cell]} and {s.path}",
                                "a merge joins disjoint slices", "drop one of the two")
            owner[cell] = s.path


def rebase(obj: Any, old: str, new: str) -> Any:
    """`obj` with every string under directory `old` moved under `new`."""
    if isinstance(obj, str):
        return new + obj[len(old):] if obj == old or obj.startswith(old + os.sep) else obj
    if isinstance(obj, dict):
        return {k: rebase(v, old, new) for k, v in obj.items()}
    if isinstance(obj, list):
        return [rebase(v, old, new) for v in obj]
    return obj


def merged_records(slices: Sequence[Slice], out: Path) -> list[dict[str, Any]]:
    seen: set[tuple[Any, ...]] = set()
    merged: list[dict[str, Any]] = []
    for s in slices:
        for r in s.records:
            if r.get("type") == "check":
                key = (r.get("check"), r.get("arch"), r.get("version"), r.get("patch"))
                if key in seen:
                    continue
                seen.add(key)
            for old in s.homes:
                r = rebase(r, old, str(out))
            merged.append(r)
    return merged


def merged_meta(slices: Sequence[Slice], out: Path) -> dict[str, Any]:
    first = dict(slices[0].meta)
    cells = list(dict.fromkeys(c for s in slices for c in s.meta.get("cells", [])))
    totals = [float(s.meta.get("durations", {}).get("total", 0.0)) for s in slices]
    first.update(
        cells=cells, shard=None,
        merged_from=[{"dir": str(s.path), "shard": s.meta.get("shard"),
                      "host": s.meta.get("host"), "cells": list(s.finished_cells)}
                     for s in slices],
        started=min(str(s.meta.get("started", "")) for s in slices),
        finished=max(str(s.meta.get("finished", "")) for s in slices),
        durations={"total": max(totals), "slices": totals},
        command=f"kharness merge {' '.join(str(s.path) for s in slices)} --out {out}")
    return first


def copy_cells(slices: Iterable[Slice], out: Path) -> None:
    for s in slices:
        src = s.path / "cells"
        if not src.is_dir():
            continue
        for cell in sorted(src.iterdir()):
            dest = out / "cells" / cell.name
            if dest.exists():
                raise UserError(f"two slices hold {cell.name}", f"{dest} exists",
                                "merge disjoint slices into an empty --out")
            shutil.copytree(cell, dest, copy_function=_link_or_copy, symlinks=True)


def _link_or_copy(src: str, dst: str) -> None:
    try:
        os.link(src, dst)
    except OSError:
        shutil.copy2(src, dst)


def merge(dirs: Sequence[Path], out: Path) -> Path:
    """Write the merged run directory; finishing it (verdict, reports) is the caller's."""
    slices = [load(d) for d in dirs]
    check_compatible(slices)
    out = out.resolve()
    if (out / "results.jsonl").exists() or (out / "cells").exists():
        raise UserError(f"{out} already holds a run", "merge writes a new run directory",
                        "choose another --out")
    out.mkdir(parents=True, exist_ok=True)
    copy_cells(slices, out)
    atomic_write(out / "results.jsonl", "".join(
        json.dumps(r, sort_keys=True, default=str) + "\n" for r in merged_records(slices, out)))
    write_json(out / "run.json", merged_meta(slices, out))
    return out
