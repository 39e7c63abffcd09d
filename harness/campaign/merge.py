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
from dataclasses import dataclass, replace
from pathlib import Path

from harness.errors import UserError
from harness.results import journal as results
from harness.results import records as rec
from harness.results.fields import JsonValue
from harness.results.records import CellRecord, Durations, OtherRecord, Record, RunRecord
from harness.util import atomic_write, write_json

FINISHED = ("done", "build-failed", "infra")


@dataclass(frozen=True)
class Slice:
    path: Path
    meta: RunRecord
    records: tuple[Record, ...]

    @property
    def homes(self) -> tuple[str, ...]:
        """Where the slice's records may point: where it was written (run.json "out", e.g.
        on a CI runner) and where it is now (e.g. a downloaded artifact)."""
        written = str(self.meta.extra.get("out") or self.path)
        return tuple(dict.fromkeys((written, str(self.path))))

    @property
    def finished_cells(self) -> tuple[str, ...]:
        return tuple(r.cell for r in self.records
                     if isinstance(r, CellRecord) and r.status.value in FINISHED)


def load(path: Path) -> Slice:
    path = path.resolve()
    try:
        doc = json.loads((path / "run.json").read_text())
    except (OSError, ValueError) as e:
        raise UserError(f"{path} is not a run directory", f"run.json: {e}",
                        "pass directories written by kharness run") from None
    if not isinstance(doc, dict):
        raise UserError(f"{path} is not a run directory", "run.json is not a JSON object",
                        "pass directories written by kharness run")
    try:
        meta = RunRecord.from_json(doc)
    except rec.RecordError as e:
        raise rec.RecordError(f"{path / 'run.json'}: {e.what}", e.why, e.fix) from None
    return Slice(path, meta, tuple(results.load(path / "results.jsonl")))


def check_compatible(slices: Sequence[Slice]) -> None:
    if not slices:
        raise UserError("nothing to merge", "", "pass one or more run directories")
    shas = {s.meta.config_sha256 for s in slices}
    if len(shas) > 1:
        raise UserError("the run directories ran different configs",
                        ", ".join(f"{s.path}: {s.meta.config_sha256[:12]}"
                                  for s in slices), "merge slices of one config only")
    owner: dict[str, Path] = {}
    for s in slices:
        for cell in s.finished_cells:
            if cell in owner:
                raise UserError(f"cell {cell} finished in both {owner[cell]} and {s.path}",
                                "a merge joins disjoint slices", "drop one of the two")
            owner[cell] = s.path


def rebase(obj: JsonValue, old: str, new: str) -> JsonValue:
    """`obj` with every string under directory `old` moved under `new`."""
    if isinstance(obj, str):
        return new + obj[len(old):] if obj == old or obj.startswith(old + os.sep) else obj
    if isinstance(obj, dict):
        return {k: rebase(v, old, new) for k, v in obj.items()}
    if isinstance(obj, list):
        return [rebase(v, old, new) for v in obj]
    return obj


def rebased(record: Record, old: str, new: str) -> Record:
    """`record` with every path under directory `old` moved under `new`."""
    return rec.parse({k: rebase(v, old, new) for k, v in record.to_json().items()})


def merged_records(slices: Sequence[Slice], out: Path) -> list[Record]:
    seen: set[tuple[object, ...]] = set()
    merged: list[Record] = []
    for s in slices:
        for r in s.records:
            if isinstance(r, OtherRecord) and r.type == "check":
                d = r.data
                key = (d.get("check"), d.get("arch"), d.get("version"), d.get("patch"))
                if key in seen:
                    continue
                seen.add(key)
            for old in s.homes:
                r = rebased(r, old, str(out))
            merged.append(r)
    return merged


def merged_meta(slices: Sequence[Slice], out: Path) -> RunRecord:
    first = slices[0].meta
    cells = tuple(dict.fromkeys(c for s in slices for c in s.meta.cells))
    totals = [float(s.meta.durations.total) if s.meta.durations else 0.0 for s in slices]
    return replace(
        first, cells=cells,
        extra={**first.extra, "shard": None,
               "merged_from": [{"dir": str(s.path), "shard": s.meta.extra.get("shard"),
                                "host": s.meta.host, "cells": list(s.finished_cells)}
                               for s in slices]},
        started=min(s.meta.started for s in slices),
        finished=max(s.meta.finished or "" for s in slices),
        durations=Durations(max(totals), tuple(totals)),
        command=f"kharness merge {' '.join(str(s.path) for s in slices)} --out {out}")


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
        json.dumps(r.to_json(), sort_keys=True, default=str) + "\n"
        for r in merged_records(slices, out)))
    write_json(out / "run.json", merged_meta(slices, out).to_json())
    return out
