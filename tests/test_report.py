"""Reports from synthetic journals: HTML verdicts/splats/SVG, merged junit, results.json schema."""

from __future__ import annotations

import json
import re
import shutil
import xml.etree.ElementTree as ET
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from harness.cli import run as runcli
from harness.report import html as report
from harness.report import junit, kcidb, svg
from harness.report.view import scan_series
from harness.results import journal as results
from harness.results import verdict
from harness.results.records import Record
from harness.results.records import tests as latest_tests

DATA = Path(__file__).parent / "data" / "journals"
DOCS = Path(__file__).parent.parent / "docs" / "results-schema.md"
LOCKDEP = "possible deadlock in khugepaged_scan_mm_slot"
WARN = "WARNING in collapse_huge_page"


def make_run(dest: Path, name: str = "two-arch") -> Path:
    """A finished run directory built from tests/data/journals/<name>.*"""
    dest.mkdir(parents=True, exist_ok=True)
    shutil.copy(DATA / f"{name}.jsonl", dest / "results.jsonl")
    shutil.copy(DATA / f"{name}.run.json", dest / "run.json")
    if (DATA / f"{name}-cells").is_dir():
        shutil.copytree(DATA / f"{name}-cells", dest / "cells")
    return dest


def write(out: Path) -> tuple[list[Path], list[Record], list[verdict.GroupVerdict]]:
    records = results.load(out / "results.jsonl")
    others = sorted({t.variant for t in latest_tests(records)} - {"baseline"})
    groups = [g for other in others for g in verdict.compare(records, "baseline", other)]
    return report.write_all(out, records, groups), records, groups


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = make_run(tmp_path_factory.mktemp("run") / "run")
    write(out)
    return out


@pytest.fixture(scope="module")
def html(run_dir: Path) -> str:
    return (run_dir / "report.html").read_text()


def section(html: str, ident: str) -> str:
    """The <section id=ident> of a verdict group."""
    m = re.search(rf'<section class="verdict [a-z]+" id="{re.escape(ident)}">(.*?)</section>',
                  html, re.DOTALL)
    assert m, f"no section {ident}"
    return m.group(1)


def svgs(fragment: str, cls: str) -> list[ET.Element]:
    found = re.findall(rf'<svg [^>]*class="chart {cls}".*?</svg>', fragment, re.DOTALL)
    return [ET.fromstring(s) for s in found]


NS = "{http://www.w3.org/2000/svg}"


def bars(el: ET.Element) -> list[ET.Element]:
    return [r for r in el.iter(f"{NS}rect") if r.get("class") == "bar"]


# ------------------------------------------------------------------------ HTML
def test_write_all_writes_every_file(run_dir: Path) -> None:
    for name in ("report.html", "junit.xml", "results.json", "kcidb.json"):
        assert (run_dir / name).stat().st_size > 0, name


def test_html_has_the_verdict_per_group(html: str) -> None:
    assert "REGRESSION: the series changed something for the worse" in html
    bad = section(html, "g-x86_64-mthp-all")
    assert "REGRESSION" in bad and "test_collapse_swapped[mthp-all]" in bad
    assert re.search(r"passed</td>\s*<td class=\"c-failed\">failed", bad)
    good = section(html, "g-arm64-pmd-only")
    assert "no regression" in good and "test_rescan_is_idle[pmd-only]" in good
    assert html.index("g-x86_64-mthp-all") < html.index("g-arm64-mthp-all")  # regressions first


def test_new_splat_marked_new_and_warn_pre_existing(html: str) -> None:
    bad = section(html, "g-x86_64-mthp-all")
    assert re.search(rf'badge new">new</span> \[lockdep\] {LOCKDEP}', bad)
    assert re.search(rf'badge pre-existing">pre-existing</span> {WARN}', bad)
    splats = html[html.index('id="splats"'):html.index('id="tests"')]
    assert re.search(rf'badge new">new</span> \[lockdep\] {LOCKDEP}</h3>', splats)
    assert len(re.findall(rf'badge pre-existing">pre-existing</span> \[warning\] {WARN}</h3>',
                          splats)) == 2          # on baseline and on patched
    assert not re.search(r'badge new">new</span> \[warning\]', splats)


def test_splats_show_trace_and_console_context(html: str) -> None:
    splats = html[html.index('id="splats"'):html.index('id="tests"')]
    assert "khugepaged_scan_mm_slot.constprop.0+0x9b/0x4a0" in splats     # call trace
    assert "khugepaged/35 is trying to acquire lock" in splats           # console context
    assert "mTHP collapse: folio order 4 does not match range order 5" in splats


def test_collapse_bars_baseline_vs_patched(html: str) -> None:
    (chart,) = svgs(section(html, "g-x86_64-mthp-all"), "collapse")
    rects = bars(chart)
    assert len(rects) == 6                                    # 3 sizes x 2 variants
    assert [r.get("data-category") for r in rects[::2]] == ["64kB", "128kB", "2048kB"]
    assert {r.get("data-series") for r in rects} == {"baseline", "patched"}
    heights = {(r.get("data-series"), r.get("data-category")): float(r.get("height", 0))
               for r in rects}
    assert heights[("patched", "64kB")] > heights[("baseline", "64kB")]
    (pmd,) = svgs(section(html, "g-x86_64-pmd-only"), "collapse")
    assert len(bars(pmd)) == 2
    assert not svgs(section(html, "g-x86_64--"), "collapse")   # smoke tests: no counters


def test_per_scan_line_charts(html: str) -> None:
    charts = svgs(section(html, "g-x86_64-mthp-all"), "per-scan")
    assert len(charts) == 2                    # test_collapse_anon, test_rescan_is_idle
    lines = [p for p in charts[0].iter(f"{NS}polyline") if p.get("class") == "line"]
    assert len(lines) == 6                     # 2 variants x 3 sizes
    panels = [t.text for t in charts[0].iter(f"{NS}text") if t.get("class") == "panel"]
    assert panels == ["baseline", "patched"]            # side by side, baseline first
    assert sum(1 for p in lines if str(p.get("data-series")).startswith("baseline ")) == 3
    colours = {p.get("data-series"): p.get("stroke") for p in lines}
    assert colours["baseline 64kB"] == colours["patched 64kB"] == svg.order_colour(4)
    arm = svgs(section(html, "g-arm64-mthp-all"), "per-scan")     # flat cumulative shape
    assert len(arm) == 2


def test_durations_and_reproducers(html: str) -> None:
    (chart,) = svgs(html, "durations")
    assert len(bars(chart)) == 4 * 3                           # 4 cells x build/boot/test
    repro = html[html.index('id="reproduce"'):]
    assert "python3 -m pytest guest_tests" in repro and "--kharness-arch arm64" in repro
    assert "CELLDIR" not in repro


def test_html_is_self_contained_and_escaped(html: str) -> None:
    assert "<script" not in html.lower()
    assert not re.search(r'(src|href)="(https?:)?//', html)
    assert "<link" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;&amp;co" in html           # test name
    assert "&lt;script&gt;document.title=&#39;PWNED&#39;&lt;/script&gt; &amp; " in html
    assert "<img" not in html


# ----------------------------------------------------------------------- junit
def test_junit_merged_and_synthesised(run_dir: Path) -> None:
    root = ET.parse(run_dir / "junit.xml").getroot()
    assert (root.get("tests"), root.get("failures"), root.get("skipped")) == ("34", "4", "2")
    suites = {s.get("name"): s for s in root.iter("testsuite")}
    assert {k: v.get("failures") for k, v in suites.items()} == {
        "x86_64/baseline": "1", "x86_64/patched": "2", "arm64/baseline": "1",
        "arm64/patched": "0"}
    assert suites["arm64/baseline"].get("source") == "results.jsonl"
    assert suites["x86_64/patched"].get("source", "").endswith("x86_64-patched/junit.xml")
    for name, suite in suites.items():
        assert all(c.get("classname") == name for c in suite.iter("testcase"))
        assert all(str(c.get("name")).startswith("guest_tests/") for c in suite.iter("testcase"))


def test_junit_failure_text_has_splats_and_console(run_dir: Path) -> None:
    root = ET.parse(run_dir / "junit.xml").getroot()
    cases = {(c.get("classname"), c.get("name")): c for c in root.iter("testcase")}
    lock = cases[("x86_64/patched",
                  "guest_tests/test_collapse.py::test_collapse_swapped[x86_64-patched-mthp-all]")]
    text = lock.findtext("failure") or ""
    assert LOCKDEP in text and "down_read+0x46/0x190" in text
    assert "--- console excerpt ---" in text and "kharness: test end" in text
    arm = cases[("arm64/baseline",
                 "guest_tests/test_convergence.py::test_rescan_is_idle[arm64-baseline-pmd-only]")]
    fail = arm.find("failure")
    assert fail is not None
    assert fail.get("message") == "AssertionError: scan 7 still collapsed 1 range"
    assert float(arm.get("time", 0)) > 0                       # duration from the journal


def test_junit_build_failed_cell_and_control_characters(tmp_path: Path) -> None:
    out = tmp_path / "run"
    out.mkdir()
    j = results.Journal(out / "results.jsonl")
    j.append({"type": "cell", "cell": "arm64/patched", "arch": "arm64", "variant": "patched",
              "status": "build-failed", "message": "make failed: mm/khugepaged.c:12: error"})
    j.append({"type": "test", "cell": "x86_64/patched", "arch": "x86_64", "variant": "patched",
              "nodeid": "t.py::test_x[x86_64-patched]", "outcome": "crash", "splats": [],
              "console": "boot\n\x1b[31mred\x00 <&>\npanic"})
    paths, _, _ = write(out)
    root = ET.parse(out / "junit.xml").getroot()
    assert root.get("failures") == "2"
    build = next(c for c in root.iter("testcase") if c.get("name") == "build")
    assert build.get("classname") == "arm64/patched"
    crash = next(c for c in root.iter("testcase") if c.get("classname") == "x86_64/patched")
    assert "\\x1b[31mred\\x00 <&>" in (crash.findtext("failure") or "")
    assert (out / "report.html").exists() and len(paths) >= 3


# ---------------------------------------------------------------- results.json
def documented_fields() -> dict[str, tuple[set[str], bool]]:
    """field path -> (allowed types, required), from the tables in docs/results-schema.md."""
    out = {}
    for line in DOCS.read_text().splitlines():
        m = re.match(r"^\| `([^`]+)` \| ([a-z ]+) \| (yes|no) \|", line)
        if m:
            out[m.group(1)] = (set(m.group(2).split(" or ")), m.group(3) == "yes")
    return out


def type_ok(value: Any, types: set[str]) -> bool:
    checks: dict[str, Callable[[Any], bool]] = {
              "string": lambda v: isinstance(v, str), "boolean": lambda v: isinstance(v, bool),
              "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
              "number": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
              "object": lambda v: isinstance(v, dict), "array": lambda v: isinstance(v, list),
              "null": lambda v: v is None, "any": lambda v: True}
    return any(checks[t](value) for t in types)


def schema_errors(value: Any, path: str, doc: dict[str, tuple[set[str], bool]]) -> list[str]:
    errors: list[str] = []
    if isinstance(value, dict):
        for key in sorted(f for f in doc if _child(f, path) and doc[f][1] and "*" not in f):
            if key.rsplit(".", 1)[-1] not in value:
                errors.append(f"{key}: required, missing")
        for key, v in value.items():
            child = f"{path}.{key}" if path else key
            field = child if child in doc else f"{path}.*" if f"{path}.*" in doc else None
            if field is None:
                errors.append(f"{child}: not documented")
                continue
            errors += _check(v, field, doc)
    elif isinstance(value, list):
        for v in value:
            if f"{path}[]" in doc:
                errors += _check(v, f"{path}[]", doc)
            elif any(f.startswith(f"{path}[].") for f in doc):
                errors += schema_errors(v, f"{path}[]", doc) if isinstance(v, dict) else [
                    f"{path}[]: {type(v).__name__} is not object"]
    return errors


def _child(field: str, parent: str) -> bool:
    prefix = f"{parent}." if parent else ""
    return field.startswith(prefix) and "." not in field[len(prefix):] \
        and "[" not in field[len(prefix):]


def _check(v: Any, field: str, doc: dict[str, tuple[set[str], bool]]) -> list[str]:
    types, _ = doc[field]
    if not type_ok(v, types):
        return [f"{field}: {type(v).__name__} is not {' or '.join(sorted(types))}"]
    if "any" in types or not any(f.startswith((field + ".", field + "["))
                                 for f in doc):
        return []
    return schema_errors(v, field, doc)


def test_results_json_matches_the_documented_schema(run_dir: Path) -> None:
    doc = json.loads((run_dir / "results.json").read_text())
    fields = documented_fields()
    assert len(fields) > 80
    assert schema_errors(doc, "", fields) == []
    assert doc["schema"] == report.SCHEMA and doc["regression"] is True
    assert len(doc["cells"]) == 4 and len(doc["tests"]) == 34
    g = next(g for g in doc["groups"] if (g["arch"], g["knobset"]) == ("x86_64", "mthp-all"))
    assert [s["title"] for s in g["new_splats"]] == [LOCKDEP] and g["common_splats"] == [WARN]
    assert g["counters"]["64kB"]["collapse_alloc"] == {"base": 144, "other": 192, "delta": 48}


def test_schema_checker_catches_mistakes() -> None:
    fields = documented_fields()
    bad = {"schema": 1, "generated": "x", "run": {}, "regression": False, "cells": [],
           "tests": [{"nodeid": "x", "bogus": 1}], "groups": []}
    errors = schema_errors(bad, "", fields)
    assert "schema: int is not string" in errors
    assert "history: required, missing" in errors
    assert "tests[].bogus: not documented" in errors
    assert "tests[].outcome: required, missing" in errors


# ---------------------------------------------------------- shapes, charts, misc
def test_scan_series_accepts_the_shapes_tests_write() -> None:
    nested = [{"scan": 1, "sizes": {"64kB": {"collapse_alloc": 4}, "2048kB": {"x": 1}}},
              {"scan": 2, "sizes": {"64kB": {"collapse_alloc": 0}}}]
    assert scan_series(nested) == ([1.0, 2.0], {"64kB": [4.0, 0.0]})
    flat = [{"scan": 3, "64kB": 5, "2048kB": 1, "t": 0.5}, "junk", {"scan": 4, "64kB": 6}]
    assert scan_series(flat) == ([3.0, 4.0], {"64kB": [5.0, 6.0], "2048kB": [1.0, 0.0]})
    counters_flat = [{"full_scans": 1, "64K.collapse_alloc": 2, "2M.collapse_alloc": 1,
                      "64K.nr_anon": 9, "vmstat.thp_fault_alloc": 3}]
    assert scan_series(counters_flat) == ([1.0], {"64K": [2.0], "2M": [1.0]})
    assert scan_series([{"sizes": {"64kB": 7}}]) == ([1.0], {"64kB": [7.0]})
    journal = [{"full_scans": 1, "t": 0.8, "pages_collapsed": 3, "64kB": {"collapse_alloc": 3},
                "vmstat": {"thp_collapse_alloc": 1}, "2048kB": {"collapse_alloc": 1}},
               {"full_scans": 2, "t": 1.6, "pages_collapsed": 0}]
    assert scan_series(journal) == ([1.0, 3.0], {"64kB": [3.0, 0.0], "2048kB": [1.0, 0.0]})


def ticks_of(el: ET.Element) -> list[str]:
    return [str(t.text) for t in el.iter(f"{NS}text") if t.get("class") == "tick"]


def test_integer_counters_get_integer_ticks() -> None:
    assert svg.ticks(3, integer=True) == (3, 1) and svg.ticks(3) == (3.0, 1.0)
    assert svg.ticks(144, integer=True) == (150, 50) and svg.ticks(0.3) == (0.3, 0.1)
    chart = ET.fromstring(str(svg.line_chart([1, 2, 3], {"s": [0, 3, 1]}, title="t")))
    assert ticks_of(chart) == ["0", "1", "2", "3"]
    bars_ = ET.fromstring(str(svg.grouped_bars(["a"], {"x": [5], "y": [2]}, title="t")))
    assert all(t.isdigit() for t in ticks_of(bars_))


def test_series_zero_throughout_are_left_out_with_their_legend() -> None:
    series = {f"{k}kB": [0, 0, 0] for k in (16, 32, 64, 128)} | {"2048kB": [0, 1, 0]}
    chart = ET.fromstring(str(svg.line_chart([1, 2, 3], series, title="t")))
    lines = [p for p in chart.iter(f"{NS}polyline") if p.get("class") == "line"]
    legend = [t.text for g in chart.iter(f"{NS}g") if g.get("class") == "legend"
              for t in g.iter(f"{NS}text")]
    assert [p.get("data-series") for p in lines] == ["2048kB"] and legend == ["2048kB"]


def test_long_titles_wrap_and_keep_the_full_name_on_hover() -> None:
    nodeid = ("guest_tests/test_collapse.py::test_collapse_to_largest_enabled_order"
              "[x86_64-patched-multi-none511]")
    title = f"collapse_alloc per full scan: {nodeid}"
    chart = ET.fromstring(str(svg.line_chart([1, 2], {"64kB": [1, 2]}, title=title,
                                             width=320)))
    assert chart.findtext(f"{NS}title") == title                      # hover: full name
    shown = [t.text for t in chart.iter(f"{NS}tspan")]
    assert len(shown) > 1 and all(len(str(t)) * svg.CHAR_W <= 320 for t in shown)
    assert "".join(str(t) for t in shown).replace(" ", "") == title.replace(" ", "")
    assert svg.short_test(nodeid).startswith("test_collapse::test_collapse_to_largest")


def test_census_picture_before_and_after(html: str) -> None:
    (chart,) = svgs(section(html, "g-x86_64-mthp-all"), "census")
    rows = [t.text for t in chart.iter(f"{NS}text") if t.get("text-anchor") == "end"]
    assert rows == ["baseline before", "baseline after", "patched before", "patched after"]
    folios = [r for r in chart.iter(f"{NS}rect") if r.get("class") == "folio"]
    tips = [str(r.findtext(f"{NS}title")) for r in folios]
    assert "patched after, PMD 1: 128 pages in 64K folios (order 4)" in tips
    assert "baseline after, PMD 0: 512 pages in 2M folios (order 9)" in tips
    assert {r.get("fill") for r in folios if r.get("data-order") == "4"} == {svg.order_colour(4)}
    assert not svgs(section(html, "g-arm64-mthp-all"), "census")       # none recorded


def test_svg_escapes_labels_and_counts_bars() -> None:
    out = svg.grouped_bars(["<a>", "b&c"], {"base": [1, 2], "p\"x": [3, 0]}, title="t<")
    root = ET.fromstring(str(out))
    assert len(bars(root)) == 4 and root.findtext(f"{NS}title") == "t<"
    line = ET.fromstring(str(svg.line_chart([1, 2, 3], {"s": [1, None, 2]}, title="l")))
    assert len([p for p in line.iter(f"{NS}polyline")]) == 2        # the gap splits the line
    assert svg.nice_max(0) == 1 and svg.nice_max(144) == 200 and svg.nice_max(7) == 10
    ET.fromstring(str(svg.sparkline([1, None, 3], title="s&")))


def test_report_of_a_real_smoke_journal_without_verdict(tmp_path: Path) -> None:
    out = tmp_path / "run"
    out.mkdir()
    rec: dict[str, Any] = {"arch": "x86_64", "cell": "x86_64/baseline", "knobset": None,
           "outcome": "passed",
           "nodeid": "guest_tests/test_smoke.py::test_guest_answers[x86_64-baseline]",
           "phases": {"call": "passed"}, "splats": [], "type": "test", "variant": "baseline"}
    (out / "results.jsonl").write_text(json.dumps(rec) + "\n")
    paths, _, groups = write(out)
    assert groups == [] and len(paths) == 4
    assert "Nothing to compare" in (out / "report.html").read_text()
    doc = json.loads((out / "results.json").read_text())
    assert doc["run"] == {} and doc["cells"][0]["status"] == "not finished"
    assert schema_errors(doc, "", documented_fields()) == []


def test_finish_prints_summary_then_paths(tmp_path: Path, capsys: pytest.CaptureFixture[str]
                                          ) -> None:
    out = make_run(tmp_path / "run")
    assert runcli.finish(out) == 1
    text = capsys.readouterr().out
    assert text.index("x86_64/patched") < text.index("REGRESSION") < text.index("wrote ")
    assert text.rstrip().splitlines()[-1].startswith("wrote ")
    assert f"wrote {out / 'report.html'}" in text and f"wrote {out / 'junit.xml'}" in text


def test_kcidb_document(run_dir: Path) -> None:
    doc = json.loads((run_dir / "kcidb.json").read_text())
    assert doc["version"] == {"major": 5, "minor": 3}          # kcidb-io's current schema
    assert kcidb.validate(doc) is None
    assert len(doc["checkouts"]) == 2 and len(doc["builds"]) == 4 and len(doc["tests"]) == 34
    statuses = [t["status"] for t in doc["tests"]]
    assert statuses.count("FAIL") == 4 and statuses.count("SKIP") == 2
    build_ids = {b["id"] for b in doc["builds"]}
    assert all(t["build_id"] in build_ids for t in doc["tests"])
    assert kcidb.STATUS["lockup"] == "FAIL"


def test_junit_key_matches_pytest() -> None:
    assert junit.junit_key("guest_tests/test_smoke.py::test_a[x86_64-baseline]") == (
        "guest_tests.test_smoke", "test_a[x86_64-baseline]")
    assert junit.junit_key("a/b.py::C::t") == ("a.b.C", "t")


# ------------------------------------------- splats a test expected (expect_splat)
FOLIO = "WARNING in __folio_split"


def test_expected_splat_shown_as_expected_everywhere(tmp_path: Path) -> None:
    out = tmp_path / "run"
    out.mkdir()
    j = results.Journal(out / "results.jsonl")
    for variant in ("baseline", "patched"):
        j.append({"type": "test", "cell": f"x86_64/{variant}", "arch": "x86_64",
                  "variant": variant, "nodeid": f"g/t.py::test_guard[x86_64-{variant}]",
                  "outcome": "passed", "splats": [{"kind": "warning", "title": FOLIO,
                                                   "function": "__folio_split"}]})
    j.append({"type": "test", "cell": "x86_64/patched", "arch": "x86_64", "variant": "patched",
              "nodeid": "g/t.py::test_other[x86_64-patched]", "outcome": "failed",
              "splats": [{"kind": "lockdep", "title": LOCKDEP}]})
    write(out)
    html = (out / "report.html").read_text()
    verdicts = html[html.index('id="verdicts"'):html.index('id="splats"')]
    assert re.search(rf'badge expected">expected</span> {FOLIO} <span class="muted">\(expected '
                     r'by its test', verdicts)
    assert "pre-existing" not in verdicts.split("</table>", 1)[1]
    splats = html[html.index('id="splats"'):html.index('id="tests"')]
    assert len(re.findall(rf'badge expected">expected</span> \[warning\] {FOLIO}</h3>',
                          splats)) == 2
    assert re.search(rf'badge new">new</span> \[lockdep\] {LOCKDEP}</h3>', splats)
    (g,) = json.loads((out / "results.json").read_text())["groups"]
    assert g["expected_splats"] == [FOLIO] and g["common_splats"] == []
    incidents = json.loads((out / "kcidb.json").read_text())["incidents"]
    assert sorted(i["comment"].split(":")[0] for i in incidents) == [
        "expected by its test", "expected by its test", "new with the series"]
    root = ET.parse(out / "junit.xml").getroot()
    cases = {c.get("name"): c for c in root.iter("testcase")}
    guard = cases["g/t.py::test_guard[x86_64-patched]"]
    assert guard.find("failure") is None
    assert [p.get("value") for p in guard.iter("property")] == [f"[warning] {FOLIO}"]
    assert f"expected by this test (expect_splat): [warning] {FOLIO}" in (
        guard.findtext("system-out") or "")
    other = cases["g/t.py::test_other[x86_64-patched]"]
    assert other.find("properties") is None and LOCKDEP in (other.findtext("failure") or "")
    junitparser = pytest.importorskip("junitparser")
    parsed = [c for s in junitparser.JUnitXml.fromfile(str(out / "junit.xml")) for c in s]
    guard_case = next(c for c in parsed if c.name == "g/t.py::test_guard[x86_64-patched]")
    assert guard_case.is_passed and FOLIO in (guard_case.system_out or "")
