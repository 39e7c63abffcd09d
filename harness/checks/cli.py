"""`kharness check CONFIG`: the build checks alone (no boot), per patch, new versus base.

Results land as they happen in DIR/results.jsonl (type "check" records, the same journal
`kharness run` writes) and DIR/junit.xml; exit 1 when a check finds something new.
"""

from __future__ import annotations

import argparse
import logging
import time
from pathlib import Path

from harness import config
from harness.checks import junit as checkjunit
from harness.checks import summary
from harness.checks.model import CHECKS, CheckResult
from harness.checks.runner import CheckOptions, run_checks, validate_checks
from harness.report import kcidb
from harness.results.journal import Journal
from harness.util import write_json

log = logging.getLogger("harness")


def add_cli(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    c = sub.add_parser("check", help="per-patch build checks (warnings, clang, sparse, "
                       "checkpatch, kernel-doc, bisectability), new versus the base")
    c.add_argument("config")
    c.add_argument("--arch", action="append", default=[], help="repeatable (default: config's)")
    c.add_argument("--version", action="append", default=[],
                   help="series version (repeatable; default: every version)")
    c.add_argument("--check", action="append", default=[],
                   help=f"repeatable; one of {', '.join(CHECKS)} (default: the config's)")
    c.add_argument("--out", help="results directory (default: runs/<name>-check-<time>)")
    c.set_defaults(func=_cmd_check)


def selected_checks(cfg: config.Config, names: list[str]) -> tuple[str, ...]:
    if not names:
        return cfg.checks
    flat = tuple(n.strip() for item in names for n in item.split(",") if n.strip())
    return () if flat == ("none",) else validate_checks(flat, "--check")


def _cmd_check(args: argparse.Namespace) -> int:
    cfg = config.load(args.config)
    checks = selected_checks(cfg, args.check)
    opts = CheckOptions(checks=checks, versions=tuple(args.version), archs=tuple(args.arch))
    out = Path(args.out or f"runs/{cfg.name}-check-{time.strftime('%Y%m%d-%H%M%S')}").resolve()
    journal = Journal(out / "results.jsonl")
    journal.drop_torn_tail()
    write_json(out / "run.json", {"type": "check", "name": cfg.name, "config": str(cfg.path),
                                  "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                                  "source": {"kind": cfg.source.kind,
                                             "location": cfg.source.location,
                                             "suite": cfg.source.suite, "ref": cfg.source.ref},
                                  "checks": list(checks)})
    print(f"results: {out}")
    results = run_checks(cfg, opts, lambda r: _land(journal, r))
    print()
    print(summary.verdict_text(results))
    print(f"wrote {checkjunit.write(out / 'junit.xml', results)}")
    print(f"wrote {kcidb.write(out / 'kcidb.json')}")
    return summary.exit_code(results)


def _land(journal: Journal, r: CheckResult) -> None:
    journal.append(r.record())
    print(summary.progress_line(r), flush=True)
