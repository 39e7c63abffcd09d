"""Build checks: the diagnostic parser, line mapping and new-versus-before comparison on
recorded compiler output (tests/data/checks), checkpatch parsing, summary and JUnit."""

from __future__ import annotations

from pathlib import Path

import pytest
from junitparser import JUnitXml

from harness.checks import checkpatch, compare, diagnostics, linemap, summary
from harness.checks import junit as checkjunit
from harness.checks.model import (
    CheckResult,
    Diagnostic,
    Finding,
    PatchRef,
    Status,
    result_from_record,
)

DATA = Path(__file__).parent / "data" / "checks"
P3 = PatchRef("v1", 3, 4, "mm: khugepaged: drop a redundant initialisation")

GCC_TEXT = """\
In file included from /k/src/include/linux/mm.h:7,
                 from /k/src/mm/khugepaged.c:4:
/k/src/include/linux/foo.h: In function 'foo_get':
/k/src/include/linux/foo.h:12:9: warning: unused variable 'x' [-Wunused-variable]
   12 |     int x;
      |         ^
/k/src/mm/khugepaged.c: In function 'collapse_huge_page':
/k/src/mm/khugepaged.c:1463:17: warning: 'pte' may be used uninitialized [-Wmaybe-uninitialized]
 1463 |                 pte_unmap(pte);
      |                 ^~~~~~~~~~~~~~
/k/src/mm/khugepaged.c:1294:16: note: 'pte' was declared here
 1294 |         pte_t *pte;
      |                ^~~
/k/src/mm/khugepaged.c: At top level:
/k/src/mm/khugepaged.c:40:13: warning: 'unused_fn' defined but not used [-Wunused-function]
/k/src/mm/khugepaged.c:1467:9: error: implicit declaration of function 'f' [-Werror=implicit-function-declaration]
cc1: some warnings being treated as errors
"""

CLANG_TEXT = """\
mm/khugepaged.c:1350:6: warning: variable 'pte' is used uninitialized whenever 'if' \
condition is true [-Wsometimes-uninitialized]
 1350 |         if (result != SCAN_SUCCEED)
      |             ^~~~~~~~~~~~~~~~~~~~~~
mm/khugepaged.c:1462:6: note: uninitialized use occurs here
mm/khugepaged.c:1294:12: note: initialize the variable 'pte' to silence this warning
1 warning generated.
"""

SOURCE = ["int x;", "static int collapse_huge_page(int a,", "\t\tint b)", "{",
          "\tif (a)", "\t\treturn b;", "\treturn 0;", "}", "", "static void g(void)", "{",
          "\tfoo();", "}"]


def test_gcc_functions_notes_include_chains_and_werror_flags() -> None:
    diags = diagnostics.parse(GCC_TEXT, ["/k/src"])
    assert [(d.file, d.line, d.severity, d.flag, d.function) for d in diags] == [
        ("include/linux/foo.h", 12, "warning", "-Wunused-variable", "foo_get"),
        ("mm/khugepaged.c", 1463, "warning", "-Wmaybe-uninitialized", "collapse_huge_page"),
        ("mm/khugepaged.c", 40, "warning", "-Wunused-function", ""),
        ("mm/khugepaged.c", 1467, "error", "-Wimplicit-function-declaration", ""),
    ]
    assert diags[1].notes == ("mm/khugepaged.c:1294: 'pte' was declared here",)


def test_clang_has_no_function_context_so_the_source_gives_it() -> None:
    src = ["x"] * 1300 + ["static enum scan_result collapse_huge_page(struct mm_struct *mm,"] \
        + ["\tfoo();"] * 200
    diags = diagnostics.parse(CLANG_TEXT, (), lambda p: src if p == "mm/khugepaged.c" else None)
    assert len(diags) == 1
    d = diags[0]
    assert (d.line, d.flag, d.function) == (1350, "-Wsometimes-uninitialized",
                                              "collapse_huge_page")
    assert len(d.notes) == 2


@pytest.mark.parametrize("line,fn", [(1, ""), (5, "collapse_huge_page"), (7,
                                     "collapse_huge_page"), (9, ""), (12, "g")])
def test_enclosing_function(line: int, fn: str) -> None:
    assert diagnostics.enclosing_function(SOURCE, line) == fn


def test_kernel_doc_formats_python_and_perl() -> None:
    text = ("Warning: mm/k.c:20 function parameter 'order' not described in 'f'\n"
            "Warning: mm/k.c:20 function parameter 'order' not described in 'f'\n"
            "mm/k.c:30: warning: No description found for return value of 'g'\n")
    diags = diagnostics.parse(text)
    assert [(d.line, d.message) for d in diags] == [
        (20, "function parameter 'order' not described in 'f'"),
        (30, "No description found for return value of 'g'")]


def test_sparse_lines_only_after_check_steps() -> None:
    from harness.checks.compile import checker_lines
    text = ("  CALL    scripts/checksyscalls.sh\n  CHECK   ../src/mm/khugepaged.c\n"
            "../src/mm/khugepaged.c:10:5: warning: symbol 'x' was not declared\n"
            "  CC      mm/khugepaged.o\nmm/khugepaged.c:3:1: warning: gcc's [-Wfoo]\n")
    diags = diagnostics.parse(checker_lines(text), ["../src"])
    assert [(d.file, d.line) for d in diags] == [("mm/khugepaged.c", 10)]


def test_linemap_insertions_deletions_and_changes() -> None:
    diff = ("diff --git a/mm/k.c b/mm/k.c\n--- a/mm/k.c\n+++ b/mm/k.c\n"
            "@@ -10,0 +11,3 @@\n+a\n+b\n+c\n"            # 3 lines inserted after 10
            "@@ -20,2 +23 @@\n-x\n-y\n+z\n"               # 20-21 replaced by one line
            "@@ -30 +32,0 @@\n-gone\n")                    # 30 deleted
    m = linemap.parse_diff(diff)["mm/k.c"]
    assert [m.map(n) for n in (5, 10, 11, 19, 20, 21, 22, 29, 30, 31)] == [
        5, 10, 14, 22, None, None, 24, 31, None, 32]


def _d(line: int, msg: str = "'pte' may be used uninitialized", fn: str = "f") -> Diagnostic:
    return Diagnostic("mm/k.c", line, 5, "warning", msg, "-Wmaybe-uninitialized", fn)


def test_a_warning_that_only_moved_is_not_new() -> None:
    maps = {"mm/k.c": linemap.LineMap((linemap.Hunk(5, 0, 6, 4),))}   # +4 lines after 5
    new, old = compare.split_new([_d(14)], [_d(10)], maps)
    assert (new, old) == ([], [_d(14)])


def test_a_second_identical_warning_is_new_and_counts_matter() -> None:
    new, old = compare.split_new([_d(10), _d(30)], [_d(10)], {})
    assert new == [_d(30)] and old == [_d(10)]


def test_same_message_in_another_function_is_new() -> None:
    new, _ = compare.split_new([_d(10, fn="g")], [_d(10, fn="f")], {})
    assert new == [_d(10, fn="g")]


def test_a_warning_whose_line_was_edited_is_still_the_old_one() -> None:
    maps = {"mm/k.c": linemap.LineMap((linemap.Hunk(10, 1, 10, 2),))}
    new, old = compare.split_new([_d(11)], [_d(10)], maps)
    assert new == [] and old == [_d(11)]


def test_exact_line_pairing_is_preferred_over_first_come() -> None:
    maps = {"mm/k.c": linemap.LineMap((linemap.Hunk(1, 0, 2, 1),))}
    new, old = compare.split_new([_d(3), _d(21)], [_d(20)], maps)   # 20 -> 21
    assert new == [_d(3)] and old == [_d(21)]


CHECKPATCH_OUT = """\
WARNING:COMMIT_LOG_LONG_LINE: Prefer a maximum 75 chars per line
#9:\x20
A very long line

ERROR:TRAILING_WHITESPACE: trailing whitespace
#27: FILE: mm/khugepaged.c:1419:
+^I * rmap can't run anymore. $

CHECK:PARENTHESIS_ALIGNMENT: Alignment should match open parenthesis
#40: FILE: mm/khugepaged.c:1500:
+	foo(a,

total: 1 errors, 1 warnings, 1 checks, 8 lines checked
"""


def test_checkpatch_findings_with_type_file_and_line() -> None:
    fs = checkpatch.parse(CHECKPATCH_OUT, P3, "perl scripts/checkpatch.pl x")
    assert [(f.severity, f.flag, f.file, f.line) for f in fs] == [
        ("warning", "COMMIT_LOG_LONG_LINE", "(commit message)", 0),
        ("error", "TRAILING_WHITESPACE", "mm/khugepaged.c", 1419),
        ("check", "PARENTHESIS_ALIGNMENT", "mm/khugepaged.c", 1500)]


def _results() -> list[CheckResult]:
    f = Finding("gcc", P3, "mm/khugepaged.c", 1463, "'pte' may be used uninitialized",
                "warning", "-Wmaybe-uninitialized", "collapse_huge_page", "make W=1 x.o")
    base = PatchRef("v1", 0, 4, "base")
    return [CheckResult("gcc", "x86_64", base, Status.PASS, note="0 in the base"),
            CheckResult("gcc", "x86_64", P3, Status.FAIL, (f,), command="make W=1 x.o"),
            CheckResult("clang", "x86_64", P3, Status.SKIP, note="no clang"),
            CheckResult("sparse", "x86_64", P3, Status.PASS)]


def test_records_round_trip_and_summary_names_the_patch() -> None:
    rs = [result_from_record(r.record()) for r in _results()]
    assert rs == _results()
    text = summary.verdict_text(rs)
    assert "new gcc finding in v1 3/4 \"mm: khugepaged: drop a redundant initialisation\"" \
        in text
    assert "mm/khugepaged.c:1463: warning: 'pte' may be used uninitialized" in text
    assert "skipped clang: no clang" in text
    assert summary.exit_code(rs) == 1
    assert summary.exit_code([r for r in rs if r.status is not Status.FAIL]) == 0


def test_junit_case_per_check_per_patch_parses(tmp_path: Path) -> None:
    path = checkjunit.write(tmp_path / "junit.xml", _results())
    xml = JUnitXml.fromfile(str(path))
    cases = [c for suite in xml for c in suite]
    assert len(cases) == 4
    failed = [c for c in cases if c.result and c.result[0]._tag == "failure"]
    assert [(c.classname, c.name) for c in failed] == [
        ("checks.x86_64.v1.03-mm-khugepaged-drop-a-redundant-initialisation", "gcc")]


def _cfg(tmp_path: Path, checks: str) -> Path:
    p = tmp_path / "c.yaml"
    p.write_text("kernel: {source: {debian: linux-source-7.2}}\n"
                 f"series: {{name: s, versions: {{v1: {tmp_path}}}}}\n{checks}")
    return p


def test_config_checks_default_all_none_and_unknown(tmp_path: Path) -> None:
    from harness import config
    from harness.checks.model import CHECKS
    from harness.errors import UserError
    assert config.load(_cfg(tmp_path, "")).checks == CHECKS
    assert config.load(_cfg(tmp_path, "checks: none\n")).checks == ()
    assert config.load(_cfg(tmp_path, "checks: [gcc, checkpatch]\n")).checks == (
        "gcc", "checkpatch")
    with pytest.raises(UserError, match="unknown check 'gccc'.*allowed: bisectability"):
        config.load(_cfg(tmp_path, "checks: [gccc]\n"))


def test_check_cli_bad_check_name_is_one_line_before_anything_runs(tmp_path: Path) -> None:
    from tests.conftest import one_line_error, run_cli
    proc = run_cli("check", str(_cfg(tmp_path, "")), "--check", "clang,spars",
                   "--out", str(tmp_path / "o"))
    one_line_error(proc, "unknown check 'spars'", "kharness: usage error:")
    assert not (tmp_path / "o").exists()
    proc = run_cli("run", str(_cfg(tmp_path, "")), "--checks", "nope", "--out",
                   str(tmp_path / "r"))
    one_line_error(proc, "unknown check 'nope'", "kharness: usage error:")


def test_utf8_quotes_and_absolute_tree_paths_are_normalised() -> None:
    text = ("/c/work/x86_64-1/src/mm/khugepaged.c:1453:9: error: implicit declaration of "
            "function \u2018khugepaged_count_result\u2019 [-Wimplicit-function-declaration]\n")
    [d] = diagnostics.parse(text, ["/c/work/x86_64-1/src"])
    assert (d.file, d.message) == ("mm/khugepaged.c", ("implicit declaration of function "
                                   "'khugepaged_count_result'"))


def test_compiler_output_leaves_w1_kernel_doc_lines_to_the_kernel_doc_check() -> None:
    text = ("Warning: mm/k.c:20 function parameter 'order' not described in 'f'\n"
            "mm/k.c:30:5: warning: no previous prototype for 'g' [-Wmissing-prototypes]\n")
    assert [d.line for d in diagnostics.parse(text, kernel_doc=False)] == [30]
    assert [d.line for d in diagnostics.parse(text)] == [20, 30]


def test_no_objects_means_no_make(tmp_path: Path) -> None:
    """make without a target would build (and W=1) the whole kernel."""
    from harness.checks import compile as ccompile
    from harness.kernel.build import Slot
    slot = Slot(tmp_path / "src", tmp_path / "obj", tmp_path / "lock", ("ARCH=x86_64",))
    out = ccompile.compile_objects(slot, ccompile.GCC, ())
    assert out.compiled and out.diagnostics == () and out.command == ""


def test_kcidb_of_a_check_run_validates_with_kcidb_io(tmp_path: Path) -> None:
    """Checks become builds per prefix, tests per check, issues + incidents per new finding."""
    import json

    import kcidb_io

    from harness.report import kcidb
    from harness.results.journal import Journal
    journal = Journal(tmp_path / "results.jsonl")
    for r in _results():
        journal.append(r.record())
    (tmp_path / "run.json").write_text(json.dumps({"name": "check-demo",
                                                   "started": "2026-12-07T02:00:00Z"}))
    doc = json.loads(kcidb.write(tmp_path / "kcidb.json").read_text())
    kcidb_io.schema.LATEST.validate(doc)
    assert {t["path"] for t in doc["tests"]} == {"kharness.checks.gcc", "kharness.checks.clang",
                                                 "kharness.checks.sparse"}
    [failed] = [t for t in doc["tests"] if t["status"] == "FAIL"]
    assert "-Wmaybe-uninitialized" in failed["log_excerpt"]
    assert [i["categories"] for i in doc["issues"]] == [["build.gcc"]]
    assert doc["incidents"][0]["test_id"] == failed["id"]
    assert len(doc["builds"]) == 2 and len(doc["checkouts"]) == 2


def test_objects_touched_c_files_built_and_header_dependents(tmp_path: Path) -> None:
    from harness.checks import objects
    obj = tmp_path / "obj"
    for o, deps in {"mm/khugepaged.o": "include/linux/khugepaged.h",
                    "mm/memory.o": "include/linux/khugepaged.h",
                    "kernel/fork.o": "include/linux/khugepaged.h",
                    "mm/slub.o": "include/linux/slab.h"}.items():
        cmd = objects.cmd_file(obj, o)
        cmd.parent.mkdir(parents=True, exist_ok=True)
        cmd.write_text(f"deps_{o} := \\\n  /src/{deps} \\\n  /src/include/linux/mm.h\n")
    sel = objects.select(("mm/khugepaged.c", "mm/nommu.c", "include/linux/khugepaged.h"), obj)
    assert sel.objects == ("mm/khugepaged.o", "mm/memory.o", "kernel/fork.o")
    assert sel.skipped == ("mm/nommu.c",) and "nommu" in sel.note()


RECORDED_PREFIX = "/root/.cache/kharness/work/debian-linux-source-7.2_7.2.13-1/{slot}/src"
RECORDED = [  # (file, slot, [(line, flag, function, number of notes)])
    ("x86_64-gcc-v1-3.txt", "x86_64-a49e062024",
     [(1462, "-Wmaybe-uninitialized", "collapse_huge_page", 1)]),
    ("x86_64-clang-v1-3.txt", "x86_64-a49e062024",
     [(1351, "-Wsometimes-uninitialized", "", 3), (1356, "-Wsometimes-uninitialized", "", 2)]),
]


@pytest.mark.parametrize("name,slot,expected", RECORDED, ids=[r[0] for r in RECORDED])
def test_recorded_compiler_output_of_the_pte_patch(name: str, slot: str,
                                                   expected: list[tuple[int, str, str, int]]
                                                   ) -> None:
    """Real `make W=1 mm/khugepaged.o` output of check-demo v1 3/4 (gcc's inlining context,
    W=1's kernel-doc lines, clang's three notes per warning, absolute O= paths)."""
    text = (DATA / name).read_text()
    diags = diagnostics.parse(text, [RECORDED_PREFIX.format(slot=slot)], kernel_doc=False)
    got = sorted((d.line, d.flag, d.function, len(d.notes)) for d in diags)
    assert got == expected
    assert all(d.file == "mm/khugepaged.c" and "'pte'" in d.message for d in diags)
