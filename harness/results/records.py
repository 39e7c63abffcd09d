"""Typed run records: outcomes with their priority, the cell and test records of the journal,
the run record (run.json).

The journal (results.jsonl) stays the JSON of docs/results-schema.md: `to_json()` gives back
exactly the object `from_json()` read (unknown keys ride along in `extra`), so runs written
before these types, and readers that still take plain dicts (history, report, kcidb), keep
working. Writers build records through these types; readers that decide (exit code, the
"run incomplete" line) parse them.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from harness.errors import HarnessBug


class Outcome(enum.StrEnum):
    """A test's outcome; `priority` decides which of several results describes one thing
    (the phases of a test, K runs of a bisect step): the higher wins."""
    CRASH = "crash"
    LOCKUP = "lockup"
    TIMEOUT = "timeout"
    FAILED = "failed"
    ERROR = "error"
    INFRA = "infra"
    PASSED = "passed"
    SKIPPED = "skipped"

    @property
    def priority(self) -> int:
        return _PRIORITY[self]

    @property
    def is_finding(self) -> bool:
        """The kernel under test failed (exit 1 territory)."""
        return self in (Outcome.CRASH, Outcome.LOCKUP, Outcome.TIMEOUT, Outcome.FAILED)

    @property
    def is_problem(self) -> bool:
        """The rig could not judge (exit 2 territory)."""
        return self in (Outcome.ERROR, Outcome.INFRA)

    @classmethod
    def parse(cls, value: Any) -> Outcome:
        try:
            return cls(str(value))
        except ValueError:
            raise HarnessBug(f"unknown test outcome {value!r}", "",
                             f"one of {', '.join(o.value for o in cls)}") from None


_PRIORITY = {Outcome.CRASH: 7, Outcome.LOCKUP: 6, Outcome.TIMEOUT: 5, Outcome.FAILED: 4,
             Outcome.ERROR: 3, Outcome.INFRA: 2, Outcome.PASSED: 1, Outcome.SKIPPED: 0}


def worst(outcomes: Iterable[str]) -> Outcome:
    """The highest-priority outcome; none at all is an error, not a pass."""
    items = [Outcome.parse(o) for o in outcomes]
    return max(items, key=lambda o: o.priority) if items else Outcome.ERROR


class CellStatus(enum.StrEnum):
    DONE = "done"                   # pytest ran to its end (exit 0 or 1)
    INFRA = "infra"                 # pytest did not (exit 2..5, or it could not start)
    BUILD_FAILED = "build-failed"   # the kernel did not build: a finding


@dataclass(frozen=True)
class BuildInfo:
    dir: str | None
    cached: bool | None
    seconds: float | None


@dataclass(frozen=True)
class CellRecord:
    """{"type": "cell"}: how one (arch, config, variant) cell ended."""
    cell: str
    arch: str
    variant: str
    status: CellStatus
    message: str | None = None              # build-failed: the compiler's one line
    pytest_exit: int | None = None
    seconds: float | None = None
    build: BuildInfo | None = None
    reproduce: str | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)
    config: str = ""                        # kernel config (`configs:`); "" = no config axis

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"type": "cell", "cell": self.cell, "arch": self.arch,
                               **({"config": self.config} if self.config else {}),
                               "variant": self.variant, "status": self.status.value}
        optional = {"message": self.message, "pytest_exit": self.pytest_exit,
                    "seconds": self.seconds, "reproduce": self.reproduce,
                    "build": None if self.build is None else {
                        "dir": self.build.dir, "cached": self.build.cached,
                        "seconds": self.build.seconds}}
        out.update({k: v for k, v in optional.items() if v is not None})
        return {**out, **self.extra}

    @classmethod
    def from_json(cls, r: Mapping[str, Any]) -> CellRecord:
        build = r.get("build")
        known = {"type", "cell", "arch", "variant", "status", "message", "pytest_exit",
                 "seconds", "build", "reproduce"} | ({"config"} if r.get("config") else set())
        return cls(cell=str(r["cell"]), arch=str(r.get("arch", "")),
                   variant=str(r.get("variant", "")), status=CellStatus(str(r["status"])),
                   message=r.get("message"), pytest_exit=r.get("pytest_exit"),
                   seconds=r.get("seconds"), reproduce=r.get("reproduce"),
                   build=None if not isinstance(build, Mapping) else BuildInfo(
                       build.get("dir"), build.get("cached"), build.get("seconds")),
                   extra={k: v for k, v in r.items() if k not in known},
                   config=str(r.get("config") or ""))


@dataclass(frozen=True)
class TestRecord:
    """{"type": "test"}: one finished test of one cell. `extra` holds what the test and
    the plugin added (counters, per_scan, census, splats, message, console, xfail ...)."""
    __test__ = False                         # not a pytest test class

    cell: str
    arch: str
    variant: str
    nodeid: str
    knobset: str | None
    outcome: Outcome
    extra: Mapping[str, Any] = field(default_factory=dict)
    config: str = ""                         # kernel config (`configs:`); "" = no config axis

    @property
    def message(self) -> str:
        return str(self.extra.get("message") or "")

    @property
    def splats(self) -> tuple[Mapping[str, Any], ...]:
        return tuple(self.extra.get("splats") or ())

    @property
    def counters(self) -> Mapping[str, Mapping[str, Any]]:
        """{"64kB": {"collapse_alloc": 3, ...}, ...}: the test's counter deltas per size."""
        return self.extra.get("counters") or {}

    def to_json(self) -> dict[str, Any]:
        return {"type": "test", "cell": self.cell, "arch": self.arch,
                **({"config": self.config} if self.config else {}), "variant": self.variant,
                "nodeid": self.nodeid, "knobset": self.knobset,
                "outcome": self.outcome.value, **self.extra}

    @classmethod
    def from_json(cls, r: Mapping[str, Any]) -> TestRecord:
        known = {"type", "cell", "arch", "variant", "nodeid", "knobset", "outcome"} | (
            {"config"} if r.get("config") else set())
        arch, variant = str(r.get("arch", "")), str(r.get("variant", ""))
        return cls(cell=str(r.get("cell") or f"{arch}/{variant}"), arch=arch,
                   variant=variant, nodeid=str(r.get("nodeid", "")),
                   knobset=r.get("knobset"), outcome=Outcome.parse(r.get("outcome")),
                   extra={k: v for k, v in r.items() if k not in known},
                   config=str(r.get("config") or ""))


def cells(records: Iterable[Mapping[str, Any]]) -> dict[str, CellRecord]:
    """The last cell record of each cell (a resumed run supersedes earlier attempts)."""
    return {str(r["cell"]): CellRecord.from_json(r) for r in records if r.get("type") == "cell"}


def tests(records: Iterable[Mapping[str, Any]]) -> list[TestRecord]:
    """The last record of each (cell, nodeid), in journal order of first appearance."""
    last: dict[tuple[str, str], TestRecord] = {}
    for r in records:
        if r.get("type") == "test":
            t = TestRecord.from_json(r)
            last[(t.cell, t.nodeid)] = t
    return list(last.values())


@dataclass(frozen=True)
class RunRecord:
    """run.json: what ran, where, from which sources (written before the long phases and
    again at the end, with `durations` and `finished`)."""
    config: str
    name: str
    config_sha256: str
    cells: tuple[str, ...]
    source: Mapping[str, Any]                 # kind, location, suite, ref
    series: Mapping[str, Any] | None          # name, versions; None without a series
    qemu: Mapping[str, str]                   # arch -> first line of --version
    host: str
    cpus: int | None
    started: str
    command: str
    source_identity: Any = None
    kconfigs: Mapping[str, Any] | None = None   # config axis: name -> fragments, options
    durations: Mapping[str, float] | None = None
    finished: str | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)   # out, shard, cluster (slices)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "type": "run", "config": self.config, "name": self.name,
            "config_sha256": self.config_sha256, "cells": list(self.cells),
            **({"kconfigs": dict(self.kconfigs)} if self.kconfigs else {}),
            "source": dict(self.source),
            "series": None if self.series is None else dict(self.series),
            "qemu": dict(self.qemu), "host": self.host, "cpus": self.cpus,
            "started": self.started, "command": self.command}
        later = {"source_identity": self.source_identity, "durations": self.durations,
                 "finished": self.finished}
        out.update({k: v for k, v in later.items() if v is not None})
        return {**out, **self.extra}

    @classmethod
    def from_json(cls, doc: Mapping[str, Any]) -> RunRecord:
        """Inverse of to_json: keys it does not know ride along in `extra`."""
        known = {f for f in cls.__dataclass_fields__ if f != "extra"}
        return cls(**{k: v for k, v in doc.items() if k in known},
                   extra={k: v for k, v in doc.items() if k not in known and k != "type"})
