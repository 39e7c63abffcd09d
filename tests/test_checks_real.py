"""`kharness check` on real kernel trees: the check-demo series (Debian linux-source-7.2)
carries one build-time bug per patch; each is named against the right patch, the base
shows none of them as new. x86_64 runs in the default suite (CI), arm64 in the slow
target (`scripts/test.sh -m slow`: ~3 min on a warm slot) to keep CI's time down."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import kcidb_io
import pytest
from junitparser import JUnitXml

from harness.checks.model import Finding, Status
from harness.checks.summary import results_of
from harness.results import journal as results

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parent.parent
EXPECTED = {(1, "bisectability"), (2, "kernel-doc"), (3, "gcc"), (3, "clang"),
            (4, "checkpatch")}


def kharness(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "harness.cli.main", *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=3600, check=False)


@pytest.mark.parametrize("arch", ["x86_64", pytest.param("arm64", marks=pytest.mark.slow)])
def test_check_demo_names_each_bug_against_its_patch(arch: str, tmp_path: Path) -> None:
    proc = kharness("check", "examples/check-demo.yaml", "--arch", arch, "--out", str(tmp_path))
    assert proc.returncode == 1, proc.stdout + proc.stderr
    recs = results_of(results.load(tmp_path / "results.jsonl"))
    failing = {(r.patch.number, r.check) for r in recs if r.status is Status.FAIL}
    assert failing == EXPECTED, proc.stdout
    assert not [r for r in recs if r.status is Status.ERROR], proc.stdout
    assert all(r.status is Status.PASS for r in recs if r.patch.number == 0), "base blamed"
    ran = {(r.check, r.status) for r in recs}
    assert not [c for c, s in ran if s is Status.SKIP], "every check ran (sparse, clang included)"
    kcidb_io.schema.LATEST.validate(json.loads((tmp_path / "kcidb.json").read_text()))

    def findings(patch: int, check: str) -> list[Finding]:
        return [f for r in recs if (r.patch.number, r.check) == (patch, check)
                for f in r.findings]

    [err] = findings(1, "bisectability")[:1]
    assert err.file == "mm/khugepaged.c" and "khugepaged_count_result" in err.message
    gcc = findings(3, "gcc")
    assert [(f.flag, f.function) for f in gcc] == [("-Wmaybe-uninitialized",
                                                     "collapse_huge_page")]
    assert "'pte'" in gcc[0].message and "make" in gcc[0].command
    clang = findings(3, "clang")
    assert clang and all(f.flag == "-Wsometimes-uninitialized" and "'pte'" in f.message
                         for f in clang)
    assert [f.flag for f in findings(4, "checkpatch")] == ["TRAILING_WHITESPACE"]
    assert "'order'" in findings(2, "kernel-doc")[0].message
    assert "new gcc finding in v1 3/4" in proc.stdout
    assert "does not build in v1 1/4" in proc.stdout
    xml = JUnitXml.fromfile(str(tmp_path / "junit.xml"))
    failed = {(c.classname.split(".")[3][:2], c.name) for s in xml for c in s
              if c.result and c.result[0]._tag == "failure"}
    assert failed == {(f"{p:02d}", c) for p, c in EXPECTED}


def test_bisect_on_a_check_finds_the_patch_with_the_new_warning(tmp_path: Path) -> None:
    proc = kharness("bisect", "examples/check-demo.yaml", "--mode", "patches", "--arch",
                    "x86_64", "--check", "gcc", "--out", str(tmp_path))
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "first bad patch: v1:3" in proc.stdout, proc.stdout
    assert "-Wmaybe-uninitialized" in proc.stdout


def test_a_check_that_cannot_be_bisected_is_one_line_exit_2(tmp_path: Path) -> None:
    proc = kharness("bisect", "examples/check-demo.yaml", "--mode", "patches", "--check",
                    "checkpatch", "--out", str(tmp_path))
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1 and "cannot be bisected" in proc.stderr
