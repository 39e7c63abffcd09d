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
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

from harness.config import Config
from harness.errors import KharnessError
from harness.results import fields as f
from harness.results import journal as results
from harness.results import records as rec
from harness.results.fields import JsonMap, RecordError
from harness.sources.series import Patch

log = logging.getLogger("harness")


@dataclass(frozen=True)
class BuildMeta:
    """What the exporters read of a build's metadata.json (harness.kernel.build writes it)."""
    commit: str | None = None
    series: Mapping[str, str] = field(default_factory=dict)   # base, version, prefix, ...
    fragments: tuple[str, ...] = ()
    toolchain: str | None = None
    command: str | None = None
    config_sha256: str | None = None
    total: float | None = None              # durations.total, seconds

    @classmethod
    def from_json(cls, doc: JsonMap, where: str) -> BuildMeta:
        durations = f.opt_object(doc, "durations", where) or {}
        return cls(f.opt_text(doc, "commit", where),
                   f.str_map(doc.get("series") or {}, where, "series"),
                   f.strings(doc.get("fragments") or [], where, "fragments"),
                   f.opt_text(doc, "toolchain", where), f.opt_text(doc, "command", where),
                   f.opt_text(doc, "config_sha256", where),
                   f.opt_number(durations, "total", where))


@dataclass(frozen=True)
class CellInfo:
    """A cell of the run: its cell record, or what its tests and run.json say of it."""
    name: str
    arch: str
    variant: str
    record: rec.CellRecord | None = None     # None: no cell record (tests only, or not run)

    @property
    def build_dir(self) -> str | None:
        b = self.record.build if self.record else None
        return b.dir if b else None


@dataclass(frozen=True)
class RunInfo:
    """A run directory read once: run.json (None when missing) and the journal's records."""

    out: Path
    run: rec.RunRecord | None
    records: tuple[rec.Record, ...] = field(default=(), compare=False)

    @cached_property
    def cells(self) -> dict[str, CellInfo]:
        """cell name -> what is known of it (its last cell record, if any)."""
        found: dict[str, CellInfo] = {}
        for t in self.tests_in_order:
            found.setdefault(t.cell, CellInfo(t.cell, t.arch, t.variant))
        for c in self.records:
            if isinstance(c, rec.CellRecord):
                found[c.cell] = CellInfo(c.cell, c.arch, c.variant, c)
        for name in self.run.cells if self.run else ():
            arch, _, variant = name.partition("/")
            found.setdefault(name, CellInfo(name, arch, variant))
        return found

    @property
    def tests_in_order(self) -> list[rec.TestRecord]:
        return [t for t in self.records if isinstance(t, rec.TestRecord)]

    @cached_property
    def tests(self) -> list[rec.TestRecord]:
        """The last record of each (cell, test)."""
        return rec.tests(self.records)

    def variants(self) -> list[str]:
        names = {c.variant for c in self.cells.values()}
        return sorted(names, key=lambda v: (v != "baseline", v))

    def build_meta(self, cell: str) -> BuildMeta | None:
        """metadata.json of the cell's build (None if the build directory is gone)."""
        info = self.cells.get(cell)
        directory = info.build_dir if info else None
        if not directory:
            return None
        path = Path(directory) / "metadata.json"
        try:
            data = json.loads(path.read_text())
        except (OSError, ValueError):
            return None
        return BuildMeta.from_json(data, str(path)) if isinstance(data, dict) else None

    def config(self) -> Config | None:
        from harness import config
        path = self.run.config if self.run else ""
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


def run_source(run: rec.RunRecord | None) -> JsonMap:
    """The run's resolved source identity, else its source spec ({} without run.json)."""
    return (run.source_identity or run.source or {}) if run else {}


def _lore_cached(loc: str) -> bool:
    from harness.util import cache_dir, stable_hash
    d = cache_dir("series", "lore", stable_hash(loc[5:])[:16])
    return any(d.glob("*.mbx"))


def load_run(out: Path) -> rec.RunRecord | None:
    """run.json of a run directory; None when it is missing or not a JSON object (a run.json
    whose fields have the wrong types is a RecordError)."""
    try:
        doc = json.loads((out / "run.json").read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(doc, dict):
        return None
    try:
        return rec.RunRecord.from_json(doc)
    except RecordError as e:
        raise RecordError(f"{out / 'run.json'}: {e.what}", e.why, e.fix) from None


def load(out: Path, records: Sequence[rec.Record] | None = None) -> RunInfo:
    """The run directory `out`; `records` when the caller has read the journal already."""
    got = results.load(out / "results.jsonl") if records is None else records
    return RunInfo(out, load_run(out), tuple(got))
