"""Reports of a finished run directory: report.html, junit.xml, results.json (+ kcidb.json).

    write_all(out, records, groups, trend=None) -> [paths written]

report.html is one self-contained file (inline CSS and SVG, no scripts, nothing fetched),
rendered by jinja2 with autoescape and StrictUndefined: console text is data, never markup.
results.json follows docs/results-schema.md (SCHEMA below names its version).
"""

from __future__ import annotations

import itertools
import json
import logging
import time
from collections.abc import Sequence
from pathlib import Path

import jinja2
from markupsafe import Markup

from harness.campaign import repro
from harness.checks import junit as checkjunit
from harness.checks import report as checkreport
from harness.checks import summary as checksummary
from harness.report import junit, kcidb, svg
from harness.report.view import RunView, slug
from harness.results import records as rec
from harness.results import runinfo
from harness.results.fields import JsonObject
from harness.results.history import REGRESSION_KINDS, Trend
from harness.results.records import SplatRecord, TestRecord
from harness.results.verdict import GroupVerdict, test_key
from harness.splats.symbolize import culprit_frame
from harness.util import atomic_write

log = logging.getLogger("harness")
SCHEMA = "kharness-results/1"
SPLAT_FIELDS = ("kind", "title", "function", "header", "message", "location", "line",
                "end_line", "frames", "locks", "cpu", "pid", "comm", "truncated")


def write_all(out: Path, records: Sequence[rec.Record], groups: list[GroupVerdict],
              trend: Trend | None = None) -> list[Path]:
    """Write every report of the run in `out`; the paths written."""
    info = runinfo.load(out, records)
    view = RunView(out, info.run, records, groups)
    paths = [write_html(out / "report.html", view, trend),
             write_junit(out / "junit.xml", view),
             write_results(out / "results.json", view, trend)]
    paths.append(kcidb.write(out / "kcidb.json", records))
    paths += [p / "repro.sh" for p in repro.write_all(info, groups)]
    return paths


# --------------------------------------------------------------------- junit
def write_junit(path: Path, view: RunView) -> Path:
    suites = []
    for cell in view.cells:
        celldir = view.dirs[cell]
        suites.append(junit.cell_suite(cell, celldir.path / "junit.xml", view.tests_of(cell),
                                       view.cell_records.get(cell), view.excerpt))
    suites += checkjunit.suites(checksummary.results_of(view.records))
    name = view.run.name if view.run else path.parent.name
    atomic_write(path, junit.merged(suites, f"kharness {name}"))
    return path


# -------------------------------------------------------------- results.json
def results_doc(view: RunView, trend: Trend | None = None) -> JsonObject:
    run = view.run.to_json() if view.run else {}
    return {"schema": SCHEMA, "generated": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "run": {k: v for k, v in run.items() if k != "type"},
            "regression": any(g.regression for g in view.groups),
            "cells": [_cell_doc(view, c) for c in view.cells],
            "tests": [_test_doc(view, r) for c in view.cells for r in view.tests_of(c)],
            "groups": [_group_doc(g) for g in view.groups],
            "history": None if trend is None else _history_doc(trend)}


def _cell_doc(view: RunView, cell: str) -> JsonObject:
    c = view.cell_records.get(cell)
    build = c.build if c else None
    counts: dict[str, int] = {}
    for r in view.tests_of(cell):
        counts[r.outcome.value] = counts.get(r.outcome.value, 0) + 1
    parts = cell.split("/")
    return {"cell": cell, "arch": c.arch if c else parts[0],
            "variant": c.variant if c else parts[-1],
            "config": (c.config if c else "") or (parts[1] if len(parts) == 3 else ""),
            "status": c.status.value if c else "not finished",
            "pytest_exit": c.pytest_exit if c else None, "seconds": c.seconds if c else None,
            "build": (build or rec.BuildInfo(None, None, None)).to_json(),
            "boot_seconds": [v.boot_seconds for v in view.dirs[cell].vms],
            "reproduce": c.reproduce if c else None, "message": c.message if c else None,
            "dir": f"cells/{slug(cell)}", "counts": counts}


def _test_doc(view: RunView, r: TestRecord) -> JsonObject:
    return {"cell": r.cell, "arch": r.arch, "config": r.config, "variant": r.variant,
            "nodeid": r.nodeid, "test": test_key(r), "knobset": r.knobset,
            "outcome": r.outcome.value, "duration": view.duration(r),
            "phases": dict(r.phases or {}), "message": r.message,
            "splats": [_splat_doc(s) for s in r.seen_splats],
            "counters": r.counters.to_json() if r.counters else {},
            "per_scan": list(r.per_scan or ()),
            "census": None if r.census is None else dict(r.census),
            "census_before": None if r.census_before is None else dict(r.census_before),
            "census_pmds": None if r.census_pmds is None else r.census_pmds.to_json()}


def _splat_doc(s: SplatRecord) -> JsonObject:
    return {k: v for k, v in s.to_json().items() if k in SPLAT_FIELDS}


def _group_doc(g: GroupVerdict) -> JsonObject:
    return {"arch": g.arch, "config": g.config, "knobset": g.knobset, "base": g.base,
            "other": g.other,
            "regression": g.regression,
            "changed": [{"test": c.test, "before": c.before, "after": c.after, "why": c.why}
                        for c in g.changed],
            "new_splats": [{"kind": s.splat.kind, "title": s.splat.title,
                            "function": s.splat.function, "test": s.test}
                           for s in g.new_splats],
            "gone_splats": list(g.gone_splats), "common_splats": list(g.common_splats),
            "expected_splats": list(g.expected_splats),
            "counters": {size: {n: {"base": b, "other": p, "delta": p - b}
                                for n, (b, p) in stats.items()}
                         for size, stats in g.counters.items()},
            "infra": list(g.infra)}


def _history_doc(t: Trend) -> JsonObject:
    return {"run_id": t.current, "previous_run_id": t.previous.id if t.previous else None,
            "regression": any(f.kind in REGRESSION_KINDS for f in t.flags),
            "flags": [{"kind": f.kind, "cell": f.cell, "nodeid": f.nodeid, "detail": f.detail}
                      for f in t.flags]}


def write_results(path: Path, view: RunView, trend: Trend | None = None) -> Path:
    atomic_write(path, json.dumps(results_doc(view, trend), indent=1, sort_keys=True,
                                  default=str) + "\n")
    return path


# ---------------------------------------------------------------------- html
def environment() -> jinja2.Environment:
    env = jinja2.Environment(loader=jinja2.PackageLoader("harness.report", "templates"),
                             autoescape=True, undefined=jinja2.StrictUndefined,
                             trim_blocks=True, lstrip_blocks=True)
    env.filters["secs"] = _secs
    env.globals["culprit"] = culprit_frame
    env.filters["signed"] = lambda v: f"{v:+d}" if isinstance(v, int) else str(v)
    return env


def _secs(v: object) -> str:
    if not isinstance(v, (int, float)):
        return "–"
    return f"{v:.1f}s" if v < 120 else f"{int(v) // 60}m{int(v) % 60:02d}s"


def trend_view(t: Trend | None) -> JsonObject | None:
    if t is None:
        return None
    counters = [{"cell": c, "size": s, "name": n, "values": vals,
                 "chart": svg.sparkline(vals, title=f"{c} {s} {n} over the last runs")}
                for (c, s, n), vals in t.counters.items()]
    tests = [{"cell": c, "nodeid": n, "outcomes": outs,
              "flips": sum(1 for a, b in itertools.pairwise(outs)
                           if a and b and a != b)}
             for (c, n), outs in t.outcomes.items()]
    return {"t": t, "tests": tests, "counters": counters,
            "regression": any(f.kind in REGRESSION_KINDS for f in t.flags)}


def render_html(view: RunView, trend: Trend | None = None) -> str:
    template = environment().get_template("report.html.j2")
    return template.render(
        run=view.run, title=f"kharness: {view.name}", out=str(view.out),
        generated=time.strftime("%Y-%m-%d %H:%M:%SZ", time.gmtime()),
        regression=any(g.regression for g in view.groups), matrix=view.matrix(),
        groups=view.group_views(), splats=view.splat_rows(), tests=view.test_rows(),
        durations=view.duration_chart() or Markup(""), slowest=view.slowest(),
        reproducers=view.reproducers(), trend=trend_view(trend),
        checks=checkreport.view(checksummary.results_of(view.records)),
        checks_fail=checksummary.exit_code(checksummary.results_of(view.records)) == 1,
        ntests=len(view.tests))


def write_html(path: Path, view: RunView, trend: Trend | None = None) -> Path:
    atomic_write(path, render_html(view, trend))
    return path
