"""The journal tolerates a torn last line only; any other bad line names file:line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness.cli import main as cli
from harness.errors import UserError
from harness.results import journal as results
from harness.results.journal import Journal, read
from harness.results.records import OtherRecord, RecordError, TestRecord

FIX = "(fix: restore the file, or delete that line to keep the other records)"


def journal(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "results.jsonl"
    p.write_text(text)
    return p


def test_a_torn_last_line_is_ignored(tmp_path: Path) -> None:
    p = journal(tmp_path, '{"type": "test", "n": 1}\n{"type": "test", "n": 2}\n{"type": "te')
    assert [r["n"] for r in read(p)] == [1, 2]


def test_a_bad_line_in_the_middle_is_an_error(tmp_path: Path) -> None:
    p = journal(tmp_path, '{"type": "test", "n": 1}\n{"type": "te\n{"type": "test", "n": 3}\n')
    with pytest.raises(UserError) as e:
        list(read(p))
    assert e.value.one_line() == (f"{p}:2: not a journal record: not JSON (Unterminated string "
                                  f"starting, column 10) {FIX}")


def test_a_bad_complete_last_line_is_an_error(tmp_path: Path) -> None:
    """A last line that ends in a newline was written whole: garbage there is not torn."""
    p = journal(tmp_path, '{"type": "test", "n": 1}\nnot json\n')
    with pytest.raises(UserError, match=r"results.jsonl:2: not a journal record: not JSON"):
        list(read(p))


def test_a_line_that_is_not_an_object_is_an_error(tmp_path: Path) -> None:
    p = journal(tmp_path, '{"type": "test"}\n\n[1, 2]\n')
    with pytest.raises(UserError) as e:
        list(read(p))
    assert e.value.one_line() == f"{p}:3: not a journal record: a JSON list, not a record {FIX}"


def test_resuming_cuts_the_torn_tail_before_appending(tmp_path: Path) -> None:
    p = journal(tmp_path, '{"n": 1}\n{"n": 2, "tor')
    j = Journal(p)
    j.drop_torn_tail()
    j.append({"n": 3})
    assert [r["n"] for r in read(p)] == [1, 3]
    j.drop_torn_tail()                                  # whole lines: nothing to cut
    assert p.read_text() == '{"n": 1}\n{"n": 3}\n'


def test_commands_reading_a_corrupt_journal_exit_2_naming_the_line(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "run"
    out.mkdir()
    (out / "results.jsonl").write_text('{"type": "test"}\n\x00\x01\n{"type": "cell"}\n')
    assert cli.main(["kcidb", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"kharness: usage error: {out / 'results.jsonl'}:2: not a journal "
                          "record: not JSON"), err


def test_a_record_of_the_wrong_shape_names_the_line_and_the_field(tmp_path: Path) -> None:
    p = tmp_path / "results.jsonl"
    good = {"type": "test", "cell": "x86_64/baseline", "arch": "x86_64", "variant": "baseline",
            "nodeid": "t.py::test_a", "knobset": None, "outcome": "passed", "duration": 1.5}
    bad_splat = {**good, "splats": [{"kind": "warning", "title": 3}]}
    p.write_text("".join(json.dumps(r) + "\n" for r in (good, {**good, "duration": "1s"})))
    with pytest.raises(RecordError, match=r"results.jsonl:2: test record: duration is a str "
                                          r"\('1s'\), not a number"):
        results.load(p)
    p.write_text(json.dumps(bad_splat) + "\n")
    with pytest.raises(RecordError, match=r":1: test record: splats\[0\]: title is an int"):
        results.load(p)
    p.write_text(json.dumps({**good, "counters": {"64kB": {"collapse_alloc": "3"}}}) + "\n")
    with pytest.raises(RecordError, match=r"counters.64kB.collapse_alloc is a str"):
        results.load(p)
    p.write_text(json.dumps({"type": "cell", "cell": "c", "status": "meh"}) + "\n")
    with pytest.raises(RecordError, match=r"cell record: status is a str \('meh'\), not done"):
        results.load(p)
    p.write_text(json.dumps({"type": "cell", "status": "done"}) + "\n")
    with pytest.raises(RecordError, match=r":1: cell record: no 'cell'"):
        results.load(p)
    p.write_text(json.dumps(good) + "\n" + json.dumps({"type": "step", "label": "v1"}) + "\n")
    test, step = results.load(p)
    assert isinstance(test, TestRecord) and test.duration == 1.5 and test.splats is None
    assert isinstance(step, OtherRecord) and step.type == "step" and step.to_json() == {
        "type": "step", "label": "v1"}
