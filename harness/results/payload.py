"""What a test record carries besides its identity: the splats the guard saw (SplatRecord),
the test's counter deltas (Counters) and the per-PMD folio census (CensusDetail). Each reads
from and writes back to exactly the JSON of docs/results-schema.md.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field

from harness.results import fields as f
from harness.results.fields import JsonMap, JsonObject
from harness.splats.model import Splat

SPLAT_KEYS = ("file", "line", "end_line", "kind", "title", "function", "header", "frames",
              "locks", "cpu", "pid", "comm", "message", "location", "truncated", "raw")


@dataclass(frozen=True)
class SplatRecord:
    """A splat as the journal holds it: harness.splats.model.Splat with frames as text and
    no raw lines (the console log keeps them). Every key is written, null when unknown."""
    kind: str
    title: str
    function: str | None = None
    file: str | None = None
    line: int | None = None
    end_line: int | None = None
    header: str | None = None
    frames: tuple[str, ...] = ()
    locks: tuple[str, ...] = ()
    cpu: int | None = None
    pid: int | None = None
    comm: str | None = None
    message: str | None = None
    location: str | None = None
    truncated: bool | None = None
    raw: str | None = None
    extra: JsonMap = field(default_factory=dict)       # keys of a later writer

    @property
    def label(self) -> str:
        """"[kind] title", as every report prints a splat."""
        return f"[{self.kind}] {self.title}"

    @classmethod
    def of(cls, s: Splat) -> SplatRecord:
        return cls(kind=s.kind, title=s.title, function=s.function, file=s.file, line=s.line,
                   end_line=s.end_line, header=s.header, frames=tuple(str(x) for x in s.frames),
                   locks=tuple(s.locks), cpu=s.cpu, pid=s.pid, comm=s.comm, message=s.message,
                   location=s.location, truncated=s.truncated)

    def to_json(self) -> JsonObject:
        return {"file": self.file, "line": self.line, "end_line": self.end_line,
                "kind": self.kind, "title": self.title, "function": self.function,
                "header": self.header, "frames": list(self.frames), "locks": list(self.locks),
                "cpu": self.cpu, "pid": self.pid, "comm": self.comm, "message": self.message,
                "location": self.location, "truncated": self.truncated, "raw": self.raw,
                **self.extra}

    @classmethod
    def from_json(cls, value: object, where: str = "splat") -> SplatRecord:
        obj = f.as_object(value, where, "splat")
        return cls(kind=f.required_text(obj, "kind", where),
                   title=f.required_text(obj, "title", where),
                   function=f.opt_text(obj, "function", where),
                   file=f.opt_text(obj, "file", where), line=f.opt_int(obj, "line", where),
                   end_line=f.opt_int(obj, "end_line", where),
                   header=f.opt_text(obj, "header", where),
                   frames=f.strings(obj.get("frames") or [], where, "frames"),
                   locks=f.strings(obj.get("locks") or [], where, "locks"),
                   cpu=f.opt_int(obj, "cpu", where), pid=f.opt_int(obj, "pid", where),
                   comm=f.opt_text(obj, "comm", where), message=f.opt_text(obj, "message", where),
                   location=f.opt_text(obj, "location", where),
                   truncated=f.opt_bool(obj, "truncated", where),
                   raw=f.opt_text(obj, "raw", where),
                   extra={k: v for k, v in obj.items() if k not in SPLAT_KEYS})


@dataclass(frozen=True)
class Counters:
    """A test's counter deltas, grouped as the journal holds them: {"64kB": {"collapse_alloc":
    3, ...}, "khugepaged": {"full_scans": .., "pages_collapsed": ..}, "vmstat": {...}}."""
    groups: Mapping[str, Mapping[str, int]] = field(default_factory=dict)

    def rows(self) -> Iterator[tuple[str, str, int]]:
        """(group, name, value) of every counter."""
        for group, stats in self.groups.items():
            for name, value in stats.items():
                yield group, name, value

    def __bool__(self) -> bool:
        return bool(self.groups)

    def to_json(self) -> dict[str, dict[str, int]]:
        return {g: dict(stats) for g, stats in self.groups.items()}

    @classmethod
    def from_json(cls, value: object, where: str = "counters") -> Counters:
        return cls({g: f.int_map(stats, where, f"counters.{g}")
                    for g, stats in f.as_object(value, where, "counters").items()})


@dataclass(frozen=True)
class CensusDetail:
    """"census_pmds": the region's folio census per PMD (order -> pages, orders as JSON keys)
    when the test first and last took one (`before` is empty with a single census)."""
    ptes: int | None                          # PTEs per PMD
    page_kb: int | None                       # base page size
    before: tuple[Mapping[str, int], ...] = ()
    after: tuple[Mapping[str, int], ...] = ()

    def to_json(self) -> JsonObject:
        return {"ptes": self.ptes, "page_kb": self.page_kb,
                "before": [dict(p) for p in self.before], "after": [dict(p) for p in self.after]}

    @classmethod
    def from_json(cls, value: object, where: str = "census_pmds") -> CensusDetail:
        obj = f.as_object(value, where, "census_pmds")

        def pmds(key: str) -> tuple[Mapping[str, int], ...]:
            return tuple(f.int_map(p, where, f"census_pmds.{key}[{i}]")
                         for i, p in enumerate(f.as_list(obj.get(key) or [], where, key)))
        return cls(f.opt_int(obj, "ptes", where), f.opt_int(obj, "page_kb", where),
                   pmds("before"), pmds("after"))
