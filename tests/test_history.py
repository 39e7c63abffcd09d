"""Nightly history: storing runs, flags since the previous run, trend in the report, CLI."""

from __future__ import annotations

import json
import shutil
import sqlite3
from pathlib import Path

import pytest

from harness.cli import main as cli
from harness.cli import run as runcli
from harness.results import history, runinfo
from harness.results import journal as results

DATA = Path(__file__).parent / "data" / "journals"
LOCKDEP = "possible deadlock in khugepaged_scan_mm_slot"
PATCHED_SWAP = "guest_tests/test_collapse.py::test_collapse_swapped[x86_64-patched-mthp-all]"
PATCHED_ANON = "guest_tests/test_collapse.py::test_collapse_anon[x86_64-patched-mthp-all]"
BASE_RESCAN = "guest_tests/test_convergence.py::test_rescan_is_idle[x86_64-baseline-mthp-all]"


def nightly_run(root: Path, n: int) -> Path:
    out = root / f"nightly-{n}"
    out.mkdir(parents=True)
    shutil.copy(DATA / f"nightly-{n}.jsonl", out / "results.jsonl")
    shutil.copy(DATA / f"nightly-{n}.run.json", out / "run.json")
    return out


def store(hist: Path, out: Path, th: history.Thresholds | None = None) -> history.Trend:
    records = results.load(out / "results.jsonl")
    return history.record(hist, out, runinfo.load_run(out), records,
                          th or history.Thresholds())


def kinds(trend: history.Trend) -> dict[str, list[tuple[str, str, str]]]:
    out: dict[str, list[tuple[str, str, str]]] = {}
    for f in trend.flags:
        out.setdefault(f.kind, []).append((f.cell, f.nodeid, f.detail))
    return out


@pytest.fixture
def three(tmp_path: Path) -> tuple[Path, list[history.Trend]]:
    hist = tmp_path / "history"
    return hist, [store(hist, nightly_run(tmp_path, n)) for n in (1, 2, 3)]


def test_first_run_flags_nothing(three: tuple[Path, list[history.Trend]]) -> None:
    _, (first, _, _) = three
    assert first.previous is None and first.flags == []
    assert "first run" in history.flags_text(first.flags, first.previous)


def test_second_run_flags_failure_splat_counter_and_flake(
        three: tuple[Path, list[history.Trend]]) -> None:
    _, (first, second, _) = three
    assert second.previous is not None and second.previous.id == first.current
    k = kinds(second)
    assert k["new-failure"] == [("x86_64/patched", PATCHED_SWAP, "passed -> failed")]
    assert k["new-splat"] == [("x86_64/patched", PATCHED_SWAP, LOCKDEP)]
    assert ("x86_64/patched", PATCHED_ANON, "64kB collapse_alloc 128 -> 76 (-41%)") \
        in k["counter-regression"]
    assert all(c == "x86_64/patched" for c, _, _ in k["counter-regression"])
    assert not any("collapse_alloc_failed" in d for _, _, d in k["counter-regression"])
    # baseline: same config, source and build dir, outcome changed -> flaky, not new failure
    assert k["flaky"] == [("x86_64/baseline", BASE_RESCAN,
                           "passed -> failed with identical inputs")]
    assert set(k) == {"new-failure", "new-splat", "counter-regression", "flaky"}


def test_identical_third_run_flags_nothing_new(three: tuple[Path, list[history.Trend]]) -> None:
    _, (_, second, third) = three
    assert third.previous is not None and third.previous.id == second.current
    assert third.flags == []
    assert "nothing new" in history.flags_text(third.flags, third.previous)


def test_store_tables_and_restore_replaces(three: tuple[Path, list[history.Trend]],
                                           tmp_path: Path) -> None:
    hist, (_, _, third) = three
    db = sqlite3.connect(hist / "history.sqlite")
    counts = {t: db.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0]  # noqa: S608
              for t in ("runs", "cells", "tests", "splats", "counters")}
    assert counts["runs"] == 3 and counts["cells"] == 6 and counts["tests"] == 18
    assert counts["splats"] == 2                  # lockdep in runs 2 and 3
    row = db.execute("SELECT config_name, config_sha256, series_versions, durations FROM runs "
                     "WHERE id = ?", (third.current,)).fetchone()
    assert row[0] == "nightly-mm" and len(row[1]) == 64 and json.loads(row[2]) == ["v1"]
    assert json.loads(row[3]) == {"total": 303.0}
    again = store(hist, tmp_path / "nightly-3")     # a resumed run stored again
    assert db.execute("SELECT COUNT(*) FROM runs").fetchone()[0] == 3
    assert db.execute("SELECT COUNT(*) FROM tests").fetchone()[0] == 18
    assert again.flags == []
    db.close()


def test_trend_outcomes_and_counters(three: tuple[Path, list[history.Trend]]) -> None:
    _, (_, _, third) = three
    assert [r.id for r in third.runs] == [1, 2, 3]
    assert third.outcomes[("x86_64/patched", PATCHED_SWAP)] == ["passed", "failed", "failed"]
    assert third.outcomes[("x86_64/baseline", BASE_RESCAN)] == ["passed", "failed", "failed"]
    # test_collapse_anon 128 + test_collapse_swapped 64, then both -40%
    assert third.counters[("x86_64/patched", "64kB", "collapse_alloc")] == [192, 114, 114]


def test_thresholds_are_configurable(tmp_path: Path) -> None:
    hist = tmp_path / "history"
    lax = history.Thresholds(relative=0.5, min_delta=5)
    store(hist, nightly_run(tmp_path, 1), lax)
    second = store(hist, nightly_run(tmp_path, 2), lax)
    assert "counter-regression" not in kinds(second)      # -40% < 50%


@pytest.mark.parametrize(("name", "old", "new", "flag"), [
    ("collapse_alloc", 100, 79, True), ("collapse_alloc", 100, 81, False),
    ("collapse_alloc", 10, 6, False),           # -40% but only 4 < min_delta 5
    ("collapse_alloc", 100, 200, False),        # more collapses: not a regression
    ("collapse_alloc_failed", 10, 20, True), ("collapse_exceed_swap_pte", 0, 5, True),
    ("collapse_alloc_failed", 20, 10, False), ("nr_anon", 10, 100, False),
])
def test_counter_direction_and_threshold(name: str, old: int, new: int, flag: bool) -> None:
    assert history.regressed(name, old, new, history.Thresholds()) is flag


def test_finish_with_history_reports_trend_and_exit_code(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    opts = runcli.HistoryOptions(tmp_path / "history")
    first, second = nightly_run(tmp_path, 1), nightly_run(tmp_path, 2)
    assert runcli.finish(first, opts) == 0
    assert runcli.finish(second, opts) == 1
    text = capsys.readouterr().out
    assert "history: 8 change(s) since run 1" in text and "new-splat" in text
    html = (second / "report.html").read_text()
    assert 'id="trend"' in html and "Compared with run 1" in html
    assert 'class="flag-flaky"' in html and 'class="flag-new-splat"' in html
    assert html.count('class="o o-failed"') == 2 and 'class="spark"' in html
    doc = json.loads((second / "results.json").read_text())
    assert doc["history"]["previous_run_id"] == 1 and doc["history"]["regression"] is True
    assert {f["kind"] for f in doc["history"]["flags"]} == set(history.FLAG_KINDS)


def test_history_flags_alone_make_exit_code_1(tmp_path: Path) -> None:
    """A baseline-only nightly: no verdict groups, but a new failure since last night."""
    opts = runcli.HistoryOptions(tmp_path / "history")
    runs = []
    for n in (1, 2):
        out = nightly_run(tmp_path, n)
        keep = [r for r in results.read(out / "results.jsonl") if r.get("variant") == "baseline"]
        (out / "results.jsonl").write_text("".join(json.dumps(r) + "\n" for r in keep))
        runs.append(out)
    (runs[1] / "run.json").write_text((runs[1] / "run.json").read_text().replace(
        "e7dd11bf", "00000000"))                              # config changed: not a flake
    assert runcli.finish(runs[0], opts) == 0
    assert runcli.finish(runs[1], opts) == 1


def test_cli_nightly_and_run_history_options() -> None:
    parser = cli.build_parser()
    n = parser.parse_args(["nightly", "examples/quickstart.yaml"])
    assert n.history == runcli.DEFAULT_HISTORY and n.counter_threshold == 0.2
    r = parser.parse_args(["run", "examples/quickstart.yaml"])
    assert r.history is None and runcli.HistoryOptions.from_args(r) is None
    r = parser.parse_args(["run", "x.yaml", "--history", "/tmp/h", "--counter-min", "9"])
    h = runcli.HistoryOptions.from_args(r)
    assert h is not None and h.directory == Path("/tmp/h") and h.min_delta == 9
