"""Verdict grouping: a splat a test expected is listed apart from new and pre-existing ones."""

from __future__ import annotations

from harness.results import summary, verdict
from harness.results.records import TestRecord

FOLIO = "WARNING in __folio_split"
LEAK = "INFO: task hung in collapse_huge_page"


def rec(variant: str, test: str, outcome: str, *titles: str, message: str = "") -> TestRecord:
    return TestRecord.from_json({
        "type": "test", "arch": "x86_64", "knobset": "-", "variant": variant,
        "nodeid": f"guest_tests/{test}[x86_64-{variant}]", "outcome": outcome,
        "splats": [{"kind": "warning", "title": t} for t in titles],
        **({"message": message} if message else {})})


def test_expected_splat_is_not_pre_existing_nor_new() -> None:
    records = [rec("baseline", "t.py::test_guard", "passed", FOLIO),
               rec("patched", "t.py::test_guard", "passed", FOLIO),
               rec("patched", "t.py::test_other", "failed", LEAK)]
    (g,) = verdict.compare(records)
    assert g.expected_splats == (FOLIO,)
    assert g.common_splats == () and [s.splat.title for s in g.new_splats] == [LEAK]
    text = summary.verdict_text([g])
    assert f"expected {FOLIO} (expected by its test)" in text and "pre-existing" not in text


def test_expected_title_also_failing_another_test_stays_a_finding() -> None:
    records = [rec("baseline", "t.py::test_guard", "passed", FOLIO),
               rec("patched", "t.py::test_guard", "passed", FOLIO),
               rec("patched", "t.py::test_other", "failed", FOLIO)]
    (g,) = verdict.compare(records)
    assert g.expected_splats == () and g.common_splats == (FOLIO,)


def test_expected_only_on_patched_is_no_regression() -> None:
    records = [rec("baseline", "t.py::test_guard", "failed"),
               rec("patched", "t.py::test_guard", "passed", FOLIO)]
    (g,) = verdict.compare(records)
    assert not g.regression and g.expected_splats == (FOLIO,)


def test_inconclusive_skip_is_a_change_with_its_reason_not_a_regression() -> None:
    why = "inconclusive: vacuous race: no KSM page was seen to migrate"
    records = [rec("baseline", "t.py::test_ksm_racer", "passed"),
               rec("patched", "t.py::test_ksm_racer", "skipped", message=why + "\nmore"),
               rec("baseline", "t.py::test_other", "passed"),
               rec("patched", "t.py::test_other", "skipped", message="kernel lacks swap")]
    (g,) = verdict.compare(records)
    assert not g.regression
    by = {c.test: c for c in g.changed}
    assert by["guest_tests/t.py::test_ksm_racer"].why == why
    assert by["guest_tests/t.py::test_other"].why == ""        # a plain skip: no reason shown
    text = summary.verdict_text([g])
    assert f"test_ksm_racer: passed -> skipped ({why})" in text and "no regression" in text


def test_inconclusive_baseline_and_failed_patched_is_a_regression() -> None:
    records = [rec("baseline", "t.py::test_r", "skipped", message="inconclusive: vacuous race"),
               rec("patched", "t.py::test_r", "failed")]
    (g,) = verdict.compare(records)
    assert g.regression and g.changed[0].why == "inconclusive: vacuous race"
