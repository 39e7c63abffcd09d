"""What a finished run directory says about itself, for the exporters (kcidb, repro).

    load(out) -> RunInfo           run.json, the journal, the cells' build metadata
    info.patches(variant) -> (Patch, ...) | None   the series files as applied for a variant
    info.config() -> Config | None                 the run's config, if it still loads

Nothing here fetches: a series on lore is read only from b4's cache, and a config or
series that moved away since the run gives None (callers say so, they do not fail).
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

from harness.config import Config
from harness.errors import KharnessError
from harness.results import journal as results
from harness.sources.series import Patch

log = logging.getLogger("harness")


@dataclass(frozen=True)
class RunInfo:
    """A run directory read once; records as in results.jsonl."""

    out: Path
    run: dict[str, Any]
    records: tuple[dict[str, Any], ...] = field(default=(), compare=False)

    @cached_property
    def cells(self) -> dict[str, dict[str, Any]]:
        """cell name -> its last cell record (or a stub for cells with tests only)."""
        found: dict[str, dict[str, Any]] = {}
        for r in self.records:
            if r.get("type") == "test" and str(r.get("cell")) not in found:
                found[str(r["cell"])] = {"cell": r["cell"], "arch": r.get("arch"),
                                         "variant": r.get("variant")}
        for r in self.records:
            if r.get("type") == "cell":
                found[str(r["cell"])] = r
        for name in self.run.get("cells") or []:
            arch, _, variant = str(name).partition("/")
            found.setdefault(str(name), {"cell": name, "arch": arch, "variant": variant})
        return found

    @cached_property
    def tests(self) -> list[dict[str, Any]]:
        return list(results.latest_tests(self.records).values())

    def variants(self) -> list[str]:
        names = {str(c.get("variant")) for c in self.cells.values()}
        return sorted(names, key=lambda v: (v != "baseline", v))

    def build_meta(self, cell: str) -> dict[str, Any]:
        """metadata.json of the cell's build (empty if the build directory is gone)."""
        directory = (self.cells.get(cell, {}).get("build") or {}).get("dir")
        if not directory:
            return {}
        try:
            data = json.loads((Path(directory) / "metadata.json").read_text())
        except (OSError, ValueError):
            return {}
        return data if isinstance(data, dict) else {}

    def config(self) -> Config | None:
        from harness import config
        path = self.run.get("config")
        if not path:
            return None
        try:
            return config.load(str(path))
        except KharnessError as e:
            log.warning("%s: config %s no longer loads (%s)", self.out, path, e.one_line())
            return None

    def patches(self, variant: str) -> tuple[Patch, ...] | None:
        """The patches applied for `variant` (() for baseline), None if unknown."""
        if variant == "baseline":
            return ()
        cfg = self.config()
        if cfg is None or cfg.series is None or variant.startswith("commit:"):
            return None
        from harness.sources import series
        try:
            v = cfg.variant(variant)
            if v.version is None:
                return ()
            loc = dict(cfg.series.versions)[v.version]
            if loc.startswith("lore:") and not _lore_cached(loc):
                return None
            sv = series.load_version(cfg.series.name, v.version, loc)
        except KharnessError as e:
            log.warning("%s: series of %s not readable (%s)", self.out, variant, e.one_line())
            return None
        k = v.prefix if v.prefix is not None else len(sv.patches)
        return sv.patches[:k]


def _lore_cached(loc: str) -> bool:
    from harness.util import cache_dir, stable_hash
    d = cache_dir("series", "lore", stable_hash(loc[5:])[:16])
    return any(d.glob("*.mbx"))


def load(out: Path) -> RunInfo:
    try:
        run = json.loads((out / "run.json").read_text())
    except (OSError, ValueError):
        run = {}
    records = tuple(results.read(out / "results.jsonl")) if (out / "results.jsonl").exists() \
        else ()
    return RunInfo(out, run if isinstance(run, dict) else {}, records)
