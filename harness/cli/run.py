"""CLI glue for `kharness run` and `kharness nightly`.

`kharness nightly CONFIG` is `kharness run CONFIG --history DIR` with a default DIR: the
run is stored in DIR/history.sqlite and compared with the previous run of the same config
(new failures, new splats, counter regressions, flaky tests; see harness.results.history).
"""

from __future__ import annotations

import argparse
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from harness.campaign import shard
from harness.campaign.cluster import ClusterOptions
from harness.campaign.run import RunOptions, run
from harness.checks import cli as checkcli
from harness.checks import summary as checksummary
from harness.checks.model import CHECKS
from harness.report import html as report
from harness.results import journal as results
from harness.results import records as records_
from harness.results import summary, verdict

if TYPE_CHECKING:
    from harness.results.history import Trend

DEFAULT_HISTORY = "runs/history"


def add_cli(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    r = sub.add_parser("run", help="build kernel configs x variants x archs, run guest_tests, "
                       "give a verdict")
    _common(r)
    _history_args(r, None)
    r.set_defaults(func=_cmd_run)
    n = sub.add_parser("nightly", help="run + store in a history, flag changes since last run")
    _common(n)
    _history_args(n, DEFAULT_HISTORY)
    n.set_defaults(func=_cmd_run)
    m = sub.add_parser("merge", help="merge run directories (shards, --cell runs) into one run")
    m.add_argument("dirs", nargs="+", metavar="DIR")
    m.add_argument("--out", required=True, help="the merged run directory (new)")
    _history_args(m, None)
    m.set_defaults(func=_cmd_merge)


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("config")
    p.add_argument("--arch", action="append", default=[])
    p.add_argument("--variant", action="append", default=[])
    p.add_argument("--kconfig", action="append", default=[], metavar="NAME",
                   help="kernel config from the YAML's configs: (repeatable; default: all)")
    p.add_argument("--out", help="run directory (default: runs/<name>-<time>)")
    p.add_argument("--resume", metavar="DIR", help="continue the run in DIR")
    p.add_argument("-k", dest="keyword", help="pytest -k selection")
    p.add_argument("--tests", action="append", default=[],
                   help="test paths or node ids (default: the shipped guest suite, guest_tests/)")
    p.add_argument("-j", "--jobs", type=int, default=0, help="cells in parallel")
    p.add_argument("--checks", metavar="LIST",
                   help="build checks before booting: comma list of "
                   f"{', '.join(CHECKS)}, or none (default: the config's checks:)")
    s = p.add_argument_group("slices and clusters (docs/scaling.md)")
    s.add_argument("--shard", metavar="I/N", help="run slice I of N of the matrix (CI jobs)")
    s.add_argument("--cell", action="append", default=[], metavar="NAME",
                   help="run this cell only, as kharness plan names it (repeatable)")
    s.add_argument("--cluster", metavar="ADDRESS",
                   help="run cells on a Dask scheduler, e.g. tcp://127.0.0.1:8786")
    s.add_argument("--tls-ca", help="CA (PEM) for a tls:// scheduler")
    s.add_argument("--tls-cert", help="client certificate (PEM) for a tls:// scheduler")
    s.add_argument("--tls-key", help="client key (PEM) for a tls:// scheduler")
    s.add_argument("--insecure-cluster", action="store_true",
                   help="allow plain tcp:// to a non-loopback scheduler")


def _history_args(p: argparse.ArgumentParser, default: str | None) -> None:
    g = p.add_argument_group("history (nightly trend)")
    g.add_argument("--history", metavar="DIR", default=default,
                   help="store the run in DIR/history.sqlite and compare with the previous run"
                   + (f" (default: {default})" if default else ""))
    g.add_argument("--counter-threshold", type=float, default=0.20, metavar="FRACTION",
                   help="flag a counter that moved the wrong way by more than this (default 0.2)")
    g.add_argument("--counter-min", type=int, default=5, metavar="N",
                   help="... and by at least N in absolute terms (default 5)")
    g.add_argument("--trend-runs", type=int, default=10, metavar="N",
                   help="runs shown in the report's trend (default 10)")


def options(args: argparse.Namespace) -> RunOptions:
    from harness import config
    cfg = config.load(args.config)
    out = Path(args.resume or args.out or f"runs/{cfg.name}-{time.strftime('%Y%m%d-%H%M%S')}")
    extra = ("-k", args.keyword) if args.keyword else ()
    checks = None if args.checks is None else checkcli.selected_checks(cfg, [args.checks])
    return RunOptions(config=cfg.path, out=out.resolve(), archs=tuple(args.arch),
                      variants=tuple(args.variant), kconfigs=tuple(args.kconfig),
                      tests=tuple(args.tests),
                      pytest_args=extra, jobs=args.jobs, resume=bool(args.resume),
                      checks=checks, shard=shard.parse(args.shard) if args.shard else None,
                      cells=tuple(args.cell), cluster=_cluster(args))


def _cluster(args: argparse.Namespace) -> ClusterOptions | None:
    if not args.cluster:
        return None
    c = ClusterOptions(args.cluster, args.tls_ca, args.tls_cert, args.tls_key,
                       insecure=args.insecure_cluster)
    c.security()          # refuse a bad combination before anything runs
    return c


@dataclass(frozen=True)
class HistoryOptions:
    """Where the history lives and how changes are judged."""

    directory: Path
    relative: float = 0.20
    min_delta: int = 5
    runs: int = 10

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> HistoryOptions | None:
        if not getattr(args, "history", None):
            return None
        return cls(Path(args.history).resolve(), args.counter_threshold, args.counter_min,
                   args.trend_runs)


def finish(out: Path, history: HistoryOptions | None = None) -> int:
    """Verdict + reports for a finished run directory; the run's exit code.

    With `history`, the run is stored and compared with the previous one first.
    """
    records = results.load(out / "results.jsonl")
    groups = [g for other in _variants(records) if other != "baseline"
              for g in verdict.compare(records, "baseline", other)]
    checks = checksummary.results_of(records)
    print(summary.cell_table(records))
    print()
    print(summary.verdict_text(groups))
    if checks:
        print()
        print(checksummary.verdict_text(checks))
    trend = _record_history(out, records, history) if history is not None else None
    print()
    for p in report.write_all(out, records, groups, trend=trend):
        print(f"wrote {p}")
    problems = summary.incomplete(records, lambda cell: _log_reason(out, cell))
    rc = _exit_code(records, groups, problems)
    check_rc = checksummary.exit_code(checks)
    rc = 1 if 1 in (rc, check_rc) else max(rc, check_rc)
    if trend is not None and rc != 1 and any(f.kind in _regression_kinds() for f in trend.flags):
        rc = 1
    if problems:            # the last line says why the run is incomplete (exit 2 alone)
        print(summary.incomplete_line(problems))
    elif rc == 2:
        print("kharness: run incomplete: a build check could not run (see the checks above)")
    return rc


def _exit_code(records: list[records_.Record], groups: list[verdict.GroupVerdict],
               problems: list[str]) -> int:
    """1: a finding (a regression, a kernel failure on a non-baseline variant, a series that
    does not build) even if other cells could not run; else 2 when a cell or test ended in
    error/infra (`problems`); else 0."""
    findings = any(t.outcome.is_finding and t.variant != "baseline"
                   for t in records_.tests(records)) or any(
        c.status is records_.CellStatus.BUILD_FAILED for c in records_.cells(records).values())
    if verdict.any_regression(groups) or findings:
        return 1
    return 2 if problems else 0


def _log_reason(out: Path, cell: str) -> str:
    """The error pytest printed for a cell (its pytest.log's last ERROR line), and where."""
    log = out / "cells" / cell.replace("/", "-").replace(":", "_") / "pytest.log"
    try:
        lines = log.read_text(errors="replace").splitlines()
    except OSError:
        return ""
    errors = [ln.strip() for ln in lines if ln.startswith(("ERROR", "E "))]
    return (f"{errors[-1][:200]} " if errors else "") + f"(see {log})"


def _variants(records: list[records_.Record]) -> list[str]:
    return sorted({t.variant for t in records_.tests(records)})


def _regression_kinds() -> frozenset[str]:
    from harness.results.history import REGRESSION_KINDS
    return REGRESSION_KINDS


def _record_history(out: Path, records: list[records_.Record], h: HistoryOptions) -> Trend:
    from harness.results import history, runinfo
    trend = history.record(h.directory, out, runinfo.load_run(out), records,
                           history.Thresholds(h.relative, h.min_delta), h.runs)
    print()
    print(history.flags_text(trend.flags, trend.previous))
    print(f"history: run {trend.current} stored in {h.directory / 'history.sqlite'}")
    return trend


def _cmd_run(args: argparse.Namespace) -> int:
    opts = options(args)
    hist = HistoryOptions.from_args(args)
    print(f"run directory: {opts.out}")
    run(opts)
    return finish(opts.out, hist)


def _cmd_merge(args: argparse.Namespace) -> int:
    from harness.campaign import merge
    out = merge.merge([Path(d) for d in args.dirs], Path(args.out))
    print(f"merged {len(args.dirs)} run directories into {out}")
    return finish(out, HistoryOptions.from_args(args))
