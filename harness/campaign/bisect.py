"""Bisect: which series version, which patch, which commit makes the predicate fail.

One engine, three candidate lists:
  versions  v1 … vN of a series (each applied on the same base)
  patches   prefixes 0 … k of one series version (0 = the base)
  commits   good..bad of a git source (git rev-list --reverse)
The predicate is a pytest selection from guest_tests under one arch (and knob set),
optionally narrowed by a splat matcher (kind and/or title regex) or "the guest locked up".

Flaky bugs: each step runs K times; a step is bad if any run matches, good only if all K
pass. Infrastructure trouble is never counted: retried, then the step is "skip". A version
that does not build is a finding about that version, never retried: the runner reports it
as "skip" (untestable, git bisect's exit 125) or "bad", as the user chose (--build-fail). Endpoints
are verified before any culprit is named. Every step lands in bisect.jsonl as it finishes,
so an interrupted bisect resumes where it stopped.
"""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from harness.errors import UserError
from harness.results import fields as f
from harness.results.fields import JsonMap, JsonObject
from harness.results.journal import Journal
from harness.results.records import Outcome, SplatRecord, TestRecord, others

log = logging.getLogger("harness")


@dataclass(frozen=True)
class Predicate:
    """What makes a run bad."""
    kind: str | None = None          # splat kind, e.g. lockdep, rcu, hung_task
    title: str | None = None         # regex over splat titles
    lockup: bool = False             # a crash/lockup/timeout outcome counts as bad

    def describe(self) -> str:
        parts = [f"kind={self.kind}" if self.kind else "", f"title~/{self.title}/" if self.title
                 else "", "lockup" if self.lockup else ""]
        return " ".join(p for p in parts if p) or "any test failure"

    def match(self, tests: Sequence[TestRecord]) -> tuple[bool, list[str]]:
        """(bad?, evidence lines) for the test records of one run."""
        evidence = []
        lockups = (Outcome.CRASH, Outcome.LOCKUP, Outcome.TIMEOUT)
        for t in tests:
            for s in t.seen_splats:
                if self._splat_ok(s):
                    evidence.append(f"{s.label} in {t.nodeid}")
            if t.outcome in lockups and (self.lockup or not (self.kind or self.title)):
                evidence.append(f"{t.outcome} in {t.nodeid}")
            if not (self.kind or self.title or self.lockup) and t.outcome is Outcome.FAILED:
                splats = [s.label for s in t.seen_splats]
                evidence += [f"{x} in {t.nodeid}" for x in dict.fromkeys(splats)] or [
                    f"failed: {t.nodeid}"]
        return bool(evidence), evidence

    def _splat_ok(self, s: SplatRecord) -> bool:
        if not (self.kind or self.title):
            return False
        return (self.kind is None or s.kind == self.kind) and (
            self.title is None or re.search(self.title, s.title) is not None)


@dataclass(frozen=True)
class RunOutcome:
    verdict: str                     # bad | good | skip (untestable) | infra | empty
    evidence: tuple[str, ...] = ()
    detail: str = ""                 # console/log path, build info


class StepRunner(Protocol):
    def __call__(self, variant: str, attempt: int) -> RunOutcome: ...


@dataclass
class StepResult:
    label: str
    variant: str
    verdict: str                      # bad | good | skip
    runs: list[RunOutcome] = field(default_factory=list)

    @property
    def hits(self) -> int:
        return sum(r.verdict == "bad" for r in self.runs)

    def to_json(self) -> JsonObject:
        """The journal's {"type": "step"} record."""
        return {"type": "step", "label": self.label, "variant": self.variant,
                "verdict": self.verdict,
                "runs": [{"verdict": o.verdict, "evidence": list(o.evidence), "detail": o.detail}
                         for o in self.runs]}

    @classmethod
    def from_json(cls, r: JsonMap) -> StepResult:
        w = "step record"
        runs = [f.as_object(o, w, "runs") for o in f.as_list(r.get("runs") or [], w, "runs")]
        return cls(f.text(r, "label", w), f.text(r, "variant", w), f.text(r, "verdict", w),
                   [RunOutcome(f.text(o, "verdict", w),
                               f.strings(o.get("evidence") or [], w, "evidence"),
                               f.text(o, "detail", w)) for o in runs])


@dataclass
class BisectResult:
    mode: str
    first_bad: StepResult | None
    last_good: StepResult | None
    steps: list[StepResult]
    confidence: float
    p_hat: float
    skipped: list[str]
    reproducer: str = ""


class Bisector:
    def __init__(self, mode: str, candidates: Sequence[tuple[str, str]], runner: StepRunner,
                 journal: Journal, *, runs: int = 1, retries: int = 2,
                 reproducer: Callable[[str], str] = lambda v: v) -> None:
        if len(candidates) < 2:
            raise UserError(f"bisect {mode}: need at least two candidates",
                            f"got {len(candidates)}", "give a good and a bad endpoint")
        self.mode, self.candidates = mode, list(candidates)
        self.runner, self.journal = runner, journal
        self.runs, self.retries, self.reproducer = max(1, runs), retries, reproducer
        journal.drop_torn_tail()
        self.done = {s.label: s for s in map(StepResult.from_json,
                                             others(journal.records(), "step"))}
        self.steps: list[StepResult] = []

    def step(self, index: int, *, runs: int | None = None, stop_on_bad: bool = True) -> StepResult:
        label, variant = self.candidates[index]
        if label in self.done:
            prev = self.done[label]
            result = StepResult(label, variant, prev.verdict, prev.runs)
            log.info("step %-14s %s (recorded earlier)", label, result.verdict)
            self.steps.append(result)
            return result
        result = StepResult(label, variant, "good")
        for k in range(runs or self.runs):
            out = self._one_run(variant, k)
            result.runs.append(out)
            if out.verdict in ("infra", "empty", "skip"):
                result.verdict = "skip"
                break
            if out.verdict == "bad":
                result.verdict = "bad"
                if stop_on_bad:
                    break
        self._record(result)
        return result

    def _one_run(self, variant: str, k: int) -> RunOutcome:
        out = RunOutcome("infra")
        for attempt in range(self.retries + 1):
            out = self.runner(variant, k * 10 + attempt)
            if out.verdict == "empty":
                raise UserError("the bisect predicate selects no test", out.detail,
                                "check --test / -k against guest_tests")
            if out.verdict != "infra":
                return out
            log.warning("  %s run %d: infrastructure trouble, retrying (%s)", variant, k + 1,
                        out.detail)
        return out

    def _record(self, r: StepResult) -> None:
        self.steps.append(r)
        self.journal.append(r.to_json())
        ev = next((o.evidence[0] for o in r.runs if o.evidence), "")
        log.info("step %-14s %-4s %d/%d runs bad %s", r.label, r.verdict.upper(), r.hits,
                 len(r.runs), f"— {ev}" if ev else "")

    def run(self) -> BisectResult:
        lo, hi = 0, len(self.candidates) - 1
        good = self.step(lo, stop_on_bad=True)
        if good.verdict != "good":
            raise UserError(f"bisect {self.mode}: the good endpoint {good.label} is {good.verdict}",
                            _why(good, "it must pass all runs"), "choose an earlier good endpoint")
        bad = self.step(hi, runs=self.runs)
        if bad.verdict != "bad":
            raise UserError(f"bisect {self.mode}: the bad endpoint {bad.label} is {bad.verdict}",
                            _why(bad, f"no run matched in {len(bad.runs)}"),
                            "choose another bad endpoint (--build-fail bad counts a version "
                            "that does not build as bad)" if bad.verdict == "skip" else
                            "raise --runs or check the predicate")
        skipped: list[str] = []
        while hi - lo > 1:
            mid = self._pick(lo, hi, skipped)
            if mid is None:
                break
            r = self.step(mid)
            if r.verdict == "skip":
                skipped.append(r.label)
            elif r.verdict == "bad":
                hi = mid
            else:
                lo = mid
        return self._result(lo, hi, skipped)

    def _pick(self, lo: int, hi: int, skipped: list[str]) -> int | None:
        mids = sorted(range(lo + 1, hi), key=lambda i: abs(i - (lo + hi) / 2))
        return next((i for i in mids if self.candidates[i][0] not in skipped), None)

    def _result(self, lo: int, hi: int, skipped: list[str]) -> BisectResult:
        by_label = {s.label: s for s in self.steps}
        bad_runs = [s for s in self.steps if s.verdict == "bad"]
        good_runs = [s for s in self.steps if s.verdict == "good"]
        total = sum(len(s.runs) for s in bad_runs)
        p_hat = sum(s.hits for s in bad_runs) / total if total else 1.0
        miss = (1 - p_hat) ** self.runs
        confidence = math.prod(1 - miss for _ in good_runs) if p_hat < 1 else 1.0
        first_bad = by_label.get(self.candidates[hi][0])
        if hi - lo > 1:              # skipped steps left a range
            first_bad = None
        return BisectResult(self.mode, first_bad, by_label.get(self.candidates[lo][0]),
                            self.steps, confidence, p_hat, skipped,
                            self.reproducer(self.candidates[hi][1]))


def _why(step: StepResult, default: str) -> str:
    """An endpoint's problem: what a skipped run said (e.g. "v1 does not build: ..")."""
    if step.verdict == "skip":
        said = [e for o in step.runs for e in o.evidence] or [o.detail for o in step.runs
                                                             if o.detail]
        return said[0] if said else "untestable"
    return default


def candidates_versions(cfg: Any, good: str | None, bad: str | None) -> list[tuple[str, str]]:
    if cfg.series is None:
        raise UserError("bisect versions needs a series", f"{cfg.path} declares none")
    names = list(cfg.series.version_names())
    lo = names.index(good) if good in names else 0
    hi = names.index(bad) if bad in names else len(names) - 1
    if good and good not in names and good != "baseline":
        raise UserError(f"unknown good version {good!r}", f"known: {', '.join(names)}")
    if bad and bad not in names:
        raise UserError(f"unknown bad version {bad!r}", f"known: {', '.join(names)}")
    out = [(n, n) for n in names[lo:hi + 1]]
    return [("baseline", "baseline"), *out] if good == "baseline" else out


def candidates_patches(cfg: Any, version: str | None, n_patches: int) -> list[tuple[str, str]]:
    ver = version or cfg.series.latest()
    return [(f"{ver}:{k}" if k else "baseline", f"{ver}:{k}" if k else "baseline")
            for k in range(n_patches + 1)]


def candidates_commits(repo: Path, good: str, bad: str) -> list[tuple[str, str]]:
    from harness.sources.tree import git
    revs = git(repo, "rev-list", "--reverse", "--first-parent", f"{good}..{bad}").split()
    if not revs:
        raise UserError(f"no commits in {good}..{bad}", "", "check the endpoints' order")
    g = git(repo, "rev-parse", f"{good}^{{commit}}")
    return [(c[:12], f"commit:{c}") for c in [g, *revs]]


def steps_bound(n: int) -> int:
    """Search steps after the two endpoint checks: ceil(log2(n - 1)) for n candidates."""
    return math.ceil(math.log2(n - 1)) if n > 2 else 0
