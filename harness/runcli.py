"""CLI glue for `kharness run` and `kharness nightly`."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from harness import results, summary, verdict
from harness.run import RunOptions, run


def add_cli(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    r = sub.add_parser("run", help="build variants x archs, run guest_tests, give a verdict")
    _common(r)
    r.set_defaults(func=_cmd_run)


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("config")
    p.add_argument("--arch", action="append", default=[])
    p.add_argument("--variant", action="append", default=[])
    p.add_argument("--out", help="run directory (default: runs/<name>-<time>)")
    p.add_argument("--resume", metavar="DIR", help="continue the run in DIR")
    p.add_argument("-k", dest="keyword", help="pytest -k selection")
    p.add_argument("--tests", action="append", default=[], help="test paths (default guest_tests)")
    p.add_argument("-j", "--jobs", type=int, default=0, help="cells in parallel")


def options(args: argparse.Namespace) -> RunOptions:
    from harness import config
    cfg = config.load(args.config)
    out = Path(args.resume or args.out or f"runs/{cfg.name}-{time.strftime('%Y%m%d-%H%M%S')}")
    extra = ("-k", args.keyword) if args.keyword else ()
    return RunOptions(config=cfg.path, out=out.resolve(), archs=tuple(args.arch),
                      variants=tuple(args.variant), tests=tuple(args.tests) or ("guest_tests",),
                      pytest_args=extra, jobs=args.jobs, resume=bool(args.resume))


def finish(out: Path) -> int:
    """Verdict + reports for a finished run directory; the run's exit code."""
    records = list(results.read(out / "results.jsonl"))
    groups = [g for other in _variants(records) if other != "baseline"
              for g in verdict.compare(records, "baseline", other)]
    print(summary.cell_table(records))
    print()
    print(summary.verdict_text(groups))
    try:
        from harness import report
        paths = report.write_all(out, records, groups)
        for p in paths:
            print(f"wrote {p}")
    except ImportError:
        pass
    tests = [r for r in records if r.get("type") == "test"]
    cells = [r for r in records if r.get("type") == "cell"]
    if any(c.get("status") == "infra" for c in cells) and not tests:
        return 2
    findings = any(r.get("outcome") in results.FINDINGS and r.get("variant") != "baseline"
                   for r in tests) or any(c.get("status") == "build-failed" for c in cells)
    return 1 if verdict.any_regression(groups) or findings else 0


def _variants(records: list[dict[str, object]]) -> list[str]:
    return sorted({str(r["variant"]) for r in records if r.get("type") == "test"})


def _cmd_run(args: argparse.Namespace) -> int:
    opts = options(args)
    print(f"run directory: {opts.out}")
    run(opts)
    return finish(opts.out)
