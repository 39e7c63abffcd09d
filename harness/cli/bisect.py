"""`kharness bisect`: the CLI and the real step runner (build + pytest in fresh guests)."""

from __future__ import annotations

import argparse
import logging
import time
from pathlib import Path

from harness import config
from harness.campaign import bisect as bis
from harness.campaign import pytestcmd
from harness.campaign.pytestcmd import PytestCall
from harness.checks import step as checkstep
from harness.errors import UserError
from harness.kernel import build
from harness.results import journal as results
from harness.results import records
from harness.results.journal import Journal
from harness.sources import series
from harness.sources import tree as source
from harness.util import cmdline

log = logging.getLogger("harness")


def add_cli(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    b = sub.add_parser("bisect", help="find the series version / patch / commit that breaks")
    b.add_argument("config")
    b.add_argument("--mode", choices=("versions", "patches", "commits"), default="versions")
    b.add_argument("--good", help="good endpoint (version, or commit for --mode commits)")
    b.add_argument("--bad", help="bad endpoint")
    b.add_argument("--version", help="series version whose patches to bisect (--mode patches)")
    b.add_argument("--arch", default="x86_64")
    b.add_argument("--kconfig", metavar="NAME", default="",
                   help="kernel config from the YAML's configs: (default: the kernel: section)")
    b.add_argument("--test", action="append", default=[], help="pytest node id (repeatable)")
    b.add_argument("-k", dest="keyword", help="pytest -k expression")
    b.add_argument("--knobs", help="knob set name")
    b.add_argument("--kind", help="splat kind that makes a run bad")
    b.add_argument("--title", help="regex over splat titles that makes a run bad")
    b.add_argument("--lockup", action="store_true", help="a crash/lockup makes a run bad")
    b.add_argument("--check", metavar="NAME",
                   help="bisect on a build check instead of tests: a step is bad when NAME "
                   "(gcc, clang, sparse, kernel-doc, bisectability) finds something the good "
                   "endpoint does not have (no boot)")
    b.add_argument("--runs", type=int, default=1, help="runs per step (flaky bugs)")
    b.add_argument("--build-fail", choices=("skip", "bad"), default="skip",
                   help="a version that does not build: skip it (untestable, like git "
                   "bisect's exit 125; default) or count it as bad; never retried")
    b.add_argument("--no-fail-fast", dest="fail_fast", action="store_false",
                   help="let a test run to its end after a matching splat (default: stop the "
                   "guest at the first splat the predicate matches)")
    b.add_argument("--out", help="bisect directory (default runs/bisect-<time>)")
    b.add_argument("--resume", metavar="DIR", help="continue the bisect in DIR")
    b.set_defaults(func=_cmd_bisect)


class PytestStep:
    """One run of the predicate on one variant: build (cached/incremental), then pytest."""

    def __init__(self, cfg: config.Config, args: argparse.Namespace, out: Path,
                 predicate: bis.Predicate) -> None:
        self.cfg, self.args, self.out, self.predicate = cfg, args, out, predicate
        self.src = source.resolve(cfg.source)

    def call(self, variant: str, stepdir: Path) -> PytestCall:
        a = self.args
        extra = (["-k", a.keyword] if a.keyword else []) + (
            ["--kharness-knobs", a.knobs] if a.knobs else []) + fail_fast_args(
            self.predicate, getattr(a, "fail_fast", True))
        return PytestCall(config=self.cfg.path, arch=a.arch, variant=variant,
                          kconfig=self.cfg.kconfig, journal=stepdir / "results.jsonl",
                          workdir=stepdir,
                          tests=tuple(a.test), extra=("-q", "--kharness-guest-scope", "test",
                                                      *extra))

    def argv(self, variant: str, stepdir: Path) -> list[str]:
        return pytestcmd.argv(self.call(variant, stepdir))

    def __call__(self, variant: str, attempt: int) -> bis.RunOutcome:
        stepdir = self.out / "steps" / f"{variant.replace(':', '_')}-{attempt}"
        t0 = time.monotonic()
        try:
            b = build.build(build.request_for(self.cfg, self.cfg.variant(variant), self.args.arch,
                                              src=self.src))
        except build.BuildFailed as e:
            return build_failed(variant, e, getattr(self.args, "build_fail", "skip"))
        log.info("  %s: kernel %s (%s)", variant, "cached" if b.cached else "built",
                 f"{b.seconds:.0f}s")
        stepdir.mkdir(parents=True, exist_ok=True)
        argv = self.argv(variant, stepdir)
        rc = pytestcmd.run(self.call(variant, stepdir), stepdir / "pytest.log")
        tests = records.tests(results.load(stepdir / "results.jsonl"))
        detail = f"{stepdir} ({time.monotonic() - t0:.0f}s, pytest exit {rc})"
        if rc == 5:
            return bis.RunOutcome("empty", (), cmdline(argv))
        bad, evidence = self.predicate.match(tests)
        if bad:
            return bis.RunOutcome("bad", tuple(evidence), detail)
        if not tests or rc not in (0, 1) or any(t.outcome.is_problem for t in tests):
            return bis.RunOutcome("infra", (), detail)
        return bis.RunOutcome("good", (), detail)


class CheckStep:
    """A step judged by a build check (compile only, deterministic: one run is enough)."""

    def __init__(self, cfg: config.Config, arch: str, check: str, good: str) -> None:
        self.cfg, self.arch, self.check = cfg, arch, checkstep.validate(check)
        self.good = cfg.variant(good)
        self.src = source.resolve(cfg.source)

    def __call__(self, variant: str, attempt: int) -> bis.RunOutcome:
        v = checkstep.judge(self.cfg, self.arch, self.check, self.good,
                            self.cfg.variant(variant), self.src)
        return bis.RunOutcome("bad" if v.bad else "good", v.evidence, v.detail)

    def reproducer(self, variant: str) -> str:
        return cmdline(["kharness", "check", str(self.cfg.path), "--arch", self.arch,
                        "--check", self.check])


def build_failed(variant: str, e: build.BuildFailed, policy: str) -> bis.RunOutcome:
    """A version that does not build is a finding about it: "skip" or "bad" (--build-fail),
    never "infra" (the bisector would retry it, and a rebuild fails the same way)."""
    log.warning("  %s does not build: %s", variant, e.one_line())
    return bis.RunOutcome("bad" if policy == "bad" else "skip",
                          (f"{variant} does not build: {e.what}",), e.one_line())


def fail_fast_args(predicate: bis.Predicate, enabled: bool) -> list[str]:
    """Stop a run at the first splat that can decide it: the predicate's kind, or any splat
    when any failure counts. Not with a title regex (the first splat of the kind might not
    be the one the title wants) nor for a lockup predicate (the outcome must be a lockup)."""
    if not enabled or predicate.title or (predicate.lockup and not predicate.kind):
        return []
    return ["--kharness-fail-fast", predicate.kind or "any"]


def _candidates(cfg: config.Config, args: argparse.Namespace) -> list[tuple[str, str]]:
    if args.mode == "versions":
        return bis.candidates_versions(cfg, args.good, args.bad)
    if args.mode == "patches":
        if cfg.series is None:
            raise UserError("bisect patches needs a series", f"{cfg.path} declares none")
        ver = args.version or cfg.series.latest()
        sv = series.load_version(cfg.series.name, ver, dict(cfg.series.versions)[ver])
        return bis.candidates_patches(cfg, ver, len(sv.patches))
    if not (args.good and args.bad):
        raise UserError("bisect commits needs --good and --bad", "", "give two commits/refs")
    return bis.candidates_commits(source.resolve(cfg.source).repo, args.good, args.bad)


def _cmd_bisect(args: argparse.Namespace) -> int:
    cfg = config.load(args.config).for_kconfig(args.kconfig)
    out = Path(args.resume or args.out or f"runs/bisect-{time.strftime('%Y%m%d-%H%M%S')}")
    out = out.resolve()
    predicate = bis.Predicate(kind=args.kind, title=args.title, lockup=args.lockup)
    cands = _candidates(cfg, args)
    what = f"new {args.check} finding" if args.check else predicate.describe()
    print(f"bisect {args.mode} on {args.arch}: {len(cands)} candidates "
          f"({cands[0][0]} .. {cands[-1][0]}), predicate: {what}, "
          f"{args.runs} run(s) per step; at most {bis.steps_bound(len(cands))} search steps "
          f"after the 2 endpoint checks; journal {out / 'bisect.jsonl'}", flush=True)
    if args.check:
        cs = CheckStep(cfg, args.arch, args.check, cands[0][1])
        bisector = bis.Bisector(args.mode, cands, cs, Journal(out / "bisect.jsonl"), runs=1,
                                reproducer=cs.reproducer)
        return _report(bisector.run())
    runner = PytestStep(cfg, args, out, predicate)
    bisector = bis.Bisector(args.mode, cands, runner, Journal(out / "bisect.jsonl"),
                            runs=args.runs, reproducer=lambda v: reproducer(runner, out, v))
    res = bisector.run()
    return _report(res)


def reproducer(runner: PytestStep, out: Path, variant: str) -> str:
    """A command that reruns the predicate's tests on `variant` as-is: run from the kharness
    checkout, into OUT/reproduce/<variant> (created here, so every path in it exists)."""
    rundir = out / "reproduce" / variant.replace(":", "_")
    rundir.mkdir(parents=True, exist_ok=True)
    return pytestcmd.reproduce(runner.call(variant, rundir))


def _report(res: bis.BisectResult) -> int:
    print()
    if res.first_bad is None:
        print(f"bisect {res.mode}: inconclusive, skipped steps: {', '.join(res.skipped)}")
        return 2
    noun = {"versions": "version", "patches": "patch", "commits": "commit"}[res.mode]
    print(f"first bad {noun}: {res.first_bad.label}")
    if res.last_good:
        print(f"last good: {res.last_good.label}")
    ev = [e for o in res.first_bad.runs for e in o.evidence]
    for e in dict.fromkeys(ev):
        print(f"evidence: {e}")
    for o in res.first_bad.runs:
        if o.detail:
            print(f"logs: {o.detail}")
    print(f"steps: {len(res.steps)} ({', '.join(f'{s.label}={s.verdict}' for s in res.steps)})")
    print(f"bug hit rate on bad steps: {res.p_hat:.2f}; confidence in the good verdicts: "
          f"{res.confidence:.3f}")
    print(f"reproduce: {res.reproducer}")
    return 1
