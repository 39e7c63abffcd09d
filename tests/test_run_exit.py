"""`kharness run`'s exit code and last line: 0 clean, 1 a finding, 2 a cell or test that
ended in error/infra (saying which and why on the last line)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from harness.cli import run as runcli
from harness.results import summary
from harness.results.records import parse

DATA = Path(__file__).parent / "data" / "journals"
NODE = "guest_tests/test_convergence.py::test_rescan_is_idle[x86_64-patched-mthp-all]"


def clean_run(tmp_path: Path, extra: list[dict[str, Any]] = ()) -> Path:  # type: ignore[assignment]
    out = tmp_path / "run"
    out.mkdir()
    shutil.copy(DATA / "nightly-1.jsonl", out / "results.jsonl")
    shutil.copy(DATA / "nightly-1.run.json", out / "run.json")
    with (out / "results.jsonl").open("a") as f:
        f.writelines(json.dumps(r) + "\n" for r in extra)
    return out


def last_line(capsys: pytest.CaptureFixture[str]) -> str:
    return capsys.readouterr().out.strip().splitlines()[-1]


def test_clean_run_exits_0(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert runcli.finish(clean_run(tmp_path)) == 0
    assert not last_line(capsys).startswith("kharness: run incomplete")


def test_an_infra_cell_exits_2_with_pytests_error(tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    out = clean_run(tmp_path, [{"type": "cell", "cell": "arm64/baseline", "arch": "arm64",
                                "variant": "baseline", "status": "infra", "pytest_exit": 4}])
    log = out / "cells" / "arm64-baseline" / "pytest.log"
    log.parent.mkdir(parents=True)
    log.write_text("collecting\nERROR: file or directory not found: nope.py\n\n")
    assert runcli.finish(out) == 2
    assert last_line(capsys) == (
        "kharness: run incomplete: 1 problem(s): arm64/baseline: pytest exit 4 (usage error): "
        f"ERROR: file or directory not found: nope.py (see {log})")


def test_an_errored_test_exits_2_naming_it(tmp_path: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    err = {"type": "test", "cell": "x86_64/patched", "arch": "x86_64", "variant": "patched",
           "nodeid": NODE, "knobset": "mthp-all", "outcome": "error", "splats": [],
           "message": "setup failed\nE   harness.errors.UserError: knobs 'x': writing 9 failed"}
    assert runcli.finish(clean_run(tmp_path, [err])) == 2
    assert last_line(capsys) == (
        "kharness: run incomplete: 1 problem(s): x86_64/patched: 1 test(s) ended in error, "
        f"first {NODE}: E   harness.errors.UserError: knobs 'x': writing 9 failed")


def test_a_cell_without_results_exits_2(tmp_path: Path,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    out = clean_run(tmp_path, [{"type": "cell", "cell": "arm64/patched", "arch": "arm64",
                                "variant": "patched", "status": "done", "pytest_exit": 0}])
    assert runcli.finish(out) == 2
    assert last_line(capsys) == ("kharness: run incomplete: 1 problem(s): arm64/patched: "
                                 "no test results")


def test_a_finding_wins_but_the_last_line_still_says_what_is_missing(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    failed = {"type": "test", "cell": "x86_64/patched", "arch": "x86_64", "variant": "patched",
              "nodeid": NODE, "knobset": "mthp-all", "outcome": "crash", "splats": []}
    infra = {"type": "cell", "cell": "arm64/baseline", "arch": "arm64", "variant": "baseline",
             "status": "infra", "pytest_exit": 3}
    assert runcli.finish(clean_run(tmp_path, [failed, infra])) == 1
    assert last_line(capsys) == ("kharness: run incomplete: 1 problem(s): arm64/baseline: "
                                 "pytest exit 3 (internal error)")     # no log: no pointer


def test_a_resumed_cell_supersedes_its_errors() -> None:
    first = {"type": "test", "cell": "c", "nodeid": "t", "outcome": "error"}
    again = {**first, "outcome": "passed"}
    cell = {"type": "cell", "cell": "c", "status": "done"}
    first_, again_, cell_ = (parse(r) for r in (first, again, cell))
    assert summary.incomplete([first_, again_, cell_]) == []
    assert summary.incomplete([again_, first_, cell_]) == [
        "c: 1 test(s) ended in error, first t"]


def test_the_line_is_capped() -> None:
    line = summary.incomplete_line([f"p{i}" for i in range(5)])
    assert line == "kharness: run incomplete: 5 problem(s): p0; p1; p2 (+2 more)"
