"""Nightly history: every run in DIR/history.sqlite, each compared with the previous one.

Tables: runs, cells, tests, splats, counters (see SCHEMA). A run directory is stored once:
storing it again (a resumed run) replaces its rows. `flags()` compares a run with the
previous run of the same config name and reports:

  new-failure         a test with a finding now (failed/crash/lockup/timeout) that had none
                      before, in a cell whose inputs changed (or that is new);
  flaky               a test whose outcome changed although its inputs did not: same config
                      sha256, same source identity and same kernel build directory;
  new-splat           a splat title in a cell that the previous run's cell did not print;
  counter-regression  a per-size counter of one test moved the wrong way by more than
                      max(threshold x old, min_delta) (collapse_alloc down, *fail*/*exceed*
                      /*fallback* up; counters of unknown direction are not judged).

`trend()` gives the last N runs per test (outcome strip) and per-size counter totals.
`cell_costs()` gives per-cell durations of earlier runs of a config (median cold build,
median test time): what `kharness plan` estimates a matrix with.
"""

from __future__ import annotations

import json
import sqlite3
import statistics
import time
from collections import defaultdict
from collections.abc import Iterator, Sequence
from contextlib import closing, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from harness.errors import UserError
from harness.results import records as rec
from harness.results.journal import FINDINGS
from harness.util import stable_hash

SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (id INTEGER PRIMARY KEY AUTOINCREMENT, out TEXT UNIQUE,
  config_name TEXT, config_sha256 TEXT, source_identity TEXT, source TEXT,
  series_versions TEXT, started TEXT, finished TEXT, durations TEXT, stored TEXT);
CREATE TABLE IF NOT EXISTS cells (run_id INTEGER, cell TEXT, status TEXT, build_dir TEXT,
  build_seconds REAL, seconds REAL, build_cached INTEGER);
CREATE TABLE IF NOT EXISTS tests (run_id INTEGER, cell TEXT, nodeid TEXT, knobset TEXT,
  outcome TEXT, duration REAL);
CREATE TABLE IF NOT EXISTS splats (run_id INTEGER, cell TEXT, nodeid TEXT, kind TEXT,
  title TEXT, function TEXT);
CREATE TABLE IF NOT EXISTS counters (run_id INTEGER, cell TEXT, nodeid TEXT, size TEXT,
  name TEXT, value INTEGER);
CREATE INDEX IF NOT EXISTS runs_by_name ON runs (config_name, id);
CREATE INDEX IF NOT EXISTS tests_by_run ON tests (run_id);
CREATE INDEX IF NOT EXISTS counters_by_run ON counters (run_id);
"""
TABLES = ("cells", "tests", "splats", "counters")
BAD_WHEN_UP = ("fail", "exceed", "fallback")
BAD_WHEN_DOWN = ("collapse_alloc", "pages_collapsed")
FLAG_KINDS = ("new-failure", "new-splat", "counter-regression", "flaky")
REGRESSION_KINDS = frozenset({"new-failure", "new-splat", "counter-regression"})


@dataclass(frozen=True)
class Thresholds:
    relative: float = 0.20          # fraction of the previous value
    min_delta: int = 5              # and at least this much in absolute terms


@dataclass(frozen=True)
class Flag:
    kind: str                       # one of FLAG_KINDS
    cell: str
    nodeid: str
    detail: str

    def line(self) -> str:
        where = f"{self.cell} {self.nodeid}".strip()
        return f"{self.kind:18s} {where}: {self.detail}"


@dataclass(frozen=True)
class RunInfo:
    id: int
    out: str
    started: str


@dataclass(frozen=True)
class CellCost:
    """What one cell cost in earlier runs (medians; None: never seen)."""
    build: float | None         # a build that was not a cache hit, seconds
    tests: float | None         # the cell's tests, boots included, wall seconds
    runs: int                   # earlier runs the figures come from


@dataclass
class Trend:
    """The last runs of one config: what the HTML report's trend section shows."""

    runs: list[RunInfo]
    current: int
    previous: RunInfo | None
    flags: list[Flag]
    outcomes: dict[tuple[str, str], list[str | None]] = field(default_factory=dict)
    counters: dict[tuple[str, str, str], list[int | None]] = field(default_factory=dict)


def direction(name: str) -> int:
    """+1: higher is worse, -1: lower is worse, 0: not judged."""
    if any(w in name for w in BAD_WHEN_UP):
        return 1
    return -1 if name in BAD_WHEN_DOWN else 0


def regressed(name: str, old: int, new: int, th: Thresholds) -> bool:
    d = direction(name)
    delta = (new - old) * d
    return d != 0 and delta > 0 and delta >= max(th.relative * abs(old), th.min_delta)


@contextmanager
def open_store(directory: Path) -> Iterator[sqlite3.Connection]:
    try:
        directory.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(directory / "history.sqlite", timeout=30)
    except (OSError, sqlite3.Error) as e:
        raise UserError(f"cannot open the history store in {directory}", str(e),
                        "pass --history a writable directory") from e
    with closing(conn):
        conn.executescript(SCHEMA)
        _migrate(conn)
        with conn:
            yield conn


def _migrate(conn: sqlite3.Connection) -> None:
    """Columns added since a store was created (old stores keep their rows)."""
    have = {row[1] for row in conn.execute("PRAGMA table_info(cells)")}
    if "build_cached" not in have:
        conn.execute("ALTER TABLE cells ADD COLUMN build_cached INTEGER")


# ------------------------------------------------------------------- storing
def source_identity(run: rec.RunRecord | None) -> str:
    """run.json's resolved source identity if it has one, else a hash of its source spec."""
    ident = None if run is None else run.source_identity
    return str(dict(ident)) if ident else stable_hash(dict(run.source) if run else {})


def store(conn: sqlite3.Connection, out: Path, run: rec.RunRecord | None,
          records: Sequence[rec.Record]) -> int:
    """Store one run directory (replacing an earlier store of it); the run id. `run` is its
    run.json (None when it has none)."""
    old = conn.execute("SELECT id FROM runs WHERE out = ?", (str(out),)).fetchone()
    if old:
        for table in TABLES:
            conn.execute(f"DELETE FROM {table} WHERE run_id = ?", (old[0],))  # noqa: S608 (TABLES)
        conn.execute("DELETE FROM runs WHERE id = ?", (old[0],))
    series = list(run.series.versions) if run and run.series else []
    cur = conn.execute(
        "INSERT INTO runs (out, config_name, config_sha256, source_identity, source, "
        "series_versions, started, finished, durations, stored) VALUES (?,?,?,?,?,?,?,?,?,?)",
        (str(out), (run.name if run else "") or out.name, run.config_sha256 if run else None,
         source_identity(run), json.dumps(dict(run.source) if run else None, sort_keys=True),
         json.dumps(series), run.started if run else None, run.finished if run else None,
         json.dumps(run.durations.to_json() if run and run.durations else {}, sort_keys=True),
         time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())))
    run_id = int(cur.lastrowid or 0)
    _store_cells(conn, run_id, [r for r in records if isinstance(r, rec.CellRecord)])
    _store_tests(conn, run_id, rec.tests(records))
    return run_id


def _store_cells(conn: sqlite3.Connection, run_id: int, cells: list[rec.CellRecord]) -> None:
    rows = []
    for c in cells:
        b = c.build or rec.BuildInfo(None, None, None)
        rows.append((run_id, c.cell, c.status.value, b.dir, b.seconds, c.seconds,
                     None if b.cached is None else int(b.cached)))
    conn.executemany("INSERT INTO cells (run_id, cell, status, build_dir, build_seconds, seconds, "
                     "build_cached) VALUES (?,?,?,?,?,?,?)", rows)


def _store_tests(conn: sqlite3.Connection, run_id: int, tests: list[rec.TestRecord]) -> None:
    for t in tests:
        key = (run_id, t.cell, t.nodeid)
        conn.execute("INSERT INTO tests VALUES (?,?,?,?,?,?)",
                     (*key, t.knobset, t.outcome.value, t.duration))
        conn.executemany("INSERT INTO splats VALUES (?,?,?,?,?,?)",
                         [(*key, s.kind, s.title, s.function) for s in t.seen_splats])
        conn.executemany("INSERT INTO counters VALUES (?,?,?,?,?,?)",
                         [(*key, size, name, v)
                          for size, name, v in (t.counters.rows() if t.counters else ())])


# ----------------------------------------------------------------- comparing
def previous(conn: sqlite3.Connection, run_id: int) -> int | None:
    row = conn.execute("SELECT r.id FROM runs r JOIN runs c ON c.config_name = r.config_name "
                       "WHERE c.id = ? AND r.id < c.id ORDER BY r.id DESC LIMIT 1",
                       (run_id,)).fetchone()
    return int(row[0]) if row else None


def _inputs(conn: sqlite3.Connection, run_id: int) -> dict[str, tuple[object, ...]]:
    """cell -> (config sha256, source identity, build dir): what makes a rerun identical."""
    head = conn.execute("SELECT config_sha256, source_identity FROM runs WHERE id = ?",
                        (run_id,)).fetchone()
    return {cell: (*head, build) for cell, build in
            conn.execute("SELECT cell, build_dir FROM cells WHERE run_id = ?", (run_id,))}


def _outcomes(conn: sqlite3.Connection, run_id: int) -> dict[tuple[str, str], str]:
    return {(c, n): o for c, n, o in conn.execute(
        "SELECT cell, nodeid, outcome FROM tests WHERE run_id = ?", (run_id,))}


def _splat_titles(conn: sqlite3.Connection, run_id: int) -> dict[str, dict[str, str]]:
    out: dict[str, dict[str, str]] = defaultdict(dict)
    for cell, nodeid, title in conn.execute(
            "SELECT cell, nodeid, title FROM splats WHERE run_id = ?", (run_id,)):
        out[cell].setdefault(title, nodeid)
    return out


def _counter_values(conn: sqlite3.Connection, run_id: int) -> dict[tuple[str, ...], int]:
    return {(c, n, s, k): v for c, n, s, k, v in conn.execute(
        "SELECT cell, nodeid, size, name, value FROM counters WHERE run_id = ?", (run_id,))}


def flags(conn: sqlite3.Connection, run_id: int, th: Thresholds = Thresholds()) -> list[Flag]:
    """What changed since the previous run of the same config (nothing for the first)."""
    prev = previous(conn, run_id)
    if prev is None:
        return []
    out = _outcome_flags(conn, run_id, prev) + _splat_flags(conn, run_id, prev)
    old = _counter_values(conn, prev)
    for key, new in sorted(_counter_values(conn, run_id).items()):
        if key in old and regressed(key[3], old[key], new, th):
            pct = f" ({100.0 * (new - old[key]) / old[key]:+.0f}%)" if old[key] else ""
            out.append(Flag("counter-regression", key[0], key[1],
                            f"{key[2]} {key[3]} {old[key]} -> {new}{pct}"))
    return sorted(out, key=lambda f: FLAG_KINDS.index(f.kind))


def _outcome_flags(conn: sqlite3.Connection, run_id: int, prev: int) -> list[Flag]:
    now, before = _outcomes(conn, run_id), _outcomes(conn, prev)
    inputs_now, inputs_before = _inputs(conn, run_id), _inputs(conn, prev)
    out = []
    for (cell, nodeid), outcome in sorted(now.items()):
        was = before.get((cell, nodeid))
        same = cell in inputs_before and inputs_now.get(cell) == inputs_before[cell]
        if same and was is not None and was != outcome:
            out.append(Flag("flaky", cell, nodeid, f"{was} -> {outcome} with identical inputs"))
        elif outcome in FINDINGS and was not in FINDINGS:
            out.append(Flag("new-failure", cell, nodeid, f"{was or 'absent'} -> {outcome}"))
    return out


def _splat_flags(conn: sqlite3.Connection, run_id: int, prev: int) -> list[Flag]:
    now, before = _splat_titles(conn, run_id), _splat_titles(conn, prev)
    return [Flag("new-splat", cell, nodeid, title)
            for cell, titles in sorted(now.items())
            for title, nodeid in sorted(titles.items()) if title not in before.get(cell, {})]


# --------------------------------------------------------------------- trend
def recent_runs(conn: sqlite3.Connection, run_id: int, n: int) -> list[RunInfo]:
    rows = conn.execute("SELECT r.id, r.out, r.started FROM runs r JOIN runs c ON "
                        "c.config_name = r.config_name WHERE c.id = ? AND r.id <= c.id "
                        "ORDER BY r.id DESC LIMIT ?", (run_id, n)).fetchall()
    return [RunInfo(int(i), str(o), str(s or "")) for i, o, s in reversed(rows)]


def trend(conn: sqlite3.Connection, run_id: int, found: list[Flag], n: int = 10,
          names: tuple[str, ...] = ("collapse_alloc", "collapse_alloc_failed")) -> Trend:
    runs = recent_runs(conn, run_id, n)
    prev_id = previous(conn, run_id)
    t = Trend(runs, run_id, next((r for r in runs if r.id == prev_id), None), found)
    per_run = [_outcomes(conn, r.id) for r in runs]
    for key in sorted(per_run[-1] if per_run else {}):
        t.outcomes[key] = [o.get(key) for o in per_run]
    sums = [_counter_sums(conn, r.id, names) for r in runs]
    for ckey in sorted(sums[-1] if sums else {}):
        t.counters[ckey] = [s.get(ckey) for s in sums]
    return t


def _counter_sums(conn: sqlite3.Connection, run_id: int,
                  names: tuple[str, ...]) -> dict[tuple[str, str, str], int]:
    marks = ",".join("?" * len(names))
    return {(c, s, k): int(v) for c, s, k, v in conn.execute(
        f"SELECT cell, size, name, SUM(value) FROM counters WHERE run_id = ? "  # noqa: S608 (only ?s)
        f"AND name IN ({marks}) GROUP BY cell, size, name", (run_id, *names))}


# --------------------------------------------------------------------- costs
def cell_costs(conn: sqlite3.Connection, config_name: str, last: int = 10) -> dict[str, CellCost]:
    """cell -> its median costs over the last `last` stored runs of `config_name`."""
    builds: dict[str, list[float]] = defaultdict(list)
    tests: dict[str, list[float]] = defaultdict(list)
    seen: dict[str, set[int]] = defaultdict(set)
    for run_id, cell, status, bsecs, cached, secs in conn.execute(
            "SELECT run_id, cell, status, build_seconds, build_cached, seconds FROM cells "
            "WHERE run_id IN (SELECT id FROM runs WHERE config_name = ? ORDER BY id DESC "
            "LIMIT ?)", (config_name, last)):
        seen[cell].add(run_id)
        if isinstance(bsecs, (int, float)) and cached == 0:
            builds[cell].append(float(bsecs))
        if status == "done" and isinstance(secs, (int, float)):
            tests[cell].append(float(secs))
    return {c: CellCost(_median(builds[c]), _median(tests[c]), len(seen[c])) for c in seen}


def _median(values: list[float]) -> float | None:
    return statistics.median(values) if values else None


def costs_from(directory: Path, config_name: str, last: int = 10) -> dict[str, CellCost]:
    """cell_costs from DIR/history.sqlite; {} when there is no store (nothing is created)."""
    if not (directory / "history.sqlite").is_file():
        return {}
    with open_store(directory) as conn:
        return cell_costs(conn, config_name, last)


def flags_text(found: list[Flag], prev: RunInfo | None) -> str:
    if prev is None:
        return "history: first run of this config, nothing to compare with"
    if not found:
        return f"history: nothing new since run {prev.id} ({prev.started})"
    head = f"history: {len(found)} change(s) since run {prev.id} ({prev.started}):"
    return "\n".join([head, *(f"   {f.line()}" for f in found)])


def record(directory: Path, out: Path, run: rec.RunRecord | None, records: Sequence[rec.Record],
           th: Thresholds = Thresholds(), n: int = 10) -> Trend:
    """Store a finished run, compare it with the previous one: the Trend for the report."""
    with open_store(directory) as conn:
        run_id = store(conn, out, run, records)
        return trend(conn, run_id, flags(conn, run_id, th), n)
