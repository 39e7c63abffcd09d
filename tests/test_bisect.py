"""Bisect engine with a scripted step runner (the real runner is exercised in slow tests)."""

from __future__ import annotations

import argparse
import itertools
from pathlib import Path

import pytest

from harness.campaign import bisect as bis
from harness.cli import bisect as bisectcli
from harness.errors import UserError
from harness.kernel.build import BuildFailed
from harness.results.journal import Journal
from harness.results.records import TestRecord

VERSIONS = [(f"v{i}", f"v{i}") for i in range(1, 9)]


class Scripted:
    def __init__(self, first_bad: int, hit: float = 1.0, infra: set[str] | None = None) -> None:
        self.first_bad, self.hit, self.infra = first_bad, hit, infra or set()
        self.calls: list[str] = []
        self.rng = itertools.cycle([0.1, 0.6, 0.3, 0.9, 0.2, 0.7])

    def __call__(self, variant: str, attempt: int) -> bis.RunOutcome:
        self.calls.append(variant)
        if variant in self.infra:
            return bis.RunOutcome("infra", (), "qemu died")
        if int(variant[1:]) >= self.first_bad and next(self.rng) < self.hit:
            return bis.RunOutcome("bad", ("[lockdep] possible deadlock in collapse_huge_page",))
        return bis.RunOutcome("good")


def test_names_first_bad_version_in_log_steps(tmp_path: Path) -> None:
    run = Scripted(first_bad=5)
    res = bis.Bisector("versions", VERSIONS, run, Journal(tmp_path / "b.jsonl")).run()
    assert res.first_bad is not None and res.first_bad.label == "v5"
    assert res.last_good is not None and res.last_good.label == "v4"
    assert len(res.steps) <= 2 + bis.steps_bound(len(VERSIONS))
    assert "possible deadlock" in res.first_bad.runs[0].evidence[0]


def test_flaky_bug_needs_k_runs_and_reports_confidence(tmp_path: Path) -> None:
    run = Scripted(first_bad=3, hit=0.5)
    res = bis.Bisector("versions", VERSIONS, run, Journal(tmp_path / "b.jsonl"), runs=4).run()
    assert res.first_bad is not None and res.first_bad.label == "v3"
    assert 0 < res.p_hat < 1 and 0 < res.confidence < 1
    good_steps = [s for s in res.steps if s.verdict == "good"]
    assert all(len(s.runs) == 4 for s in good_steps)       # good only if all K pass


def test_good_endpoint_that_fails_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="good endpoint v1 is bad"):
        bis.Bisector("versions", VERSIONS, Scripted(first_bad=1),
                     Journal(tmp_path / "b.jsonl")).run()


def test_bad_endpoint_that_passes_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="bad endpoint v8 is good"):
        bis.Bisector("versions", VERSIONS, Scripted(first_bad=99),
                     Journal(tmp_path / "b.jsonl")).run()


def test_infrastructure_is_retried_then_skipped_never_bad(tmp_path: Path) -> None:
    run = Scripted(first_bad=6, infra={"v4"})
    res = bis.Bisector("versions", VERSIONS, run, Journal(tmp_path / "b.jsonl"), retries=2).run()
    assert run.calls.count("v4") == 3                       # 1 try + 2 retries
    assert "v4" in res.skipped and res.first_bad is not None and res.first_bad.label == "v6"


def test_resume_reuses_recorded_steps(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "b.jsonl")
    first = Scripted(first_bad=5)
    bis.Bisector("versions", VERSIONS, first, journal).run()
    again = Scripted(first_bad=5)
    res = bis.Bisector("versions", VERSIONS, again, journal).run()
    assert again.calls == [] and res.first_bad is not None and res.first_bad.label == "v5"


def test_empty_selection_is_a_clear_error(tmp_path: Path) -> None:
    def empty(variant: str, attempt: int) -> bis.RunOutcome:
        return bis.RunOutcome("empty", (), "pytest -k nothing")
    with pytest.raises(UserError, match="selects no test"):
        bis.Bisector("versions", VERSIONS, empty, Journal(tmp_path / "b.jsonl")).run()


def test_predicate_matching() -> None:
    tests = [TestRecord.from_json(r) for r in (
        {"nodeid": "t1", "outcome": "failed",
         "splats": [{"kind": "lockdep", "title": "possible deadlock in khugepaged"}]},
        {"nodeid": "t2", "outcome": "lockup", "splats": []})]
    assert bis.Predicate(kind="lockdep").match(tests)[0]
    assert not bis.Predicate(kind="rcu").match(tests)[0]
    assert bis.Predicate(title="deadlock in khug").match(tests)[0]
    assert bis.Predicate(lockup=True).match(tests)[1] == ["lockup in t2"]
    passed = TestRecord.from_json({"nodeid": "t", "outcome": "passed"})
    assert bis.Predicate().match([passed]) == (False, [])


def test_patch_candidates_start_at_base() -> None:
    class Cfg:
        class series:
            @staticmethod
            def latest() -> str:
                return "v3"
    assert bis.candidates_patches(Cfg, None, 3) == [
        ("baseline", "baseline"), ("v3:1", "v3:1"), ("v3:2", "v3:2"), ("v3:3", "v3:3")]


def test_fail_fast_follows_the_predicate() -> None:
    from harness.cli.bisect import fail_fast_args
    assert fail_fast_args(bis.Predicate(kind="atomic_sleep"), True) == [
        "--kharness-fail-fast", "atomic_sleep"]
    assert fail_fast_args(bis.Predicate(), True) == ["--kharness-fail-fast", "any"]
    assert fail_fast_args(bis.Predicate(kind="rcu", lockup=True), True) == [
        "--kharness-fail-fast", "rcu"]
    assert fail_fast_args(bis.Predicate(title="WARNING in x"), True) == []   # title needs the end
    assert fail_fast_args(bis.Predicate(lockup=True), True) == []   # outcome must be lockup
    assert fail_fast_args(bis.Predicate(kind="rcu"), False) == []            # --no-fail-fast


# ---------------------------------------------- a version that does not build

class Unbuildable(Scripted):
    """v3 does not compile: the real step runner's answer under each --build-fail policy."""

    def __init__(self, first_bad: int, policy: str) -> None:
        super().__init__(first_bad)
        self.policy = policy

    def __call__(self, variant: str, attempt: int) -> bis.RunOutcome:
        if variant == "v3":
            self.calls.append(variant)
            return bisectcli.build_failed(variant, BuildFailed("make failed", "mm/x.c:1: error"),
                                          self.policy)
        return super().__call__(variant, attempt)


def test_build_failure_is_skipped_once_never_retried(tmp_path: Path) -> None:
    """v2 good, v3 untestable, v4 bad: like git bisect, the culprit is v3 or v4."""
    run = Unbuildable(first_bad=4, policy="skip")
    res = bis.Bisector("versions", VERSIONS, run, Journal(tmp_path / "b.jsonl"), retries=2).run()
    assert run.calls.count("v3") == 1 and res.skipped == ["v3"]
    assert res.first_bad is None and res.last_good is not None and res.last_good.label == "v2"


def test_build_failure_counts_as_bad_when_asked(tmp_path: Path) -> None:
    """The same history as above: with --build-fail bad, v3 is the first bad version."""
    run = Unbuildable(first_bad=4, policy="bad")
    res = bis.Bisector("versions", VERSIONS, run, Journal(tmp_path / "b.jsonl"), retries=2).run()
    assert run.calls.count("v3") == 1 and res.skipped == []
    assert res.first_bad is not None and res.first_bad.label == "v3"
    assert res.first_bad.runs[0].evidence == ("v3 does not build: make failed",)


def test_an_unbuildable_good_endpoint_says_so(tmp_path: Path) -> None:
    with pytest.raises(UserError) as e:
        bis.Bisector("versions", VERSIONS[2:], Unbuildable(first_bad=6, policy="skip"),
                     Journal(tmp_path / "b.jsonl")).run()
    assert e.value.one_line() == ("bisect versions: the good endpoint v3 is skip: v3 does not "
                                  "build: make failed (fix: choose an earlier good endpoint)")


@pytest.mark.parametrize("policy", ["skip", "bad"])
def test_pytest_step_maps_build_failed_to_the_policy(tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch,
                                                     policy: str) -> None:
    """The real step runner: BuildFailed is the user's choice, never "infra"."""
    from harness import config
    from harness.kernel import build
    from harness.sources import tree

    def fail(*a: object, **k: object) -> None:
        raise BuildFailed("make failed for x86_64 v1", "mm/khugepaged.c:9: error: x")
    monkeypatch.setattr(tree, "resolve", lambda spec: None)
    monkeypatch.setattr(build, "request_for", lambda *a, **k: None)
    monkeypatch.setattr(build, "build", fail)
    cfg = config.load(Path(__file__).parent.parent / "examples" / "bisect-demo.yaml")
    args = argparse.Namespace(
        arch="x86_64", build_fail=policy, keyword=None, knobs=None, test=[], fail_fast=True)
    step = bisectcli.PytestStep(cfg, args, tmp_path, bis.Predicate())
    out = step("v1", 0)
    assert out.verdict == policy and out.evidence == (
        "v1 does not build: make failed for x86_64 v1",)
    assert not (tmp_path / "steps").exists()                # no pytest ran


def test_build_fail_option_defaults_to_skip() -> None:
    from harness.cli import main as cli
    parser = cli.build_parser()
    assert parser.parse_args(["bisect", "c.yaml"]).build_fail == "skip"
    assert parser.parse_args(["bisect", "c.yaml", "--build-fail", "bad"]).build_fail == "bad"


def test_an_unbuildable_bad_endpoint_points_at_build_fail(tmp_path: Path) -> None:
    with pytest.raises(UserError) as e:
        bis.Bisector("versions", VERSIONS[:3], Unbuildable(first_bad=99, policy="skip"),
                     Journal(tmp_path / "b.jsonl")).run()
    assert e.value.one_line() == (
        "bisect versions: the bad endpoint v3 is skip: v3 does not build: make failed (fix: "
        "choose another bad endpoint (--build-fail bad counts a version that does not build "
        "as bad))")
