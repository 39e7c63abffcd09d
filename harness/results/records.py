"""Typed run records: outcomes with their priority, the records of the journal (test, cell,
retry; `OtherRecord` for the kinds other modules own: check, step), the run record (run.json).

The journal (results.jsonl) stays the JSON of docs/results-schema.md: `to_json()` gives back
exactly the object `from_json()` read (unknown keys ride along in `extra`), so runs written
before these types keep reading. Records are parsed once, where JSON is read
(harness.results.journal.load, RunRecord.from_json), and serialised once, where it is written;
a field of the wrong type is a RecordError naming it.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import TypeVar

from harness.errors import HarnessBug
from harness.results import fields as f
from harness.results.fields import JsonMap, JsonObject, JsonValue, RecordError
from harness.results.payload import CensusDetail, Counters, SplatRecord

T = TypeVar("T")


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
    def parse(cls, value: object) -> Outcome:
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

    def to_json(self) -> JsonObject:
        return {"dir": self.dir, "cached": self.cached, "seconds": self.seconds}

    @classmethod
    def from_json(cls, value: object, where: str) -> BuildInfo:
        b = f.as_object(value, where, "build")
        return cls(f.opt_text(b, "dir", where), f.opt_bool(b, "cached", where),
                   f.opt_number(b, "seconds", where))


CELL_KEYS = frozenset({"type", "cell", "arch", "variant", "status", "message", "pytest_exit",
                       "seconds", "build", "reproduce", "worker", "infra_retries", "cluster"})


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
    extra: JsonMap = field(default_factory=dict)
    config: str = ""                        # kernel config (`configs:`); "" = no config axis
    worker: str | None = None               # a cluster cell: the worker that ran it,
    infra_retries: int | None = None        # how often it lost one,
    cluster: Mapping[str, float] | None = None   # and its queued/task/overhead seconds

    def to_json(self) -> JsonObject:
        out: JsonObject = {"type": "cell", "cell": self.cell, "arch": self.arch,
                           **({"config": self.config} if self.config else {}),
                           "variant": self.variant, "status": self.status.value}
        optional = {"message": self.message, "pytest_exit": self.pytest_exit,
                    "seconds": self.seconds, "reproduce": self.reproduce,
                    "build": None if self.build is None else self.build.to_json()}
        out.update({k: v for k, v in optional.items() if v is not None})
        if self.worker is not None:         # a cluster cell: all three, even when null
            out.update({"worker": self.worker, "infra_retries": self.infra_retries,
                        "cluster": None if self.cluster is None else dict(self.cluster)})
        return {**out, **self.extra}

    @classmethod
    def from_json(cls, r: JsonMap) -> CellRecord:
        w = "cell record"
        build, status = r.get("build"), f.required_text(r, "status", w)
        try:
            parsed = CellStatus(status)
        except ValueError:
            raise f.bad(w, "status", status, " or ".join(s.value for s in CellStatus)) from None
        known = CELL_KEYS | ({"config"} if r.get("config") else set())
        return cls(cell=f.required_text(r, "cell", w), arch=f.text(r, "arch", w),
                   variant=f.text(r, "variant", w), status=parsed,
                   message=f.opt_text(r, "message", w), pytest_exit=f.opt_int(r, "pytest_exit", w),
                   seconds=f.opt_number(r, "seconds", w), reproduce=f.opt_text(r, "reproduce", w),
                   build=None if build is None else BuildInfo.from_json(build, w),
                   extra={k: v for k, v in r.items() if k not in known},
                   config=f.text(r, "config", w), worker=f.opt_text(r, "worker", w),
                   infra_retries=f.opt_int(r, "infra_retries", w),
                   cluster=None if r.get("cluster") is None else f.number_map(
                       r.get("cluster"), w, "cluster"))


TEST_KEYS = frozenset({"type", "cell", "arch", "variant", "nodeid", "knobset", "outcome",
                       "duration", "time", "pid", "phases", "message", "console", "xfail",
                       "splats", "counters", "per_scan", "census", "census_before",
                       "census_pmds"})


@dataclass(frozen=True)
class TestRecord:
    """{"type": "test"}: one finished test of one cell. The optional fields are None when the
    record does not have them; `extra` holds what else the test added (workloads, knobs,
    racer, ...), as JSON."""
    __test__ = False                         # not a pytest test class

    cell: str
    arch: str
    variant: str
    nodeid: str
    knobset: str | None
    outcome: Outcome
    extra: JsonMap = field(default_factory=dict)
    config: str = ""                         # kernel config (`configs:`); "" = no config axis
    duration: float | None = None            # seconds, setup + call + teardown
    time: float | None = None                # epoch seconds when it was journalled
    pid: int | None = None                   # of the pytest process
    phases: Mapping[str, str] | None = None  # setup/call/teardown -> outcome
    message: str | None = None
    console: str | None = None               # console excerpt of a test that did not pass
    xfail: str | None = None                 # the reason of an expected failure
    splats: tuple[SplatRecord, ...] | None = None     # None: the test had no splat guard
    counters: Counters | None = None         # the test's counter deltas
    per_scan: tuple[JsonValue, ...] | None = None     # per full scan (harness.report.view)
    census: Mapping[str, int] | None = None            # order -> pages, last census
    census_before: Mapping[str, int] | None = None     # the first, when there were several
    census_pmds: CensusDetail | None = None            # per PMD, first and last census

    @property
    def seen_splats(self) -> tuple[SplatRecord, ...]:
        """The splats the guard saw (none without a guard)."""
        return self.splats or ()

    def to_json(self) -> JsonObject:
        optional = {"duration": self.duration, "time": self.time, "pid": self.pid,
                    "phases": None if self.phases is None else dict(self.phases),
                    "message": self.message, "console": self.console, "xfail": self.xfail,
                    "splats": None if self.splats is None else [s.to_json() for s in self.splats],
                    "counters": None if self.counters is None else self.counters.to_json(),
                    "per_scan": None if self.per_scan is None else list(self.per_scan),
                    "census": None if self.census is None else dict(self.census),
                    "census_before": None if self.census_before is None
                    else dict(self.census_before),
                    "census_pmds": None if self.census_pmds is None
                    else self.census_pmds.to_json()}
        return {"type": "test", "cell": self.cell, "arch": self.arch,
                **({"config": self.config} if self.config else {}), "variant": self.variant,
                "nodeid": self.nodeid, "knobset": self.knobset, "outcome": self.outcome.value,
                **{k: v for k, v in optional.items() if v is not None}, **self.extra}

    @classmethod
    def from_json(cls, r: JsonMap) -> TestRecord:
        w = "test record"
        known = TEST_KEYS | ({"config"} if r.get("config") else set())
        arch, variant = f.text(r, "arch", w), f.text(r, "variant", w)
        outcome = r.get("outcome")
        if outcome not in {o.value for o in Outcome}:
            raise f.bad(w, "outcome", outcome, ", ".join(o.value for o in Outcome))
        return cls(cell=f.text(r, "cell", w) or f"{arch}/{variant}", arch=arch, variant=variant,
                   nodeid=f.text(r, "nodeid", w), knobset=f.opt_text(r, "knobset", w),
                   outcome=Outcome.parse(outcome), config=f.text(r, "config", w),
                   extra={k: v for k, v in r.items() if k not in known},
                   duration=f.opt_number(r, "duration", w), time=f.opt_number(r, "time", w),
                   pid=f.opt_int(r, "pid", w), message=f.opt_text(r, "message", w),
                   console=f.opt_text(r, "console", w), xfail=f.opt_text(r, "xfail", w),
                   phases=_opt(r, "phases", lambda v: f.str_map(v, w, "phases")),
                   splats=_opt(r, "splats", lambda v: _splats(v, w)),
                   counters=_opt(r, "counters", lambda v: Counters.from_json(v, w)),
                   per_scan=_opt(r, "per_scan", lambda v: tuple(f.as_list(v, w, "per_scan"))),
                   census=_opt(r, "census", lambda v: f.int_map(v, w, "census")),
                   census_before=_opt(r, "census_before",
                                      lambda v: f.int_map(v, w, "census_before")),
                   census_pmds=_opt(r, "census_pmds", lambda v: CensusDetail.from_json(v, w)))


def _opt(r: JsonMap, key: str, parse: Callable[[object], T]) -> T | None:
    value = r.get(key)
    return None if value is None else parse(value)


def _splats(value: object, w: str) -> tuple[SplatRecord, ...]:
    return tuple(SplatRecord.from_json(s, f"{w}: splats[{i}]")
                 for i, s in enumerate(f.as_list(value, w, "splats")))


@dataclass(frozen=True)
class RetryRecord:
    """{"type": "retry"}: a cluster worker lost mid-cell; the cell ran again elsewhere."""
    cell: str
    arch: str
    config: str | None                # None: a journal from before the config axis
    variant: str
    attempt: int
    worker: str | None
    reason: str
    extra: JsonMap = field(default_factory=dict)

    def to_json(self) -> JsonObject:
        return {"type": "retry", "cell": self.cell, "arch": self.arch,
                **({} if self.config is None else {"config": self.config}),
                "variant": self.variant, "attempt": self.attempt, "worker": self.worker,
                "reason": self.reason, **self.extra}

    @classmethod
    def from_json(cls, r: JsonMap) -> RetryRecord:
        w = "retry record"
        known = {"type", "cell", "arch", "config", "variant", "attempt", "worker", "reason"}
        return cls(f.required_text(r, "cell", w), f.text(r, "arch", w),
                   f.opt_text(r, "config", w),
                   f.text(r, "variant", w), f.opt_int(r, "attempt", w) or 0,
                   f.opt_text(r, "worker", w), f.text(r, "reason", w),
                   {k: v for k, v in r.items() if k not in known})


@dataclass(frozen=True)
class OtherRecord:
    """A record whose type another module owns ("check": harness.checks.model, "step":
    harness.campaign.bisect), kept as the JSON it is; that module parses it."""
    type: str
    data: JsonMap

    def to_json(self) -> JsonObject:
        return dict(self.data)


Record = TestRecord | CellRecord | RetryRecord | OtherRecord


def parse(obj: JsonMap) -> Record:
    """One journal record, typed; a RecordError when it does not fit its type."""
    kind = obj.get("type")
    if kind == "test":
        return TestRecord.from_json(obj)
    if kind == "cell":
        return CellRecord.from_json(obj)
    if kind == "retry":
        return RetryRecord.from_json(obj)
    if not isinstance(kind, str):
        raise f.bad("journal record", "type", kind, "a string")
    return OtherRecord(kind, obj)


def cells(records: Iterable[Record]) -> dict[str, CellRecord]:
    """The last cell record of each cell (a resumed run supersedes earlier attempts)."""
    return {r.cell: r for r in records if isinstance(r, CellRecord)}


def tests(records: Iterable[Record]) -> list[TestRecord]:
    """The last record of each (cell, nodeid), in journal order of first appearance."""
    last: dict[tuple[str, str], TestRecord] = {}
    for r in records:
        if isinstance(r, TestRecord):
            last[(r.cell, r.nodeid)] = r
    return list(last.values())


def others(records: Iterable[Record], type_: str) -> list[JsonMap]:
    """The JSON of every record of a type another module owns ("check", "step")."""
    return [r.data for r in records if isinstance(r, OtherRecord) and r.type == type_]


@dataclass(frozen=True)
class SeriesInfo:
    """run.json's "series": the series' name and the versions the config names."""
    name: str
    versions: tuple[str, ...]

    def to_json(self) -> JsonObject:
        return {"name": self.name, "versions": list(self.versions)}

    @classmethod
    def from_json(cls, value: object, where: str) -> SeriesInfo:
        obj = f.as_object(value, where, "series")
        return cls(f.text(obj, "name", where),
                   f.strings(obj.get("versions") or [], where, "series.versions"))


@dataclass(frozen=True)
class Durations:
    """run.json's "durations": the run's wall seconds; a merge also lists its slices'."""
    total: float
    slices: tuple[float, ...] | None = None

    def to_json(self) -> JsonObject:
        return {"total": self.total,
                **({} if self.slices is None else {"slices": list(self.slices)})}

    @classmethod
    def from_json(cls, value: object, where: str) -> Durations:
        obj = f.as_object(value, where, "durations")
        slices = obj.get("slices")
        return cls(f.opt_number(obj, "total", where) or 0.0,
                   None if slices is None else f.numbers(slices, where, "durations.slices"))


RUN_KEYS = ("config", "name", "config_sha256", "cells", "kconfigs", "source", "series", "qemu",
            "host", "cpus", "started", "command", "source_identity", "durations", "finished")


@dataclass(frozen=True)
class RunRecord:
    """run.json: what ran, where, from which sources (written before the long phases and
    again at the end, with `durations` and `finished`). A run.json that lacks a key (one of
    `kharness check`, an older one) reads with that field empty."""
    config: str
    name: str
    config_sha256: str
    cells: tuple[str, ...]
    source: JsonMap                           # kind, location, suite, ref
    series: SeriesInfo | None                 # None without a series
    qemu: Mapping[str, str]                   # arch -> first line of --version
    host: str
    cpus: int | None
    started: str
    command: str
    source_identity: JsonMap | None = None    # the resolved source (package sha256, commit)
    kconfigs: JsonMap | None = None           # config axis: name -> fragments, options
    durations: Durations | None = None
    finished: str | None = None
    extra: JsonMap = field(default_factory=dict)   # out, shard, cluster (slices), merged_from
    type: str = "run"                         # "check": the run.json of `kharness check`

    def to_json(self) -> JsonObject:
        out: JsonObject = {
            "type": self.type, "config": self.config, "name": self.name,
            "config_sha256": self.config_sha256, "cells": list(self.cells),
            **({"kconfigs": dict(self.kconfigs)} if self.kconfigs else {}),
            "source": dict(self.source),
            "series": None if self.series is None else self.series.to_json(),
            "qemu": dict(self.qemu), "host": self.host, "cpus": self.cpus,
            "started": self.started, "command": self.command}
        later = {"source_identity": None if self.source_identity is None
                 else dict(self.source_identity),
                 "durations": None if self.durations is None else self.durations.to_json(),
                 "finished": self.finished}
        out.update({k: v for k, v in later.items() if v is not None})
        return {**out, **self.extra}

    @classmethod
    def from_json(cls, doc: JsonMap) -> RunRecord:
        """Inverse of to_json: keys it does not know ride along in `extra`."""
        w = "run.json"
        t = f.text
        return cls(config=t(doc, "config", w), name=t(doc, "name", w),
                   config_sha256=t(doc, "config_sha256", w),
                   cells=f.strings(doc.get("cells") or [], w, "cells"),
                   source=f.opt_object(doc, "source", w) or {},
                   series=None if doc.get("series") is None else SeriesInfo.from_json(
                       doc.get("series"), w),
                   qemu=f.str_map(doc.get("qemu") or {}, w, "qemu"), host=t(doc, "host", w),
                   cpus=f.opt_int(doc, "cpus", w), started=t(doc, "started", w),
                   command=t(doc, "command", w),
                   source_identity=f.opt_object(doc, "source_identity", w),
                   kconfigs=f.opt_object(doc, "kconfigs", w),
                   durations=None if doc.get("durations") is None else Durations.from_json(
                       doc.get("durations"), w),
                   finished=f.opt_text(doc, "finished", w), type=t(doc, "type", w, "run"),
                   extra={k: v for k, v in doc.items() if k not in RUN_KEYS and k != "type"})


__all__ = ["BuildInfo", "CellRecord", "CellStatus", "CensusDetail", "Counters", "Durations",
           "JsonObject", "OtherRecord", "Outcome", "Record", "RecordError", "RetryRecord",
           "RunRecord", "SeriesInfo", "SplatRecord", "TestRecord", "cells", "others", "parse",
           "tests", "worst"]
