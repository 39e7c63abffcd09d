"""kcidb.json validates with KernelCI's own kcidb-io (schema v5.3) for every kind of run."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from harness.cli import main as cli
from harness.report import html as report
from harness.report import kcidb
from harness.results import journal as results
from harness.results import runinfo, verdict
from harness.results.records import Outcome, SplatRecord, TestRecord
from harness.results.records import tests as latest_tests

kcidb_io = pytest.importorskip("kcidb_io", reason="pip install -e '.[dev]' (kcidb-io)")
ROOT = Path(__file__).parent.parent
DATA = Path(__file__).parent / "data" / "journals"
JOURNALS = sorted(p.stem for p in DATA.glob("*.jsonl"))
DEBIAN = {"kind": "debian", "package": "linux-source-7.2", "version": "7.2.13-1", "suite": "sid",
          "sha256": "ab" * 32, "url": "http://deb.debian.org/debian/pool/main/l/linux/x.deb"}
GIT = {"kind": "git", "location": "https://git.kernel.org/pub/scm/linux/kernel/git/akpm/mm.git",
       "ref": "mm-new", "commit": "0123456789abcdef0123456789abcdef01234567"}


def make_run(dest: Path, name: str, **run_extra: Any) -> Path:
    dest.mkdir(parents=True)
    shutil.copy(DATA / f"{name}.jsonl", dest / "results.jsonl")
    run = json.loads((DATA / f"{name}.run.json").read_text())
    run.update(run_extra)
    (dest / "run.json").write_text(json.dumps(run))
    return dest


def export(out: Path) -> dict[str, Any]:
    records = results.load(out / "results.jsonl")
    groups = [g for o in sorted({t.variant for t in latest_tests(records)} - {"baseline"})
              for g in verdict.compare(records, "baseline", o)]
    report.write_all(out, records, groups)
    doc: dict[str, Any] = json.loads((out / "kcidb.json").read_text())
    kcidb_io.schema.LATEST.validate(doc)                  # raises on any violation
    return doc


@pytest.mark.parametrize("name", JOURNALS)
def test_every_synthetic_journal_validates(tmp_path: Path, name: str) -> None:
    doc = export(make_run(tmp_path / name, name))
    assert doc["version"] == {"major": 5, "minor": 3}
    assert kcidb_io.schema.LATEST.major == 5
    assert doc["tests"] and all(t["path"].startswith("kharness.") for t in doc["tests"])


def test_debian_source_names_the_package_not_a_commit(tmp_path: Path) -> None:
    doc = export(make_run(tmp_path / "run", "two-arch", source_identity=DEBIAN,
                          config=str(ROOT / "examples" / "quickstart.yaml")))
    base, patched = doc["checkouts"]
    for c in (base, patched):
        assert "git_commit_hash" not in c and c["tree_name"] == "debian"
        assert "linux-source-7.2 7.2.13-1 (sid)" in c["comment"] and "ab" * 32 in c["comment"]
        assert c["misc"]["source"]["sha256"] == "ab" * 32
    assert base["patchset_hash"] == "" and base["misc"]["variant"] == "baseline"
    assert len(patched["patchset_files"]) == 2 and patched["patchset_hash"]


def test_patchset_hash_is_the_schemas_shell_formula() -> None:
    patches = sorted((ROOT / "examples" / "demo-series" / "v1").glob("*.patch"))
    sums = subprocess.run(["sha256sum", *map(str, patches)], capture_output=True, text=True,
                          check=True).stdout
    want = hashlib.sha256("".join(line[:64] + "\n" for line in sums.splitlines()).encode())
    got = kcidb.patchset_hash(hashlib.sha256(p.read_bytes()).hexdigest() for p in patches)
    assert got == want.hexdigest() and kcidb.patchset_hash([]) == ""


def test_git_source_names_commit_repository_and_branch(tmp_path: Path) -> None:
    doc = export(make_run(tmp_path / "run", "nightly-1", source_identity=GIT))
    c = doc["checkouts"][0]
    assert c["git_commit_hash"] == GIT["commit"] and c["git_repository_url"] == GIT["location"]
    assert c["git_repository_branch"] == "mm-new" and c["tree_name"] == "mm"


def test_findings_become_issues_and_incidents(tmp_path: Path) -> None:
    doc = export(make_run(tmp_path / "run", "two-arch"))
    issues = {i["report_subject"]: i for i in doc["issues"]}
    lockdep = issues["possible deadlock in khugepaged_scan_mm_slot"]
    assert lockdep["categories"] == ["runtime.lockdep"] and lockdep["culprit"]["code"] is True
    by_issue: dict[str, list[Any]] = {}
    for inc in doc["incidents"]:
        by_issue.setdefault(inc["issue_id"], []).append(inc)
    (new,) = by_issue[lockdep["id"]]
    assert new["misc"]["verdict"] == "new with the series"
    tests = {t["id"]: t for t in doc["tests"]}
    assert tests[new["test_id"]]["status"] == "FAIL" and new["build_id"] in {
        b["id"] for b in doc["builds"]}
    warn = by_issue[issues["WARNING in collapse_huge_page"]["id"]]
    assert {i["misc"]["verdict"] for i in warn} == {"pre-existing (also without the series)"}


def test_ids_link_up_and_statuses_map(tmp_path: Path) -> None:
    doc = export(make_run(tmp_path / "run", "two-arch"))
    checkouts = {c["id"] for c in doc["checkouts"]}
    builds = {b["id"] for b in doc["builds"]}
    assert all(b["checkout_id"] in checkouts for b in doc["builds"])
    assert all(t["build_id"] in builds for t in doc["tests"])
    assert len({t["id"] for t in doc["tests"]}) == len(doc["tests"]) == 34
    assert kcidb.STATUS["infra"] == "MISS" and kcidb.STATUS["lockup"] == "FAIL"


def test_lockup_without_splat_is_an_issue() -> None:
    r = TestRecord("x86_64/patched", "x86_64", "patched", "t.py::test_x[x86_64-patched]", None,
                   Outcome.LOCKUP, splats=())
    assert kcidb.findings(r) == [SplatRecord("lockup", "lockup in t.py::test_x")]


def test_test_paths_are_schema_paths() -> None:
    r = TestRecord("x86_64/baseline", "x86_64", "baseline",
                   "guest_tests/test_smoke.py::test_k[x86_64-baseline-<script>&co]", None,
                   Outcome.PASSED)
    assert kcidb.test_path(r) == "kharness.guest_tests.test_smoke.test_k.script_co"


def test_cli_reexports_a_run_directory(tmp_path: Path, capsys: pytest.CaptureFixture[str]
                                       ) -> None:
    out = make_run(tmp_path / "run", "two-arch", source_identity=DEBIAN)
    assert cli.main(["kcidb", str(out)]) == 0
    text = capsys.readouterr().out
    assert "34 tests" in text and "valid KCIDB v5.3 (kcidb-io)" in text
    doc = json.loads((out / "kcidb.json").read_text())
    kcidb_io.schema.LATEST.validate(doc)
    assert cli.main(["kcidb", str(tmp_path)]) == 2          # not a run directory


def test_invalid_document_is_reported() -> None:
    info = runinfo.RunInfo(Path("/nonexistent"), None, ())
    doc = kcidb.document(info)
    assert kcidb.validate(doc) is None
    doc["checkouts"] = [{"id": "kharness:x", "origin": "kharness", "git_commit_hash": None}]
    assert "git_commit_hash" in (kcidb.validate(doc) or "")


def test_junit_parses_with_junitparser(tmp_path: Path) -> None:
    junitparser = pytest.importorskip("junitparser")
    out = make_run(tmp_path / "run", "two-arch")
    export(out)
    xml = junitparser.JUnitXml.fromfile(str(out / "junit.xml"))
    suites = list(xml)
    cases = [c for s in suites for c in s]
    assert len(suites) == 4 and len(cases) == 34
    failed = [c for c in cases if any(isinstance(r, junitparser.Failure) for r in c.result)]
    assert len(failed) == 4
