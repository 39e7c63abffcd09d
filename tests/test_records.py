"""Typed journal records: outcomes with an explicit priority; cell and test records whose
JSON is exactly what the journal held (old runs keep reading)."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from harness.errors import HarnessBug
from harness.results import journal, records
from harness.results.records import (
    BuildInfo,
    CellRecord,
    CellStatus,
    Durations,
    Outcome,
    RunRecord,
    SplatRecord,
    TestRecord,
)

DATA = Path(__file__).parent / "data" / "journals"


def test_priority_is_explicit_and_total() -> None:
    order = sorted(Outcome, key=lambda o: o.priority, reverse=True)
    assert [o.value for o in order] == ["crash", "lockup", "timeout", "failed", "error",
                                        "infra", "passed", "skipped"]
    assert records.worst(["passed", "failed", "skipped"]) is Outcome.FAILED
    assert records.worst([]) is Outcome.ERROR                 # no results is not a pass
    assert sorted(journal.FINDINGS) == ["crash", "failed", "lockup", "timeout"]
    assert sorted(journal.INFRA) == ["error", "infra"]


def test_an_unknown_outcome_is_a_harness_bug() -> None:
    with pytest.raises(HarnessBug, match="unknown test outcome 'meh'"):
        records.worst(["passed", "meh"])


@pytest.mark.parametrize("path", sorted(DATA.glob("*.jsonl")), ids=lambda p: p.name)
def test_every_recorded_journal_round_trips_exactly(path: Path) -> None:
    for r in journal.read(path):
        if r.get("type") == "cell":
            back = CellRecord.from_json(r).to_json()
        elif r.get("type") == "test":
            back = TestRecord.from_json(r).to_json()
        else:
            continue
        assert json.dumps(back, sort_keys=True) == json.dumps(r, sort_keys=True)


def test_the_cell_record_a_real_run_wrote() -> None:
    """From `kharness run` (cached quickstart baseline, tests/test_run_real.py)."""
    slot = "/root/.cache/kharness/builds/b5e94c50f45226bb1117"
    line: dict[str, Any] = {
            "arch": "x86_64", "build": {"cached": True, "dir": slot, "seconds": 0.016},
            "cell": "x86_64/baseline",
            "pytest_exit": 1, "reproduce": "cd /work && python3 -m pytest ...",
            "seconds": 2.79, "status": "done", "type": "cell", "variant": "baseline"}
    cell = CellRecord.from_json(line)
    assert cell == CellRecord("x86_64/baseline", "x86_64", "baseline", CellStatus.DONE,
                              pytest_exit=1, seconds=2.79, reproduce=line["reproduce"],
                              build=BuildInfo(slot, True, 0.016))
    assert cell.to_json() == line
    failed = CellRecord("arm64/v2", "arm64", "v2", CellStatus.BUILD_FAILED, message="make: x")
    assert failed.to_json() == {"type": "cell", "cell": "arm64/v2", "arch": "arm64",
                                "variant": "v2", "status": "build-failed", "message": "make: x"}


def test_latest_records_win() -> None:
    rows = [records.parse(r) for r in (
        {"type": "test", "cell": "c", "nodeid": "t", "outcome": "error"},
        {"type": "cell", "cell": "c", "status": "infra"},
        {"type": "test", "cell": "c", "nodeid": "t", "outcome": "passed"},
        {"type": "cell", "cell": "c", "status": "done"})]
    assert [t.outcome for t in records.tests(rows)] == [Outcome.PASSED]
    assert records.cells(rows)["c"].status is CellStatus.DONE


@pytest.mark.parametrize("path", sorted(DATA.glob("*.run.json")), ids=lambda p: p.name)
def test_run_json_round_trips_exactly(path: Path) -> None:
    doc = json.loads(path.read_text())
    run = RunRecord.from_json(doc)
    assert json.dumps(run.to_json(), sort_keys=True) == json.dumps(doc, sort_keys=True)


def test_the_run_record_before_and_after() -> None:
    """run.json is written before the long phases (no durations/finished) and at the end."""
    run = RunRecord(config="/c.yaml", name="c", config_sha256="ab", cells=("x86_64/baseline",),
                    source={"kind": "debian"}, series=None, qemu={}, host="h", cpus=2,
                    started="2026-12-07T05:00:00Z", command="kharness run /c.yaml")
    assert "durations" not in run.to_json() and "finished" not in run.to_json()
    done = replace(run, durations=Durations(1.5), finished="2026-12-07T05:01:00Z")
    assert done.to_json()["durations"] == {"total": 1.5} and done.to_json()["cells"] == [
        "x86_64/baseline"]


def test_the_plugin_journals_what_it_gathered_and_what_the_test_noted() -> None:
    from harness.plugin import Gathered, journal_record
    from harness.splats.model import Splat
    splat = Splat("warning", "WARNING in x", "x", (), (), ("WARNING: ...",), 7, "console.log")
    identity: dict[str, object] = {
        "type": "test", "cell": "x86_64/patched", "arch": "x86_64", "variant": "patched",
        "nodeid": "t.py::test_a[x86_64-patched]", "knobset": None, "outcome": "failed"}
    g = Gathered(notes={"counters": {"64kB": {"collapse_alloc": 2}}, "racer": {"ops": 3},
                        "census": {9: 512}, "per_scan": ({"full_scans": 1},)},
                 phases={"setup": "passed", "call": "failed"}, duration=1.25, message="boom",
                 splats=(SplatRecord.of(splat),))
    r = journal_record(identity, g, "console tail")
    assert (r.outcome, r.duration, r.message, r.console) == (Outcome.FAILED, 1.25, "boom",
                                                             "console tail")
    assert r.counters and list(r.counters.rows()) == [("64kB", "collapse_alloc", 2)]
    assert r.extra == {"racer": {"ops": 3}} and r.seen_splats[0].title == "WARNING in x"
    assert r.census == {"9": 512} and r.per_scan == ({"full_scans": 1},)   # as JSON holds them
    assert r.to_json()["splats"] == [{**splat.to_json(), "raw": None}]   # as before the types
    noted = journal_record(identity, replace(g, notes={"message": "the test's own"}), "")
    assert noted.message == "the test's own" and noted.console is None
    bad = journal_record(identity, replace(g, notes={"census": {"0": "many"}}), "")
    assert bad.outcome is Outcome.ERROR and bad.counters is None and bad.message and (
        "kh_record does not fit the journal" in bad.message and "census.0 is a str" in bad.message)
