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
from pathlib import Path
from typing import Any

import jinja2
from markupsafe import Markup

from harness.campaign import repro
from harness.checks import junit as checkjunit
from harness.checks import report as checkreport
from harness.checks import summary as checksummary
from harness.report import junit, kcidb, svg
from harness.report.view import RunView, slug
from harness.results import runinfo
from harness.results.history import REGRESSION_KINDS, Trend
from harness.results.journal import latest_tests
from harness.results.verdict import GroupVerdict, test_key
from harness.splats.symbolize import culprit_frame
from harness.util import atomic_write

log = logging.getLogger("harness")
SCHEMA = "kharness-results/1"
SPLAT_FIELDS = ("kind", "title", "function", "header", "message", "location", "line",
                "end_line", "frames", "locks", "cpu", "pid", "comm", "truncated")


def write_all(out: Path, records: list[dict[str, Any]], groups: list[GroupVerdict],
              trend: Trend | None = None) -> list[Path]:
    """Write every report of the run in `out`; the paths written."""
    run = load_run(out)
    view = RunView(out, run, records, groups)
    paths = [write_html(out / "report.html", view, trend),
             write_junit(out / "junit.xml", view),
             write_results(out / "results.json", view, trend)]
    paths.append(kcidb.write(out / "kcidb.json", run, records))
    info = runinfo.RunInfo(out, run, tuple(records))
    paths += [p / "repro.sh" for p in repro.write_all(info, groups)]
    return paths


def load_run(out: Path) -> dict[str, Any]:
    try:
        data = json.loads((out / "run.json").read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


# --------------------------------------------------------------------- junit
def write_junit(path: Path, view: RunView) -> Path:
    suites = []
    for cell in view.cells:
        celldir = view.dirs[cell]
        suites.append(junit.cell_suite(cell, celldir.path / "junit.xml", view.tests_of(cell),
                                       view.cell_records.get(cell), view.excerpt))
    suites += checkjunit.suites(checksummary.results_of(view.records))
    atomic_write(path, junit.merged(suites, f"kharness {view.run.get('name', path.parent.name)}"))
    return path


# -------------------------------------------------------------- results.json
def results_doc(view: RunView, trend: Trend | None = None) -> dict[str, Any]:
    return {"schema": SCHEMA, "generated": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "run": {k: v for k, v in view.run.items() if k != "type"},
            "regression": any(g.regression for g in view.groups),
            "cells": [_cell_doc(view, c) for c in view.cells],
            "tests": [_test_doc(view, r) for c in view.cells for r in view.tests_of(c)],
            "groups": [_group_doc(g) for g in view.groups],
            "history": None if trend is None else _history_doc(trend)}


def _cell_doc(view: RunView, cell: str) -> dict[str, Any]:
    rec = view.cell_records.get(cell, {})
    build = rec.get("build") or {}
    counts: dict[str, int] = {}
    for r in view.tests_of(cell):
        counts[str(r.get("outcome"))] = counts.get(str(r.get("outcome")), 0) + 1
    parts = cell.split("/")
    return {"cell": cell, "arch": rec.get("arch", parts[0]),
            "variant": rec.get("variant", parts[-1]),
            "config": rec.get("config") or (parts[1] if len(parts) == 3 else ""),
            "status": rec.get("status", "not finished"), "pytest_exit": rec.get("pytest_exit"),
            "seconds": rec.get("seconds"),
            "build": {"dir": build.get("dir"), "cached": build.get("cached"),
                      "seconds": build.get("seconds")},
            "boot_seconds": [v.get("boot_seconds") for v in view.dirs[cell].vms],
            "reproduce": rec.get("reproduce"), "message": rec.get("message"),
            "dir": f"cells/{slug(cell)}", "counts": counts}


def _test_doc(view: RunView, r: dict[str, Any]) -> dict[str, Any]:
    return {"cell": r.get("cell"), "arch": r.get("arch"), "config": r.get("config") or "",
            "variant": r.get("variant"), "nodeid": r.get("nodeid"), "test": test_key(r),
            "knobset": r.get("knobset"),
            "outcome": r.get("outcome"), "duration": view.duration(r),
            "phases": r.get("phases") or {}, "message": r.get("message"),
            "splats": [_splat_doc(s) for s in r.get("splats") or []],
            "counters": r.get("counters") or {}, "per_scan": r.get("per_scan") or [],
            "census": r.get("census"), "census_before": r.get("census_before"),
            "census_pmds": r.get("census_pmds")}


def _splat_doc(s: dict[str, Any]) -> dict[str, Any]:
    out = {k: s.get(k) for k in SPLAT_FIELDS}
    out["frames"] = [str(f) for f in s.get("frames") or []]
    out["locks"] = [str(f) for f in s.get("locks") or []]
    return out


def _group_doc(g: GroupVerdict) -> dict[str, Any]:
    return {"arch": g.arch, "config": g.config, "knobset": g.knobset, "base": g.base,
            "other": g.other,
            "regression": g.regression,
            "changed": [{"test": c.test, "before": c.before, "after": c.after} for c in g.changed],
            "new_splats": [{"kind": s.get("kind"), "title": s.get("title"),
                            "function": s.get("function"), "test": s.get("test")}
                           for s in g.new_splats],
            "gone_splats": list(g.gone_splats), "common_splats": list(g.common_splats),
            "expected_splats": list(g.expected_splats),
            "counters": {size: {n: {"base": b, "other": p, "delta": p - b}
                                for n, (b, p) in stats.items()}
                         for size, stats in g.counters.items()},
            "infra": list(g.infra)}


def _history_doc(t: Trend) -> dict[str, Any]:
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


def _secs(v: Any) -> str:
    if not isinstance(v, (int, float)):
        return "–"
    return f"{v:.1f}s" if v < 120 else f"{int(v) // 60}m{int(v) % 60:02d}s"


def trend_view(t: Trend | None) -> dict[str, Any] | None:
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
    run = view.run
    return template.render(
        run=run, title=f"kharness: {run.get('name', view.out.name)}", out=str(view.out),
        generated=time.strftime("%Y-%m-%d %H:%M:%SZ", time.gmtime()),
        regression=any(g.regression for g in view.groups), matrix=view.matrix(),
        groups=view.group_views(), splats=view.splat_rows(), tests=view.test_rows(),
        durations=view.duration_chart() or Markup(""), slowest=view.slowest(),
        reproducers=view.reproducers(), trend=trend_view(trend),
        checks=checkreport.view(checksummary.results_of(view.records)),
        checks_fail=checksummary.exit_code(checksummary.results_of(view.records)) == 1,
        ntests=len(latest_tests(view.tests)))


def write_html(path: Path, view: RunView, trend: Trend | None = None) -> Path:
    atomic_write(path, render_html(view, trend))
    return path
